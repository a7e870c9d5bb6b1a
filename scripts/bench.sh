#!/usr/bin/env bash
# Builds the isosurface benchmark example and compares medprint with VTK and scikit-image
# on a 0.75 mm torso CT (see scripts/bench_peers.py). Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --examples -p medprint-mesh
cargo build --release -p medprint-cli
python3 scripts/bench_peers.py "$@"
