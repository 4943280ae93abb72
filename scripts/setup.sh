#!/usr/bin/env bash
# Installs what mfcl needs beyond a Rust toolchain: the HDF5 C library and pkg-config
# (Debian's libhdf5-dev, found through pkg-config by the hdf5-metno crate), and the
# toolchain's rustfmt and clippy for the checks. Safe to run repeatedly; does nothing when
# everything is there.
set -euo pipefail

if ! command -v cargo >/dev/null 2>&1; then
    echo "mfcl needs a Rust toolchain (cargo): install it with rustup, then rerun this script." >&2
    exit 1
fi

missing=()
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
pkg-config --exists hdf5 2>/dev/null || missing+=(libhdf5-dev)
if [ ${#missing[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "mfcl needs the HDF5 C library and pkg-config; install ${missing[*]} (or your system's equivalents) and rerun." >&2
        exit 1
    fi
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo="sudo"
        else
            echo "mfcl needs: sudo apt-get install ${missing[*]} (run it as root, then rerun this script)." >&2
            exit 1
        fi
    fi
    echo "installing ${missing[*]} with apt-get" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        rustup component add "$component"
    fi
done
