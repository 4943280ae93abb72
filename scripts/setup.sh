#!/usr/bin/env bash
# Installs what mfcl needs beyond a Rust toolchain. Today that is only the toolchain's own
# rustfmt and clippy, which the checks use; it is safe to run repeatedly.
set -euo pipefail

if ! command -v cargo >/dev/null 2>&1; then
    echo "mfcl needs a Rust toolchain (cargo): install it with rustup, then rerun this script." >&2
    exit 1
fi
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        rustup component add "$component"
    fi
done
