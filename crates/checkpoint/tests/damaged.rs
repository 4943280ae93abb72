//! Damaged files are reported, never used, and never crash the reader: checksum failures
//! name the dataset, sizes read from a file are bounded by the file before anything is
//! allocated, attributes are checked for type and shape and text for UTF-8, HDF5's global
//! heap is checked before HDF5 trusts it; and a resume makes do without a damaged or missing
//! snapshot file (the run file's copy) or latest checkpoint (the previous one).

use std::path::{Path, PathBuf};

use mfcl_checkpoint::{
    Cadence, FileError, FileKind, Header, Recorder, checkpoint_path, identify, load_checkpoint,
    previous_checkpoint_path, read_header, read_run, recover_checkpoint, snapshots_dir,
};
use mfcl_model::{Config, Trajectory};
use mfcl_solver::{Generator, ParticleSystem, Schedule, drive};

/// An empty folder for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mfcl-damaged-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn config() -> Config {
    Config::parse(include_str!("../../../data/configs/quickstart.toml")).unwrap()
}

/// A run of 6 steps of 2000 particles at `run`: a snapshot every 2 steps (4 in all), a
/// checkpoint every 2 steps, so that the latest is at step 6 and the previous at step 4.
fn record(run: &Path) {
    let config = config();
    let mut system = ParticleSystem::new(&config.problem, &config.init, 2000, 0.01, 1);
    let cadence = Cadence {
        snapshot_every: 2,
        checkpoint_every: 2,
        checkpoint_every_secs: None,
        total_steps: 6,
    };
    let header = Header::new(&config.source, "particles", 1, 1, Generator::CURRENT);
    let mut recorder = Recorder::start(
        run,
        header,
        config.problem.features(),
        config.problem.feature_law,
        cadence,
        &Trajectory::default(),
        &[],
    )
    .unwrap();
    let schedule = Schedule {
        total_steps: 6,
        record_every: 1,
    };
    drive(&mut system, &schedule, &mut recorder).unwrap();
    recorder.finish().unwrap();
}

/// Flips a bit of the first element of the dataset `name` of the HDF5 file `path`, where
/// it is stored (its first chunk).
fn flip_in_dataset(path: &Path, name: &str) {
    let at = {
        let file = hdf5::File::open(path).unwrap();
        let dataset = file.dataset(name).unwrap();
        match dataset.num_chunks() {
            Some(_) => dataset.chunk_info(0).unwrap().addr,
            None => dataset.offset().unwrap(),
        }
    };
    flip(path, at + 2, 0x10);
}

/// XORs the byte at `at` of the file `path` with `mask`.
fn flip(path: &Path, at: u64, mask: u8) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at as usize] ^= mask;
    std::fs::write(path, bytes).unwrap();
}

fn snapshot_file(run: &Path, index: usize) -> PathBuf {
    snapshots_dir(run).join(format!("{index:06}.h5"))
}

/// Copies the run's files at `run` (run file, checkpoints, snapshot folder) to `to`.
fn copy_run(run: &Path, to: &Path) {
    for (from, into) in [
        (run.to_path_buf(), to.to_path_buf()),
        (checkpoint_path(run), checkpoint_path(to)),
        (previous_checkpoint_path(run), previous_checkpoint_path(to)),
    ] {
        std::fs::copy(from, into).unwrap();
    }
    std::fs::create_dir_all(snapshots_dir(to)).unwrap();
    for entry in std::fs::read_dir(snapshots_dir(run)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), snapshots_dir(to).join(entry.file_name())).unwrap();
    }
}

#[test]
fn a_missing_or_damaged_snapshot_file_is_replaced_by_the_run_files_copy() {
    let dir = scratch("snapshot");
    let run = dir.join("run.h5");
    record(&run);
    let intact = load_checkpoint(&run).unwrap();
    assert_eq!(intact.snapshots.len(), 4);

    // Missing: a strict load fails, as a resume used to.
    let missing = dir.join("missing.h5");
    copy_run(&run, &missing);
    std::fs::remove_file(snapshot_file(&missing, 1)).unwrap();
    let error = load_checkpoint(&missing).unwrap_err();
    assert!(matches!(error, FileError::Io { .. }), "{error:?}");
    let recovered = recover_checkpoint(&missing).unwrap();
    assert_eq!(recovered.checkpoint, intact);
    let [note] = &recovered.notes[..] else {
        panic!("{:?}", recovered.notes);
    };
    assert_eq!(
        *note,
        format!(
            "{} is missing; rebuilding it from the run file's copy of snapshot 1",
            snapshot_file(&missing, 1).display()
        )
    );

    // Damaged: its checksum names the dataset; its numbers are never used.
    let damaged = dir.join("damaged.h5");
    copy_run(&run, &damaged);
    flip_in_dataset(&snapshot_file(&damaged, 2), "snapshots/000002/x");
    let error = load_checkpoint(&damaged).unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "{} is damaged: checksum mismatch in snapshots/000002/x",
            snapshot_file(&damaged, 2).display()
        )
    );
    let recovered = recover_checkpoint(&damaged).unwrap();
    assert_eq!(recovered.checkpoint, intact);
    assert_eq!(
        recovered.notes,
        [format!(
            "{error}; rebuilding it from the run file's copy of snapshot 2"
        )]
    );

    // With the run file's copy damaged too, nothing stands in for it.
    flip_in_dataset(&damaged, "snapshots/000002/x");
    let error = recover_checkpoint(&damaged).unwrap_err().to_string();
    assert!(error.contains("snapshot 2 can be read neither"), "{error}");
}

#[test]
fn a_damaged_latest_checkpoint_gives_way_to_the_previous_one() {
    let dir = scratch("checkpoint");
    let run = dir.join("run.h5");
    record(&run);
    let latest = load_checkpoint(&run).unwrap();
    assert_eq!(latest.step(), 6);
    // The previous checkpoint, read as the latest of a copy.
    let copy = dir.join("copy.h5");
    copy_run(&run, &copy);
    std::fs::rename(previous_checkpoint_path(&copy), checkpoint_path(&copy)).unwrap();
    let previous = load_checkpoint(&copy).unwrap();
    assert_eq!(previous.step(), 4);

    flip_in_dataset(&checkpoint_path(&run), "state/x");
    let error = load_checkpoint(&run).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{} is damaged: checksum mismatch in state/x",
            checkpoint_path(&run).display()
        )
    );
    let recovered = recover_checkpoint(&run).unwrap();
    assert_eq!(recovered.checkpoint, previous);
    // 2 steps of dt = 0.01 before.
    assert_eq!(
        recovered.notes,
        [format!(
            "{error}; resuming from the previous checkpoint {} at t = 0.04, 0.02 before",
            previous_checkpoint_path(&run).display()
        )]
    );

    // Both damaged: the latest's error.
    flip_in_dataset(&previous_checkpoint_path(&run), "state/x");
    assert_eq!(
        recover_checkpoint(&run).unwrap_err().to_string(),
        error.to_string()
    );
}

/// The offset of the first global heap collection of the file at `path`, where HDF5 keeps
/// the text of string attributes.
fn global_heap(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    bytes.windows(4).position(|w| w == b"GCOL").unwrap() as u64
}

#[test]
fn a_damaged_global_heap_is_reported_not_followed() {
    let dir = scratch("heap");
    let run = dir.join("run.h5");
    record(&run);
    let heap = global_heap(&run);
    // The high byte of the first object's size (at 8 of its 16-byte header, after the
    // collection's 16): HDF5 1.10 copies that many bytes into the string's buffer.
    let object_size = heap + 16 + 8;
    // The collection's size: HDF5 1.10 walks the collection by it, for ever if it finds a
    // free space of size 0.
    let collection_size = heap + 8 + 1;
    for (at, mask) in [(object_size + 6, 0x01), (collection_size, 0x40)] {
        let damaged = dir.join(format!("at{at}.h5"));
        std::fs::copy(&run, &damaged).unwrap();
        flip(&damaged, at, mask);
        assert_eq!(identify(&damaged), FileKind::DamagedHdf5);
        let error = read_run(&damaged).unwrap_err().to_string();
        assert!(
            error.ends_with(&format!(
                "is damaged: the global heap (the text of its attributes) at byte {heap} is \
                 inconsistent"
            )),
            "{error}"
        );
    }
}

#[test]
fn a_size_larger_than_the_file_is_refused_before_allocating() {
    let dir = scratch("size");
    let run = dir.join("run.h5");
    record(&run);
    // 2^40 samples claimed, none stored: 8 TiB to allocate for `t` alone.
    hdf5::File::open_rw(&run)
        .unwrap()
        .dataset("trajectory/t")
        .unwrap()
        .resize(1usize << 40)
        .unwrap();
    let error = read_run(&run).unwrap_err().to_string();
    assert!(
        error.contains("is damaged: trajectory/t claims the shape [1099511627776]"),
        "{error}"
    );
}

#[test]
fn stored_text_is_validated_as_utf8() {
    let dir = scratch("utf8");
    // Format 2 carries no checksums: its text is all there is to check.
    let fixtures = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/format2"));
    let run = dir.join("particles.h5");
    std::fs::copy(fixtures.join("particles.h5"), &run).unwrap();
    let bytes = std::fs::read(&run).unwrap();
    let at = bytes.windows(6).position(|w| w == b"[model").unwrap();
    // The first byte of a two-byte sequence, followed by ASCII: no UTF-8.
    flip(&run, at as u64, b'[' ^ 0xc3);
    let error = read_header(&run).unwrap_err().to_string();
    assert!(
        error.ends_with("is damaged: attribute config is not UTF-8 text"),
        "{error}"
    );
}

#[test]
fn an_attribute_of_another_shape_or_type_is_refused_unread() {
    let dir = scratch("attribute");
    let run = dir.join("run.h5");
    record(&run);
    // No value at all (a null dataspace), where a string is expected: HDF5 reads nothing
    // and leaves the pointer to the string unwritten.
    {
        let file = hdf5::File::open_rw(&run).unwrap();
        file.delete_attr("format").unwrap();
        file.new_attr::<hdf5::types::VarLenUnicode>()
            .shape(hdf5::Extents::Null)
            .create("format")
            .unwrap();
    }
    assert_eq!(identify(&run), FileKind::DamagedHdf5);
    let seeded = dir.join("seeded.h5");
    record(&seeded);
    {
        let file = hdf5::File::open_rw(&seeded).unwrap();
        file.delete_attr("seed").unwrap();
        file.new_attr::<f64>()
            .create("seed")
            .unwrap()
            .write_scalar(&1.0)
            .unwrap();
    }
    let error = read_header(&seeded).unwrap_err().to_string();
    assert!(
        error.ends_with("is damaged: attribute seed is not one value of type uint64"),
        "{error}"
    );
}
