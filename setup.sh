#!/usr/bin/env bash
# One-shot set-up of a source checkout: Python venv with liqrisk (editable) and its test extras,
# plus the npm packages the devnet and tests need (anvil, genuine Aave V3 and Morpho Blue, solc-js).
# Idempotent: re-running only installs what is missing. Leaves the tree clean (`git status` empty).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
MIN_NODE_MAJOR=20  # anvil 1.7.1's platform packages declare "engines": {"node": ">=20"}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup.sh: Node.js >= ${MIN_NODE_MAJOR} and npm are needed (https://nodejs.org); not found on PATH" >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt "$MIN_NODE_MAJOR" ]; then
  echo "setup.sh: Node.js $(node --version) found; liqrisk's devnet needs Node.js >= ${MIN_NODE_MAJOR}" >&2
  exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup.sh: Python >= 3.11 is needed ($PYTHON is $("$PYTHON" --version 2>&1)); set PYTHON=python3.11" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
# `npm install` (not `npm ci`): the lock file pins versions, but anvil's optional per-platform
# binaries are resolved for the machine at hand, which `npm ci` refuses to do. `--no-save` keeps
# the tracked package.json and package-lock.json as they are.
npm install --no-save --no-audit --no-fund --loglevel=error
anvil=$(.venv/bin/python -c 'from chain.anvil import anvil_binary; print(anvil_binary())')
echo "liqrisk set-up done: .venv/bin/liqrisk, node_modules/ (anvil $("$anvil" --version 2>/dev/null | head -1 | awk '{print $3}'), node $(node --version))"
