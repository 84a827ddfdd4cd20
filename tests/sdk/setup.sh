#!/usr/bin/env bash
# The CTest fixture of the SDK tests: copies tests/sdk (package.json, the
# lockfile, the test scripts) to DEST and installs the pinned official
# SDKs there with `npm ci`, which refuses a lockfile that does not match
# package.json. npm ci runs again only when the lockfile changed since the
# last install in DEST (its copy in DEST/node_modules/.tollgate-lock).
#   tests/sdk/setup.sh SRC DEST
set -euo pipefail
src=$1 dest=$2
mkdir -p "$dest"
cp "$src"/package.json "$src"/package-lock.json "$src"/*.mjs "$dest"/
stamp=$dest/node_modules/.tollgate-lock
if [[ -f $stamp ]] && cmp -s "$stamp" "$src/package-lock.json"; then
  exit 0
fi
command -v npm >/dev/null || { echo "setup: npm is missing; run tools/install-deps.sh" >&2; exit 1; }
cd "$dest"
npm ci --prefer-offline --no-audit --no-fund --loglevel=error
cp "$src/package-lock.json" "$stamp"
