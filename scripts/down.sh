#!/usr/bin/env bash
# Stops the stack; with --purge also removes the instances spawner created on its network, and
# their volumes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/down.sh [--purge] [--help]

Stops and removes the stack's containers (compose project \$COMPOSE_PROJECT_NAME). Instances keep
running on network \$NETWORK (which spawner created) unless --purge removes them, their volumes
(their users' data) and the network; --purge also
forgets the stack's API token and cookie secret (\$STATE_DIR), which ends every session, and
removes the home's accounts (the volume home-data); without --purge they are kept.
With SWARM=1 (a stack of scripts/up.sh --swarm) it removes the Swarm stack instead.
USAGE
}
purge=0
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --purge) purge=1 ;;
    *) usage >&2; exit 2 ;;
  esac
done
need_docker
cd "$ROOT"
if [ "${SWARM:-0}" = 1 ]; then
  # shellcheck source=swarm-lib.sh
  source "$ROOT/scripts/swarm-lib.sh"
  swarm_down
  exit 0
fi

if [ "$purge" = 1 ]; then
  ids="$(docker ps -aq --filter label=origin=spawner --filter "network=$NETWORK")"
  if [ -n "$ids" ]; then
    echo "==> removing $(echo "$ids" | wc -l) instance(s) on $NETWORK"
    # shellcheck disable=SC2086
    docker rm -f $ids >/dev/null
  fi
  # Their data too: the named volumes spawner made for them (scope: the network's name).
  vols="$(docker volume ls -q --filter label=origin=spawner --filter "label=spawner.scope=$NETWORK")"
  if [ -n "$vols" ]; then
    echo "==> removing $(echo "$vols" | wc -l) instance volume(s)"
    # shellcheck disable=SC2086
    docker volume rm -f $vols >/dev/null
  fi
fi
[ "$purge" = 1 ] && rm -rf "$STATE_DIR"
# Both files, so a stack started in either mode goes down.
volumes=()
[ "$purge" = 1 ] && volumes=(--volumes)
compose -f "$ROOT/compose/docker-compose.yml" -f "$ROOT/compose/path-routing.yml" down --remove-orphans "${volumes[@]}"
# The instances' network is spawner's, not compose's: it goes with the instances.
if [ "$purge" = 1 ] && docker network inspect "$NETWORK" >/dev/null 2>&1; then
  docker network rm "$NETWORK" >/dev/null
fi
