#!/usr/bin/env bash
# The quickstart in one command: installs what is missing, builds mfcl, runs the embedded
# quickstart (1e6 particles, progress bar), compares it with the reduced ODE, and draws it.
# Writes runs/quickstart.h5 (+ checkpoint, snapshots) and runs/quickstart.png, replacing
# those of an earlier quickstart (`mfcl run --force`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release -q -p mfcl
mfcl=${CARGO_TARGET_DIR:-target}/release/mfcl
"$mfcl" run --force "$@"
"$mfcl" compare runs/quickstart.h5
"$mfcl" plot runs/quickstart.h5 --out runs/quickstart.png
echo "figure: runs/quickstart.png"
echo "the binary: $mfcl (to call it as mfcl: export PATH=\"$(cd "$(dirname "$mfcl")" && pwd):\$PATH\")"
