#!/usr/bin/env bash
# Stops and removes the example minions through spawner's private API.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[[ "${1:-}" =~ ^(-h|--help)$ ]] && {
  echo "Usage: scripts/delete-minions.sh   (MINIONS='$MINIONS', API_PORT)"
  exit 0
}
need curl "Install curl (apt-get install curl)."
for name in $MINIONS; do
  echo "==> DELETE $API_URL/deploy/$name"
  api DELETE "/deploy/$name"
done
