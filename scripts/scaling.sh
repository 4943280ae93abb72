#!/usr/bin/env bash
# Strong scaling of the particle step: the same run (N particles, the quickstart problem)
# with 1, 2, 4, ... threads; prints particle-steps per second and the parallel efficiency
# relative to one thread. Usage: scripts/scaling.sh [N] [T_END] [THREADS...]
# Default: N = 1e7, T_END = 0.5 (50 steps), threads 1 2 4 8 16. The binary is $MFCL if set,
# else target/release/mfcl, built first.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000000}
t_end=${2:-0.5}
shift $(( $# > 2 ? 2 : $# )) || true
threads=("${@:-1 2 4 8 16}")
read -r -a threads <<<"${threads[*]}"

if [ -z "${MFCL:-}" ]; then
    cargo build --release -q -p mfcl
fi
mfcl=${MFCL:-${CARGO_TARGET_DIR:-target}/release/mfcl}
# A run file of its own: the default would replace the quickstart's runs/quickstart.h5.
out=runs/scaling.h5
base=""
printf "%8s %22s %10s\n" threads "particle-steps/s" efficiency
for k in "${threads[@]}"; do
    rate=$("$mfcl" run --threads "$k" --json --out "$out" \
        --set run.particles="$n" --set run.t_end="$t_end" --set run.record_every="$t_end" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["particle_steps_per_second"])')
    base=${base:-$rate}
    python3 -c "print(f'{$k:8d} {$rate:22.4e} {$rate / ($base * $k):10.1%}')"
done
rm -rf "$out" "${out%.h5}.checkpoint.h5" "${out%.h5}.snapshots"
