#!/usr/bin/env bash
# Creates or updates .venv at the repository root with the Python packages that the interop
# checks (scripts/mesh_check.py) and the peer benchmark (scripts/bench_peers.py) use.
# Idempotent and quiet: when every package is already installed it returns in well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(numpy trimesh lib3mf manifold3d nibabel scipy scikit-image vtk psutil)
MODULES="numpy trimesh lib3mf manifold3d nibabel scipy skimage vtk psutil"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
# find_spec locates each module without importing it (vtk and skimage take seconds to import).
if .venv/bin/python -c "import importlib.util, sys; sys.exit(any(importlib.util.find_spec(m) is None for m in sys.argv[1:]))" \
    $MODULES 2>/dev/null; then
    exit 0
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check "${PACKAGES[@]}"
