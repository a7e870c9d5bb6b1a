#!/usr/bin/env bash
# Installs the system tools the workspace needs to build (idempotent).
set -euo pipefail
# cmake: builds CharLS (JPEG-LS decoder, C++) for dicom-pixeldata's `charls` feature.
command -v cmake >/dev/null || (apt-get update && apt-get install -y cmake)
command -v c++ >/dev/null || (apt-get update && apt-get install -y g++)
