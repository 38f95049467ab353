#!/usr/bin/env bash
# Measures what isolating instances costs, for the two designs issue #8 weighs (figures in
# BENCHMARKS.md, "Isolating instances"):
#   per-network  one bridge per instance that the router joins: the time to create N networks and
#                to connect one container (traefik's place) to all of them, the iptables rules
#                Docker adds, and what those rules cost a packet between two containers
#   icc-off      one bridge with inter-container traffic off, the router outside it (host
#                networking): what a request from the host to an instance costs
# Latency is wrk's, from inside a container's network namespace (nsenter) or from the host,
# against mock-app's /status. Needs root (nsenter, iptables), wrk and the mock-app:latest image.
# Everything it makes carries a per-run prefix and is removed at exit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

N="${N:-1000}"
# How many of them the client joins (each join takes about a second at 1,000 networks).
CONNECT_N="${CONNECT_N:-200}"
DURATION="${DURATION:-8s}"
RUN="iso-$$-$RANDOM"
# /28s from 10.240.0.0/12, a range Docker's default pools do not use.
subnet() { local i=$(($1 * 16)); echo "10.$((240 + i / 65536)).$(((i / 256) % 256)).$((i % 256))/28"; }

usage() {
  echo "Usage: DESIGNS=both|icc-off|per-network N=1000 CONNECT_N=200 DURATION=8s scripts/measure-isolation.sh (as root; needs wrk and mock-app:latest)"
}
[[ "${1:-}" =~ ^(-h|--help)$ ]] && { usage; exit 0; }
need_docker
need wrk "apt-get install wrk"
need nsenter "apt-get install util-linux"
[ "$(id -u)" = 0 ] || die "run as root (nsenter and iptables)"

cleanup() {
  docker ps -aq --filter "label=$RUN" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker network ls -q --filter "label=$RUN" | xargs -r -n 50 docker network rm >/dev/null 2>&1 || true
}
trap cleanup EXIT

app() { # name network
  docker run -d --label "$RUN" --name "$RUN-$1" --network "$2" -e IDLE=0 mock-app:nohc >/dev/null
  docker inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$RUN-$1"
}
pid_of() { docker inspect -f '{{.State.Pid}}' "$RUN-$1"; }
latency() { # label, then the command prefix
  local label="$1"; shift
  "$@" wrk -t1 -c4 -d"$DURATION" --latency "http://$TARGET:9000/status" >"/tmp/$RUN.wrk"
  printf '%-44s %10s req/s  p50 %8s  p99 %8s\n' "$label" \
    "$(awk '/Requests\/sec/ {print $2}' "/tmp/$RUN.wrk")" \
    "$(awk '$1 == "50%" {print $2}' "/tmp/$RUN.wrk")" \
    "$(awk '$1 == "99%" {print $2}' "/tmp/$RUN.wrk")"
}
rules() { iptables -S | wc -l; }
wait_up() { for _ in $(seq 50); do curl -fsS -o /dev/null "http://$TARGET:9000/status" && return; sleep 0.1; done; }

per_network() {
echo "== per-network design, N=$N"
docker network create --label "$RUN" --subnet "$(subnet 0)" "$RUN-net-0" >/dev/null
TARGET="$(app server "$RUN-net-0")"
app client "$RUN-net-0" >/dev/null
wait_up
CLIENT_PID="$(pid_of client)"
echo "iptables rules before: $(rules)"
latency "container -> container, 1 network" nsenter -t "$CLIENT_PID" -n
latency "host -> container, 1 network" env

start=$(date +%s.%N)
for i in $(seq 1 "$N"); do
  docker network create --label "$RUN" --subnet "$(subnet "$i")" "$RUN-net-$i" >/dev/null
done
end=$(date +%s.%N)
echo "create $N networks: $(echo "$end - $start" | bc) s ($(echo "($end - $start) * 1000 / $N" | bc) ms each)"
echo "iptables rules with $N more networks: $(rules)"
latency "container -> container, $((N + 1)) networks" nsenter -t "$CLIENT_PID" -n

start=$(date +%s.%N)
for i in $(seq 1 "$CONNECT_N"); do docker network connect "$RUN-net-$i" "$RUN-client"; done
end=$(date +%s.%N)
echo "connect one container to $CONNECT_N of them: $(echo "$end - $start" | bc) s ($(echo "($end - $start) * 1000 / $CONNECT_N" | bc) ms each)"
echo "interfaces in that container: $(nsenter -t "$CLIENT_PID" -n ip -o link | wc -l)"
latency "container ($CONNECT_N more interfaces) -> container" nsenter -t "$CLIENT_PID" -n
echo "iptables rules: $(rules)"
cleanup
}

icc_off() {
echo "== icc-off design"
docker network create --label "$RUN" --subnet "$(subnet 0)" -o com.docker.network.bridge.enable_icc=false "$RUN-icc" >/dev/null
TARGET="$(app server "$RUN-icc")"
app client "$RUN-icc" >/dev/null
wait_up
echo "iptables rules: $(rules)"
latency "host -> container, icc off" env
if nsenter -t "$(pid_of client)" -n curl -s -m 2 -o /dev/null "http://$TARGET:9000/status"; then
  echo "container -> container, icc off: REACHED (isolation broken)"
else
  echo "container -> container, icc off: no connection (as intended)"
fi
cleanup
}

case "${DESIGNS:-both}" in
  both) icc_off; per_network ;;
  icc-off) icc_off ;;
  per-network) per_network ;;
  *) die "DESIGNS is both, icc-off or per-network" ;;
esac
