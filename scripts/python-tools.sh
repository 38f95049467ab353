#!/usr/bin/env bash
# The third-party Python tools the tests run against spawner's API (openapi-spec-validator,
# schemathesis), in a virtual environment of their own under target/py (made once, from PyPI);
# prints the environment's bin directory. Usage: scripts/python-tools.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
need python3 "Install Python 3 with venv (apt-get install python3-venv)."
venv="${PY_TOOLS_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/py}"
stamp="$venv/.tools-1"
if [ ! -e "$stamp" ]; then
  # One maker at a time (tests may ask at once).
  exec 9>"$venv.lock" 2>/dev/null || { mkdir -p "$(dirname "$venv")"; exec 9>"$venv.lock"; }
  flock 9
  if [ ! -e "$stamp" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv" >&2 || die "python3 -m venv failed (apt-get install python3-venv)"
    "$venv/bin/pip" install -q --disable-pip-version-check \
      'openapi-spec-validator>=0.7,<0.8' 'schemathesis>=4,<5' >&2 \
      || die "could not install the tools from PyPI"
    touch "$stamp"
  fi
fi
echo "$venv/bin"
