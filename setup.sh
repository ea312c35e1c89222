#!/usr/bin/env bash
# One-shot set-up: Python venv with liqrisk (editable) and its test extras, plus the npm
# packages the devnet and tests need (anvil, genuine Aave V3 and Morpho Blue, solc-js).
# Idempotent: re-running only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
# `npm install` (not `npm ci`): the lock file pins versions, but anvil's optional per-platform
# binaries are resolved for the machine at hand, which `npm ci` refuses to do.
npm install --no-audit --no-fund --loglevel=error
echo "liqrisk set-up done: .venv/bin/liqrisk, node_modules/ (anvil $(node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil --version 2>/dev/null | head -1 | awk '{print $3}'))"
