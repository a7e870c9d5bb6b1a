#!/usr/bin/env bash
# Builds the web app (web/ → web/dist, embedded into the medprint binary at build time) and,
# with `test`, runs its end-to-end tests in Debian's chromium against a real server.
# Usage: scripts/web.sh build | test
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-build}"
if [ ! -f web/package.json ]; then
    echo "web/: no web app in this checkout; nothing to $what"
    exit 0
fi
command -v npm >/dev/null || (apt-get update && apt-get install -y nodejs npm)
cd web
# npm ci only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
fi
npm run build
if [ "$what" = "test" ]; then
    [ -x /usr/bin/chromium ] || (apt-get update && apt-get install -y chromium)
    MEDPRINT_BIN="${MEDPRINT_BIN:-$(pwd)/../target/debug/medprint}" npm test
fi
