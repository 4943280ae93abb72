//! mfcl replaces, rebuilds or removes only its own files: whatever else stands at a run's
//! paths is refused and keeps every byte; a run started over an earlier one leaves none of
//! the earlier run's checkpoint and snapshot files behind; a resumed run keeps what its
//! checkpoint counts; and the readers say in words what they were given instead.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mfcl_checkpoint::{
    Cadence, FileError, FileKind, Header, Persist, Recorder, SolverState, checkpoint_path,
    claim_run, identify, load_checkpoint, read_header, read_run, save_checkpoint, snapshots_dir,
};
use mfcl_model::{Config, Trajectory};
use mfcl_solver::{Generator, ParticleSystem, Schedule, drive, drive_from};

/// A PNG signature and the start of an IHDR chunk: what `mfcl plot` leaves.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x02\x80\0\0\x01\xe0\x08\x06\0\0\0";
const TOML: &str = "[model]\nfeatures = 1\n";
const PARTICLES: usize = 2000;
/// Puts something at a path.
type Make<'a> = &'a dyn Fn(&Path);
const DT: f64 = 0.01;

/// An empty folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mfcl-ownership-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config() -> Config {
    Config::parse(include_str!("../../../data/configs/quickstart.toml")).unwrap()
}

fn cadence(steps: u64) -> Cadence {
    Cadence {
        snapshot_every: 2,
        checkpoint_every: 1000,
        checkpoint_every_secs: None,
        total_steps: steps,
    }
}

/// The recorder of a run at `run` continuing `trajectory` and `snapshots` (fresh if empty).
fn start(
    run: &Path,
    header: Header,
    steps: u64,
    trajectory: &Trajectory,
    snapshots: &[mfcl_solver::Snapshot],
) -> Result<Recorder, FileError> {
    let config = config();
    Recorder::start(
        run,
        header,
        config.problem.features(),
        config.problem.feature_law,
        cadence(steps),
        trajectory,
        snapshots,
    )
}

/// Starts a fresh run at `run`, writing nothing but the run file.
fn start_fresh(run: &Path) -> Result<Recorder, FileError> {
    let config = config();
    start(
        run,
        Header::new(&config.source, "particles", 1, 1, Generator::CURRENT),
        2,
        &Trajectory::default(),
        &[],
    )
}

/// A whole run of `steps` steps at `run`: a snapshot at steps 0, 2, 4, .. and a checkpoint
/// at the end.
fn record(run: &Path, steps: u64) {
    let config = config();
    let mut system = ParticleSystem::new(&config.problem, &config.init, PARTICLES, DT, 1);
    let header = Header::new(&config.source, "particles", 1, 1, Generator::CURRENT);
    let mut recorder = start(run, header, steps, &Trajectory::default(), &[]).unwrap();
    let schedule = Schedule {
        total_steps: steps,
        record_every: 1,
    };
    drive(&mut system, &schedule, &mut recorder).unwrap();
    recorder.finish().unwrap();
}

/// Resumes the run at `run` from its checkpoint (at its last step: nothing is left to do
/// but rebuild the run file).
fn resume(run: &Path) -> Result<(), FileError> {
    let config = config();
    let checkpoint = load_checkpoint(run)?;
    let steps = checkpoint.step();
    let mut recorder = start(
        run,
        checkpoint.header,
        steps,
        &checkpoint.trajectory,
        &checkpoint.snapshots,
    )?;
    let SolverState::Particles(state) = checkpoint.state else {
        panic!("a particle checkpoint");
    };
    let mut system = ParticleSystem::resume(&config.problem, DT, state);
    let schedule = Schedule {
        total_steps: steps,
        record_every: 1,
    };
    drive_from(&mut system, &schedule, checkpoint.trajectory, &mut recorder).unwrap();
    recorder.finish()
}

/// Every file under `dir` with its bytes (`None` for a folder).
fn contents(dir: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    let mut all = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.insert(path.clone(), None);
            all.extend(contents(&path));
        } else {
            all.insert(path.clone(), Some(std::fs::read(&path).unwrap()));
        }
    }
    all
}

/// The same files under `dir` as in `before`, byte for byte; names those that differ.
fn assert_unchanged(dir: &Path, before: &BTreeMap<PathBuf, Option<Vec<u8>>>, why: &str) {
    let after = contents(dir);
    let changed: Vec<&PathBuf> = before
        .keys()
        .chain(after.keys())
        .filter(|path| before.get(*path) != after.get(*path))
        .collect();
    assert!(changed.is_empty(), "{why}: changed {changed:?}");
}

/// `attempt` fails, with a one-line message, and every byte under `dir` stays as it was.
fn refused<T>(dir: &Path, attempt: impl FnOnce() -> Result<T, FileError>) -> String {
    let before = contents(dir);
    let Err(error) = attempt() else {
        panic!("not refused");
    };
    let message = error.to_string();
    assert_eq!(message.lines().count(), 1, "{message}");
    assert_unchanged(dir, &before, &message);
    message
}

/// The names in `run`'s snapshot folder, sorted.
fn snapshot_names(run: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(snapshots_dir(run))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// A truncated copy of the file at `from`: what a crash in the middle of a write leaves.
fn truncate(from: &Path, to: &Path) {
    let bytes = std::fs::read(from).unwrap();
    std::fs::write(to, &bytes[..bytes.len() / 2]).unwrap();
}

fn other_hdf5(path: &Path) {
    let file = hdf5::File::create(path).unwrap();
    file.new_dataset::<f64>().shape(3).create("values").unwrap();
}

#[test]
fn identify_tells_what_is_at_a_path() {
    let dir = scratch("identify");
    let run = dir.join("run.h5");
    record(&run, 2);
    let damaged = dir.join("damaged.h5");
    truncate(&run, &damaged);
    let foreign = dir.join("foreign.h5");
    other_hdf5(&foreign);
    // A `format` attribute that cannot be read as mfcl writes it: damaged root metadata.
    let unreadable_format = dir.join("unreadable-format.h5");
    other_hdf5(&unreadable_format);
    hdf5::File::open_rw(&unreadable_format)
        .unwrap()
        .new_attr::<u32>()
        .create("format")
        .unwrap()
        .write_scalar(&1u32)
        .unwrap();
    let cases: [(&str, Make, FileKind, &str); 9] = [
        ("missing.h5", &|_| {}, FileKind::Missing, "nothing"),
        (
            "qs.png",
            &|p| std::fs::write(p, PNG).unwrap(),
            FileKind::Png,
            "a PNG image",
        ),
        (
            "qs.toml",
            &|p| std::fs::write(p, TOML).unwrap(),
            FileKind::Text,
            "a text file",
        ),
        // A kilobyte cut inside a two-byte character is still text.
        (
            "long.txt",
            &|p| std::fs::write(p, "é".repeat(1000)).unwrap(),
            FileKind::Text,
            "a text file",
        ),
        (
            "empty.h5",
            &|p| std::fs::write(p, "").unwrap(),
            FileKind::Empty,
            "an empty file",
        ),
        (
            "binary.bin",
            &|p| std::fs::write(p, [0u8, 1, 2, 0xff, 0xfe]).unwrap(),
            FileKind::Other,
            "a file that mfcl does not recognise",
        ),
        (
            "folder",
            &|p| std::fs::create_dir(p).unwrap(),
            FileKind::Folder,
            "a folder",
        ),
        (
            "latin1.txt",
            &|p| std::fs::write(p, b"caf\xe9 au lait").unwrap(),
            FileKind::Other,
            "a file that mfcl does not recognise",
        ),
        (
            "text.h5",
            &|p| std::fs::write(p, "not HDF5\n").unwrap(),
            FileKind::Text,
            "a text file",
        ),
    ];
    for (name, make, kind, words) in cases {
        let path = dir.join(name);
        make(&path);
        assert_eq!(identify(&path), kind, "{name}");
        assert_eq!(kind.describe(), words);
        assert_eq!(kind.to_string(), words);
    }
    for (path, kind, words) in [
        (run.clone(), FileKind::RunFile, "an mfcl run file"),
        (
            checkpoint_path(&run),
            FileKind::Checkpoint,
            "an mfcl checkpoint",
        ),
        (
            damaged,
            FileKind::DamagedHdf5,
            "a damaged or truncated HDF5 file",
        ),
        (
            unreadable_format,
            FileKind::DamagedHdf5,
            "a damaged or truncated HDF5 file",
        ),
        (
            foreign,
            FileKind::OtherHdf5,
            "an HDF5 file that mfcl did not write",
        ),
        // Nothing can be under a file.
        (dir.join("qs.png/run.h5"), FileKind::Missing, "nothing"),
    ] {
        assert_eq!(identify(&path), kind, "{}", path.display());
        assert_eq!(kind.describe(), words);
    }
    // Reading a FIFO would wait for a writer: it is not opened. It is made with mkfifo(3),
    // not by running mkfifo(1): a child process inherits the descriptors, and with them the
    // locks, of the HDF5 files that other tests of this binary hold open at that moment
    // (HDF5 does not open them close-on-exec), so their next open failed with EAGAIN.
    let fifo = dir.join("fifo");
    let name = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `name` is a NUL-terminated path that outlives the call.
    if unsafe { libc::mkfifo(name.as_ptr(), 0o600) } == 0 {
        assert_eq!(identify(&fifo), FileKind::Other);
    }
}

#[test]
fn a_run_never_replaces_a_file_that_is_not_mfcls() {
    let dir = scratch("run-path");
    let donor = dir.join("donor/run.h5");
    std::fs::create_dir(dir.join("donor")).unwrap();
    record(&donor, 2);
    let cases: [(&str, Make, &str); 7] = [
        (
            "qs.png",
            &|p| std::fs::write(p, PNG).unwrap(),
            "a PNG image",
        ),
        (
            "qs.toml",
            &|p| std::fs::write(p, TOML).unwrap(),
            "a text file",
        ),
        (
            "empty.h5",
            &|p| std::fs::write(p, "").unwrap(),
            "an empty file",
        ),
        (
            "foreign.h5",
            &|p| other_hdf5(p),
            "an HDF5 file that mfcl did not write",
        ),
        (
            "damaged.h5",
            &|p| truncate(&donor, p),
            "a damaged or truncated HDF5 file",
        ),
        (
            "checkpoint.h5",
            &|p| std::fs::copy(checkpoint_path(&donor), p).map(drop).unwrap(),
            "an mfcl checkpoint",
        ),
        (
            "folder.h5",
            &|p| {
                std::fs::create_dir(p).unwrap();
                std::fs::write(p.join("notes.txt"), TOML).unwrap();
            },
            "a folder",
        ),
    ];
    for (name, make, words) in cases {
        let path = dir.join(name);
        make(&path);
        let expected = format!(
            "{} is {words}, not an mfcl run file: refusing to replace it",
            path.display()
        );
        assert_eq!(refused(&dir, || claim_run(&path, false)), expected);
        // Without a checkpoint beside it, not even a damaged HDF5 file is rebuilt.
        assert_eq!(refused(&dir, || claim_run(&path, true)), expected);
        assert_eq!(refused(&dir, || start_fresh(&path)), expected);
    }
}

/// The user's report: `mfcl resume qs.png` with `qs.checkpoint.h5` beside it.
#[test]
fn a_checkpoint_beside_a_figure_does_not_rebuild_a_run_file_over_it() {
    let dir = scratch("figure");
    let run = dir.join("qs.h5");
    record(&run, 4);
    for (name, bytes, words) in [
        ("qs.png", PNG, "a PNG image"),
        ("qs.toml", TOML.as_bytes(), "a text file"),
    ] {
        let other = dir.join(name);
        std::fs::write(&other, bytes).unwrap();
        assert_eq!(checkpoint_path(&other), checkpoint_path(&run));
        let message = refused(&dir, || resume(&other));
        assert_eq!(
            message,
            format!(
                "{} is {words}, not an mfcl run file: refusing to replace it",
                other.display()
            )
        );
        assert_eq!(refused(&dir, || claim_run(&other, true)), message);
    }
}

#[test]
fn the_checkpoint_path_holds_only_an_mfcl_checkpoint() {
    let dir = scratch("checkpoint-path");
    let run = dir.join("run.h5");
    let checkpoint = checkpoint_path(&run);
    std::fs::write(&checkpoint, TOML).unwrap();
    let expected = format!(
        "{} is a text file, not an mfcl checkpoint: refusing to replace it",
        checkpoint.display()
    );
    assert_eq!(refused(&dir, || claim_run(&run, false)), expected);
    assert_eq!(refused(&dir, || start_fresh(&run)), expected);
    let config = config();
    let system = ParticleSystem::new(&config.problem, &config.init, PARTICLES, DT, 1);
    let header = Header::new(&config.source, "particles", 1, 1, Generator::CURRENT);
    let save = || save_checkpoint(&run, &header, system.state_ref(), &Trajectory::default(), 0);
    assert_eq!(refused(&dir, save), expected);

    // A damaged checkpoint beside nothing could be anybody's.
    let donor = dir.join("donor.h5");
    record(&donor, 2);
    truncate(&checkpoint_path(&donor), &checkpoint);
    std::fs::remove_file(checkpoint_path(&donor)).unwrap();
    let message = refused(&dir, || start_fresh(&run));
    assert!(
        message.ends_with(
            "is a damaged or truncated HDF5 file, not an mfcl checkpoint: refusing to replace it"
        ),
        "{message}"
    );
    // Beside mfcl's run file it is mfcl's: a fresh run removes it.
    std::fs::rename(&donor, &run).unwrap();
    start_fresh(&run).unwrap();
    assert_eq!(identify(&checkpoint), FileKind::Missing);
}

#[test]
fn a_damaged_run_file_is_rebuilt_only_when_resuming_from_a_checkpoint() {
    let dir = scratch("damaged");
    let run = dir.join("run.h5");
    record(&run, 4);
    let whole = read_run(&run).unwrap();
    let copy = dir.join("copy.h5");
    std::fs::rename(&run, &copy).unwrap();
    truncate(&copy, &run);
    let message = refused(&dir, || start_fresh(&run));
    assert_eq!(
        message,
        format!(
            "{} is a damaged or truncated HDF5 file, not an mfcl run file: refusing to replace it",
            run.display()
        )
    );
    claim_run(&run, true).unwrap();
    resume(&run).unwrap();
    assert_eq!(read_run(&run).unwrap().trajectory, whole.trajectory);
    assert_eq!(read_run(&run).unwrap().snapshots, whole.snapshots);

    // Without the checkpoint nothing says whose it is.
    truncate(&copy, &run);
    std::fs::remove_file(checkpoint_path(&run)).unwrap();
    assert_eq!(refused(&dir, || claim_run(&run, true)), message);
}

#[test]
fn the_snapshot_folder_holds_only_mfcls_snapshot_files() {
    let dir = scratch("snapshot-folder");
    let run = dir.join("run.h5");
    let folder = snapshots_dir(&run);
    std::fs::write(&folder, PNG).unwrap();
    assert_eq!(
        refused(&dir, || start_fresh(&run)),
        format!(
            "{} is a PNG image, not an mfcl snapshot folder: refusing to replace it",
            folder.display()
        )
    );
    std::fs::remove_file(&folder).unwrap();

    record(&run, 4);
    // Temporaries a crash left are mfcl's.
    std::fs::write(folder.join("000001.h5.new.tmp"), "cut short").unwrap();
    claim_run(&run, false).unwrap();
    let foreign: [(&str, Make, &str); 4] = [
        (
            "notes.txt",
            &|p| std::fs::write(p, TOML).unwrap(),
            "a text file",
        ),
        (
            "000009.h5",
            &|p| std::fs::write(p, PNG).unwrap(),
            "a PNG image",
        ),
        (
            "000010.h5",
            &|p| std::fs::create_dir(p).unwrap(),
            "a folder",
        ),
        ("old", &|p| std::fs::create_dir(p).unwrap(), "a folder"),
    ];
    for (name, make, words) in foreign {
        let path = folder.join(name);
        make(&path);
        let expected = format!(
            "{} is {words}, not a snapshot of this run: refusing to write the run's snapshots into {}",
            path.display(),
            folder.display()
        );
        assert_eq!(refused(&dir, || claim_run(&run, false)), expected);
        assert_eq!(refused(&dir, || start_fresh(&run)), expected);
        assert_eq!(refused(&dir, || resume(&run)), expected);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(_) => std::fs::remove_dir(&path).unwrap(),
        }
    }
}

#[test]
fn a_fresh_run_leaves_none_of_the_old_runs_files() {
    let dir = scratch("replace");
    let run = dir.join("run.h5");
    record(&run, 8);
    let five: Vec<String> = (0..5).map(|k| format!("{k:06}.h5")).collect();
    assert_eq!(snapshot_names(&run), five);
    std::fs::write(snapshots_dir(&run).join("000002.h5.new.tmp"), "cut short").unwrap();

    record(&run, 2);
    assert_eq!(snapshot_names(&run), ["000000.h5", "000001.h5"]);
    let checkpoint = load_checkpoint(&run).unwrap();
    assert_eq!((checkpoint.step(), checkpoint.snapshots.len()), (2, 2));
    assert_eq!(read_run(&run).unwrap().snapshots, checkpoint.snapshots);

    // Started and stopped before its first checkpoint and snapshot: nothing of the old run
    // is left for `resume` to continue.
    drop(start_fresh(&run).unwrap());
    assert_eq!(identify(&checkpoint_path(&run)), FileKind::Missing);
    assert!(snapshot_names(&run).is_empty());
    assert!(read_run(&run).unwrap().trajectory.is_empty());
}

#[test]
fn a_resumed_run_keeps_the_snapshots_its_checkpoint_counts() {
    let dir = scratch("resume");
    let run = dir.join("run.h5");
    record(&run, 8);
    let folder = snapshots_dir(&run);
    let counted = contents(&folder);
    let checkpoint = std::fs::read(checkpoint_path(&run)).unwrap();
    // Written after the checkpoint by the run that crashed: not counted.
    std::fs::copy(folder.join("000000.h5"), folder.join("000005.h5")).unwrap();
    std::fs::write(folder.join("000006.h5.new.tmp"), "cut short").unwrap();

    resume(&run).unwrap();
    assert_unchanged(&folder, &counted, "the counted snapshot files");
    assert!(std::fs::read(checkpoint_path(&run)).unwrap() == checkpoint);
    assert_eq!(load_checkpoint(&run).unwrap().snapshots.len(), 5);
    assert_eq!(read_run(&run).unwrap().snapshots.len(), 5);
}

#[test]
fn readers_say_what_they_were_given() {
    let dir = scratch("readers");
    let run = dir.join("run.h5");
    record(&run, 2);
    let checkpoint = checkpoint_path(&run);
    let one_line = |error: FileError| {
        let message = error.to_string();
        assert_eq!(message.lines().count(), 1, "{message}");
        message
    };

    let message = one_line(read_run(&checkpoint).unwrap_err());
    assert_eq!(
        message,
        format!(
            "{} is an mfcl checkpoint, not a run file: give the run file {}",
            checkpoint.display(),
            run.display()
        )
    );
    assert_eq!(one_line(read_header(&checkpoint).unwrap_err()), message);

    let damaged = dir.join("damaged.h5");
    truncate(&run, &damaged);
    for error in [
        read_header(&damaged).unwrap_err(),
        read_run(&damaged).unwrap_err(),
    ] {
        let message = one_line(error);
        assert!(message.contains("damaged or truncated"), "{message}");
    }

    for (name, bytes, words) in [
        ("qs.png", PNG, "a PNG image"),
        ("qs.toml", TOML.as_bytes(), "a text file"),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let expected = format!("{} is {words}, not an mfcl run file", path.display());
        assert_eq!(one_line(read_run(&path).unwrap_err()), expected);
        assert_eq!(one_line(read_header(&path).unwrap_err()), expected);
        // Its checkpoint would be qs.checkpoint.h5: none.
        assert!(matches!(
            load_checkpoint(&path),
            Err(FileError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound
        ));
    }
    assert_eq!(
        one_line(read_run(&dir).unwrap_err()),
        format!("{} is a folder, not an mfcl run file", dir.display())
    );
    assert!(matches!(
        read_run(&dir.join("missing.h5")),
        Err(FileError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound
    ));

    // A run file where the checkpoint should be.
    let elsewhere = dir.join("elsewhere.h5");
    std::fs::copy(&run, checkpoint_path(&elsewhere)).unwrap();
    assert_eq!(
        one_line(load_checkpoint(&elsewhere).unwrap_err()),
        format!(
            "{} is an mfcl run file, not an mfcl checkpoint",
            checkpoint_path(&elsewhere).display()
        )
    );
}

#[test]
fn a_run_file_that_another_process_writes_is_not_replaced() {
    let dir = scratch("in-use");
    let run = dir.join("run.h5");
    record(&run, 2);
    // HDF5 locks a file it writes as `flock` does; a lock is per open file, so this one
    // stands for another process's.
    let lock = std::fs::File::open(&run).unwrap();
    lock.lock().unwrap();
    assert_eq!(identify(&run), FileKind::InUse);
    let message = refused(&dir, || start_fresh(&run));
    assert_eq!(
        message,
        format!(
            "{} is open for writing in another program (another mfcl run?): refusing to replace it",
            run.display()
        )
    );
    lock.unlock().unwrap();
    assert_eq!(identify(&run), FileKind::RunFile);
}
