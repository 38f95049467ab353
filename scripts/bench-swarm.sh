#!/usr/bin/env bash
# (7) The Swarm engine's wake, through real traefik (scripts/bench.sh runs it last; it also runs
# alone). Deploys its own stack with `scripts/up.sh --swarm` (on a single-node swarm it makes
# when the daemon is in none, and leaves after), then wakes a stopped mock-app:nohc instance
# (HTTP readiness label, as scenario 3's "http" row) N times and splits each wake:
#   scaled    spawner's scale call to 1 answered        (spawner's log: "task running: …")
#   assigned  the new task seen placed on a node          (same line)
#   running   the task seen running                       (same line)
#   app       the app listening (its own log line, timestamped by the daemon), from the request
#   answered  the client's answer through traefik
# spawner's overhead = answered - max(task running, app listening): what the client waited beyond
# both Swarm's report that the task runs and the app's own start (target ≤ 50 ms median). Also
# printed: answered - app listening, as scenario 3 counts it for Docker (it includes Swarm's delay
# in reporting the task running, and its DNS entry, which comes with it). With BASELINE=results.json (the
# run's own scenario-3 figures), the Docker wake of the same image is printed beside it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

quick=0; out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --out) out="${2:?--out needs a file}"; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (--quick, --out FILE)" ;;
  esac
  shift
done
need_docker
need python3 "Install Python 3."
cd "$ROOT"
wakes="${SWARM_WAKES:-$([ "$quick" = 1 ] && echo 3 || echo 15)}"
[ -n "$out" ] || out="target/bench/results-swarm$([ "$quick" = 1 ] && echo -quick).json"
mkdir -p "$(dirname "$out")"

# shellcheck source=swarm-lib.sh
source "$ROOT/scripts/swarm-lib.sh"
own_swarm_stack bswarm

app="$prefix-app"
body="{\"name\":\"$app\",\"image\":\"mock-app:nohc\",\"network\":\"$NETWORK\",\"port\":9000,
      \"labels\":{\"health-check\":\"http://$app:9000/status\"},\"envs\":{\"IDLE\":\"30m\"}}"
cookie="$(api POST /deploy "$body" | json_field session.cookie)"
deadline=$((SECONDS + 30))
until [ "$(curl -s -o /dev/null -w '%{http_code}' -b "$cookie" "$public/")" = 200 ]; do
  [ $SECONDS -lt $deadline ] || die "the benchmark instance is not reached through traefik"
  sleep 0.3
done
service_id="$(docker service inspect -f '{{.ID}}' "$app")"

echo "==> 7. Swarm wake through traefik ($wakes wakes of $app, after one warm-up)"
samples="$(mktemp)"
for i in $(seq 0 "$wakes"); do
  api POST "/deploy/$app/stop" >/dev/null
  until [ "$(docker service ps -q --filter desired-state=running "$app" | wc -l)" = 0 ] \
     && [ -z "$(docker ps -q --filter "label=com.docker.swarm.service.id=$service_id")" ]; do
    sleep 0.1
  done
  sleep 0.5
  since="$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)"
  t0="$(date +%s.%N)"
  total="$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -b "$cookie" "$public/")"
  [ "${total%% *}" = 200 ] || die "wake $i answered ${total%% *}"
  container="$(docker ps -q --no-trunc --filter "label=com.docker.swarm.service.id=$service_id" | head -1)"
  # The app's own line, timestamped by the daemon (its log may reach the daemon a moment later).
  listening=""
  for _ in $(seq 40); do
    listening="$(docker logs -t "$container" 2>&1 | grep 'listening on port' | head -1 | cut -d' ' -f1 || true)"
    [ -n "$listening" ] && break
    sleep 0.05
  done
  [ -n "$listening" ] || die "wake $i: no 'listening' line in the log of $container"
  phases="$(docker service logs --raw --since "$since" "${prefix}_spawner" 2>&1 \
            | grep -m1 "$service_id: task running" | grep -o 'scaled_ms=.*' || true)"
  ready="$(docker service logs --raw --since "$since" "${prefix}_spawner" 2>&1 \
            | grep -m1 "$app: ready after" | sed 's/.*ready after //' || true)"
  [ "$i" = 0 ] && continue
  echo "$t0 ${total#* } $listening $ready $phases" >> "$samples"
done

python3 - "$samples" "$out" "${BASELINE:-}" <<'PY'
import json, re, statistics, sys
from datetime import datetime, timezone
rows = []
def dur_ms(s):
    m = re.fullmatch(r"([\d.]+)(ns|µs|us|ms|s)", s.strip())
    return float(m[1]) * {"ns": 1e-6, "µs": 1e-3, "us": 1e-3, "ms": 1, "s": 1e3}[m[2]]
for line in open(sys.argv[1]):
    t0, total, listening, ready, *phases = line.split()
    ts, frac = listening.rstrip("Z").split(".")
    at = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp() + float("0." + frac)
    p = dict(kv.split("=") for kv in phases)
    total_ms = float(total) * 1e3
    app_ms = (at - float(t0)) * 1e3
    rows.append({"answered": total_ms, "app": app_ms, "beyond_app": total_ms - app_ms,
                 "overhead": total_ms - max(app_ms, float(p["running_ms"])),
                 "ready": dur_ms(ready), "scaled": float(p["scaled_ms"]),
                 "assigned": float(p["assigned_ms"]), "running": float(p["running_ms"])})
def stat(k):
    v = [r[k] for r in rows]
    return {"median": round(statistics.median(v), 1), "min": round(min(v), 1), "max": round(max(v), 1)}
keys = ["scaled", "assigned", "running", "app", "ready", "answered", "beyond_app", "overhead"]
result = {k: stat(k) for k in keys}
result["n"] = len(rows)
json.dump(result, open(sys.argv[2], "w"), indent=2)
f = lambda s: f'{s["median"]} ({s["min"]}–{s["max"]})'
print(f"\n### 7. Swarm wake through traefik (mock-app:nohc, HTTP readiness; n = {len(rows)}; median (min–max) ms)\n")
print("| scale call answered | task assigned | task running | app listening | spawner saw it ready | answered | answered - app listening | spawner overhead: answered - max(running, app) (target ≤ 50) |")
print("|---|---|---|---|---|---|---|---|")
print("| " + " | ".join(f(result[k]) for k in keys) + " |")
if sys.argv[3]:
    try:
        docker = json.load(open(sys.argv[3]))["cold_start"]["http"]["traefik"]
        print(f'\nThe same image woken by the Docker engine in this run (scenario 3, http via traefik): '
              f'total {docker["total_ms"]["median"]} ms, overhead {docker["overhead_ms"]["median"]} ms (medians).')
    except (OSError, KeyError, ValueError) as e:
        print(f"(no Docker baseline in {sys.argv[3]}: {e})")
PY
echo "(figures in $out)"
