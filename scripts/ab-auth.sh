#!/usr/bin/env bash
# An A/B of /auth alone between two spawner binaries, in one run: both serve at once, each with
# one running instance of its own (plain cookies), and wrk loads them in turn, round after round
# (alternating which goes first), so the machine's drift affects both alike. Prints req/s and spawner CPU per request for each.
# COOKIES=signed (the default) sends a signed session, as a site does; COOKIES=plain the old
# bare-name cookie (cookie_signing off), as the runs before issue 17 did. LISTEN=new keeps one
# client connected to the new binary's event stream (GET /deploy/events) all along.
#
# Usage: [COOKIES=signed|plain] scripts/ab-auth.sh OLD_BINARY NEW_BINARY [ROUNDS] [SECONDS]
# e.g.   scripts/ab-auth.sh /tmp/old/target/release/spawner target/release/spawner 6 10
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[ $# -ge 2 ] || die "usage: scripts/ab-auth.sh OLD_BINARY NEW_BINARY [ROUNDS] [SECONDS]"
old=$1 new=$2 rounds=${3:-6} secs=${4:-10}
COOKIES="${COOKIES:-signed}"
case "$COOKIES" in
  signed) signing=true ;;
  plain) signing=false ;;
  *) die "COOKIES must be signed or plain, not $COOKIES" ;;
esac
need wrk "apt-get install wrk"
need_docker
prefix="ab$(date +%s)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  docker ps -aq --filter "name=^/$prefix-" | xargs -r docker rm -f >/dev/null
}
trap cleanup EXIT

# start LABEL BINARY: runs it on free ports with an instance; prints its pid, /auth port and the
# instance's cookie.
start() {
  local label=$1 binary=$2
  local log="/tmp/$prefix-$label.log"
  SPAWNER_API_ADDR=127.0.0.1:0 SPAWNER_AUTH_ADDR=127.0.0.1:0 SPAWNER_NETWORK=bridge \
    SPAWNER_SCOPE="$prefix-$label" SPAWNER_COOKIE_SIGNING=$signing SPAWNER_IDLE_TIMEOUT=0 \
    SPAWNER_COOKIE_SECRET="ab-auth-secret-ab-auth-secret-0123456789" \
    RUST_LOG=warn,spawner=info "$binary" 2>"$log" &
  local pid=$!
  for _ in $(seq 100); do
    if grep -q "ForwardAuth on port" "$log"; then break; fi
    sleep 0.1
  done
  local api auth
  api=$(sed -n 's/.*API on port \([0-9]*\),.*/\1/p' "$log" | head -1)
  auth=$(sed -n 's/.*ForwardAuth on port \([0-9]*\).*/\1/p' "$log" | head -1)
  local created cookie
  created=$(curl -fsS -X POST "http://127.0.0.1:$api/deploy" -H 'content-type: application/json' \
    -d "{\"name\":\"$prefix-$label\",\"image\":\"mock-app:nohc\",\"port\":9000,\"envs\":{\"IDLE\":\"0\"}}")
  cookie=$(printf '%s' "$created" | sed -n 's/.*"cookie":"\([^"]*\)".*/\1/p')
  [ -n "$cookie" ] || die "no session in the deploy's answer: $created"
  # The first request makes it ready; later ones are the hot path.
  curl -fsS -o /dev/null -H "Cookie: $cookie" -H "X-Spawner-Instance: $prefix-$label" \
    "http://127.0.0.1:$auth/auth"
  echo "$pid $auth $cookie $api"
}

read -r old_pid old_auth old_cookie _ < <(start old "$old")
pids+=("$old_pid")
read -r new_pid new_auth new_cookie new_api < <(start new "$new")
pids+=("$new_pid")
if [ "${LISTEN:-}" = new ]; then
  curl -sN -o "/tmp/$prefix-events.txt" "http://127.0.0.1:$new_api/deploy/events" &
  pids+=("$!")
  sleep 0.5
  kill -0 "${pids[-1]}" 2>/dev/null || die "the event stream of the new binary is not open"
fi

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)

echo "round,binary,req_per_s,cpu_us_per_request"
for round in $(seq "$rounds"); do
  # Each round in the other order: a drift within a round favours neither.
  order="old new"
  [ $((round % 2)) -eq 0 ] && order="new old"
  for side in $order; do
    if [ $side = old ]; then
      pid=$old_pid port=$old_auth cookie=$old_cookie
    else
      pid=$new_pid port=$new_auth cookie=$new_cookie
    fi
    before=$(cpu_ticks "$pid")
    out=$(wrk -t2 -c64 -d"${secs}s" -H "Cookie: $cookie" \
      -H "X-Spawner-Instance: $prefix-$side" "http://127.0.0.1:$port/auth")
    after=$(cpu_ticks "$pid")
    requests=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    us=$(awk -v t=$((after - before)) -v hz="$tick" -v n="$requests" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
    echo "$round,$side,$rps,$us"
  done
done
