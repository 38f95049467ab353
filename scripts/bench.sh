#!/usr/bin/env bash
# Benchmarks the hot path and the cold start through real traefik, against their limits.
# Brings up its own stack (own compose project, network and ports), measures, prints a table,
# writes the figures as JSON, and removes everything it created.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/bench.sh [--quick] [--out FILE] [--help]

Scenarios: (1) hot path through traefik: no middleware / spawner's ForwardAuth / a no-op
ForwardAuth; (2) /auth alone with spawner's CPU per request and RSS; (3) cold start per readiness
kind (Docker HEALTHCHECK, HTTP label, TCP) split into Docker start, app ready and spawner's
overhead; (4) thundering herd on one stopped instance; (5) the wake of a paused instance;
(6) 1,000 managed instances: /auth latency (wrk, and a paced 1,000 req/s load with traefik polling
and paused in turn), the hot path and cold start with them all routed, and the culler's CPU per
check with 200 of them running. Figures are medians of repeated runs with min and max.

Then (6) the hot path again with two spawner replicas sharing the ports (scripts/up.sh
--replicas), its b/c beside the one of (1); and (7) the Swarm engine's wake split into its phases
(scripts/bench-swarm.sh, on a single-node swarm it makes if the daemon is in none), beside (3).

Environment: BENCH_ONLY=cold,scale (only these scenarios: hot, auth, cold, herd, pause, scale,
replicas, swarm),
BENCH_PACED_ROUNDS=N (rounds of the paced comparison, 5), IDLE_CHECK_INTERVAL (the stack's, 2s),
SPAWNER_IMAGE (the spawner image to measure, spawner:latest; scripts/ab-cold.sh compares two),
CARGO_TARGET_DIR (where the benchmark driver is built, target).

  --quick     a few seconds a scenario (a smoke run; figures not representative)
  --out FILE  where the JSON goes (default: target/bench/results.json, quick: results-quick.json)

Needs Docker, cargo and wrk (installed with apt-get when missing).
USAGE
}
quick=0
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --quick) quick=1 ;;
    --out) out="${2:?--out needs a file}"; shift ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done

need_docker
need cargo "Install Rust: https://rustup.rs"
need python3 "Install Python 3 (used to find free ports)."
if ! command -v wrk >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "wrk is required: install it (e.g. apt-get install wrk)"
  echo "==> installing wrk"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null \
    || die "could not install wrk"
fi
cd "$ROOT"

if [ -n "${SPAWNER_IMAGE:-}" ] && ! docker image inspect "$SPAWNER_IMAGE" >/dev/null 2>&1; then
  die "SPAWNER_IMAGE=$SPAWNER_IMAGE: no such image (build it, or unset SPAWNER_IMAGE for spawner:latest)"
fi
for image in "${SPAWNER_IMAGE:-spawner:latest}" mock-app:latest mock-app:nohc mock-home:latest noop-auth:latest traefik:v3.7; do
  docker image inspect "$image" >/dev/null 2>&1 || { bash scripts/build_project.sh; break; }
done
echo "==> building the benchmark driver"
cargo build --locked --release -q -p bench

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
prefix="b$(python3 -c 'import uuid; print(uuid.uuid4().hex[:8])')"
export COMPOSE_PROJECT_NAME="$prefix" NETWORK="$prefix-net"
export HTTP_PORT="$(free_port)" API_PORT="$(free_port)" DASHBOARD_PORT="$(free_port)"
export AUTH_PORT="$(free_port)" HOME_PORT="$(free_port)" NOOP_PORT="$(free_port)"
# A /16 that no network on this daemon uses (spawner creates the network).
SUBNET="$(free_subnet)"
export SUBNET
# The culler looks every 2 s (10 s by default) so that its cost per check is measured over many
# checks; instances idle after an hour, so none is stopped during the run.
export IDLE_CHECK_INTERVAL="${IDLE_CHECK_INTERVAL:-2s}" IDLE_TIMEOUT="${IDLE_TIMEOUT:-1h}"
# Secrets of this run only (the stack signs cookies and guards its API as in production).
API_TOKEN="$(random_secret)" COOKIE_SECRET="$(random_secret)"
export API_TOKEN COOKIE_SECRET
app="$prefix-app"
workdir="$(mktemp -d)"
files=(-f "$ROOT/compose/docker-compose.yml" -f "$ROOT/compose/bench.yml")

cleanup() {
  echo "==> cleaning up"
  ids="$(docker ps -aq --filter label=origin=spawner --filter "network=$NETWORK")"
  # shellcheck disable=SC2086
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
  compose "${files[@]}" down --remove-orphans --volumes >/dev/null 2>&1 || true
  docker network rm "$NETWORK" >/dev/null 2>&1 || true
  rm -rf "$workdir"
}
trap cleanup EXIT

# traefik's configuration; the benchmark's routers are added once its app has an address.
cp -r "$ROOT/traefik" "$workdir/traefik"
export TRAEFIK_CONFIG_DIR="$workdir/traefik"

echo "==> starting the stack (project $prefix)"
compose "${files[@]}" up -d >/dev/null 2>&1 || compose "${files[@]}" up -d
deadline=$((SECONDS + 60))
until curl -fsS -o /dev/null "http://127.0.0.1:$API_PORT/healthz" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || die "spawner did not come up"
  sleep 0.3
done

traefik_id="$(compose "${files[@]}" ps -q traefik)"
spawner_id="$(compose "${files[@]}" ps -q spawner)"

echo "==> the benchmark's running instance $app"
cookie="$(curl -fsS -X POST "http://127.0.0.1:$API_PORT/deploy" -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $API_TOKEN" -d "{\"name\":\"$app\",\"image\":\"mock-app:nohc\",\"network\":\"$NETWORK\",\"port\":9000,
       \"labels\":{\"health-check\":\"http://$app:9000/status\"},\"envs\":{\"IDLE\":\"30m\"}}" | json_field session.cookie)"
app_ip="$(docker inspect -f "{{(index .NetworkSettings.Networks \"$NETWORK\").IPAMConfig.IPv4Address}}" "$app")"
# traefik's configuration plus three routers to the same running app, one per variant; (b) and
# (c) carry the same retry and X-Spawner-Instance middlewares as spawner's instance routers.
cat > "$workdir/traefik/dynamic/bench.yml" <<YAML
http:
  middlewares:
    noop-auth:
      forwardAuth:
        address: "http://127.0.0.1:$NOOP_PORT/"
        trustForwardHeader: false
        preserveLocationHeader: true
  routers:
    bench-direct:
      rule: "Host(\`direct.bench\`)"
      entryPoints: [web]
      service: bench-app
      priority: 3000
    bench-spawner:
      rule: "Host(\`spawner.bench\`)"
      entryPoints: [web]
      middlewares: [spawner-retry, "$app-instance@http", spawner-auth]
      service: bench-app
      priority: 3000
    bench-noop:
      rule: "Host(\`noop.bench\`)"
      entryPoints: [web]
      middlewares: [spawner-retry, "$app-instance@http", noop-auth]
      service: bench-app
      priority: 3000
  services:
    bench-app:
      loadBalancer:
        servers:
          - url: "http://$app_ip:9000"
YAML
public="http://127.0.0.1:$HTTP_PORT"
deadline=$((SECONDS + 30))
until [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: spawner.bench' -b "$cookie" "$public/")" = 200 ] \
   && [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: noop.bench' "$public/")" = 200 ]; do
  [ $SECONDS -lt $deadline ] || die "the benchmark routes did not come up"
  sleep 0.3
done

if [ "$quick" = 1 ]; then mode=quick; suffix=-quick; else mode=full; suffix=""; fi
[ -n "$out" ] || out="target/bench/results$suffix.json"
mkdir -p "$(dirname "$out")"
echo "==> measuring (machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $mode run)"
# run_driver SPAWNER_CONTAINER TRAEFIK_CONTAINER OUT: the benchmark driver against this stack.
run_driver() {
  BENCH_PUBLIC="$public" BENCH_API="http://127.0.0.1:$API_PORT" \
  BENCH_AUTH="http://127.0.0.1:$AUTH_PORT" \
  BENCH_SPAWNER_PID="$(docker inspect -f '{{.State.Pid}}' "$1")" \
  BENCH_TRAEFIK_PID="$(docker inspect -f '{{.State.Pid}}' "$2")" \
  BENCH_TRAEFIK_CONTAINER="$2" \
  BENCH_NETWORK="$NETWORK" BENCH_PREFIX="$prefix" BENCH_APP="$app" BENCH_OUT="$3" \
  BENCH_QUICK="$([ "$mode" = quick ] && echo true || echo false)" \
  BENCH_TOKEN="$API_TOKEN" BENCH_COOKIE_SECRET="$COOKIE_SECRET" \
  BENCH_IDLE_CHECK_INTERVAL="$IDLE_CHECK_INTERVAL" \
    "${CARGO_TARGET_DIR:-$ROOT/target}/release/spawner-bench"
}
run_driver "$spawner_id" "$traefik_id" "$out"

# (6) Two replicas: the stack as `scripts/up.sh --replicas 2` runs it (both spawners on the same
# ports, traefik's spawner-retry also on status 500), then the hot path again.
if [ -z "${BENCH_ONLY:-}" ] || [[ ",$BENCH_ONLY," == *,replicas,* ]]; then
  echo "==> 6. hot path through traefik, two spawner replicas"
  export REPLICAS=2 REUSE_PORT=true
  compose "${files[@]}" up -d --scale spawner=2 >/dev/null 2>&1 || compose "${files[@]}" up -d --scale spawner=2
  deadline=$((SECONDS + 60))
  until [ "$(listening_replicas)" -ge 2 ] \
     && [ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: spawner.bench' -b "$cookie" "$public/")" = 200 ]; do
    [ $SECONDS -lt $deadline ] || die "two spawner replicas did not come up"
    sleep 0.3
  done
  traefik_id="$(compose "${files[@]}" ps -q traefik)"
  first_replica="$(compose "${files[@]}" ps -q spawner | head -1)"
  BENCH_ONLY=hot run_driver "$first_replica" "$traefik_id" "${out%.json}-replicas.json"
fi

# (7) The Swarm engine's wake, split into its phases, beside (3)'s Docker wake of the same image.
if [ -z "${BENCH_ONLY:-}" ] || [[ ",$BENCH_ONLY," == *,swarm,* ]]; then
  swarm_args=(--out "${out%.json}-swarm.json")
  [ "$quick" = 1 ] && swarm_args+=(--quick)
  BASELINE="$out" bash "$ROOT/scripts/bench-swarm.sh" "${swarm_args[@]}"
fi
