#!/usr/bin/env bash
# Creates the example minions through spawner's private API, with the old clients' body.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[[ "${1:-}" =~ ^(-h|--help)$ ]] && {
  echo "Usage: scripts/create-minions.sh   (MINIONS='$MINIONS', API_PORT, NETWORK, MINION_IDLE)"
  exit 0
}
need curl "Install curl (apt-get install curl)."
for name in $MINIONS; do
  echo "==> POST $API_URL/deploy ($name)"
  api POST /deploy "$(minion_body "$name")"
done
