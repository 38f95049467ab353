#!/usr/bin/env bash
# Builds the static binaries and the FROM-scratch images spawner:latest and mock-app:latest
# (plus mock-app:nohc, the same app without a Docker HEALTHCHECK).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

TARGET="${TARGET:-x86_64-unknown-linux-gnu}"
PROFILE="${PROFILE:-release}"

usage() {
  cat <<USAGE
Usage: scripts/build_project.sh [--help]

Builds static binaries (target $TARGET) and the images spawner:latest, mock-app:latest and
mock-app:nohc. When the tree is a clean git checkout at a tag, the images are also tagged with it;
otherwise (no git, no tag, local changes) only :latest.

Environment: TARGET (default $TARGET), PROFILE (release).
USAGE
}
[[ "${1:-}" =~ ^(-h|--help)$ ]] && { usage; exit 0; }
[[ $# -eq 0 ]] || { usage >&2; exit 2; }

need cargo "Install Rust: https://rustup.rs"
need_docker
cd "$ROOT"

# A tag only when it names exactly this clean tree; anything else (no git, WSL quirks) is 'latest'.
version_tag() {
  command -v git >/dev/null 2>&1 || return 0
  git rev-parse --git-dir >/dev/null 2>&1 || return 0
  [ -z "$(git status --porcelain 2>/dev/null || echo dirty)" ] || return 0
  local tag
  tag="$(git describe --tags --exact-match 2>/dev/null || true)"
  [[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] && echo "$tag"
  return 0
}

echo "==> building static binaries ($TARGET, $PROFILE)"
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --locked --profile "$PROFILE" --target "$TARGET" -p spawner -p mock-app
BIN="$ROOT/target/$TARGET/$PROFILE"

TAG="$(version_tag)"
build_image() { # image dockerfile binary
  local image="$1" dockerfile="$2" binary="$3" ctx
  ctx="$(mktemp -d)"
  trap 'rm -rf "$ctx"' RETURN
  cp "$BIN/$binary" "$ctx/$binary"
  cp "$dockerfile" "$ctx/Dockerfile"
  local tags=(-t "$image:latest")
  [ -n "$TAG" ] && tags+=(-t "$image:$TAG")
  echo "==> image $image:latest${TAG:+ and $image:$TAG}"
  docker build -q "${tags[@]}" "$ctx" >/dev/null
}

build_image spawner Dockerfile spawner
build_image mock-app mock-app/Dockerfile mock-app
echo "==> image mock-app:nohc (no HEALTHCHECK)"
printf 'FROM mock-app:latest\nHEALTHCHECK NONE\n' | docker build -q -t mock-app:nohc - >/dev/null
echo "built: spawner:latest mock-app:latest mock-app:nohc"
