#!/usr/bin/env bash
# An A/B of the cold start (scenario 3 of scripts/bench.sh) between spawner images, in one run:
# round after round, `BENCH_ONLY=cold scripts/bench.sh` with each image (its own stack each
# time), the order rotating from round to round so that the machine's drift affects all alike.
# Prints spawner's overhead over app-ready per readiness kind (HEALTHCHECK, HTTP, TCP), through
# traefik and on /auth, for every run; the JSON of each run stays in target/bench/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ROUNDS="${ROUNDS:-2}"
usage() {
  cat <<USAGE
Usage: scripts/ab-cold.sh IMAGE IMAGE [IMAGE...]
e.g.   ROUNDS=3 scripts/ab-cold.sh spawner:before spawner:latest

Environment: ROUNDS ($ROUNDS; each round runs every image once), and what scripts/bench.sh reads
(CARGO_TARGET_DIR, IDLE_CHECK_INTERVAL).
USAGE
}
[[ "${1:-}" =~ ^(-h|--help)$ ]] && { usage; exit 0; }
[ $# -ge 2 ] || { usage >&2; exit 2; }
images=("$@")
need_docker
need python3 "Install Python 3 (used to read the results)."
for image in "${images[@]}"; do
  docker image inspect "$image" >/dev/null 2>&1 || die "no image $image"
done
cd "$ROOT"
mkdir -p target/bench
stamp="$(date +%Y%m%d-%H%M%S)"
results=()
n=${#images[@]}
for round in $(seq "$ROUNDS"); do
  for k in $(seq 0 $((n - 1))); do
    image=${images[$(((round - 1 + k) % n))]}
    out="target/bench/ab-cold-$stamp-r$round-${image//[:\/]/_}.json"
    echo "==> round $round: $image"
    SPAWNER_IMAGE="$image" BENCH_ONLY=cold bash scripts/bench.sh --out "$out" >/dev/null
    results+=("$round $image $out")
  done
done
python3 - "${results[@]}" <<'PY'
import json, sys
print("| round | spawner image | HEALTHCHECK, traefik / `/auth` | HTTP, traefik / `/auth` | TCP, traefik / `/auth` |")
print("|---|---|---|---|---|")
for entry in sys.argv[1:]:
    rnd, image, path = entry.split(" ", 2)
    cold = json.load(open(path))["cold_start"]
    def o(kind):
        return " / ".join(
            "{median:.1f} ({min:.1f}–{max:.1f})".format(**cold[kind][t]["overhead_ms"])
            for t in ("traefik", "auth"))
    print(f"| {rnd} | {image} | {o('healthcheck')} | {o('http')} | {o('tcp')} |")
PY
echo "(spawner's overhead over app-ready, ms: median (min–max) of each run's samples)"
