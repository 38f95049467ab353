#!/usr/bin/env bash
# The README's run command: builds what is missing, starts the stack, waits until it answers.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/up.sh [--path-routing | --host-routing [--acme EMAIL]] [--swarm] [--replicas N] [--build] [--help]

Starts traefik, spawner and mock-home (compose project \$COMPOSE_PROJECT_NAME), building the
images first when any is missing (or always with --build), and waits until the site answers.

  --path-routing  instances at /p/<name>/ instead of by cookie
  --host-routing  each instance its own origin, https://<name>.\$DOMAIN (TLS on HTTPS_PORT, HTTP
                  redirected to it); the certificate is TLS_DIR's cert.pem and key.pem, made
                  self-signed for \$DOMAIN and *.\$DOMAIN when missing
  --acme EMAIL    with --host-routing: certificates from Let's Encrypt (TLS challenge on port 443)
  --replicas N    run N spawner containers that behave as one (default 1): they share the
                  ForwardAuth and API ports (SO_REUSEPORT), and traefik retries a ForwardAuth
                  answer of 500, so one of them can die or restart without a request failing
                  (README: Replicas)
  --swarm         deploy it as a stack on the Docker Swarm this daemon manages (compose/swarm.yml,
                  cookie routing): each instance a service scaled 0/1; --replicas N spawner
                  tasks (README: Swarm mode)
  --build         rebuild the images even if present

The first start makes the private API's token and the cookie-signing secret and keeps them in
$STATE_DIR (only you can read them); scripts/api.sh and scripts/session.sh use them.

traefik, spawner and mock-home run in the host's network namespace (Linux); all but traefik's
public port listen on 127.0.0.1. Instances run on network \$NETWORK, which spawner creates with
subnet \$SUBNET and inter-container traffic off (README: Security model).

Environment: HTTP_PORT (80), API_PORT (8008), AUTH_PORT (8000), HOME_PORT (8010), DASHBOARD_PORT
(8080), NETWORK (traefiknet), SUBNET (10.213.0.0/16), COMPOSE_PROJECT_NAME (spawner), APP_IDLE
(1m: idle time of instances mock-home creates), REGISTER_PER_MINUTE (10: registrations mock-home
accepts per client address per minute; 0: no cap),
API_TOKEN and COOKIE_SECRET (instead of the kept ones), TRAEFIK_POLL_INTERVAL (1s); with
--host-routing: DOMAIN (spawner.localhost), HTTPS_PORT (443), TLS_DIR (\$STATE_DIR/tls),
ACME_CA_SERVER (Let's Encrypt). SPAWNER_IMAGE (spawner:latest) runs another spawner image.
USAGE
}
build=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --path-routing) export PATH_ROUTING=1 ;;
    --host-routing) export HOST_ROUTING=1 ;;
    --acme) [ $# -ge 2 ] || die "--acme needs an e-mail address"; export ACME_EMAIL="$2"; shift ;;
    --build) build=1 ;;
    --swarm) export SWARM=1 ;;
    --replicas)
      [ $# -ge 2 ] || die "--replicas needs a number of spawner processes (1 or more)"
      [[ "$2" =~ ^[1-9][0-9]?$ ]] || die "--replicas takes a number from 1 to 99, not '$2'"
      export REPLICAS="$2"; shift ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done
[ "${PATH_ROUTING:-0}" = 1 ] && [ "${HOST_ROUTING:-0}" = 1 ] && die "choose --path-routing or --host-routing, not both"
[ -n "${ACME_EMAIL:-}" ] && [ "${HOST_ROUTING:-0}" != 1 ] && die "--acme goes with --host-routing"
# lib.sh read the mode before the flags: the public URL follows it.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

need_docker
need curl "Install curl (apt-get install curl)."
cd "$ROOT"

for image in spawner:latest mock-app:latest mock-home:latest traefik:v3.7; do
  docker image inspect "$image" >/dev/null 2>&1 || build=1
done
[ "$build" = 1 ] && bash scripts/build_project.sh

export REPLICAS="${REPLICAS:-1}"
if [ "${SWARM:-0}" = 1 ]; then
  [ "${PATH_ROUTING:-0}${HOST_ROUTING:-0}" = 00 ] || die "--swarm runs cookie routing only"
  ensure_secrets
  # shellcheck source=swarm-lib.sh
  source "$ROOT/scripts/swarm-lib.sh"
  swarm_up
  echo "Ready (stack $COMPOSE_PROJECT_NAME). site: $PUBLIC_URL/home  API: $API_URL/deploy  down: SWARM=1 scripts/down.sh"
  exit 0
fi
if [ "$REPLICAS" -gt 1 ]; then
  export REUSE_PORT=true
  need ss "Install iproute2 (apt-get install iproute2): up.sh counts the replicas listening."
fi
ensure_secrets
[ "${HOST_ROUTING:-0}" = 1 ] && ensure_tls
echo "==> starting the stack (project $COMPOSE_PROJECT_NAME; API token in $TOKEN_FILE)"
# One spawner first (it creates the instances' network); --replicas adds the others below.
# shellcheck disable=SC2046
compose $(compose_files) up -d --scale spawner=1

echo "==> waiting for the site to answer"
deadline=$((SECONDS + ${UP_TIMEOUT:-60}))
until public_curl -fsS -o /dev/null "$PUBLIC_URL/home" 2>/dev/null \
   && curl -fsS -o /dev/null "$API_URL/healthz" 2>/dev/null; do
  if [ $SECONDS -ge $deadline ]; then
    # shellcheck disable=SC2046
    compose $(compose_files) logs --tail 30 >&2 || true
    die "the stack did not answer within ${UP_TIMEOUT:-60}s (logs above)"
  fi
  sleep 0.5
done

if [ "$REPLICAS" -gt 1 ]; then
  # The first replica made the network; the others join it now, each listening on the same ports.
  echo "==> starting spawner replicas ($REPLICAS in all)"
  # shellcheck disable=SC2046
  compose $(compose_files) up -d --no-recreate --scale spawner="$REPLICAS"
  deadline=$((SECONDS + ${UP_TIMEOUT:-60}))
  until [ "$(listening_replicas)" -ge "$REPLICAS" ]; do
    if [ $SECONDS -ge $deadline ]; then
      # shellcheck disable=SC2046
      compose $(compose_files) logs --tail 30 spawner >&2 || true
      die "only $(listening_replicas) of $REPLICAS spawner replicas listen after ${UP_TIMEOUT:-60}s (logs above)"
    fi
    sleep 0.5
  done
fi

cat <<DONE
Ready.
  site:               $PUBLIC_URL/home   (register a name, or run scripts/create-minions.sh)
  spawner API:        $API_URL/deploy    (127.0.0.1 only; scripts/api.sh GET /deploy)
  traefik dashboard:  http://127.0.0.1:$DASHBOARD_PORT/dashboard/
Stop it with scripts/down.sh.
DONE
