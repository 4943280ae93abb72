//! Issue 10, "Trust", as a user meets it: mfcl never overwrites what it did not write,
//! `compare` cannot be fooled by a run that stopped early or diverged, `resume` of a finished
//! run recomputes nothing, `ode` fails like `run`, configs are edited and checked, and
//! messages speak the user's words.
//!
//! Every run is tiny (2000 particles, a fraction of a time unit): the whole file takes
//! seconds. A refused file is read before and after the command, and must keep every byte.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use mfcl_checkpoint::{checkpoint_path, load_checkpoint, read_run, snapshots_dir};
use serde_json::Value;

mod common;
use common::{DIVERGING, json, mfcl, scratch, stderr};

/// 2000 particles up to t = 0.2: 20 steps, 3 samples, a checkpoint at the end.
const SMALL: [&str; 4] = ["--set", "run.particles=2000", "--set", "run.t_end=0.2"];

/// Switches the quickstart to no regularizer, which needs its strength removed.
const NO_REGULARIZER: [&str; 4] = [
    "--set",
    "train.regularizer=\"none\"",
    "--unset",
    "train.strength",
];

/// The quickstart config as `mfcl` (run from the repository root) names it.
const QUICKSTART: &str = "data/configs/quickstart.toml";

/// The quickstart config as this test process (run from the crate's folder) finds it.
fn quickstart_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(QUICKSTART)
}

/// The 8-byte PNG signature and a little more: what `mfcl plot` would have drawn.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR not really a figure";

fn arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The JSON document on stdout, whatever the exit code (a failed check prints one too).
fn document(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON document ({e}): {}", stdout(output)))
}

/// The JSON document of a command that failed (exit 1) on a divergence, which its
/// `"error"` names.
fn diverged_document(output: &Output) -> Value {
    assert_eq!(output.status.code(), Some(1), "{}", stderr(output));
    let doc = document(output);
    assert!(
        doc["error"]
            .as_str()
            .is_some_and(|e| e.contains("diverged")),
        "{doc}"
    );
    doc
}

/// `mfcl run --out OUT SETTINGS...`.
fn run_to(out: &Path, settings: &[&str]) -> Output {
    mfcl(&[&["run", "--out", arg(out)][..], settings].concat())
}

/// [`run_to`], which must succeed; returns what it printed.
fn ran(out: &Path, settings: &[&str]) -> Output {
    let output = run_to(out, settings);
    assert!(output.status.success(), "{settings:?}: {}", stderr(&output));
    output
}

/// A finished [`SMALL`] run at `dir/name`.
fn small_run(dir: &Path, name: &str) -> PathBuf {
    let run = dir.join(name);
    ran(&run, &SMALL);
    run
}

/// Exit 2, nothing on stdout, one line `error: ...` on stderr: the line.
fn refusal(args: &[&str]) -> String {
    let output = mfcl(args);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{args:?}: {message}");
    assert!(output.stdout.is_empty(), "{args:?}: {}", stdout(&output));
    assert_eq!(message.lines().count(), 1, "{args:?}: {message}");
    assert!(message.starts_with("error: "), "{args:?}: {message}");
    assert!(!message.contains("panicked"), "{args:?}: {message}");
    message
}

/// [`refusal`] with every needle in the line, and every file of `kept` unchanged to the
/// byte (read before the command, compared after).
fn refused_keeping(args: &[&str], kept: &[&Path], needles: &[&str]) {
    let before: Vec<Vec<u8>> = kept.iter().map(|path| read(path)).collect();
    let message = refusal(args);
    for needle in needles {
        assert!(
            message.contains(needle),
            "{args:?}: {needle:?} in {message}"
        );
    }
    for (path, bytes) in kept.iter().zip(before) {
        assert!(read(path) == bytes, "{args:?} changed {}", path.display());
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An HDF5 file that mfcl did not write: one dataset, no `format` attribute.
fn foreign_hdf5(path: &Path) {
    let file = hdf5::File::create(path).expect("the scratch folder takes files");
    file.new_dataset::<f64>()
        .shape(3)
        .create("values")
        .expect("a dataset");
}

/// Cuts the file at `path` to half its length, as a crash or a full disk might.
fn truncate_to_half(path: &Path) {
    let bytes = read(path);
    std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Numbers printed with 12 or more decimals: floating-point noise such as
/// `0.7000000000000001` (tables print 8 decimals, deviations 2 in `e` notation).
fn noisy_numbers(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|token| {
            token
                .split_once('.')
                .is_some_and(|(_, decimals)| decimals.len() >= 12)
        })
        .collect()
}

// 1. Nothing a user owns is overwritten.

/// `mfcl resume X` takes its checkpoint from `STEM.checkpoint.h5`, whatever X is: a figure, a
/// config, an empty or a foreign HDF5 file beside a real checkpoint must be refused, not
/// "rebuilt" into a run file, and the checkpoint must stay as it was too.
#[test]
fn resume_leaves_a_figure_or_a_config_beside_a_checkpoint() {
    let dir = scratch("trust-resume-foreign");
    let run = small_run(&dir, "qs.h5");
    let checkpoint = checkpoint_path(&run);
    // The run file moves away: only the checkpoint is left at `qs.*`.
    std::fs::rename(&run, dir.join("moved.h5")).unwrap();
    let png = dir.join("qs.png");
    std::fs::write(&png, PNG).unwrap();
    let toml = dir.join("qs.toml");
    std::fs::copy(quickstart_file(), &toml).unwrap();
    let empty = dir.join("qs.dat");
    std::fs::write(&empty, "").unwrap();
    foreign_hdf5(&run);
    for file in [&png, &toml, &empty, &run] {
        refused_keeping(
            &["resume", arg(file)],
            &[file, &checkpoint],
            &[arg(file), "not an mfcl run file"],
        );
    }
}

/// `mfcl run --out X` replaces X only if X is an mfcl run file: not a text file, a figure, an
/// empty file, another program's HDF5 file, nor an mfcl checkpoint given as the run file.
#[test]
fn run_refuses_to_replace_what_it_did_not_write() {
    let dir = scratch("trust-run-foreign");
    let text = dir.join("notes.txt");
    std::fs::write(&text, "my notes\n").unwrap();
    let png = dir.join("figure.png");
    std::fs::write(&png, PNG).unwrap();
    let empty = dir.join("empty.h5");
    std::fs::write(&empty, "").unwrap();
    let foreign = dir.join("foreign.h5");
    foreign_hdf5(&foreign);
    let checkpoint = dir.join("copied.h5");
    std::fs::copy(checkpoint_path(&small_run(&dir, "r.h5")), &checkpoint).unwrap();
    for file in [&text, &png, &empty, &foreign, &checkpoint] {
        refused_keeping(
            &[&["run", "--out", arg(file)][..], &SMALL].concat(),
            &[file],
            &[arg(file), "refusing"],
        );
    }
}

/// The files beside the run file are claimed too: a foreign file where the checkpoint goes,
/// or a file where the snapshot folder goes, stops `run` (and `resume`, which would rebuild
/// the run from that "checkpoint") before it writes anything.
#[test]
fn foreign_files_beside_the_run_file_are_left_alone() {
    let dir = scratch("trust-run-beside");
    let run = dir.join("r.h5");
    let run_args = [&["run", "--out", arg(&run)][..], &SMALL].concat();
    let resume_args = ["resume", arg(&run)];
    let checkpoint = checkpoint_path(&run);
    let snapshots = snapshots_dir(&run);
    for (beside, commands) in [
        (&checkpoint, vec![&run_args[..], &resume_args[..]]),
        (&snapshots, vec![&run_args[..]]),
    ] {
        std::fs::write(beside, "mine\n").unwrap();
        for args in commands {
            refused_keeping(args, &[beside], &[arg(beside), "refusing"]);
            assert!(
                !run.exists(),
                "{args:?}: nothing is written before the claim"
            );
        }
        std::fs::remove_file(beside).unwrap();
    }
}

/// `mfcl run CONFIG --out CONFIG` would replace the config with the run: refused, under any
/// spelling of the same path.
#[test]
fn run_refuses_its_own_config_as_out() {
    let dir = scratch("trust-config-out");
    let config = dir.join("c.toml");
    std::fs::copy(quickstart_file(), &config).unwrap();
    let respelled = dir.join(".").join("c.toml");
    for out in [&config, &respelled] {
        refused_keeping(
            &[&["run", arg(&config), "--out", arg(out)][..], &SMALL].concat(),
            &[&config],
            &["config file itself"],
        );
    }
}

/// A file the user put in `RUN.snapshots` makes the run refuse, naming it; the file and the
/// previous run stay.
#[test]
fn a_foreign_file_in_the_snapshot_folder_stops_the_run() {
    let dir = scratch("trust-snapshot-foreign");
    let run = small_run(&dir, "r.h5");
    let notes = snapshots_dir(&run).join("notes.txt");
    std::fs::write(&notes, "what I saw\n").unwrap();
    refused_keeping(
        &[&["run", "--out", arg(&run)][..], &SMALL].concat(),
        &[&notes, &run],
        &["notes.txt"],
    );
}

/// Replacing a run with a shorter one (another seed) leaves only the new run's snapshot
/// files and its checkpoint: no `000003.h5` of the longer run survives, and a run file
/// rebuilt from what is on disk is the new run.
#[test]
fn replacing_a_run_removes_the_old_runs_snapshots_and_checkpoint() {
    let dir = scratch("trust-replace");
    let run = dir.join("r.h5");
    let every = [
        "--set",
        "run.particles=2000",
        "--set",
        "run.snapshot_every=0.1",
    ];
    ran(&run, &[&every[..], &["--set", "run.t_end=0.4"]].concat());
    let five: Vec<String> = (0..5).map(|i| format!("{i:06}.h5")).collect();
    assert_eq!(names_in(&snapshots_dir(&run)), five);

    let shorter = [
        &every[..],
        &["--set", "run.t_end=0.2", "--set", "run.seed=2"],
    ]
    .concat();
    ran(&run, &[&shorter[..], &["--force"]].concat());
    let reference = dir.join("reference.h5");
    ran(&reference, &shorter);
    assert_eq!(names_in(&snapshots_dir(&run)), five[..3]);
    let expected = read_run(&reference).unwrap();
    assert_eq!(read_run(&run).unwrap().snapshots, expected.snapshots);
    assert_eq!(
        load_checkpoint(&run).unwrap().state,
        load_checkpoint(&reference).unwrap().state,
        "the old checkpoint is replaced"
    );

    // Rebuilt from the checkpoint and the snapshot files: they must be the new run's.
    std::fs::remove_file(&run).unwrap();
    let output = mfcl(&["resume", arg(&run)]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(read_run(&run).unwrap().snapshots, expected.snapshots);
}

/// A finished run whose run file is `damage`d, then `mfcl resume`: what it printed, after
/// checking that it succeeded and rebuilt the run file with the original trajectory and
/// snapshots.
fn rebuild_after(name: &str, damage: fn(&Path)) -> Output {
    let dir = scratch(name);
    let run = small_run(&dir, "r.h5");
    let original = read_run(&run).unwrap();
    damage(&run);
    let output = mfcl(&["resume", arg(&run)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let rebuilt = read_run(&run).expect("the run file is rebuilt");
    assert_eq!(rebuilt.trajectory, original.trajectory);
    assert_eq!(rebuilt.snapshots, original.snapshots);
    output
}

fn remove(path: &Path) {
    std::fs::remove_file(path).unwrap();
}

/// A missing run file is rebuilt from its checkpoint.
#[test]
fn resume_rebuilds_a_missing_run_file() {
    rebuild_after("trust-rebuild-missing", remove);
}

/// A run file cut in half (mfcl's own, damaged) is rebuilt from its checkpoint.
#[test]
fn resume_rebuilds_a_truncated_run_file() {
    rebuild_after("trust-rebuild-truncated", truncate_to_half);
}

/// What `resume` says while rebuilding a missing run file is in words, not Rust's
/// `io::ErrorKind` ("entity not found").
#[test]
fn rebuilding_a_missing_run_file_says_so_in_words() {
    let err = stderr(&rebuild_after("trust-rebuild-words", remove));
    assert!(!err.contains("entity not found"), "{err}");
    assert!(err.lines().count() <= 1, "{err}");
}

/// A truncated run file without a checkpoint cannot be rebuilt: refused, and kept.
#[test]
fn a_truncated_run_file_without_a_checkpoint_is_left_alone() {
    let dir = scratch("trust-truncated-alone");
    let run = small_run(&dir, "r.h5");
    remove(&checkpoint_path(&run));
    truncate_to_half(&run);
    refused_keeping(
        &["resume", arg(&run)],
        &[&run],
        &[arg(&run), "damaged or truncated"],
    );
    refused_keeping(
        &[&["run", "--out", arg(&run)][..], &SMALL].concat(),
        &[&run],
        &[arg(&run), "damaged or truncated"],
    );
}

// 2. `compare` cannot be fooled.

/// Starts `mfcl run --out OUT SETTINGS`, sends it SIGINT (Ctrl-C) once the file `ready`
/// exists, and returns what it printed. `ready` must be a file the run writes only once it
/// is stepping (and its Ctrl-C handler is in place): its first snapshot or checkpoint.
fn interrupted_run(out: &Path, settings: &[&str], ready: &Path) -> Output {
    let limit = Duration::from_secs(30);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mfcl"))
        .args([&["run", "--out", arg(out)][..], settings].concat())
        .env("RAYON_NUM_THREADS", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let started = Instant::now();
    while !ready.exists() {
        assert!(
            started.elapsed() < limit,
            "no {} after {limit:?}",
            ready.display()
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(1));
    }
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the run did not stop on Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().unwrap()
}

/// 2000 particles heading for t = 1000 (minutes): a run that Ctrl-C stops early.
const LONG: [&str; 4] = ["--set", "run.particles=2000", "--set", "run.t_end=1000"];

/// The time in "stopped at t = T by Ctrl-C (SIGINT); continue with: mfcl resume RUN", after
/// checking that the run exited 1 with that one line, no `error:`, and T without
/// floating-point noise.
fn stopped_at(output: &Output, run: &Path) -> f64 {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let stopped = err
        .strip_prefix("stopped at t = ")
        .and_then(|rest| rest.split_once(" by Ctrl-C (SIGINT); "))
        .filter(|(_, rest)| rest.trim_end() == format!("continue with: mfcl resume {}", arg(run)))
        .map(|(t, _)| t)
        .unwrap_or_else(|| panic!("{err}"));
    let t: f64 = stopped.parse().unwrap_or_else(|_| panic!("{err}"));
    assert_eq!(stopped, shown(t), "{err}");
    t
}

/// `t` as printed: times are whole steps of dt = 0.01.
fn shown(t: f64) -> String {
    format!("{}", (t * 100.0).round() / 100.0)
}

/// A run stopped by Ctrl-C at a small fraction of its t_end: `compare` fails it as
/// incomplete (exit 1) and says which range it covers, in text and JSON; with
/// `--allow-incomplete` the covered range is compared and passes.
#[test]
fn compare_fails_a_run_stopped_by_ctrl_c() {
    let run = scratch("trust-ctrl-c").join("r.h5");
    // A sample every step, so that the run covers more than t = 0 however early it stops;
    // no checkpoint before the one Ctrl-C writes, so that the two never meet (see
    // `ctrl_c_on_a_checkpoint_step_keeps_a_usable_checkpoint`). The first snapshot, at
    // t = 0, shows that the run is stepping.
    let settings = [
        &LONG[..],
        &[
            "--set",
            "run.record_every=0.01",
            "--set",
            "run.checkpoint_every=500",
        ],
    ]
    .concat();
    let output = interrupted_run(&run, &settings, &snapshots_dir(&run).join("000000.h5"));
    stopped_at(&output, &run);

    let reached = *read_run(&run).unwrap().trajectory.t.last().unwrap();
    assert!(reached < 1000.0);
    let compare = mfcl(&["compare", arg(&run)]);
    assert_eq!(compare.status.code(), Some(1), "{}", stderr(&compare));
    let text = stdout(&compare);
    let range = format!("t = 0 to {} of t_end = 1000", shown(reached));
    assert!(
        text.contains("incomplete") && text.contains(&range),
        "{text}"
    );
    assert!(text.trim_end().ends_with("fail"), "{text}");

    let strict = mfcl(&["compare", arg(&run), "--json"]);
    assert_eq!(strict.status.code(), Some(1), "{}", stderr(&strict));
    let doc = document(&strict);
    assert_eq!(doc["complete"], false, "{doc}");
    // serde_json parses floats to within an ulp only (without its float_roundtrip feature).
    let range = doc["t_range"].as_array().unwrap();
    assert!(range.len() == 2 && range[0] == 0.0, "{doc}");
    assert!(close(range[1].as_f64().unwrap(), reached), "{doc}");
    assert_eq!(doc["failures"], serde_json::json!(["incomplete"]), "{doc}");
    assert_eq!(doc["pass"], false, "{doc}");

    let allowed = json(&mfcl(&[
        "compare",
        arg(&run),
        "--allow-incomplete",
        "--json",
    ]));
    assert_eq!(allowed["complete"], false, "{allowed}");
    assert_eq!(allowed["failures"], serde_json::json!([]), "{allowed}");
    assert_eq!(allowed["pass"], true, "{allowed}");
}

/// Ctrl-C on a step where the run has just written a checkpoint: the stop's own checkpoint
/// of that step must not collide with it. Every step is a checkpoint step here, and the
/// signal is sent as soon as the first checkpoint is in place; five tries, each of which
/// must stop cleanly (exit 1) and leave an mfcl checkpoint that `resume` can use.
#[test]
fn ctrl_c_on_a_checkpoint_step_keeps_a_usable_checkpoint() {
    let dir = scratch("trust-ctrl-c-race");
    let settings = [&LONG[..], &["--set", "run.checkpoint_every=0.01"]].concat();
    for attempt in 0..5 {
        let run = dir.join(format!("r{attempt}.h5"));
        let output = interrupted_run(&run, &settings, &checkpoint_path(&run));
        let t = stopped_at(&output, &run);
        let checkpoint = load_checkpoint(&run)
            .unwrap_or_else(|e| panic!("attempt {attempt}: the checkpoint is unusable: {e}"));
        assert_eq!(shown(checkpoint.step() as f64 * 0.01), shown(t));
    }
}

/// A diverged run: `mfcl run` exits 1 with the reason in its JSON and a `"checkpoint"` that
/// is `null` exactly when there is no checkpoint file; `compare` fails it, even with
/// `--allow-incomplete`, and its JSON says why.
#[test]
fn compare_fails_a_diverged_run() {
    let dir = scratch("trust-diverged");
    // With a checkpoint every 5 time units, none before the divergence at t ≈ 1.1; with the
    // default of 1, one at t = 1. Both ways, "checkpoint" must say what is on disk.
    for (name, every) in [("late.h5", "5"), ("early.h5", "1")] {
        let run = dir.join(name);
        let cadence = format!("run.checkpoint_every={every}");
        let settings = [
            &DIVERGING[..],
            &["--set", "run.t_end=10", "--set", "run.particles=2000"],
            &["--set", &cadence, "--json"],
        ]
        .concat();
        let output = run_to(&run, &settings);
        let doc = diverged_document(&output);
        let checkpoint = checkpoint_path(&run);
        let expected = match checkpoint.exists() {
            true => Value::from(arg(&checkpoint)),
            false => Value::Null,
        };
        assert_eq!(doc["checkpoint"], expected, "{name}");

        for extra in [&[][..], &["--allow-incomplete"]] {
            let args = [&["compare", arg(&run), "--json"][..], extra].concat();
            let output = mfcl(&args);
            assert_eq!(
                output.status.code(),
                Some(1),
                "{args:?}: {}",
                stderr(&output)
            );
            let doc = document(&output);
            assert!(doc["diverged"].is_string(), "{doc}");
            let failures = doc["failures"].as_array().unwrap();
            assert!(failures.contains(&Value::from("diverged")), "{doc}");
            assert_eq!(doc["pass"], false, "{doc}");
        }
    }
}

/// The text of `compare` states the tolerance on R beside the cosines' (the criterion
/// covers R; `files.rs` checks that it fails on R).
#[test]
fn compare_states_the_tolerance_on_r() {
    let run = small_run(&scratch("trust-compare-r"), "r.h5");
    let output = mfcl(&["compare", arg(&run)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.lines()
            .any(|line| line.contains("|R - R^ODE|") && line.contains("tolerance")),
        "{text}"
    );
}

// 3. `resume` on a finished run.

/// A file's bytes and modification time: a rewrite changes the latter, even with the same
/// bytes.
fn fingerprint(path: &Path) -> (Vec<u8>, SystemTime) {
    let modified = std::fs::metadata(path).unwrap().modified().unwrap();
    (read(path), modified)
}

/// Sets the file's modification time a day back, so that a rewrite now shows.
fn age(path: &Path) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    let yesterday = SystemTime::now() - Duration::from_secs(86_400);
    file.set_modified(yesterday).unwrap();
}

/// `mfcl resume` of a finished run says it is complete and recomputes nothing (the run file
/// keeps its bytes and modification time), with its checkpoint and without.
#[test]
fn resume_of_a_finished_run_recomputes_nothing() {
    let run = small_run(&scratch("trust-finished"), "r.h5");
    let checkpoint = checkpoint_path(&run);
    age(&run);
    age(&checkpoint);
    for with_checkpoint in [true, false] {
        if !with_checkpoint {
            remove(&checkpoint);
        }
        let before = fingerprint(&run);
        let output = mfcl(&["resume", arg(&run)]);
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(stdout(&output).contains("complete"), "{}", stdout(&output));
        let doc = json(&mfcl(&["resume", arg(&run), "--json"]));
        assert_eq!(doc["complete"], true, "{doc}");
        assert!(fingerprint(&run) == before, "the run file was rewritten");
        assert_eq!(
            checkpoint.exists(),
            with_checkpoint,
            "a checkpoint was written"
        );
    }
}

// 4. `ode` divergence.

/// `mfcl ode` of a diverging ODE fails like `mfcl run`: exit 1, one line of error, and the
/// samples before the divergence in the table or in JSON beside an `"error"`.
#[test]
fn ode_divergence_exits_1_with_the_samples_before_it() {
    let args = [
        &["ode", QUICKSTART][..],
        &DIVERGING,
        &["--set", "run.t_end=100", "--set", "run.record_every=5"],
    ]
    .concat();
    let output = mfcl(&args);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("diverged") && err.lines().count() == 1,
        "{err}"
    );
    let text = stdout(&output);
    assert!(
        text.lines().count() >= 2,
        "a header and the samples: {text}"
    );

    let output = mfcl(&[&args[..], &["--json"]].concat());
    let doc = diverged_document(&output);
    let t = doc["t"].as_array().unwrap();
    assert!(!t.is_empty() && t[0] == 0.0, "{doc}");
    assert_eq!(doc["norm2"].as_array().unwrap().len(), t.len(), "{doc}");
}

// 5. Config.

/// `--unset` takes a key away on every command that takes `--set`: switching the quickstart
/// to no regularizer, which refuses a strength.
#[test]
fn unset_works_on_run_ode_and_check() {
    let run = scratch("trust-unset").join("r.h5");
    ran(&run, &[&NO_REGULARIZER[..], &SMALL].concat());
    let ode = mfcl(
        &[
            &["ode", QUICKSTART][..],
            &NO_REGULARIZER,
            &["--set", "run.t_end=0.5"],
        ]
        .concat(),
    );
    assert!(ode.status.success(), "{}", stderr(&ode));
    let check = mfcl(&[&["check", QUICKSTART][..], &NO_REGULARIZER].concat());
    assert!(check.status.success(), "{}", stderr(&check));
    let text = stdout(&check);
    assert!(
        text.contains("regularizer = \"none\"") && !text.contains("strength"),
        "{text}"
    );
}

/// Without `--unset`, the refusal of a strength with `regularizer = "none"` names the remedy.
#[test]
fn a_strength_without_a_regularizer_names_unset() {
    let none = ["--set", "train.regularizer=\"none\""];
    let out = scratch("trust-strength").join("r.h5");
    for command in [
        vec!["run", QUICKSTART, "--out", arg(&out)],
        vec!["ode", QUICKSTART],
        vec!["check", QUICKSTART],
    ] {
        let message = refusal(&[&command[..], &none].concat());
        assert!(message.contains("--unset train.strength"), "{message}");
    }
    assert!(!out.exists());
}

/// An empty config, and one without a `[model]` table, are refused by every command that
/// reads a config, pointing at the complete example.
#[test]
fn configs_without_a_model_point_to_the_quickstart() {
    let dir = scratch("trust-no-model");
    let out = dir.join("r.h5");
    let empty = dir.join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let run_only = dir.join("run-only.toml");
    std::fs::write(&run_only, "[run]\nparticles = 2000\n").unwrap();
    for config in [&empty, &run_only] {
        for command in [
            vec!["run", arg(config), "--out", arg(&out)],
            vec!["ode", arg(config)],
            vec!["check", arg(config)],
        ] {
            let message = refusal(&command);
            assert!(message.contains(QUICKSTART), "{command:?}: {message}");
        }
    }
    assert!(!out.exists());
}

/// Every `[run]` key, which `mfcl check` must print with its default where the config has
/// none.
const RUN_KEYS: [&str; 8] = [
    "particles",
    "dimension",
    "t_end",
    "dt",
    "seed",
    "record_every",
    "snapshot_every",
    "checkpoint_every",
];

/// `mfcl check` prints the resolved config, every default filled in, as TOML that it
/// accepts again unchanged, and with `--json` as an object.
#[test]
fn check_prints_the_resolved_config() {
    let dir = scratch("trust-check");
    let bare = dir.join("bare.toml");
    std::fs::write(&bare, "[model]\n").unwrap();
    for config in [QUICKSTART, arg(&bare)] {
        let output = mfcl(&["check", config]);
        assert!(output.status.success(), "{}", stderr(&output));
        let text = stdout(&output);
        let run: &str = text
            .split("[run]")
            .nth(1)
            .unwrap_or_else(|| panic!("{text}"));
        for key in RUN_KEYS {
            assert!(
                run.contains(&format!("\n{key} = ")),
                "{config}: {key} in {text}"
            );
        }
        let resolved = dir.join("resolved.toml");
        std::fs::write(&resolved, &text).unwrap();
        let again = mfcl(&["check", arg(&resolved)]);
        assert_eq!(stdout(&again), text, "{config}: {}", stderr(&again));

        let doc = json(&mfcl(&["check", config, "--json"]));
        for key in RUN_KEYS {
            assert!(!doc["run"][key].is_null(), "{config}: {key} in {doc}");
        }
    }
}

/// `mfcl check` of an invalid config: exit 2, one line naming the key.
#[test]
fn check_refuses_a_bad_config() {
    for (set, needle) in [
        ("run.particles=0", "run.particles"),
        ("run.partikles=10", "run.partikles"),
    ] {
        let message = refusal(&["check", QUICKSTART, "--set", set]);
        assert!(message.contains(needle), "{message}");
    }
}

/// The config stored in the run file names the path the run actually went to (`--out`),
/// not the config's `run.output`.
#[test]
fn the_stored_config_records_the_output_used() {
    let run = small_run(&scratch("trust-output"), "elsewhere.h5");
    let doc = json(&mfcl(&["inspect", arg(&run), "--json"]));
    let config = doc["config"].as_str().unwrap();
    assert!(
        config.contains(&format!("output = \"{}\"", arg(&run))),
        "{config}"
    );
}

// 6. Output in the user's words.

/// `--threads 0` says what is allowed, not which Rust type refused it.
#[test]
fn threads_0_is_refused_in_words() {
    let run = scratch("trust-threads").join("r.h5");
    for command in [
        vec!["run", "--out", arg(&run), "--threads", "0"],
        vec!["resume", arg(&run), "--threads", "0"],
    ] {
        let output = mfcl(&command);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{command:?}: {err}");
        assert!(
            err.contains("at least 1") && !err.contains("non-zero"),
            "{err}"
        );
    }
    assert!(!run.exists());
}

/// `mfcl resume` of nothing says "no such file", as the other commands do.
#[test]
fn resume_of_a_missing_file_says_no_such_file() {
    let missing = scratch("trust-missing").join("missing.h5");
    let message = refusal(&["resume", arg(&missing)]);
    assert!(
        message.contains(arg(&missing)) && message.contains("no such file"),
        "{message}"
    );
}

/// A run file where a config belongs is named for what it is, with the commands that take
/// it; a checkpoint given to `resume` points at its run file. Neither file changes.
#[test]
fn run_files_and_checkpoints_in_the_wrong_place_are_named() {
    let dir = scratch("trust-wrong-place");
    let run = small_run(&dir, "r.h5");
    let out = dir.join("other.h5");
    for command in [
        vec!["run", arg(&run), "--out", arg(&out)],
        vec!["ode", arg(&run)],
        vec!["check", arg(&run)],
    ] {
        refused_keeping(
            &command,
            &[&run],
            &[
                "an mfcl run file",
                &format!("mfcl resume {}", arg(&run)),
                "mfcl inspect",
            ],
        );
    }
    assert!(!out.exists());
    let checkpoint = checkpoint_path(&run);
    refused_keeping(
        &["resume", arg(&checkpoint)],
        &[&checkpoint, &run],
        &[&format!("mfcl resume {}", arg(&run))],
    );
}

/// `mfcl inspect` of a truncated run file says so, in words.
#[test]
fn inspect_of_a_truncated_run_file_says_damaged_or_truncated() {
    let run = small_run(&scratch("trust-inspect-truncated"), "r.h5");
    truncate_to_half(&run);
    refused_keeping(
        &["inspect", arg(&run)],
        &[&run],
        &[arg(&run), "damaged or truncated"],
    );
}

/// Times print as people write them: t_end = 0.7 is reached at 0.7000000000000001 (70 steps
/// of 0.01, recorded as 7 × 0.1), and `run`, `inspect` and `compare` print 0.7.
#[test]
fn times_print_without_rounding_noise() {
    let run = scratch("trust-times").join("r.h5");
    let output = ran(
        &run,
        &[
            "--set",
            "run.particles=2000",
            "--set",
            "run.t_end=0.7",
            "--set",
            "run.snapshot_every=0.1",
        ],
    );
    let text = stdout(&output);
    assert!(text.contains("t_end = 0.7,"), "{text}");
    for (command, printed) in [
        ("run", text),
        ("inspect", stdout(&mfcl(&["inspect", arg(&run)]))),
        ("compare", stdout(&mfcl(&["compare", arg(&run)]))),
    ] {
        assert!(noisy_numbers(&printed).is_empty(), "{command}: {printed}");
    }
}

/// The I/O share in "writing took X s, Y% of the wall time".
fn io_share(text: &str) -> f64 {
    let share = text
        .split("writing took ")
        .nth(1)
        .and_then(|rest| rest.split(", ").nth(1))
        .and_then(|rest| rest.split('%').next())
        .unwrap_or_else(|| panic!("no I/O share in {text}"));
    share
        .parse()
        .unwrap_or_else(|_| panic!("{share} in {text}"))
}

/// The I/O share of a run is a share: at most 100 %, for a fresh run and for a resume that
/// only rebuilds the run file (no steps, nearly all I/O).
#[test]
fn the_io_share_is_at_most_100_percent() {
    let run = scratch("trust-io").join("r.h5");
    let fresh = stdout(&ran(&run, &SMALL));
    remove(&run);
    let rebuilt = mfcl(&["resume", arg(&run)]);
    assert!(rebuilt.status.success(), "{}", stderr(&rebuilt));
    for text in [fresh, stdout(&rebuilt)] {
        let share = io_share(&text);
        assert!((0.0..=100.0).contains(&share), "{text}");
    }
}

fn number(doc: &Value, key: &str) -> f64 {
    doc[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} in {doc}"))
}

/// Relative agreement to 1e-9.
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// The throughput keys of `run --json` count what they say: `steps` solver steps,
/// `steps_per_second` of them per second of `wall_seconds`, and the key named for the
/// solver's unit (the other unit's key absent) that rate times the particles or coordinates.
#[test]
fn throughput_keys_are_consistent() {
    let dir = scratch("trust-throughput");
    let sgd = ["--set", "run.solver=\"sgd\"", "--set", "run.dimension=2000"];
    // 20 steps of dt = 0.01; SGD steps 1/n, 400 for t = 0.2 at n = 2000.
    for (name, settings, steps, key, other) in [
        (
            "p.h5",
            &[][..],
            20,
            "particle_steps_per_second",
            "coordinate_steps_per_second",
        ),
        (
            "s.h5",
            &sgd[..],
            400,
            "coordinate_steps_per_second",
            "particle_steps_per_second",
        ),
    ] {
        let output = ran(&dir.join(name), &[settings, &SMALL, &["--json"]].concat());
        let doc = document(&output);
        assert_eq!(doc["steps"], steps, "{name}");
        let rate = number(&doc, "steps_per_second");
        assert!(
            close(rate * number(&doc, "wall_seconds"), steps as f64),
            "{doc}"
        );
        assert!(close(number(&doc, key), rate * 2000.0), "{key}: {doc}");
        assert!(doc.get(other).is_none(), "{other}: {doc}");
    }
}
