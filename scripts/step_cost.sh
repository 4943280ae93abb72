#!/usr/bin/env bash
# The particle step of a whole `mfcl run` against the benches' kernels, measured in one
# session: the run's cost per particle-step (two horizons, differenced, so that start-up,
# the first coefficient evaluation and file creation cancel; records, snapshots and
# checkpoints stay as the config has them), then the reference and floor kernels of the
# benches for the config's neuron count, and the ratios.
#
# The config runs as particles whatever its solver.
#
# Usage: scripts/step_cost.sh CONFIG [N] [THREADS] [STEPS_SHORT] [STEPS_LONG]
# Default: N = 2e6, 1 thread, 20 and 120 steps. The binary is $MFCL if set, else
# target/release/mfcl, built first. Each run is timed three times; the fastest counts.
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:?usage: scripts/step_cost.sh CONFIG [N] [THREADS] [STEPS_SHORT] [STEPS_LONG]}
n=${2:-2000000}
threads=${3:-1}
short=${4:-20}
long=${5:-120}

if [ -z "${MFCL:-}" ]; then
    cargo build --release -q -p mfcl
fi
mfcl=${MFCL:-${CARGO_TARGET_DIR:-target}/release/mfcl}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# dt from a run of ten particles over the config's horizon; K from the config.
read -r dt neurons < <("$mfcl" run "$config" --set run.solver=particles --set run.particles=10 --json \
    --out "$work/probe.h5" | python3 -c '
import json, sys, tomllib
r = json.load(sys.stdin)
model = tomllib.load(open(sys.argv[1], "rb")).get("model", {})
print(r["t"][-1] / r["steps"], model.get("neurons", 1))' "$config")

seconds() { # steps -> fastest wall time of three runs
    python3 - "$mfcl" "$config" "$n" "$threads" "$1" "$dt" "$work" <<'EOF'
import subprocess, sys, time
mfcl, config, n, threads, steps, dt, work = sys.argv[1:]
t_end = int(steps) * float(dt)
best = float("inf")
for _ in range(3):
    start = time.perf_counter()
    subprocess.run([mfcl, "run", config, "--threads", threads, "--json",
                    "--set", "run.solver=particles",
                    "--out", f"{work}/run.h5", "--set", f"run.particles={n}",
                    "--set", f"run.t_end={t_end!r}"],
                   check=True, stdout=subprocess.DEVNULL)
    best = min(best, time.perf_counter() - start)
print(best)
EOF
}

t_short=$(seconds "$short")
t_long=$(seconds "$long")
run_ns=$(python3 -c "print(($t_long - $t_short) / (($long - $short) * $n) * 1e9)")

# The kernels of the config's neuron count, at N = 2e6 (benches/benches/particles.rs).
case $neurons in
    1) group=particle_step ;;
    2) group=particle_step_k2 ;;
    *) echo "the benches have kernels for K = 1 and 2 only; K = $neurons" >&2; exit 2 ;;
esac
cargo bench -q -p mfcl-benches --bench particles -- "$group/(reference|floor)_kernel" >/dev/null 2>&1
kernel_ns() { # name -> ns per particle (criterion's mean estimate, N = 2e6)
    python3 -c "import json; print(json.load(open('${CARGO_TARGET_DIR:-target}/criterion/$group/$1/2000000/new/estimates.json'))['mean']['point_estimate'] / 2e6)"
}
reference=$(kernel_ns reference_kernel)
floor=$(kernel_ns floor_kernel)
python3 - "$config" "$n" "$threads" "$neurons" "$run_ns" "$reference" "$floor" <<'EOF'
import sys
config, n, threads, neurons, run, reference, floor = sys.argv[1:]
run, reference, floor = float(run), float(reference), float(floor)
print(f"{config}: K = {neurons}, N = {int(n):.0e}, {threads} thread(s)")
print(f"  mfcl run         {run:6.2f} ns per particle-step")
print(f"  reference kernel {reference:6.2f} ns   run / reference = {run / reference:.2f}")
print(f"  floor kernel     {floor:6.2f} ns   run / floor     = {run / floor:.2f}")
EOF
