#!/usr/bin/env bash
# Sets up a fresh machine, builds everything (web app included), runs `medprint demo` (synthetic
# CT phantom → print-ready model, compared with its truth) and leaves the order server running
# with a demo organisation and order at http://127.0.0.1:8080 (see scripts/serve_demo.sh).
# Usage: scripts/demo.sh [extra arguments for `medprint demo`]   (MEDPRINT_NO_SERVER=1: no server)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/web.sh build
cargo build --release --locked -p medprint-cli
target/release/medprint demo "$@"
if [ -z "${MEDPRINT_NO_SERVER:-}" ]; then
    scripts/serve_demo.sh
fi
