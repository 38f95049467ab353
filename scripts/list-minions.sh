#!/usr/bin/env bash
# Lists the instances spawner manages.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[[ "${1:-}" =~ ^(-h|--help)$ ]] && { echo "Usage: scripts/list-minions.sh   (API_PORT)"; exit 0; }
need curl "Install curl (apt-get install curl)."
if command -v python3 >/dev/null 2>&1; then
  api GET /deploy | python3 -m json.tool
else
  api GET /deploy
fi
