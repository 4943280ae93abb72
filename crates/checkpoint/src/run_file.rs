//! The run file: written whole at the start (or when rebuilt from a checkpoint), then
//! appended to and flushed as the run goes.

use std::path::Path;

use mfcl_model::Trajectory;
use mfcl_solver::Snapshot;

use crate::Result;
use crate::checkpoint::{read_snapshot_file, snapshot_file, snapshot_owner, write_snapshot_file};
use crate::durable::{replace, write_new};
use crate::hdf::Ctx;
use crate::layout::{
    CHECKSUM_VERSION, Header, Layout, RunContents, TrajectoryDatasets, attributes_checksum,
    read_snapshot_at, read_snapshots, write_snapshot,
};
use crate::ownership::{FileKind, claim_run, clear_previous, expect_kind};

/// The `format` attribute of run files.
pub(crate) const RUN_FORMAT: &str = "mfcl-run";

/// The root attribute that marks a diverged run (see [`RunFile::record_divergence`]).
const DIVERGED: &str = "diverged";

/// The root attribute that checksums [`DIVERGED`]'s text (format 4 on).
const DIVERGED_CHECKSUM: &str = "diverged_checksum";

/// The checksum of a divergence's reason, as [`attributes_checksum`] makes the header's.
fn divergence_checksum(reason: &str) -> u32 {
    attributes_checksum(&[(DIVERGED, reason.as_bytes())])
}

/// An open run file.
pub struct RunFile {
    ctx: Ctx,
    file: hdf5::File,
    trajectory: TrajectoryDatasets,
    rows: usize,
    snapshots: usize,
}

impl RunFile {
    /// Writes a complete run file (header, the trajectory so far, the snapshots so far) under
    /// a temporary name, moves it to `path`, and opens it for appending. A run starts with
    /// an empty trajectory; a resumed run with the checkpoint's copy. The file is in the
    /// current format, with `header.neurons` neurons and `header.generator`, whatever format
    /// the trajectory and snapshots were read from: a run resumed from a format-1 or
    /// format-2 checkpoint is upgraded, and records the generator it was read with.
    ///
    /// First [`claim_run`] checks that everything the run replaces is mfcl's, and refuses
    /// otherwise with nothing changed. Once the run file is in place, what the previous run
    /// there left and this one does not continue goes: for a fresh run the old checkpoint,
    /// and for any run the snapshot files beyond `snapshots` (a resumed run keeps those its
    /// checkpoint counts). The old files are removed only after the new run file is written,
    /// so a failure to write it (a full disk) costs the previous run nothing. A resumed run
    /// then rewrites each of the snapshot files it keeps that is missing, damaged, of an
    /// older format or of another run, from `snapshots`.
    ///
    /// A header without a run id (read from a file of formats 1 to 3) is written with a
    /// new one: give the run one first (see [`Header::run_id`]) to write its checkpoints
    /// and snapshot files under the same.
    pub fn create(
        path: &Path,
        header: &Header,
        features: usize,
        trajectory: &Trajectory,
        snapshots: &[Snapshot],
    ) -> Result<RunFile> {
        let resuming = !trajectory.is_empty();
        claim_run(path, resuming)?;
        let header = &header.identified();
        // Errors name the run file, not its temporary.
        let ctx = Ctx::new(path);
        let temporary = write_new(&ctx, path, "new", |file| {
            header.write(&ctx, &file, RUN_FORMAT)?;
            TrajectoryDatasets::create(&ctx, &file, features, header.neurons)?
                .append(&ctx, trajectory, 0)?;
            for (index, snapshot) in snapshots.iter().enumerate() {
                write_snapshot(&ctx, &file, index, snapshot)?;
            }
            ctx.h5(file.close())
        })?;
        replace(&temporary, path)?;
        clear_previous(path, resuming, snapshots.len())?;
        restore_snapshot_files(path, &header.run_id, snapshots)?;
        let file = ctx.h5(hdf5::File::open_rw(path))?;
        let datasets = TrajectoryDatasets::open(&ctx, &file)?;
        Ok(RunFile {
            ctx,
            file,
            trajectory: datasets,
            rows: trajectory.len(),
            snapshots: snapshots.len(),
        })
    }

    /// Appends the rows of `trajectory` not yet in the file, and flushes.
    pub fn append(&mut self, trajectory: &Trajectory) -> Result<()> {
        self.trajectory.append(&self.ctx, trajectory, self.rows)?;
        self.rows = trajectory.len();
        self.ctx.h5(self.file.flush())
    }

    /// Records in the file that the run diverged, and why (the root attribute `diverged`):
    /// the samples stop before the divergence, so without it a diverged run would read like
    /// one that was merely interrupted.
    /// Its text lives in HDF5's unchecksummed global heap, like the header's: the root
    /// attribute `diverged_checksum` guards it, written first, so that a crash between the
    /// two leaves a checksum of nothing, which no reader looks at.
    pub fn record_divergence(&mut self, reason: &str) -> Result<()> {
        self.ctx
            .write_scalar(&self.file, DIVERGED_CHECKSUM, divergence_checksum(reason))?;
        self.ctx.write_str(&self.file, DIVERGED, reason)?;
        self.ctx.h5(self.file.flush())
    }

    /// Adds the next snapshot, and flushes.
    pub fn add_snapshot(&mut self, snapshot: &Snapshot) -> Result<()> {
        write_snapshot(&self.ctx, &self.file, self.snapshots, snapshot)?;
        self.snapshots += 1;
        self.ctx.h5(self.file.flush())
    }
}

/// Makes the snapshot files of the run at `run` hold `snapshots`: rewrites, as files of the
/// run `run_id`, those that are missing, cannot be read back as they are, or belong to
/// another run (a folder that outlived its run). Snapshot files are written once and
/// checkpoints only count them, so a resumed run's files are checked here, once.
fn restore_snapshot_files(run: &Path, run_id: &str, snapshots: &[Snapshot]) -> Result<()> {
    for (index, snapshot) in snapshots.iter().enumerate() {
        // A file of formats 1 to 3 was written once by the release that started the run,
        // and stays as it is.
        let ours = snapshot_owner(&snapshot_file(run, index), index).is_of(run_id);
        let intact = ours && read_snapshot_file(run, index).is_ok_and(|stored| stored == *snapshot);
        if !intact {
            let (temporary, path) = write_snapshot_file(run, run_id, index, snapshot)?;
            replace(&temporary, &path)?;
        }
    }
    Ok(())
}

/// Reads a whole run file.
pub fn read_run(path: &Path) -> Result<RunContents> {
    let (ctx, file, header, version, layout) = open(path)?;
    let trajectory = TrajectoryDatasets::open(&ctx, &file)?.read(&ctx, layout, header.neurons)?;
    let snapshots = read_snapshots(&ctx, &file, layout)?;
    let diverged = ctx.read_optional_str(&file, DIVERGED)?;
    if let Some(reason) = &diverged
        && version >= CHECKSUM_VERSION
        && ctx.read_optional_scalar::<u32>(&file, DIVERGED_CHECKSUM)?
            != Some(divergence_checksum(reason))
    {
        return Err(ctx.damaged(format!("checksum mismatch in the attribute {DIVERGED}")));
    }
    Ok(RunContents {
        header,
        format_version: version,
        trajectory,
        snapshots,
        diverged,
    })
}

/// Reads only the header of a run file (its config): all that `mfcl resume` needs of it,
/// and intact even when a failed write (a full disk) left a snapshot in it incomplete.
pub fn read_header(path: &Path) -> Result<Header> {
    open(path).map(|(_, _, header, ..)| header)
}

/// Snapshot `index` from the run file of the run `run`, which must be the run whose
/// checkpoint has `header` (the same run id; formats 1 to 3, which record none, the same
/// config): the copy that stands in for a damaged or missing snapshot file.
pub(crate) fn read_run_snapshot(run: &Path, index: usize, header: &Header) -> Result<Snapshot> {
    let (ctx, file, found, _, layout) = open(run)?;
    let same_run = match header.run_id.is_empty() {
        false => found.run_id == header.run_id,
        true => found.config == header.config,
    };
    if !same_run {
        return Err(ctx.damaged(format!(
            "it is not the run file of the checkpoint's run, whose snapshot {index} it was \
             to stand in for"
        )));
    }
    read_snapshot_at(&ctx, &file, index, layout)
}

/// Opens a run file for reading and checks its format and version; returns it with its
/// header, format version and layout.
fn open(path: &Path) -> Result<(Ctx, hdf5::File, Header, u32, Layout)> {
    let ctx = Ctx::new(path);
    expect_kind(path, FileKind::RunFile)?;
    let file = ctx.open()?;
    let (header, version, layout) = Header::read(&ctx, &file, RUN_FORMAT)?;
    Ok((ctx, file, header, version, layout))
}
