#!/usr/bin/env bash
# Many `mfcl run` jobs at once: every seed of --seeds times every value of one config key
# (--param KEY --values "V ..."), each with its own run file and log,
#     OUT/NAME_KEY=VALUE_seed=S.h5   OUT/NAME_KEY=VALUE_seed=S.log
# run JOBS at a time with GNU parallel (or xargs -P without it), or printed one command per
# line (--dry-run) for another launcher: a Slurm array (scripts/sweep.slurm), other machines.
#
# Usage: scripts/sweep.sh [CONFIG] [OPTIONS]
#   CONFIG           a TOML config (default: the embedded quickstart)
#   --seeds "S ..."  seeds, separated by spaces (default "1"; e.g. "$(seq 1 8)")
#   --param KEY      a config key to vary, e.g. model.noise.correlation
#   --values "V ..." its values, separated by spaces, e.g. "-0.5 0 0.5" (with --param)
#   --set KEY=VALUE  an override for every run (repeatable)
#   --unset KEY      a key removed for every run (repeatable)
#   --out DIR        folder of the run files and logs (default: runs)
#   --name NAME      prefix of their names (default: CONFIG's name, or quickstart)
#   --threads K      threads per run (default 1: the grid, not each run, fills the cores)
#   --jobs J         runs at a time (default: the number of cores)
#   --force          replace the runs of the grid that exist already (mfcl run --force)
#   --dry-run        print the commands instead of running them
# The binary is $MFCL if set, else target/release/mfcl (built first if missing). Every
# config of the grid is validated with `mfcl check` before any run starts, and a grid of
# which a run exists already (its run file or its checkpoint) is refused before any run
# starts, as `mfcl run` refuses to replace a run: pass --force to replace them all, or
# continue an unfinished one with `mfcl resume OUT/NAME_..._seed=S.h5`.
#
# Examples:
#   scripts/sweep.sh --seeds "$(seq 1 4)" --set run.particles=200000 --set run.t_end=5
#   scripts/sweep.sh data/configs/two_features.toml --param model.noise.correlation \
#       --values "-0.5 0 0.5" --seeds "1 2" --jobs 2
#   scripts/sweep.sh --seeds "$(seq 1 32)" --dry-run > runs/jobs.txt    # then scripts/sweep.slurm
set -euo pipefail

usage="usage: scripts/sweep.sh [CONFIG] [--seeds \"S ...\"] [--param KEY --values \"V ...\"] [--set KEY=VALUE]... [--unset KEY]... [--out DIR] [--name NAME] [--threads K] [--jobs J] [--force] [--dry-run]"
die() {
    echo "error: $*" >&2
    echo "$usage" >&2
    exit 2
}

config="" seeds="1" param="" values="" out="runs" name="" threads=1 dry_run=false force=()
jobs=$(nproc 2>/dev/null || echo 2)
sets=()
while [ $# -gt 0 ]; do
    case "$1" in
    --dry-run) dry_run=true; shift; continue ;;
    --force) force=(--force); shift; continue ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --seeds | --param | --values | --set | --unset | --out | --name | --threads | --jobs)
        [ $# -ge 2 ] || die "$1 needs a value" ;;
    -*) die "unknown option $1" ;;
    *)
        [ -z "$config" ] || die "one config only (got $config and $1)"
        [ -f "$1" ] || die "no config file $1"
        config=$1; shift; continue ;;
    esac
    case "$1" in
    --seeds) seeds=$2 ;;
    --param) param=$2 ;;
    --values) values=$2 ;;
    --set) sets+=(--set "$2") ;;
    --unset) sets+=(--unset "$2") ;;
    --out) out=$2 ;;
    --name) name=$2 ;;
    --threads) threads=$2 ;;
    --jobs) jobs=$2 ;;
    esac
    shift 2
done

# Split on any whitespace, newlines included ("$(seq 1 8)"); read -d '' fails at the end.
read -r -d '' -a seeds <<<"$seeds" || true
read -r -d '' -a values <<<"$values" || true
[ ${#seeds[@]} -gt 0 ] || die "--seeds is empty"
for seed in "${seeds[@]}"; do
    [[ $seed =~ ^[0-9]+$ ]] || die "seed $seed is not an integer >= 0"
done
if [ -n "$param" ]; then
    [ ${#values[@]} -gt 0 ] || die "--param $param needs --values"
    [ "$param" != run.seed ] || die "vary the seed with --seeds"
else
    [ ${#values[@]} -eq 0 ] || die "--values needs --param KEY"
    values=("")  # one run per seed, no key varied
fi
[[ $threads =~ ^[1-9][0-9]*$ ]] || die "--threads $threads is not a positive integer"
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "--jobs $jobs is not a positive integer"
if [ -z "$name" ]; then
    name=$(basename "${config:-quickstart}" .toml)
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
mfcl=${MFCL:-${CARGO_TARGET_DIR:-$repo/target}/release/mfcl}
if [ ! -x "$mfcl" ]; then
    [ -z "${MFCL:-}" ] || die "MFCL=$MFCL is not an executable"
    echo "building $mfcl" >&2
    (cd "$repo" && cargo build --release -q -p mfcl)
fi

# The whole grid is validated before anything runs: a bad value fails here, not hours in.
# The embedded quickstart is data/configs/quickstart.toml.
checked=${config:-$repo/data/configs/quickstart.toml}
for value in "${values[@]}"; do
    check=(check "$checked" "${sets[@]}")
    [ -z "$param" ] || check+=(--set "$param=$value")
    "$mfcl" "${check[@]}" >/dev/null || die "invalid config${param:+ for $param=$value}: nothing was run"
done

# The commands, shell-quoted (printf %q) so that any value survives the trip through a file.
commands=() logs=() existing=()
for value in "${values[@]}"; do
    for seed in "${seeds[@]}"; do
        run=$name${param:+_$param=$value}_seed=$seed
        if [ -e "$out/$run.h5" ] || [ -e "$out/$run.checkpoint.h5" ]; then
            existing+=("$out/$run.h5")
        fi
        args=(run)
        [ -z "$config" ] || args+=("$config")
        args+=("${sets[@]}")
        [ -z "$param" ] || args+=(--set "$param=$value")
        args+=(--set "run.seed=$seed" --threads "$threads" "${force[@]}" --out "$out/$run.h5")
        command=$(printf '%q ' "$mfcl" "${args[@]}")
        logs+=("$out/$run.log")
        commands+=("$command> $(printf '%q' "$out/$run.log") 2>&1")
    done
done
# Refused here rather than by each run: nothing starts when a run of the grid would be lost.
if [ ${#existing[@]} -gt 0 ] && [ ${#force[@]} -eq 0 ]; then
    echo "error: ${#existing[@]} run(s) of the grid exist already, e.g. ${existing[0]}: nothing was run; pass --force to replace them, or continue an unfinished one with mfcl resume RUN.h5" >&2
    exit 2
fi
mkdir -p "$out"

if $dry_run; then
    printf '%s\n' "${commands[@]}"
    exit 0
fi
echo "${#commands[@]} run(s), up to $jobs at a time, into $out/" >&2
# Each command is one line run by a shell: GNU parallel does that with no command given;
# `bash -c` does it for xargs. (The `parallel` of moreutils is another program.)
if parallel --version 2>/dev/null | grep -q 'GNU parallel'; then
    runner=(parallel -0 -j "$jobs")
else
    runner=(xargs -0 -n 1 -P "$jobs" bash -c)
fi
if ! printf '%s\0' "${commands[@]}" | "${runner[@]}"; then
    echo "error: some runs failed; their logs say why:" >&2
    grep -H -m 1 '^error: ' "${logs[@]}" >&2 || true
    exit 1
fi
echo "done: the run files are $out/$name*_seed=*.h5" >&2
