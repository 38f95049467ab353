# Shared helpers for the scripts; sourced, not run.

die() { echo "error: $*" >&2; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is required but not installed. $2"
}

need_docker() {
  need docker "Install Docker Engine: https://docs.docker.com/engine/install/"
  docker info >/dev/null 2>&1 || die "the Docker daemon is not reachable (docker info failed). Start it, or set DOCKER_HOST."
}

# `docker compose` (v2 plugin) or `docker-compose` (v1), whichever exists.
compose() {
  if docker compose version >/dev/null 2>&1; then
    docker compose "$@"
  elif command -v docker-compose >/dev/null 2>&1; then
    docker-compose "$@"
  else
    die "neither 'docker compose' nor 'docker-compose' is installed"
  fi
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The stack's knobs, shared by every script.
export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-spawner}"
export HTTP_PORT="${HTTP_PORT:-80}"
export API_PORT="${API_PORT:-8008}"
export DASHBOARD_PORT="${DASHBOARD_PORT:-8080}"
export NETWORK="${NETWORK:-traefiknet}"
PUBLIC_URL="http://127.0.0.1:${HTTP_PORT}"
API_URL="http://127.0.0.1:${API_PORT}"
MINIONS="${MINIONS:-minion-1 minion-2}"

compose_files() {
  echo "-f $ROOT/compose/docker-compose.yml"
  [ "${PATH_ROUTING:-0}" = "1" ] && echo "-f $ROOT/compose/path-routing.yml"
  return 0
}

# The old clients' deploy body for a mock-app minion.
minion_body() {
  local name="$1"
  cat <<JSON
{"name":"$name","network":"$NETWORK","image":"mock-app:latest",
 "labels":{"health-check":"http://$name:9000/status","traefik.enable":"true",
           "traefik.http.services.$name.loadbalancer.server.port":"9000"},
 "envs":{"CONNSTR":"connection string of $name","IDLE":"${MINION_IDLE:-1m}"}}
JSON
}
