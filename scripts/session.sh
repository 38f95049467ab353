#!/usr/bin/env bash
# Prints a valid instance cookie for an instance, issued by spawner: for curl (-b) and for a
# browser's dev tools.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/session.sh NAME

Asks spawner for a session for instance NAME (POST /deploy/NAME/session, with the stack's token)
and prints its cookie, e.g. instance=minion-1.1767000000.Zm9v…
  curl -b "\$(scripts/session.sh minion-1)" http://127.0.0.1:$HTTP_PORT/
USAGE
}
[[ "${1:-}" =~ ^(-h|--help)$ ]] && { usage; exit 0; }
[ $# -eq 1 ] || { usage >&2; exit 2; }
need curl "Install curl (apt-get install curl)."
need python3 "Install Python 3 (reads the JSON answer)."
api POST "/deploy/$1/session" | json_field cookie
