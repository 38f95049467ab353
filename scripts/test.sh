#!/usr/bin/env bash
# The README's test command: builds what the tests need (static binaries, images) and runs every
# test: unit tests, and the integration tests against the real Docker daemon.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/test.sh [--help]

Builds the images (scripts/build_project.sh), then runs all tests with cargo-nextest (cargo test
when nextest is not installed). Needs Docker: the tests fail, never skip, without a daemon.
Containers, networks and images the tests create carry unique names and are removed afterwards.
USAGE
}
[[ "${1:-}" =~ ^(-h|--help)$ ]] && { usage; exit 0; }

need cargo "Install Rust: https://rustup.rs"
need_docker
cd "$ROOT"

bash scripts/build_project.sh

echo "==> unit and integration tests (real Docker)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --workspace
else
  echo "(cargo-nextest not installed: using cargo test)"
  cargo test --locked --workspace
fi
