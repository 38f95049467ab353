#!/usr/bin/env bash
# The README's test command: builds what the tests need (static binaries, images) and runs every
# test: unit tests, and the integration tests against the real Docker daemon.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

usage() {
  cat <<USAGE
Usage: scripts/test.sh [--help]

Checks formatting (cargo fmt --check) and lints (cargo clippy, warnings are errors), builds the
images (scripts/build_project.sh), installs what some tests talk to if missing (apt-get:
chromium and chromium-driver, prometheus for promtool, docker-registry), then runs all tests with cargo-nextest (cargo test when nextest is not installed):
unit tests, integration tests against the real Docker daemon, and end-to-end tests through real
traefik. Needs Docker: the tests fail, never skip, without a daemon.
Containers, networks and images the tests create carry unique names and are removed afterwards.
USAGE
}
[[ "${1:-}" =~ ^(-h|--help)$ ]] && { usage; exit 0; }

need cargo "Install Rust: https://rustup.rs"
need_docker
cd "$ROOT"

# Formatting and lints first: they fail in seconds, where the tests take minutes.
echo "==> cargo fmt --check and cargo clippy (warnings are errors)"
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    command -v rustup >/dev/null 2>&1 || die "cargo $component is missing; install it (rustup component add $component)"
    rustup component add "$component"
  fi
done
cargo fmt --all --check || die "cargo fmt --check: the code is not formatted; run cargo fmt"
cargo clippy --locked --workspace --all-targets -- -D warnings || die "cargo clippy reported warnings"

bash scripts/build_project.sh

# Real peers some tests need, from Debian's packages where missing: Chromium and its WebDriver
# (browser tests), promtool (package prometheus: checks /metrics), docker-registry (pull tests).
missing=()
command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 \
  || missing+=(chromium chromium-driver)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> installing ${missing[*]} (for the browser, metrics and pull tests)"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  command -v apt-get >/dev/null 2>&1 \
    || die "the tests need ${missing[*]}; install them (e.g. apt-get install ${missing[*]})"
  $sudo apt-get update -qq
  # The tests start their own registry on a free port; any service the packages start is unused.
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
    || die "could not install ${missing[*]}"
fi

# The benchmark in its quick mode, so the script keeps working; its figures decide nothing here.
# It runs first so that the test runner's summary is the last thing printed.
echo "==> benchmark smoke run (scripts/bench.sh --quick; does not decide pass or fail)"
if ! timeout 900 bash scripts/bench.sh --quick; then
  echo "!! scripts/bench.sh --quick failed (reported, not a test failure)" >&2
fi

echo "==> unit, integration (real Docker) and end-to-end (real traefik, Chromium) tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --workspace
else
  echo "(cargo-nextest not installed: using cargo test)"
  cargo test --locked --workspace
fi
