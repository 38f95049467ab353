#!/usr/bin/env bash
# The operator's curl: calls spawner's private API with the stack's token and prints the answer.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/api.sh METHOD PATH [JSON-BODY]

Calls spawner's private API ($API_URL) with the stack's token (API_TOKEN, else the file
scripts/up.sh made: $TOKEN_FILE) and prints the answer; exits 1 on an HTTP error.
Examples:
  scripts/api.sh GET /deploy
  scripts/api.sh POST /deploy '{"name":"minion-1","image":"mock-app:latest"}'
  scripts/api.sh POST /deploy/minion-1/session
  scripts/api.sh DELETE /deploy/minion-1
USAGE
}
[[ "${1:-}" =~ ^(-h|--help)$ ]] && { usage; exit 0; }
[ $# -ge 2 ] && [ $# -le 3 ] || { usage >&2; exit 2; }
need curl "Install curl (apt-get install curl)."
api "$@"
