//! What `mfcl run` writes, through the binary: temporaries that a prepared link cannot
//! redirect, snapshot folders holding only the run's snapshot files, two checkpoints, and
//! the provenance that `inspect` shows.

mod common;

use std::path::Path;

use common::{DIVERGING, json, mfcl, scratch, stderr};

const SMALL: [&str; 6] = [
    "--set",
    "run.particles=2000",
    "--set",
    "run.t_end=0.5",
    "--set",
    "run.checkpoint_every=0.1",
];
const NOTES: &str = "notes that no run may touch\n";

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `mfcl run` of the quickstart at a small size into `run`.
fn run(run: &Path) -> std::process::Output {
    let mut args = vec!["run", "--out", arg(run)];
    args.extend(SMALL);
    mfcl(&args)
}

#[test]
fn a_link_at_a_temporary_name_is_not_followed() {
    let dir = scratch("integrity-hijack");
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, NOTES).unwrap();
    // The temporaries' names of the release before: the run file's and a checkpoint's
    // at every step of the run (t_end / dt = 50).
    let mut names = vec!["e1.h5.new.tmp".to_owned()];
    names.extend((1..=50).map(|step| format!("e1.checkpoint.h5.{step}.tmp")));
    for name in &names {
        std::os::unix::fs::symlink("notes.txt", dir.join(name)).unwrap();
    }
    let e1 = dir.join("e1.h5");
    let output = run(&e1);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), NOTES);
    let summary = json(&mfcl(&["inspect", arg(&e1), "--json"]));
    assert_eq!(summary["complete"], true, "{summary}");
}

/// An HDF5 file such as h5py writes: one dataset, no attributes.
fn h5py_file(path: &Path) {
    let file = hdf5::File::create(path).unwrap();
    file.new_dataset::<f64>()
        .shape(3)
        .create("data")
        .unwrap()
        .write_raw(&[1.0, 2.0, 3.0])
        .unwrap();
}

#[test]
fn another_programs_files_in_the_snapshot_folder_are_refused_untouched() {
    let dir = scratch("integrity-foreign");
    let run_file = dir.join("m.h5");
    let folder = dir.join("m.snapshots");
    std::fs::create_dir(&folder).unwrap();
    let files = [folder.join("000000.h5"), folder.join("000007.h5")];
    for file in &files {
        h5py_file(file);
    }
    let before: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let output = run(&run_file);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(
        message.contains("is an HDF5 file that mfcl did not write, not a snapshot of this run"),
        "{message}"
    );
    let after: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert!(after == before, "the refused files changed");
    assert!(!run_file.exists(), "the run started");
}

#[test]
fn inspect_shows_the_provenance_and_two_checkpoints_are_kept() {
    let dir = scratch("integrity-provenance");
    let run_file = dir.join("p.h5");
    let output = run(&run_file);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(dir.join("p.checkpoint.previous.h5").is_file());

    let summary = json(&mfcl(&["inspect", arg(&run_file), "--json"]));
    assert_eq!(summary["program_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(summary["format_version"], 4);
    let revision = summary["source_revision"].as_str().unwrap().to_owned();
    assert!(!revision.is_empty(), "{summary}");
    assert_eq!(summary["run_id"].as_str().unwrap().len(), 32, "{summary}");

    let output = mfcl(&["inspect", arg(&run_file)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains(&format!("by mfcl {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|line| line.starts_with("source") && line.ends_with(&revision)),
        "{text}"
    );
}

/// The reason a diverged run records (the root attribute `diverged`, whose text HDF5 keeps
/// without a checksum) is checksummed like the header: changed by hand, the run file is
/// reported as damaged, not read with a reason it never had.
#[test]
fn a_changed_divergence_reason_is_damage() {
    let run = scratch("integrity-diverged").join("d.h5");
    let mut args = vec!["run", "--out", arg(&run)];
    args.extend(SMALL);
    args.extend(DIVERGING);
    args.extend(["--set", "run.t_end=10"]);
    let diverged = mfcl(&args);
    assert_eq!(diverged.status.code(), Some(1), "{}", stderr(&diverged));
    let inspect = mfcl(&["inspect", arg(&run)]);
    assert!(inspect.status.success(), "{}", stderr(&inspect));
    {
        let file = hdf5::File::open_rw(&run).unwrap();
        let reason = file
            .attr("diverged")
            .unwrap()
            .read_scalar::<hdf5::types::VarLenUnicode>()
            .unwrap();
        assert!(reason.as_str().contains("diverged"), "{}", reason.as_str());
        file.delete_attr("diverged").unwrap();
        file.new_attr::<hdf5::types::VarLenUnicode>()
            .create("diverged")
            .unwrap()
            .write_scalar(
                &"the run finished"
                    .parse::<hdf5::types::VarLenUnicode>()
                    .unwrap(),
            )
            .unwrap();
    }
    let figure = run.with_extension("png");
    for command in ["inspect", "compare", "plot"] {
        let mut args = vec![command, arg(&run)];
        if command == "plot" {
            args.extend(["--out", arg(&figure)]);
        }
        let output = mfcl(&args);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{command}: {err}");
        assert!(
            err.contains("is damaged: checksum mismatch in the attribute diverged"),
            "{command}: {err}"
        );
    }
    assert!(!figure.exists(), "no figure of a damaged run");
}
