//! mfcl-checkpoint: the HDF5 run file (trajectory, measure snapshots) and the checkpoint
//! beside it, from which a run resumes bit for bit.
//!
//! # Files
//!
//! - `RUN.h5`, the run file: header attributes, `/trajectory/*` appended and flushed as the
//!   run goes, `/snapshots/NNNNNN/*` (README, "The run file").
//! - `RUN.checkpoint.h5`, beside it: the solver state (positions, labels, every random
//!   stream), the step, the config, the trajectory up to that step and the number of
//!   snapshots taken. It is written to a temporary name, fsynced and renamed into place,
//!   so a crash at any moment leaves the previous checkpoint intact; the one it replaces is
//!   kept as `RUN.checkpoint.previous.h5`.
//! - `RUN.snapshots/NNNNNN.h5`: each snapshot once more, in a file of its own written the
//!   same way, so that the run file can be rebuilt without checkpoints copying snapshots.
//!
//! Resuming rebuilds the run file from the checkpoint and continues: whatever the run file
//! went through after the checkpoint (a crash in the middle of a write included) does not
//! matter, and the result equals an uninterrupted run's.
//!
//! # Only mfcl's own files
//!
//! The checkpoint and snapshot paths derive from the run path alone, whatever it names, so
//! mfcl replaces, rebuilds or removes only what it recognises as its own: an mfcl run file,
//! an mfcl checkpoint, and a snapshot folder holding only snapshot files. [`identify`] says
//! what is at a path in a person's words; [`claim_run`], which every new run file goes
//! through, refuses anything else and leaves it untouched. Starting a run over an earlier
//! one removes the earlier run's checkpoint and snapshot files that the new run does not
//! continue, so none of them survives beside the new run's.
//!
//! HDF5 serialises every call through one global lock, so all file access happens on the
//! thread that drives the run.

#![warn(missing_docs)]

mod checkpoint;
mod durable;
mod hdf;
mod layout;
mod lock;
mod ownership;
mod recorder;
mod run_file;

pub use checkpoint::{
    Checkpoint, Recovered, SolverState, StateRef, checkpoint_path, checkpoint_step,
    load_checkpoint, lock_path, previous_checkpoint_path, recover_checkpoint, run_of_checkpoint,
    save_checkpoint, snapshots_dir,
};
pub use durable::write_whole;
pub use layout::{Header, RunContents};
pub use lock::{LockHolder, RunLock, writer_of};
pub use ownership::{FileKind, claim_run, identify};
pub use recorder::{Cadence, Persist, Recorder};
pub use run_file::{RunFile, read_header, read_run};

use std::path::PathBuf;

use mfcl_solver::Generator;

/// Version of both file formats as written. 2 stores a layer of `K` neurons (the root
/// attribute `neurons`; trajectories `(T, p, K)` and `(T, K, K)`, snapshot `x` `(M, K)`).
/// 3 has the same datasets and records the run's random generator (the root attribute
/// `generator`, a [`Generator::name`]; checkpoint `state/streams` is `(chunks,
/// Generator::state_words)`): the generator fixes every bit of a trajectory, so a run
/// resumes with the one it started with. 4 has the same datasets, checksummed (HDF5's
/// Fletcher32 filter on every dataset, the file format of HDF5 1.8, whose metadata carries
/// checksums, and the root attribute `header_checksum` over the header), and records its
/// provenance (`source_revision`) and the run it belongs to (`run_id`, also in snapshot
/// files, which say `format = "mfcl-snapshot"`).
pub const FORMAT_VERSION: u32 = 4;

/// The oldest version read. Version 1, which knew one neuron only (trajectories `(T, p)`
/// and `(T,)`, snapshot `x` `(M,)`, scalar coefficients in checkpoints), is read as `K = 1`;
/// versions 1 and 2, which record no generator, drew with [`Generator::Ziggurat`] and are
/// read and resumed with it. A run resumed from an older checkpoint is rebuilt in the
/// current version (the run file is rebuilt from its checkpoint on every resume anyway).
/// Other versions are refused.
pub const OLDEST_FORMAT_VERSION: u32 = 1;

/// Why a run file or checkpoint could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The HDF5 library failed (missing, truncated or damaged file, full disk, ...).
    #[error("{path}: {error}")]
    Hdf5 {
        /// The file.
        path: PathBuf,
        /// What HDF5 said (part of the message, so not repeated as a cause).
        error: hdf5::Error,
    },
    /// A file-system operation failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said (part of the message, so not repeated as a cause).
        error: std::io::Error,
    },
    /// The file is HDF5 but not of the expected kind.
    #[error("{path}: not an {expected} file (its format attribute is {found:?})")]
    WrongFormat {
        /// The file.
        path: PathBuf,
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// Written by a version of mfcl whose format this one does not read.
    #[error(
        "{path}: format version {found}, but this mfcl reads versions {OLDEST_FORMAT_VERSION} \
         to {FORMAT_VERSION}"
    )]
    FormatVersion {
        /// The file.
        path: PathBuf,
        /// The file's version.
        found: u32,
    },
    /// The file records a random generator that this mfcl does not know (a newer mfcl's):
    /// its run cannot be repeated or resumed bit for bit with another.
    #[error(
        "{path}: unknown random generator {name:?} (this mfcl knows {}): written by a newer \
         mfcl?",
        generator_names()
    )]
    UnknownGenerator {
        /// The file.
        path: PathBuf,
        /// The generator's name as recorded.
        name: String,
    },
    /// Structurally wrong content (a missing dataset, inconsistent sizes), or an HDF5 file
    /// that HDF5 cannot open (damaged or truncated).
    #[error("{path} is damaged: {what}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// Where mfcl would write a run file, a checkpoint or the snapshot folder, something
    /// that is not mfcl's: it is left as it was (see [`claim_run`]).
    #[error("{path} is {what}, not {expected}: refusing to replace it")]
    NotOurs {
        /// What is there.
        path: PathBuf,
        /// Its kind.
        what: FileKind,
        /// What mfcl would have written there, in words ("an mfcl run file").
        expected: &'static str,
    },
    /// The run's snapshot folder holds something that is not a snapshot file of the run (of
    /// another program, or of another run): the folder is left as it was (see
    /// [`claim_run`]).
    #[error(
        "{path} is {what}, not a snapshot of this run: refusing to write the run's snapshots \
         into {folder}"
    )]
    ForeignSnapshot {
        /// The file in the folder.
        path: PathBuf,
        /// Its kind.
        what: FileKind,
        /// The snapshot folder.
        folder: PathBuf,
    },
    /// A file that mfcl would replace is locked by another process, which is writing it.
    #[error(
        "{path} is open for writing in another program (another mfcl run?): refusing to replace it"
    )]
    InUse {
        /// The file.
        path: PathBuf,
    },
    /// Another process writes the run: it holds the run's lock (see [`RunLock`]).
    #[error("{run} is being written by {writer}")]
    Busy {
        /// The run file.
        run: PathBuf,
        /// Who holds the lock.
        writer: LockHolder,
    },
    /// Where the run's lock file goes, something else: it is left as it was.
    #[error("{path} is {what}, not mfcl's lock file of a run: refusing to use it")]
    ForeignLock {
        /// The lock path.
        path: PathBuf,
        /// What is there, in words.
        what: String,
    },
    /// A file read as a run file or checkpoint is something else.
    #[error("{path} is {what}, not {expected}")]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// What it is.
        what: FileKind,
        /// What was asked for, in words ("an mfcl run file").
        expected: &'static str,
    },
    /// A checkpoint beside a run file that records another run (their `run_id`s differ):
    /// resuming from it, or from the previous checkpoint over it, would mix two runs.
    #[error("{run} and {checkpoint} belong to different runs: their run ids differ")]
    OtherRun {
        /// The checkpoint.
        checkpoint: PathBuf,
        /// The run file.
        run: PathBuf,
    },
    /// A checkpoint given where its run file was expected.
    #[error("{path} is an mfcl checkpoint, not a run file: give the run file {run}")]
    CheckpointGiven {
        /// The checkpoint.
        path: PathBuf,
        /// Its run file.
        run: PathBuf,
    },
}

/// `Result` with a [`FileError`].
pub type Result<T> = std::result::Result<T, FileError>;

/// The names of the generators this mfcl knows, for [`FileError::UnknownGenerator`].
fn generator_names() -> String {
    Generator::ALL.map(Generator::name).join(", ")
}
