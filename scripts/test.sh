#!/usr/bin/env bash
# Runs every check and test of the workspace on a fresh machine: formatting, lints, all Rust
# tests (the server's against SQLite and the local PostgreSQL), and the web app's browser tests
# in Debian's chromium against a real `medprint serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/python_env.sh
# The server embeds the web app: build it before the Rust code.
scripts/web.sh build
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# target/debug/medprint was built by `cargo test` above.
scripts/web.sh test
