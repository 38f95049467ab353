#!/usr/bin/env bash
# Asks each minion for its JSON through traefik with the cookie spawner issues for it
# (scripts/session.sh), then shows that a forged cookie (the bare name instance=minion-1), a
# wrong one (minion-6) and none all land on home. Exits 1 if any answer is not the expected one.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[[ "${1:-}" =~ ^(-h|--help)$ ]] && {
  echo "Usage: scripts/test-minions.sh   (MINIONS='$MINIONS', HTTP_PORT, WRONG_MINION=minion-6)"
  exit 0
}
need curl "Install curl (apt-get install curl)."
need python3 "Install Python 3 (scripts/session.sh reads JSON with it)."
failed=0
for name in $MINIONS; do
  cookie="$(bash "$ROOT/scripts/session.sh" "$name")"
  echo "==> $name (cookie $cookie)"
  body="$(curl -sSL -b "$cookie" "$PUBLIC_URL/")"
  echo "$body"
  [[ "$body" == *"\"hostname\":\"$name\""* ]] || { echo "!! expected $name's JSON" >&2; failed=1; }
done
wrong="${WRONG_MINION:-minion-6}"
forged="${MINIONS%% *}"
for cookie in "instance=$forged" "instance=$wrong" ""; do
  echo "==> ${cookie:-no cookie} (following redirects)"
  if [ -z "$cookie" ]; then
    body="$(curl -sSL "$PUBLIC_URL/")"
  else
    body="$(curl -sSL -b "$cookie" "$PUBLIC_URL/")"
  fi
  echo "$body"
  [[ "$body" == *"You are at Home"* ]] || { echo "!! expected the home JSON" >&2; failed=1; }
done
exit $failed
