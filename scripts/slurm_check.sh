#!/usr/bin/env bash
# Shows on a real Slurm that scripts/sweep.slurm carries runs over their time limit: it
# installs Debian's slurm-wlm and munge, starts a one-node cluster on this machine (munged,
# slurmctld and slurmd as root, everything in a temporary folder, on ports 16817-16818), and
# submits a 2-task array of sweep.sh lines whose runs need about a minute of one core each,
# with a time limit of 1 minute and the early signal 55 s before it. It checks that
#   - every task was stopped at its time limit and requeued at least once, and finished;
#   - every stop was mfcl's clean stop (exit 1) with a checkpoint at the stop's time;
#   - every task's run equals an uninterrupted run of the same line bit for bit (the
#     trajectory and every snapshot, exported as .npy);
# then stops the cluster and removes the folder (kept, with the daemons' logs, on failure).
# It prints what fails, exits 1 if anything does, and says how long it took: 2 to 3 min on
# 2 cores with the packages installed and the binary built.
#
# Usage: scripts/slurm_check.sh    as root, on Debian or Ubuntu (apt-get); no systemd needed.
# The binary is $MFCL if set, else target/release/mfcl, built first.
set -euo pipefail

started=$SECONDS
say() { echo "slurm_check: $*"; }
fail() {
    echo "slurm_check: FAIL: $*" >&2
    exit 1
}
[ "$(id -u)" -eq 0 ] || fail "run as root: it installs packages and starts Slurm's daemons"
repo=$(cd "$(dirname "$0")/.." && pwd)

# Installing must not start the packages' own daemons (there is no config for them yet):
# a policy-rc.d that denies every start, for the length of the installation.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=true
    trap 'rm -f "$policy"' EXIT
fi
say "installing slurm-wlm and munge"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || fail "apt-get update failed"
apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null ||
    fail "apt-get install slurm-wlm munge failed"
trap - EXIT
! $own_policy || rm -f "$policy"

if [ -z "${MFCL:-}" ]; then
    say "building the release binary"
    (cd "$repo" && cargo build --release -q -p mfcl)
fi
say "installed and built in $((SECONDS - started)) s"
export MFCL=${MFCL:-${CARGO_TARGET_DIR:-$repo/target}/release/mfcl}
[[ $MFCL != */* || $MFCL == /* ]] || MFCL=$PWD/$MFCL  # the check works in its own folder
command -v "$MFCL" >/dev/null || fail "MFCL=$MFCL is not an executable"

# munged checks that everyone may reach its socket: the folders are 755.
work=$(mktemp -d /tmp/mfcl-slurm-check.XXXXXX)
chmod 755 "$work"
mkdir -m 755 "$work/munge" "$work/state" "$work/spool"
job="" uninterrupted=""
passed=false
cleanup() {
    [ -z "$job" ] || scancel "$job" 2>/dev/null || true
    [ -z "$uninterrupted" ] || kill -- -"$uninterrupted" 2>/dev/null || true
    for daemon in slurmd slurmctld munge/munged; do
        if [ -f "$work/$daemon.pid" ]; then
            pid=$(cat "$work/$daemon.pid")
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.2
            done
        fi
    done
    if $passed && [ -z "${KEEP:-}" ]; then
        rm -rf "$work"
    else
        echo "slurm_check: the runs, logs and daemons' logs are in $work" >&2
    fi
    say "took $(((SECONDS - started) / 60)) min $(((SECONDS - started) % 60)) s"
}
trap cleanup EXIT

dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$work/munge/munge.key"
munged --socket="$work/munge/socket" --key-file="$work/munge/munge.key" \
    --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" \
    --seed-file="$work/munge/munged.seed" || fail "munged did not start: see $work/munge/munged.log"

# The node is this machine as slurmd sees it (`slurmd -C`: its short hostname, CPUs and
# memory), so that slurmd registers without a mismatch. The scheduler runs every 2 s and a
# requeued task waits cred_expire = 10 s (both 60 s and 120 s by default) so that the check
# spends its time running; Slurm looks at time limits every 30 s whatever the settings.
node=$(slurmd -C | head -n 1)
host=$(hostname -s)
[[ $node == "NodeName=$host "* ]] || fail "slurmd -C names another node than hostname -s ($host): $node"
export SLURM_CONF=$work/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=mfclcheck
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/socket,cred_expire=10
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=2
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
JobRequeue=1
KillWait=10
MinJobAge=600
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=check Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
say "starting a one-node cluster ($host) in $work"
slurmctld -f "$SLURM_CONF" || fail "slurmctld did not start: see $work/slurmctld.log"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start: see $work/slurmd.log"
for _ in $(seq 60); do
    [ "$(sinfo -h -n "$host" -o %T 2>/dev/null)" != idle ] || break
    sleep 0.5
done
[ "$(sinfo -h -n "$host" -o %T 2>/dev/null)" = idle ] ||
    fail "the node is not idle after 30 s: $(sinfo -h -o '%T %E' 2>&1); see $work/slurmctld.log and slurmd.log"

# A run of about 50 s of one core at this machine's speed (2000 steps measured first): the
# early signal comes 5 to 35 s into each piece, so every task is stopped at least once.
# Snapshots every quarter of t_end, the last one at t_end: the final state.
cd "$work"
sets=(--set run.particles=400000 --set run.checkpoint_every=10)
rate=$("$MFCL" run "${sets[@]}" --set run.t_end=20 --threads 1 --json --out calibration/c.h5 |
    sed -n 's/.*"steps_per_second": *\([0-9.e+]*\).*/\1/p') || fail "the calibration run failed"
[ -n "$rate" ] || fail "no steps_per_second from the calibration run"
t_end=$(awk -v r="$rate" 'BEGIN { print int(50 * r / 4000 + 1) * 40 }')
sets+=(--set "run.t_end=$t_end" --set "run.snapshot_every=$((t_end / 4))")
say "runs of t_end = $t_end ($(awk -v r="$rate" -v t="$t_end" 'BEGIN { printf "%.0f", t * 100 / r }') s of one core each)"
"$repo/scripts/sweep.sh" --seeds "1 2" "${sets[@]}" --out runs --dry-run >jobs.txt
tasks=$(wc -l <jobs.txt)

# The uninterrupted runs meanwhile, at the lowest priority: they take the cores while
# the tasks wait to be requeued, not from the tasks.
# (A process group of their own, for the cleanup to stop them all.)
setsid nice -n 19 "$repo/scripts/sweep.sh" --seeds "1 2" "${sets[@]}" --out reference --jobs 2 \
    >reference.out 2>&1 &
uninterrupted=$!

job=$(sbatch --parsable --array=1-"$tasks" --time=1 --signal=B:USR1@55 \
    --output="$work/slurm-%A_%a.out" "$repo/scripts/sweep.slurm" jobs.txt) ||
    fail "sbatch refused the array"
say "submitted array job $job: $tasks tasks, a time limit of 1 min each"
# Done when every task is in a final state (there are transient ones besides PENDING and
# RUNNING: CONFIGURING, COMPLETING, REQUEUED, SIGNALING, ...).
final='^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED)$'
states=""
deadline=$((SECONDS + 600))
while :; do
    now=$(scontrol show job -o "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | sed 's/JobState=//') ||
        kill -0 "$(cat "$work/slurmctld.pid")" 2>/dev/null || fail "slurmctld stopped: see $work/slurmctld.log"
    summary=$(sort <<<"$now" | uniq -c | awk '{ printf "%s%d %s", (NR > 1 ? ", " : ""), $1, $2 }')
    [ "$summary" = "$states" ] || say "$((SECONDS - started)) s: $summary"
    states=$summary
    [ -z "$now" ] || grep -Evq "$final" <<<"$now" || break
    [ "$SECONDS" -lt "$deadline" ] || fail "the array is not done after 10 min: $states"
    sleep 1
done

say "waiting for the uninterrupted runs of the same lines"
problems=()
compare=true
if ! wait "$uninterrupted"; then
    problems+=("the uninterrupted runs failed, nothing to compare with: $(tail -n 3 reference.out)")
    compare=false
fi
uninterrupted=""

for ((task = 1; task <= tasks; task++)); do
    record=$(scontrol show job -o "${job}_$task")
    state=$(grep -o 'JobState=[A-Z_]*' <<<"$record")
    restarts=$(grep -o 'Restarts=[0-9]*' <<<"$record")
    restarts=${restarts#Restarts=}
    output=$work/slurm-${job}_$task.out
    run=$(sed -n "${task}s/.* --out \([^ ]*\) .*/\1/p" jobs.txt)
    log=${run%.h5}.log
    say "task $task: $state, requeued $restarts time(s)"
    [ "$state" = JobState=COMPLETED ] || problems+=("task $task ended $state (see $output)")
    [ "${restarts:-0}" -ge 1 ] || problems+=("task $task was never requeued: its run ended before the time limit's signal")
    stops=$(grep -c 'stopped at its time limit' "$output" || true)
    [ "$stops" = "$restarts" ] || problems+=("task $task was requeued $restarts time(s) but stopped at its limit $stops time(s) (see $output)")

    # Each stop: mfcl's exit 1, and a checkpoint at the time its own stop line names.
    while read -r stop; do
        code=$(sed -n 's/.*(exit \([0-9]*\)).*/\1/p' <<<"$stop")
        at=$(sed -n 's/.*, t = \([^;]*\);.*/\1/p' <<<"$stop")
        if [ "$code" != 1 ]; then
            problems+=("task $task: mfcl exited with $code at the time limit's SIGTERM, not with 1 after a checkpoint at the stop (the run resumed from its last periodic checkpoint)")
        elif ! grep -Eq "stopped at t = ${at//./\\.}([^0-9]|\$)" "$log"; then
            problems+=("task $task: the checkpoint at t = $at is not where $log says the run stopped")
        fi
    done < <(grep 'stopped at its time limit' "$output" || true)

    # The run against the uninterrupted one: every exported array, byte for byte.
    [ "$state" = JobState=COMPLETED ] && $compare || continue
    reference=reference/${run#runs/}
    for what in trajectory snapshots; do
        for side in "$run" "$reference"; do
            "$MFCL" export "$side" --what "$what" --format npy --out "export/${side%.h5}/$what" >/dev/null ||
                problems+=("task $task: mfcl export $side --what $what failed")
        done
    done
    files=$(cd "export/${run%.h5}" && find . -name '*.npy' -o -name '*.csv' | sort)
    [ "$files" = "$(cd "export/${reference%.h5}" && find . -name '*.npy' -o -name '*.csv' | sort)" ] ||
        problems+=("task $task: $run and $reference export different arrays")
    [ -n "$files" ] || problems+=("task $task: nothing exported from $run")
    differ=()
    for file in $files; do
        cmp -s "export/${run%.h5}/$file" "export/${reference%.h5}/$file" || differ+=("${file#./}")
    done
    if [ ${#differ[@]} -gt 0 ]; then
        problems+=("task $task: $run differs from the uninterrupted $reference in ${differ[*]}")
    else
        say "task $task: $run equals the uninterrupted run ($(wc -w <<<"$files") exported files)"
    fi
done

if [ ${#problems[@]} -gt 0 ]; then
    printf 'slurm_check: FAIL: %s\n' "${problems[@]}" >&2
    exit 1
fi
passed=true
say "passed: every task was stopped at its time limit, requeued, resumed and finished bit-identical"
