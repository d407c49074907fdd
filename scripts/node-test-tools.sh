#!/usr/bin/env bash
# Install the node packages the tests run (tests/node/package.json, pinned by its
# package-lock.json) into tests/node/node_modules, from the npm registry. Needs
# node and npm; installs Debian's nodejs/npm when missing (as root). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../tests/node"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then echo "node and npm are missing; install them (apt-get install nodejs npm)" >&2; exit 1; fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm) >/dev/null 2>&1
fi
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi
echo "node $(node --version): $(ls node_modules | tr '\n' ' ')"
