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
export AUTH_PORT="${AUTH_PORT:-8000}"
export HOME_PORT="${HOME_PORT:-8010}"
export DASHBOARD_PORT="${DASHBOARD_PORT:-8080}"
export NETWORK="${NETWORK:-traefiknet}"
export SUBNET="${SUBNET:-10.213.0.0/16}"
export HTTPS_PORT="${HTTPS_PORT:-443}"
export DOMAIN="${DOMAIN:-spawner.localhost}"
PUBLIC_URL="http://127.0.0.1:${HTTP_PORT}"
if [ "${HOST_ROUTING:-0}" = "1" ]; then
  # Host routing: the site is https://$DOMAIN, each instance https://<name>.$DOMAIN.
  PUBLIC_URL="https://${DOMAIN}:${HTTPS_PORT}"
fi
export PUBLIC_ORIGIN="$PUBLIC_URL"
API_URL="http://127.0.0.1:${API_PORT}"
MINIONS="${MINIONS:-minion-1 minion-2}"

compose_files() {
  echo "-f $ROOT/compose/docker-compose.yml"
  [ "${PATH_ROUTING:-0}" = "1" ] && echo "-f $ROOT/compose/path-routing.yml"
  [ "${HOST_ROUTING:-0}" = "1" ] && echo "-f $ROOT/compose/host-routing.yml"
  [ "${HOST_ROUTING:-0}" = "1" ] && [ -n "${ACME_EMAIL:-}" ] && echo "-f $ROOT/compose/acme.yml"
  return 0
}

# How many processes listen on the ForwardAuth port (with --replicas each has its own socket
# there; spawner shares its ports in the host's network namespace).
listening_replicas() {
  ss -Hltn "sport = :$AUTH_PORT" | wc -l
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

# The stack's secrets: the private API's token and the cookie-signing secret, made once per
# compose project by scripts/up.sh and kept in files only their owner can read. API_TOKEN and
# COOKIE_SECRET in the environment win over the files.
STATE_DIR="${SPAWNER_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/spawner}/$COMPOSE_PROJECT_NAME"
TOKEN_FILE="$STATE_DIR/api-token"
export TLS_DIR="${TLS_DIR:-$STATE_DIR/tls}"
SECRET_FILE="$STATE_DIR/cookie-secret"

random_secret() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import secrets; print(secrets.token_hex(32))'
  else
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; echo
  fi
}

# Makes the files when missing (up.sh), then exports both.
ensure_secrets() {
  (umask 077 && mkdir -p "$STATE_DIR")
  local file
  for file in "$TOKEN_FILE" "$SECRET_FILE"; do
    [ -s "$file" ] || (umask 077 && random_secret > "$file")
  done
  load_secrets
}

# Exports what exists; empty values when the stack was never started (compose then warns of nothing).
load_secrets() {
  API_TOKEN="${API_TOKEN:-$(cat "$TOKEN_FILE" 2>/dev/null || true)}"
  COOKIE_SECRET="${COOKIE_SECRET:-$(cat "$SECRET_FILE" 2>/dev/null || true)}"
  export API_TOKEN COOKIE_SECRET
}
load_secrets

# curl on the private API with the token: api METHOD PATH [JSON-BODY]; prints the body, and
# fails (after printing it) on an HTTP error.
api() {
  local method="$1" path="$2" body="${3:-}" out status
  [ -n "$API_TOKEN" ] || die "no API token: start the stack with scripts/up.sh (it makes one in $TOKEN_FILE) or set API_TOKEN"
  out="$(mktemp)"
  local args=(-sS -o "$out" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $API_TOKEN")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  status="$(curl "${args[@]}" "$API_URL$path")" || { rm -f "$out"; die "spawner's API at $API_URL is unreachable"; }
  cat "$out"; echo
  rm -f "$out"
  [ "$status" -lt 400 ] || { echo "(HTTP $status)" >&2; return 1; }
}

# curl on the public site; with host routing, $DOMAIN's hosts resolve to this machine and the
# certificate is not checked (up.sh's own is self-signed): public_curl [CURL-ARGS...] URL
public_curl() {
  if [ "${HOST_ROUTING:-0}" = "1" ]; then
    curl --insecure --resolve "$DOMAIN:$HTTPS_PORT:127.0.0.1" "$@"
  else
    curl "$@"
  fi
}

# Host routing without a certificate of the operator's: a self-signed one for $DOMAIN and
# *.$DOMAIN in $TLS_DIR, made once (browsers warn; give TLS_DIR or --acme in production).
ensure_tls() {
  [ -s "$TLS_DIR/cert.pem" ] && [ -s "$TLS_DIR/key.pem" ] && return 0
  need openssl "Install openssl (apt-get install openssl), or give TLS_DIR with cert.pem and key.pem."
  (umask 077 && mkdir -p "$TLS_DIR")
  echo "==> making a self-signed certificate for $DOMAIN and *.$DOMAIN in $TLS_DIR"
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=$DOMAIN" \
    -addext "subjectAltName=DNS:$DOMAIN,DNS:*.$DOMAIN" \
    -keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" 2>/dev/null \
    || die "openssl could not make a certificate in $TLS_DIR"
  # traefik runs as root in its container; the key stays readable by its owner only.
  chmod 600 "$TLS_DIR/key.pem"
}

# A JSON field of stdin, by a path such as session.cookie.
json_field() {
  python3 -c 'import json,sys
v=json.load(sys.stdin)
for k in sys.argv[1].split("."): v=v[k]
print(v)' "$1"
}

# A /16 of 10.192.0.0/12 that no network on this daemon uses, for a stack of its own.
free_subnet() {
  python3 - <<'PY'
import ipaddress, json, random, subprocess
used = []
ids = subprocess.run(["docker", "network", "ls", "-q"], capture_output=True, text=True).stdout.split()
for n in json.loads(subprocess.run(["docker", "network", "inspect", *ids], capture_output=True, text=True).stdout or "[]"):
    for c in (n.get("IPAM") or {}).get("Config") or []:
        try: used.append(ipaddress.ip_network(c.get("Subnet", ""), strict=False))
        except ValueError: pass
free = [s for s in ipaddress.ip_network("10.192.0.0/12").subnets(new_prefix=16)
        if not any(s.overlaps(u) for u in used)]
print(random.choice(free))
PY
}
