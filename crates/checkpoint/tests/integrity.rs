//! The integrity of what a run writes (format 4): checksums on every dataset and on the
//! header, provenance and a run id in every file, temporaries that nobody can prepare for
//! mfcl to write through, snapshot folders holding only the run's own snapshot files, two
//! checkpoints kept, a checkpoint queue that cannot pile up, and folders found unwritable
//! before any work.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use hdf5::types::VarLenUnicode;
use mfcl_checkpoint::{
    Cadence, FORMAT_VERSION, FileError, Header, Recorder, SolverState, checkpoint_path, claim_run,
    load_checkpoint, previous_checkpoint_path, read_header, read_run, snapshots_dir,
};
use mfcl_model::{Config, Trajectory};
use mfcl_solver::{
    Generator, Observer, ObserverError, ParticleSystem, Schedule, Snapshot, drive, drive_from,
};

const PARTICLES: usize = 2000;
const DT: f64 = 0.01;
const NOTES: &str = "notes that no run may touch\n";

/// An empty folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mfcl-integrity-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config() -> Config {
    Config::parse(include_str!("../../../data/configs/quickstart.toml")).unwrap()
}

/// The recorder of a run at `run` with a snapshot every 2 steps and a checkpoint every
/// `checkpoint_every`, continuing `trajectory` and `snapshots` (fresh if empty).
fn start(
    run: &Path,
    header: Header,
    steps: u64,
    checkpoint_every: u64,
    trajectory: &Trajectory,
    snapshots: &[Snapshot],
) -> Result<Recorder, FileError> {
    let config = config();
    let cadence = Cadence {
        snapshot_every: 2,
        checkpoint_every,
        checkpoint_every_secs: None,
        total_steps: steps,
    };
    Recorder::start(
        run,
        header,
        config.problem.features(),
        config.problem.feature_law,
        cadence,
        trajectory,
        snapshots,
    )
}

fn new_header() -> Header {
    Header::new(&config().source, "particles", 1, 1, Generator::CURRENT)
}

/// A whole fresh run of `steps` steps at `run`, observed after every step by `watch`.
fn record_watched(
    run: &Path,
    steps: u64,
    checkpoint_every: u64,
    watch: impl Observer<ParticleSystem>,
) -> Result<(), FileError> {
    let config = config();
    let mut system = ParticleSystem::new(&config.problem, &config.init, PARTICLES, DT, 1);
    let recorder = start(
        run,
        new_header(),
        steps,
        checkpoint_every,
        &Trajectory::default(),
        &[],
    )?;
    let schedule = Schedule {
        total_steps: steps,
        record_every: 1,
    };
    let mut observers = (recorder, watch);
    drive(&mut system, &schedule, &mut observers).unwrap();
    observers.0.finish()
}

/// A whole fresh run of `steps` steps at `run`: snapshots at steps 0, 2, 4, .., a
/// checkpoint every `checkpoint_every` steps and at the end.
fn record(run: &Path, steps: u64, checkpoint_every: u64) {
    record_watched(run, steps, checkpoint_every, mfcl_solver::Silent).unwrap();
}

/// Resumes the run at `run` from its checkpoint, at its last step (the run file and the
/// snapshot files are rebuilt, nothing more is computed).
fn resume(run: &Path) -> Result<(), FileError> {
    let config = config();
    let checkpoint = load_checkpoint(run)?;
    let steps = checkpoint.step();
    let mut recorder = start(
        run,
        checkpoint.header,
        steps,
        1000,
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

/// The root string attribute `name` of the HDF5 file `path`.
fn text_attribute(path: &Path, name: &str) -> String {
    hdf5::File::open(path)
        .unwrap()
        .attr(name)
        .unwrap()
        .read_scalar::<VarLenUnicode>()
        .unwrap()
        .to_string()
}

/// Every dataset under `group`, by path.
fn datasets(group: &hdf5::Group) -> Vec<hdf5::Dataset> {
    let mut found = group.datasets().unwrap();
    for member in group.groups().unwrap() {
        found.extend(datasets(&member));
    }
    found
}

/// The files of the run at `run`: run file, checkpoints, snapshot files.
fn files_of(run: &Path) -> Vec<PathBuf> {
    let mut files = vec![
        run.to_path_buf(),
        checkpoint_path(run),
        previous_checkpoint_path(run),
    ];
    let mut snapshots: Vec<PathBuf> = std::fs::read_dir(snapshots_dir(run))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    snapshots.sort();
    files.extend(snapshots);
    files
}

/// The names in `dir` that end in `.tmp`.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().into_string().unwrap())
                .filter(|name| name.ends_with(".tmp"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn every_dataset_and_the_header_carry_checksums_and_every_file_the_run_id() {
    let run = scratch("checksums").join("run.h5");
    record(&run, 4, 2);
    let header = read_header(&run).unwrap();
    assert_eq!(header.program_version, env!("CARGO_PKG_VERSION"));
    let revision = &header.source_revision;
    // A commit, marked if the build had uncommitted changes; `unknown` without git.
    let commit = revision.strip_suffix("+modified").unwrap_or(revision);
    assert!(
        revision == "unknown"
            || commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()),
        "{revision}"
    );
    assert_eq!(header.run_id.len(), 32, "{}", header.run_id);
    let files = files_of(&run);
    assert_eq!(files.len(), 6, "{files:?}");
    for file in &files {
        // Superblock version 2 or 3 (HDF5 1.8 and up) carries a checksum; 0 does not.
        let bytes = std::fs::read(file).unwrap();
        assert!(
            bytes[8] >= 2,
            "{}: superblock version {}",
            file.display(),
            bytes[8]
        );
        let opened = hdf5::File::open(file).unwrap();
        let version: u32 = opened
            .attr("format_version")
            .unwrap()
            .read_scalar()
            .unwrap();
        assert_eq!(version, FORMAT_VERSION);
        assert_eq!(
            text_attribute(file, "run_id"),
            header.run_id,
            "{}",
            file.display()
        );
        for dataset in datasets(&opened) {
            if dataset.size() > 0 {
                assert!(
                    dataset
                        .filters()
                        .contains(&hdf5::filters::Filter::Fletcher32),
                    "{}: {} has no checksum",
                    file.display(),
                    dataset.name()
                );
            }
        }
    }
    for snapshot in &files[3..] {
        assert_eq!(text_attribute(snapshot, "format"), "mfcl-snapshot");
    }
    assert_eq!(text_attribute(&run, "source_revision"), *revision);

    // A resume keeps the run id, in the rebuilt run file as in what it writes next.
    resume(&run).unwrap();
    for file in files_of(&run) {
        assert_eq!(
            text_attribute(&file, "run_id"),
            header.run_id,
            "{}",
            file.display()
        );
    }
}

/// Rewrites the root string attribute `name` of `path` as `value`, as a disk fault in the
/// global heap (which HDF5 does not checksum) could.
fn overwrite_attribute(path: &Path, name: &str, value: &str) {
    let file = hdf5::File::open_rw(path).unwrap();
    file.delete_attr(name).unwrap();
    file.new_attr::<VarLenUnicode>()
        .create(name)
        .unwrap()
        .write_scalar(&VarLenUnicode::from_str(value).unwrap())
        .unwrap();
}

#[test]
fn a_changed_header_is_reported_as_damaged() {
    let run = scratch("header").join("run.h5");
    record(&run, 2, 1000);
    let config = text_attribute(&run, "config");
    overwrite_attribute(&run, "config", &config.replace("seed = 1", "seed = 2"));
    let error = read_run(&run).unwrap_err();
    assert!(matches!(error, FileError::Damaged { .. }), "{error:?}");
    assert!(
        error.to_string().ends_with("header checksum mismatch"),
        "{error}"
    );
    let checkpoint = checkpoint_path(&run);
    overwrite_attribute(&checkpoint, "solver", "sgd");
    let error = load_checkpoint(&run).unwrap_err();
    assert!(matches!(error, FileError::Damaged { .. }), "{error:?}");
    assert!(
        error.to_string().contains("header checksum mismatch"),
        "{error}"
    );
}

#[test]
fn prepared_temporaries_are_not_written_through() {
    let dir = scratch("hijack");
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, NOTES).unwrap();
    let run = dir.join("e1.h5");
    let pid = std::process::id();
    // Every name a temporary had or could have here: the release's (`.new`, the step),
    // and this process's first ones.
    let mut names = vec![
        "e1.h5.new.tmp".to_owned(),
        "e1.checkpoint.h5.2.tmp".to_owned(),
        "e1.checkpoint.h5.4.tmp".to_owned(),
    ];
    for n in 0..20 {
        names.push(format!("e1.h5.new-{pid}-{n}.tmp"));
        names.push(format!("e1.checkpoint.h5.2-{pid}-{n}.tmp"));
        names.push(format!("e1.checkpoint.h5.4-{pid}-{n}.tmp"));
    }
    for name in &names {
        std::os::unix::fs::symlink("notes.txt", dir.join(name)).unwrap();
    }
    std::fs::create_dir(snapshots_dir(&run)).unwrap();
    std::os::unix::fs::symlink(
        "../notes.txt",
        snapshots_dir(&run).join("000000.h5.new.tmp"),
    )
    .unwrap();
    record(&run, 4, 2);
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), NOTES);
    read_run(&run).unwrap();
    load_checkpoint(&run).unwrap();
    // The links were mfcl's names: cleared away with the run's stale temporaries.
    assert!(temporaries(&dir).is_empty(), "{:?}", temporaries(&dir));

    // A link at the run file's path to another run is replaced as a link: the other run
    // keeps every byte.
    let other = dir.join("other.h5");
    record(&other, 2, 1000);
    let before = std::fs::read(&other).unwrap();
    std::fs::remove_file(&run).unwrap();
    std::os::unix::fs::symlink("other.h5", &run).unwrap();
    record(&run, 2, 1000);
    assert!(std::fs::read(&other).unwrap() == before);
    assert!(!std::fs::symlink_metadata(&run).unwrap().is_symlink());
}

/// An HDF5 file such as h5py writes: a dataset, no attributes.
fn h5py_file(path: &Path) {
    let file = hdf5::File::create(path).unwrap();
    file.new_dataset::<f64>()
        .shape(3)
        .create("data")
        .unwrap()
        .write_raw(&[1.0, 2.0, 3.0])
        .unwrap();
}

/// Every file under `dir` with its bytes.
fn contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(contents(&path));
        } else {
            all.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    all.sort();
    all
}

#[test]
fn other_files_in_the_snapshot_folder_are_refused_untouched() {
    let dir = scratch("foreign-snapshots");
    let run = dir.join("run.h5");
    let folder = snapshots_dir(&run);
    std::fs::create_dir(&folder).unwrap();
    for name in ["000000.h5", "000007.h5"] {
        h5py_file(&folder.join(name));
    }
    let before = contents(&dir);
    let error = start(&run, new_header(), 2, 1000, &Trajectory::default(), &[])
        .map(drop)
        .unwrap_err();
    assert!(
        matches!(error, FileError::ForeignSnapshot { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("is an HDF5 file that mfcl did not write, not a snapshot of this run"),
        "{error}"
    );
    assert!(contents(&dir) == before, "the refused files changed");
    std::fs::remove_dir_all(&folder).unwrap();

    // A snapshot file of another run, here or beside a finished run.
    let other = dir.join("other.h5");
    record(&other, 4, 1000);
    record(&run, 4, 1000);
    let stray = folder.join("000005.h5");
    std::fs::copy(snapshots_dir(&other).join("000001.h5"), &stray).unwrap();
    let before = contents(&dir);
    for attempt in [
        claim_run(&run, false),
        claim_run(&run, true),
        resume(&run),
        start(&run, new_header(), 2, 1000, &Trajectory::default(), &[]).map(drop),
    ] {
        let error = attempt.unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{} is an mfcl snapshot file, not a snapshot of this run: refusing to write the \
                 run's snapshots into {}",
                stray.display(),
                folder.display()
            )
        );
        assert!(contents(&dir) == before, "the refused files changed");
    }
    // A folder whose run is gone holds snapshot files of no run that mfcl knows: mfcl's
    // all the same, and cleared by a new run.
    std::fs::remove_file(&stray).unwrap();
    for file in [run.clone(), checkpoint_path(&run)] {
        std::fs::remove_file(file).unwrap();
    }
    record(&run, 2, 1000);
    assert_eq!(
        std::fs::read_dir(&folder).unwrap().count(),
        2,
        "snapshots at steps 0 and 2"
    );
}

/// The step of the checkpoint at `path`, read with HDF5 alone.
fn step_of(path: &Path) -> u64 {
    hdf5::File::open(path)
        .unwrap()
        .group("state")
        .unwrap()
        .attr("step")
        .unwrap()
        .read_scalar()
        .unwrap()
}

#[test]
fn the_checkpoint_before_the_latest_is_kept() {
    let dir = scratch("two-checkpoints");
    let run = dir.join("run.h5");
    record(&run, 6, 2);
    assert_eq!(step_of(&checkpoint_path(&run)), 6);
    assert_eq!(step_of(&previous_checkpoint_path(&run)), 4);
    assert_eq!(load_checkpoint(&run).unwrap().step(), 6);

    // Another program's file there is not replaced.
    let previous = previous_checkpoint_path(&run);
    std::fs::write(&previous, NOTES).unwrap();
    let error = claim_run(&run, true).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{} is a text file, not an mfcl checkpoint: refusing to replace it",
            previous.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&previous).unwrap(), NOTES);

    // A fresh run leaves neither of the old run's checkpoints.
    std::fs::remove_file(&previous).unwrap();
    record(&run, 6, 2);
    start(&run, new_header(), 2, 1000, &Trajectory::default(), &[]).unwrap();
    assert!(!checkpoint_path(&run).exists());
    assert!(!previous.exists());
}

/// After every step, the most temporaries seen beside the run at once.
struct CountTemporaries {
    folders: [PathBuf; 2],
    most: std::rc::Rc<std::cell::Cell<usize>>,
}

impl Observer<ParticleSystem> for CountTemporaries {
    fn after_step(&mut self, _: &ParticleSystem, _: &Trajectory) -> Result<(), ObserverError> {
        let now = self.folders.iter().map(|f| temporaries(f).len()).sum();
        self.most.set(self.most.get().max(now));
        Ok(())
    }
}

#[test]
fn a_checkpoint_every_step_leaves_at_most_two_temporaries() {
    let run = scratch("queue").join("run.h5");
    let most = std::rc::Rc::default();
    let watch = CountTemporaries {
        folders: [run.parent().unwrap().to_path_buf(), snapshots_dir(&run)],
        most: std::rc::Rc::clone(&most),
    };
    record_watched(&run, 40, 1, watch).unwrap();
    assert!(most.get() <= 2, "{} temporaries at once", most.get());
    assert_eq!(step_of(&checkpoint_path(&run)), 40);
    assert_eq!(step_of(&previous_checkpoint_path(&run)), 39);
}

#[test]
fn a_resume_rewrites_missing_and_damaged_snapshot_files() {
    let run = scratch("restore").join("run.h5");
    record(&run, 4, 1000);
    let checkpoint = load_checkpoint(&run).unwrap();
    let folder = snapshots_dir(&run);
    std::fs::remove_file(folder.join("000000.h5")).unwrap();
    // The same snapshot number, but of another run.
    overwrite_attribute(&folder.join("000001.h5"), "run_id", "0123456789abcdef");
    // A flipped bit in the positions.
    let damaged = folder.join("000002.h5");
    let mut bytes = std::fs::read(&damaged).unwrap();
    let value = checkpoint.snapshots[2].x[0].to_le_bytes();
    let at = bytes.windows(8).position(|w| w == value).unwrap();
    bytes[at] ^= 1;
    std::fs::write(&damaged, bytes).unwrap();
    let mut recorder = start(
        &run,
        checkpoint.header.clone(),
        4,
        1000,
        &checkpoint.trajectory,
        &checkpoint.snapshots,
    )
    .unwrap();
    recorder.finish().unwrap();
    for (index, snapshot) in checkpoint.snapshots.iter().enumerate() {
        let file = folder.join(format!("{index:06}.h5"));
        assert_eq!(text_attribute(&file, "run_id"), checkpoint.header.run_id);
        assert_eq!(load_checkpoint(&run).unwrap().snapshots[index], *snapshot);
    }
}

/// Mounts a read-only tmpfs at `dir` for the test's life (root ignores permission bits, but
/// not a read-only mount); `None` where this process may not mount.
struct ReadOnlyMount(PathBuf);

impl ReadOnlyMount {
    fn at(dir: &Path) -> Option<ReadOnlyMount> {
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs"])
            .arg(dir)
            .output()
            .is_ok_and(|output| output.status.success());
        mounted.then(|| ReadOnlyMount(dir.to_path_buf()))
    }
}

impl Drop for ReadOnlyMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("--lazy")
            .arg(&self.0)
            .output();
    }
}

#[test]
fn a_snapshot_folder_that_takes_no_files_is_refused_before_any_work() {
    let run = scratch("read-only").join("run.h5");
    let folder = snapshots_dir(&run);
    std::fs::create_dir(&folder).unwrap();
    // SAFETY: geteuid has no preconditions.
    let _mount = if unsafe { libc::geteuid() } == 0 {
        let Some(mount) = ReadOnlyMount::at(&folder) else {
            eprintln!("root without a mount: the read-only folder is not checked");
            return;
        };
        Some(mount)
    } else {
        let mut permissions = std::fs::metadata(&folder).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o555);
        std::fs::set_permissions(&folder, permissions).unwrap();
        None
    };
    for attempt in [
        claim_run(&run, false),
        start(&run, new_header(), 2, 1000, &Trajectory::default(), &[]).map(drop),
    ] {
        let error = attempt.unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "{}: cannot write in this folder (",
                folder.display()
            )),
            "{message}"
        );
    }
    assert!(!run.exists(), "the run file was written");
}
