#!/usr/bin/env bash
# Asks each minion for its JSON through traefik with its cookie, then shows that a wrong cookie
# (minion-6) and no cookie both land on home. Exits 1 if any answer is not the expected one.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
[[ "${1:-}" =~ ^(-h|--help)$ ]] && {
  echo "Usage: scripts/test-minions.sh   (MINIONS='$MINIONS', HTTP_PORT, WRONG_MINION=minion-6)"
  exit 0
}
need curl "Install curl (apt-get install curl)."
failed=0
for name in $MINIONS; do
  echo "==> $name (cookie instance=$name)"
  body="$(curl -sSL -b "instance=$name" "$PUBLIC_URL/")"
  echo "$body"
  [[ "$body" == *"\"hostname\":\"$name\""* ]] || { echo "!! expected $name's JSON" >&2; failed=1; }
done
wrong="${WRONG_MINION:-minion-6}"
for label in "cookie instance=$wrong" "no cookie"; do
  echo "==> $label (following redirects)"
  if [ "$label" = "no cookie" ]; then
    body="$(curl -sSL "$PUBLIC_URL/")"
  else
    body="$(curl -sSL -b "instance=$wrong" "$PUBLIC_URL/")"
  fi
  echo "$body"
  [[ "$body" == *"You are at Home"* ]] || { echo "!! expected the home JSON" >&2; failed=1; }
done
exit $failed
