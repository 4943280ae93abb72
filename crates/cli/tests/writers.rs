//! One writer per run: `mfcl run` and `mfcl resume` hold the run's lock for their whole life,
//! a second writer is refused before any work, readers say that they read a run in
//! progress, `kill -9` leaves nothing stale, and `mfcl run` replaces a run only with
//! `--force`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mfcl_checkpoint::{
    checkpoint_path, load_checkpoint, lock_path, previous_checkpoint_path, read_run, snapshots_dir,
};

mod common;
use common::{mfcl, scratch, stderr};

/// A run small enough to race fifty times: 2000 particles to t = 0.5, with a snapshot and
/// a checkpoint every 0.25.
const BASE: [&str; 10] = [
    "--set",
    "run.particles=2000",
    "--set",
    "run.t_end=0.5",
    "--set",
    "run.snapshot_every=0.25",
    "--set",
    "run.checkpoint_every=0.25",
    "--set",
    "model.negatives=1",
];

/// 2000 particles heading for t = 1000 (minutes): a writer that is still at work while the
/// test tries others.
const LONG: [&str; 6] = [
    "--set",
    "run.particles=2000",
    "--set",
    "run.t_end=1000",
    "--set",
    "run.checkpoint_every=0.5",
];

fn arg(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// `mfcl ARGS` started from the repository root on one thread, its output piped.
fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mfcl"))
        .args(args)
        .env("RAYON_NUM_THREADS", "1")
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs")
}

/// Waits until `path` exists, failing if `child` ends first or nothing comes in 60 s.
fn wait_for(path: &Path, child: &mut Child) {
    let started = Instant::now();
    while !path.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the writer ended before {} appeared",
            path.display()
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Exit 2 and the one line of a refused second writer, naming the run and the writer.
fn assert_busy(output: &Output, run: &Path, writer: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("error: {} is being written by {writer}", arg(run))),
        "{err}"
    );
}

/// The one line and exit code of a run that `mfcl run` refuses to replace; the run's files
/// are left as they were.
fn refused_existing(run: &Path, settings: &[&str], needles: &[&str]) {
    let before = std::fs::read(run).ok();
    let checkpoint_before = std::fs::read(checkpoint_path(run)).ok();
    let output = mfcl(&[&["run", "--out", arg(run)][..], settings].concat());
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} in {err}");
    }
    assert_eq!(std::fs::read(run).ok(), before, "the run file is kept");
    assert_eq!(
        std::fs::read(checkpoint_path(run)).ok(),
        checkpoint_before,
        "the checkpoint is kept"
    );
}

/// While `mfcl run` writes a run: a second `run` (even with `--force`) and a `resume` are
/// refused, naming the writer; a reader says that it reads a run in progress. Killed with
/// SIGKILL, the writer leaves no stale lock: a `resume` takes it at once. `run` refuses the
/// unfinished run that is left (or its checkpoint alone), and `--force` replaces it.
#[test]
fn a_second_writer_is_refused_and_kill_9_leaves_nothing_stale() {
    let run = scratch("writers-busy").join("r.h5");
    let mut writer = spawn(&[&["run", "--out", arg(&run)][..], &LONG].concat());
    wait_for(&checkpoint_path(&run), &mut writer);
    let holder = format!("process {} (mfcl run, since ", writer.id());

    for args in [
        [&["run", "--out", arg(&run)][..], &BASE].concat(),
        [&["run", "--force", "--out", arg(&run)][..], &BASE].concat(),
        vec!["resume", arg(&run)],
        vec!["resume", arg(&run), "--t-end", "2000"],
    ] {
        assert_busy(&mfcl(&args), &run, &holder);
    }

    // A run in progress is read as it is now, or, if caught in the middle of a write,
    // refused as being written, not as damaged.
    let inspect = mfcl(&["inspect", arg(&run)]);
    let err = stderr(&inspect);
    let note = format!("note: {} is being written by {holder}", arg(&run));
    assert!(err.starts_with(&note), "{err}");
    match inspect.status.code() {
        Some(0) => assert_eq!(err.lines().count(), 1, "{err}"),
        Some(2) => assert!(
            err.contains("is being written") && err.contains("try again when it ends"),
            "{err}"
        ),
        code => panic!("exit {code:?}: {err}"),
    }

    // SIGKILL: the lock goes with the process. A resume takes it at once (and writes
    // itself into the lock file); stopped by SIGTERM, it leaves an unfinished run.
    writer.kill().unwrap();
    writer.wait().unwrap();
    assert!(lock_path(&run).exists(), "the lock file stays, unlocked");
    let mut resume = spawn(&["resume", arg(&run)]);
    let started = Instant::now();
    let named = format!("pid = {}\n", resume.id());
    while !std::fs::read_to_string(lock_path(&run)).is_ok_and(|text| text.contains(&named)) {
        assert!(
            resume.try_wait().unwrap().is_none(),
            "the resume ended early"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the resume never took the lock"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(resume.id() as libc::pid_t, libc::SIGTERM) };
    let stopped = resume.wait_with_output().unwrap();
    assert_eq!(stopped.status.code(), Some(1), "{}", stderr(&stopped));
    refused_existing(
        &run,
        &BASE,
        &[
            "holds an unfinished run",
            &format!("mfcl resume {}", arg(&run)),
            "--force",
        ],
    );
    std::fs::remove_file(&run).unwrap();
    refused_existing(
        &run,
        &BASE,
        &[
            "is missing but its checkpoint",
            &format!("mfcl resume {}", arg(&run)),
            "--force",
        ],
    );
    let replaced = mfcl(&[&["run", "--force", "--out", arg(&run)][..], &BASE].concat());
    assert!(replaced.status.success(), "{}", stderr(&replaced));
    // Nothing of the killed run survives beside the new one.
    let reference = scratch("writers-busy-reference").join("r.h5");
    assert!(
        mfcl(&[&["run", "--out", arg(&reference)][..], &BASE].concat())
            .status
            .success()
    );
    assert_same_run(&reference, &run);
}

/// Readers follow a run in progress: `inspect` reads it (exit 0, the note, the time reached
/// so far) while it is written, and after `kill -9` its run file is still a readable run
/// file, not one that HDF5 marks as open for writing for good (as HDF5 1.10's file format
/// would: it kept readers out of a run in progress and out of a killed run's file).
#[test]
fn readers_follow_a_run_in_progress_and_after_kill_9() {
    let run = scratch("writers-readers").join("r.h5");
    let mut writer = spawn(&[&["run", "--out", arg(&run)][..], &LONG].concat());
    wait_for(&checkpoint_path(&run), &mut writer);
    let read = (0..20)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(20));
            mfcl(&["inspect", arg(&run)])
        })
        .filter(|inspect| inspect.status.success())
        .inspect(|inspect| assert!(stderr(inspect).starts_with("note: "), "{}", stderr(inspect)))
        .count();
    // A read may meet a write half done (refused as such, tested above); most do not.
    assert!(
        read >= 10,
        "{read} of 20 reads of a run in progress succeeded"
    );
    writer.kill().unwrap();
    writer.wait().unwrap();
    let inspect = mfcl(&["inspect", arg(&run)]);
    assert!(inspect.status.success(), "{}", stderr(&inspect));
    assert!(stderr(&inspect).is_empty(), "{}", stderr(&inspect));
    assert!(read_run(&run).is_ok_and(|contents| contents.trajectory.len() > 1));
}

/// A finished run is not replaced by `mfcl run` without `--force`: exit 2, the hint to
/// extend it or to pass `--force`, every byte kept; with `--force` it is replaced.
#[test]
fn run_refuses_a_finished_run_without_force() {
    let run = scratch("writers-finished").join("r.h5");
    let first = mfcl(&[&["run", "--out", arg(&run)][..], &BASE].concat());
    assert!(first.status.success(), "{}", stderr(&first));
    let other_seed = [&BASE[..], &["--set", "run.seed=7"]].concat();
    refused_existing(
        &run,
        &other_seed,
        &["holds a finished run", "--t-end T", "--force"],
    );
    let replaced = mfcl(&[&["run", "--force", "--out", arg(&run)][..], &other_seed].concat());
    assert!(replaced.status.success(), "{}", stderr(&replaced));
    let header = read_run(&run).unwrap().header;
    assert_eq!(header.seed, 7, "the run is replaced");
}

/// Fifty races, in parallel batches: two `mfcl resume --t-end 1` and one
/// `mfcl run --force` (to t = 1) started at once on a run stopped at t = 0.5, and a reader.
/// Each writer proceeds or is refused with exit 2 naming the writer; the run that results
/// is the uninterrupted run to t = 1, bit for bit, whoever won; `resume` then finds it
/// complete.
#[test]
fn racing_writers_leave_the_uninterrupted_run() {
    const RACES: usize = 50;
    const BATCH: usize = 5;
    let dir = scratch("writers-races");
    let base = dir.join("base.h5");
    let ran = mfcl(&[&["run", "--out", arg(&base)][..], &BASE].concat());
    assert!(ran.status.success(), "{}", stderr(&ran));
    let to_one = [&BASE[..], &["--set", "run.t_end=1"]].concat();
    let reference = dir.join("reference.h5");
    let ran = mfcl(&[&["run", "--out", arg(&reference)][..], &to_one].concat());
    assert!(ran.status.success(), "{}", stderr(&ran));

    let (mut refusals, mut read_in_progress) = (0, 0);
    for batch in 0..RACES / BATCH {
        let races: Vec<PathBuf> = (0..BATCH)
            .map(|i| copy_run(&base, &dir.join(format!("race{}", batch * BATCH + i))))
            .collect();
        let children: Vec<(Vec<String>, Child)> = races
            .iter()
            .enumerate()
            .flat_map(|(i, run)| {
                let resume = vec!["resume", arg(run), "--t-end", "1"];
                let force = [&["run", "--force", "--out", arg(run)][..], &to_one].concat();
                let inspect = vec!["inspect", arg(run)];
                // The run --force goes first, second or third in turn.
                let mut writers = vec![resume.clone(), resume, force];
                writers.rotate_left((batch * BATCH + i) % 3);
                writers.push(inspect);
                writers.into_iter().map(|args| {
                    let child = spawn(&args);
                    (args.iter().map(|a| a.to_string()).collect(), child)
                })
            })
            .collect();
        let mut winners = vec![0; BATCH];
        for (k, (args, child)) in children.into_iter().enumerate() {
            let (race, role) = (k / 4, k % 4);
            let output = child.wait_with_output().unwrap();
            let err = stderr(&output);
            if role == 3 {
                // The reader: the run as it is, or refused as being written; never a crash.
                match output.status.code() {
                    Some(0) => {}
                    Some(2) if err.contains("try again when it ends") => read_in_progress += 1,
                    code => panic!("{args:?}: exit {code:?}: {err}"),
                }
                continue;
            }
            match output.status.code() {
                Some(0) => winners[race] += 1,
                Some(2) => {
                    assert_busy(&output, &races[race], "");
                    refusals += 1;
                }
                code => panic!("{args:?}: exit {code:?}: {err}"),
            }
        }
        for (run, won) in races.iter().zip(&winners) {
            assert!(*won >= 1, "{}: no writer proceeded", run.display());
            assert_same_run(&reference, run);
            let again = mfcl(&["resume", arg(run)]);
            assert!(again.status.success(), "{}", stderr(&again));
            assert!(
                String::from_utf8_lossy(&again.stdout).contains("is complete"),
                "{}",
                String::from_utf8_lossy(&again.stdout)
            );
        }
    }
    eprintln!(
        "{RACES} races: {refusals} writers refused, {read_in_progress} reads refused as in progress"
    );
    // Three writers start within milliseconds and each works for a good part of a second:
    // most races must have seen a writer refused, or the test raced nothing.
    assert!(
        refusals >= RACES,
        "only {refusals} refusals in {RACES} races"
    );
}

/// A copy of the run at `from` (run file, checkpoint, snapshot files) in the new folder
/// `dir`; returns the copy's run file.
fn copy_run(from: &Path, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let run = dir.join("r.h5");
    std::fs::copy(from, &run).unwrap();
    std::fs::copy(checkpoint_path(from), checkpoint_path(&run)).unwrap();
    if previous_checkpoint_path(from).exists() {
        std::fs::copy(
            previous_checkpoint_path(from),
            previous_checkpoint_path(&run),
        )
        .unwrap();
    }
    std::fs::create_dir_all(snapshots_dir(&run)).unwrap();
    for entry in std::fs::read_dir(snapshots_dir(from)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), snapshots_dir(&run).join(entry.file_name())).unwrap();
    }
    run
}

/// The trajectories, snapshots and final checkpoint states of two runs are the same.
fn assert_same_run(reference: &Path, run: &Path) {
    let (a, b) = (read_run(reference).unwrap(), read_run(run).unwrap());
    assert_eq!(a.trajectory, b.trajectory, "{}", run.display());
    assert_eq!(a.snapshots, b.snapshots, "{}", run.display());
    assert_eq!(
        load_checkpoint(reference).unwrap().state,
        load_checkpoint(run).unwrap().state,
        "{}",
        run.display()
    );
}
