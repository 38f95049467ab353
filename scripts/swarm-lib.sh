# The stack on a Docker Swarm (scripts/up.sh --swarm, scripts/down.sh with SWARM=1); sourced by
# them after lib.sh. The stack is named $COMPOSE_PROJECT_NAME (README: Swarm mode).

need_swarm_manager() {
  local state
  state="$(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}')"
  [ "$state" = "active true" ] || die "this Docker daemon is not a Swarm manager ($state). \
Run 'docker swarm init' (one machine: docker swarm init --advertise-addr 127.0.0.1), or point \
DOCKER_HOST at a manager."
}

# Deploys (or updates) the stack and waits until the site and the API answer.
swarm_up() {
  need_swarm_manager
  echo "==> deploying stack $COMPOSE_PROJECT_NAME on the swarm ($REPLICAS spawner replica(s))"
  docker stack deploy --resolve-image never -c "$ROOT/compose/swarm.yml" "$COMPOSE_PROJECT_NAME" >/dev/null
  echo "==> waiting for the site to answer"
  local deadline=$((SECONDS + ${UP_TIMEOUT:-90}))
  until curl -fsS -o /dev/null "$PUBLIC_URL/home" 2>/dev/null \
     && curl -fsS -o /dev/null "$API_URL/healthz" 2>/dev/null \
     && [ "$(swarm_running spawner)" -ge "$REPLICAS" ]; do
    if [ $SECONDS -ge $deadline ]; then
      docker stack ps --no-trunc "$COMPOSE_PROJECT_NAME" >&2 || true
      docker service logs --tail 30 "${COMPOSE_PROJECT_NAME}_spawner" >&2 || true
      die "the stack did not answer within ${UP_TIMEOUT:-90}s (tasks and logs above)"
    fi
    sleep 0.5
  done
}

# How many tasks of the stack's service run.
swarm_running() {
  docker service ps -q --filter desired-state=running "${COMPOSE_PROJECT_NAME}_$1" 2>/dev/null \
    | xargs -r docker inspect --format '{{.Status.State}}' 2>/dev/null | grep -c '^running$' || true
}

# Removes the stack; with purge=1 first the instances (services) and volumes of its scope.
swarm_down() {
  if [ "$purge" = 1 ]; then
    local ids
    ids="$(docker service ls -q --filter label=origin=spawner --filter "label=spawner.scope=$NETWORK")"
    if [ -n "$ids" ]; then
      echo "==> removing $(echo "$ids" | wc -l) instance service(s) of $NETWORK"
      # shellcheck disable=SC2086
      docker service rm $ids >/dev/null
    fi
  fi
  docker stack rm "$COMPOSE_PROJECT_NAME" >/dev/null 2>&1 || true
  # Removal goes on in the background: wait for the containers and networks to be gone.
  local deadline=$((SECONDS + 60))
  while [ -n "$(docker ps -aq --filter "label=com.docker.stack.namespace=$COMPOSE_PROJECT_NAME")" ] \
     || [ -n "$(docker ps -aq --filter label=origin=spawner --filter "label=spawner.scope=$NETWORK")" ] \
     || [ -n "$(docker network ls -q --filter "label=com.docker.stack.namespace=$COMPOSE_PROJECT_NAME")" ]; do
    [ $SECONDS -ge $deadline ] && { echo "warning: the stack was not gone after 60 s" >&2; break; }
    docker network ls -q --filter "label=com.docker.stack.namespace=$COMPOSE_PROJECT_NAME" \
      | xargs -r docker network rm >/dev/null 2>&1 || true
    sleep 0.5
  done
  if [ "$purge" = 1 ]; then
    docker ps -aq --filter "label=spawner.anchor=$NETWORK" | xargs -r docker rm -f >/dev/null 2>&1 || true
    # The instances' networks, once Swarm has let go of their tasks' endpoints.
    local nets deadline=$((SECONDS + 30))
    while nets="$(docker network ls -q --filter label=origin=spawner --filter "label=spawner.scope=$NETWORK")"; \
          [ -n "$nets" ] && [ $SECONDS -lt $deadline ]; do
      # shellcheck disable=SC2086
      docker network rm $nets >/dev/null 2>&1 || sleep 0.5
    done
    local vols
    vols="$(docker volume ls -q --filter label=origin=spawner --filter "label=spawner.scope=$NETWORK")"
    # shellcheck disable=SC2086
    [ -n "$vols" ] && docker volume rm -f $vols >/dev/null
    rm -rf "$STATE_DIR"
  fi
  return 0
}

# A stack of its own for a benchmark or a measurement (scripts/bench-swarm.sh,
# scripts/measure-swarm-networks.sh): a per-run prefix, free ports and subnet, new secrets, and a
# single-node swarm when the daemon is in none; own_swarm_cleanup (on EXIT) removes it all.
# Sets prefix, public and API_URL.
own_swarm_stack() {
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  prefix="$1$(python3 -c 'import uuid; print(uuid.uuid4().hex[:6])')"
  export COMPOSE_PROJECT_NAME="$prefix" NETWORK="$prefix-net" SWARM=1
  HTTP_PORT="$(free_port)"; API_PORT="$(free_port)"; export HTTP_PORT API_PORT
  SUBNET="$(free_subnet)"; export SUBNET
  SPAWNER_STATE_DIR="$(mktemp -d)"; export SPAWNER_STATE_DIR IDLE_TIMEOUT="${IDLE_TIMEOUT:-1h}"
  API_TOKEN="$(random_secret)"; COOKIE_SECRET="$(random_secret)"
  export API_TOKEN COOKIE_SECRET
  API_URL="http://127.0.0.1:$API_PORT"; public="http://127.0.0.1:$HTTP_PORT"
  made_swarm=0
  trap own_swarm_cleanup EXIT
  if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
    docker swarm init --advertise-addr 127.0.0.1 >/dev/null
    made_swarm=1
  fi
  bash "$ROOT/scripts/up.sh" --swarm >/dev/null
}

own_swarm_cleanup() {
  echo "==> cleaning up the stack $prefix"
  SWARM=1 bash "$ROOT/scripts/down.sh" --purge >/dev/null 2>&1 || true
  rm -rf "$SPAWNER_STATE_DIR"
  if [ "$made_swarm" = 1 ]; then
    docker swarm leave --force >/dev/null 2>&1 || true
    docker network rm docker_gwbridge >/dev/null 2>&1 || true
  fi
}
