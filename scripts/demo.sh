#!/usr/bin/env bash
# Sets up a fresh machine and runs `medprint demo` (synthetic CT phantom → print-ready model).
# Usage: scripts/demo.sh [extra arguments for `medprint demo`]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked -p medprint-cli
exec target/release/medprint demo "$@"
