//! The random generator through the commands. Runs of the release before the batched
//! deviates (file format 2, `data/format2/`) drew with the ziggurat, which format 2 does
//! not record: `inspect` says so, and `resume` continues them with it to exactly the
//! release's own uninterrupted run, recording it in the rebuilt run file. New runs record
//! the current generator. A file that records an unknown generator, or a checkpoint whose
//! streams are not of its generator, is refused and keeps every byte.

mod common;
#[path = "../../checkpoint/tests/support/reseal.rs"]
mod reseal;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use common::{copy_fixture, fixtures, json, mfcl, refused, scratch, stderr};
use mfcl_checkpoint::{FORMAT_VERSION, checkpoint_path, read_run};
use reseal::reseal_header;

/// The generator of formats 1 and 2.
const ZIGGURAT: &str = "xoshiro256++/ziggurat";
/// The generator of new runs.
const BOX_MULLER: &str = "xoshiro256++x8/box-muller";

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The value of the `generator` line of `mfcl inspect RUN` (text).
fn inspected_generator(run: &Path) -> String {
    let output = mfcl(&["inspect", arg(run)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix("generator "))
        .unwrap_or_else(|| panic!("no generator line in:\n{text}"));
    line.trim().to_owned()
}

/// The root attribute `generator` of an HDF5 file.
fn generator_attribute(file: &Path) -> String {
    hdf5::File::open(file)
        .unwrap()
        .attr("generator")
        .unwrap()
        .read_scalar::<hdf5::types::VarLenUnicode>()
        .unwrap()
        .to_string()
}

/// Records `name` as the generator of the HDF5 file `file`.
fn set_generator(path: &Path, name: &str) {
    let file = hdf5::File::open_rw(path).unwrap();
    file.delete_attr("generator").unwrap();
    file.new_attr::<hdf5::types::VarLenUnicode>()
        .create("generator")
        .unwrap()
        .write_scalar(&hdf5::types::VarLenUnicode::from_str(name).unwrap())
        .unwrap();
    drop(file);
    // Written as a newer mfcl would have: its header checksum holds.
    reseal_header(path);
}

/// Every file under `dir`, with its bytes; not the run's lock file, in which each writer
/// that takes the lock (a refused `resume` too) writes itself.
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(contents(&path));
        } else if path.extension() != Some("lock".as_ref()) {
            files.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    files
}

#[test]
fn inspect_shows_the_generator_of_earlier_formats() {
    let dir = scratch("generator-inspect");
    for (folder, name, version) in [("format1", "particles", 1), ("format2", "particles", 2)] {
        let run = copy_fixture(folder, name, &dir);
        let inspected = json(&mfcl(&["inspect", arg(&run), "--json"]));
        assert_eq!(inspected["format_version"], version);
        assert_eq!(inspected["generator"], ZIGGURAT, "{folder}");
        assert_eq!(inspected_generator(&run), ZIGGURAT, "{folder}");
    }
}

/// `resume` continues a format-2 checkpoint with the ziggurat to exactly the release's
/// uninterrupted run, particles and SGD, and the rebuilt run file records the ziggurat.
#[test]
fn a_format_2_run_resumes_to_exactly_the_release_run() {
    for (name, t_end) in [("particles", "1"), ("sgd", "0.04")] {
        let dir = scratch(&format!("format2-resume-{name}"));
        let run = copy_fixture("format2", name, &dir);
        let resumed = mfcl(&["resume", arg(&run), "--t-end", t_end]);
        assert!(resumed.status.success(), "{}", stderr(&resumed));
        let ours = read_run(&run).unwrap();
        let release = read_run(&fixtures("format2").join(format!("{name}_full.h5"))).unwrap();
        assert_eq!(ours.trajectory, release.trajectory, "{name}");
        // The last snapshot holds every coordinate's x at t_end.
        assert_eq!(ours.snapshots, release.snapshots, "{name}");

        let inspected = json(&mfcl(&["inspect", arg(&run), "--json"]));
        assert_eq!(inspected["format_version"], FORMAT_VERSION);
        assert_eq!(inspected["generator"], ZIGGURAT);
        assert_eq!(inspected["complete"], true);
        assert_eq!(generator_attribute(&run), ZIGGURAT);
        assert_eq!(generator_attribute(&checkpoint_path(&run)), ZIGGURAT);
    }
}

/// A format-2 run stopped before its first checkpoint starts over from its config, with the
/// ziggurat it started with: the release's run again.
#[test]
fn a_format_2_run_without_a_checkpoint_starts_over_with_its_generator() {
    let dir = scratch("format2-restart");
    let run = dir.join("particles.h5");
    std::fs::copy(fixtures("format2").join("particles.h5"), &run).unwrap();
    let resumed = mfcl(&["resume", arg(&run), "--t-end", "1"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(stderr(&resumed).contains("starting it again from t = 0"));
    let ours = read_run(&run).unwrap();
    let release = read_run(&fixtures("format2").join("particles_full.h5")).unwrap();
    assert_eq!(ours.trajectory, release.trajectory);
    assert_eq!(ours.snapshots, release.snapshots);
    assert_eq!(generator_attribute(&run), ZIGGURAT);
}

/// A small run of `solver` at `run` (replacing any run there), finished with its checkpoint
/// at t = 0.05.
fn new_run(run: &Path, solver: &str) {
    let output = mfcl(&[
        "run",
        "--force",
        "--out",
        arg(run),
        "--set",
        &format!("run.solver={solver:?}"),
        "--set",
        "run.particles=2000",
        "--set",
        "run.dimension=2000",
        "--set",
        "run.t_end=0.05",
        "--set",
        "run.record_every=0.01",
        "--set",
        "run.snapshot_every=1",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn a_new_run_records_the_current_generator() {
    let dir = scratch("generator-new");
    for solver in ["particles", "sgd"] {
        let run = dir.join(format!("{solver}.h5"));
        new_run(&run, solver);
        let inspected = json(&mfcl(&["inspect", arg(&run), "--json"]));
        assert_eq!(inspected["format_version"], FORMAT_VERSION);
        assert_eq!(inspected["generator"], BOX_MULLER, "{solver}");
        assert_eq!(inspected_generator(&run), BOX_MULLER, "{solver}");
        let checkpoint = checkpoint_path(&run);
        assert_eq!(generator_attribute(&run), BOX_MULLER);
        assert_eq!(generator_attribute(&checkpoint), BOX_MULLER);
        // One chunk of 2000 coordinates: 8 lanes of 4 words.
        let streams = hdf5::File::open(&checkpoint)
            .unwrap()
            .dataset("state/streams")
            .unwrap()
            .shape();
        assert_eq!(streams, [1, 32], "{solver}");
    }
}

#[test]
fn unknown_generators_and_foreign_streams_are_refused_and_left_as_they_were() {
    let dir = scratch("generator-refused");
    let run = dir.join("run.h5");
    let checkpoint = checkpoint_path(&run);
    // The run is finished: extending it makes resume read its checkpoint.
    let resume = ["resume", arg(&run), "--t-end", "0.1"];

    // A newer mfcl's files.
    new_run(&run, "particles");
    set_generator(&run, "pcg64/polar");
    set_generator(&checkpoint, "pcg64/polar");
    let before = contents(&dir);
    let unknown = |path: &Path| {
        format!(
            "{}: unknown random generator \"pcg64/polar\" (this mfcl knows {ZIGGURAT}, \
             {BOX_MULLER})",
            path.display()
        )
    };
    refused(&resume, &unknown(&checkpoint));
    refused(&["inspect", arg(&run)], &unknown(&run));
    assert!(contents(&dir) == before, "a refused file changed");

    // Box–Muller streams (one chunk of 32 words) in a checkpoint that names the ziggurat.
    new_run(&run, "particles");
    set_generator(&checkpoint, ZIGGURAT);
    let before = contents(&dir);
    refused(
        &resume,
        &format!(
            "{} is damaged: state/streams has the shape [1, 32], but 2000 coordinates drawing \
             with {ZIGGURAT} need [1, 4]",
            checkpoint.display()
        ),
    );
    assert!(contents(&dir) == before, "a refused file changed");

    // A run file and a checkpoint of different generators are of different runs.
    new_run(&run, "particles");
    set_generator(&run, ZIGGURAT);
    let before = contents(&dir);
    refused(
        &resume,
        &format!(
            "belong to different runs: they record the random generators {ZIGGURAT} and \
             {BOX_MULLER}"
        ),
    );
    assert!(contents(&dir) == before, "a refused file changed");
}
