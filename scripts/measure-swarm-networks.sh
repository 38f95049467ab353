#!/usr/bin/env bash
# What one overlay network per instance costs in Swarm mode (issue 19; figures in BENCHMARKS.md,
# "Swarm: a network per instance"). Deploys its own stack (scripts/up.sh --swarm; a single-node
# swarm when the daemon is in none, left after), then with N instances (default 200, made with
# "start": false, so each is a service at 0 and a network that traefik's and spawner's containers
# are joined to):
#   create      POST /deploy per instance (network, joins, service), first 20 and last 20
#   wake        a stopped instance woken through traefik, before the others exist and with all N
#   joined      how many networks traefik's container is on; the daemon's memory; the host's
#   rejoin      a new traefik task (service update --force) joined to all N networks, from the
#               moment its container runs
#   delete      DELETE per instance (service, then network)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[[ "${1:-}" =~ ^(-h|--help)$ ]] && { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0; }
N="${N:-200}"
need_docker
need python3 "Install Python 3."
cd "$ROOT"
# shellcheck source=swarm-lib.sh
source "$ROOT/scripts/swarm-lib.sh"
own_swarm_stack mnets

ms() { python3 -c "import sys; print(round(float(sys.argv[1]) * 1000, 1))" "$1"; }
stats() { # label, then a file of numbers (ms)
  python3 - "$@" <<'PY'
import statistics, sys
v = sorted(float(x) for x in open(sys.argv[2]) if x.strip())
p95 = v[min(len(v) - 1, int(len(v) * 0.95))]
print(f"{sys.argv[1]:<44} n={len(v):<4} median {statistics.median(v):8.1f} ms   p95 {p95:8.1f} ms   max {v[-1]:8.1f} ms")
PY
}
body() { echo "{\"name\":\"$1\",\"image\":\"mock-app:nohc\",\"network\":\"$NETWORK\",\"port\":9000,\"start\":$2,\"envs\":{\"IDLE\":\"0\"}}"; }
timed() { # METHOD PATH [BODY]: prints the seconds the call took; fails on an HTTP error
  local args=(-sS -o /dev/null -w '%{http_code} %{time_total}' -X "$1" -H "Authorization: Bearer $API_TOKEN")
  [ -n "${3:-}" ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
  local out; out="$(curl "${args[@]}" "$API_URL$2")"
  [ "${out%% *}" -lt 400 ] || die "$1 $2 answered ${out%% *}"
  echo "${out#* }"
}
traefik_container() { docker ps -q --filter "label=com.docker.swarm.service.name=${prefix}_traefik" | head -1; }
networks_of() { docker inspect -f '{{len .NetworkSettings.Networks}}' "$1"; }
dockerd_rss() { ps -o rss= -C dockerd | awk '{s += $1} END {print int(s / 1024) " MiB"}'; }
used_memory() { free -m | awk '/^Mem:/ {print $3 " MiB"}'; }
wakes() { # label: stop the first instance and wake it through traefik, 5 times
  local file; file="$(mktemp)"
  for _ in 1 2 3 4 5; do
    timed POST "/deploy/$first/stop" >/dev/null
    sleep 0.5
    local out; out="$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -b "$cookie" "$public/")"
    [ "${out%% *}" = 200 ] || die "a wake answered ${out%% *}"
    ms "${out#* }" >> "$file"
  done
  stats "$1" "$file"
}

first="$prefix-i0"
cookie="$(api POST /deploy "$(body "$first" true)" | json_field session.cookie)"
echo "==> with 1 instance: traefik on $(networks_of "$(traefik_container)") network(s); dockerd $(dockerd_rss); host used $(used_memory)"
wakes "wake through traefik, 1 instance"

echo "==> creating $((N - 1)) more (start: false)"
creates="$(mktemp)"
for i in $(seq 1 $((N - 1))); do
  ms "$(timed POST /deploy "$(body "$prefix-i$i" false)")" >> "$creates"
done
head -20 "$creates" > "$creates.first"; tail -20 "$creates" > "$creates.last"
stats "create, the first 20" "$creates.first"
stats "create, the last 20 (up to $N)" "$creates.last"
echo "==> with $N instances: traefik on $(networks_of "$(traefik_container)") network(s); dockerd $(dockerd_rss); host used $(used_memory)"
wakes "wake through traefik, $N instances"

echo "==> a new traefik task, joined to $N networks"
old="$(traefik_container)"
docker service update -d --force "${prefix}_traefik" >/dev/null
deadline=$((SECONDS + 300))
until new="$(traefik_container)"; [ -n "$new" ] && [ "$new" != "$old" ]; do
  [ $SECONDS -lt $deadline ] || die "no new traefik task"; sleep 0.1
done
started="$(docker inspect -f '{{.State.StartedAt}}' "$new")"
until [ "$(networks_of "$new")" -ge $((N + 1)) ]; do
  [ $SECONDS -lt $deadline ] || die "the new traefik task was not joined to $N networks"; sleep 0.2
done
joined_at="$(date -u +%s.%N)"
python3 - "$started" "$joined_at" "$N" <<'PY'
import sys
from datetime import datetime, timezone
ts, frac = sys.argv[1].rstrip("Z").split(".")
at = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp() + float("0." + frac)
print(f"{'rejoin: new traefik container on all ' + sys.argv[3] + ' networks':<44} {float(sys.argv[2]) - at:8.1f} s after it started")
PY
for _ in $(seq 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -b "$cookie" "$public/")" = 200 ] && break; sleep 0.2
done

echo "==> deleting the $N instances"
deletes="$(mktemp)"
for i in $(seq 0 $((N - 1))); do
  ms "$(timed DELETE "/deploy/$prefix-i$i")" >> "$deletes"
done
stats "delete (service and network)" "$deletes"
left="$(docker network ls -q --filter label=origin=spawner --filter "label=spawner.scope=$NETWORK" | wc -l)"
echo "==> networks left: $left; traefik on $(networks_of "$(traefik_container)") network(s); dockerd $(dockerd_rss); host used $(used_memory)"
