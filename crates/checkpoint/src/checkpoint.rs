//! Checkpoints: exactly the solver state and its random streams, the config, the trajectory
//! so far and the number of snapshots taken (each snapshot has a file of its own). The
//! problem definition is not stored apart from the config text it is rebuilt from.
//!
//! Format-1 checkpoints (one neuron: `x` (N), `previous` one vector `[g_1..g_p, g_0, v]`)
//! are read as `K = 1`. `state/streams` holds each chunk's stream in the words of the
//! header's generator (4 for the ziggurat of formats 1 and 2). Snapshot files carry the
//! root attribute `format_version` since format 2 (one without it is of format 1), and
//! since format 4 `format = "mfcl-snapshot"` and the `run_id` of their run.
//!
//! A new checkpoint keeps the one it replaces as `RUN.checkpoint.previous.h5`, so that a
//! damaged latest checkpoint costs one checkpoint interval, not the run.

use std::path::{Path, PathBuf};

use hdf5::Group;
use mfcl_model::{Coefficients, Trajectory};
use mfcl_solver::normals::{from_words, words_of};
use mfcl_solver::{ChunkStream, Generator, Labels, ParticleState, Population, SgdState, Snapshot};

use crate::durable::{replace_keeping, write_new};
use crate::hdf::Ctx;
use crate::layout::{
    CHECKSUM_ATTRIBUTE, Header, Layout, RUN_ID_ATTRIBUTE, TrajectoryDatasets, VERSION_ATTRIBUTE,
    attributes_checksum, read_snapshot_at, write_snapshot,
};
use crate::ownership::{FileKind, claim_checkpoint, expect_kind, identify};
use crate::run_file::{read_header, read_run_snapshot};
use crate::{FORMAT_VERSION, FileError, OLDEST_FORMAT_VERSION, Result};

/// The `format` attribute of checkpoints.
pub(crate) const CHECKPOINT_FORMAT: &str = "mfcl-checkpoint";
/// The `format` attribute of snapshot files (since format 4; older ones have none).
pub(crate) const SNAPSHOT_FORMAT: &str = "mfcl-snapshot";
/// What `RUN.checkpoint.h5` adds to the run file's stem.
const CHECKPOINT_SUFFIX: &str = "checkpoint.h5";

/// The state of either solver, owned.
#[derive(Debug, Clone, PartialEq)]
pub enum SolverState {
    /// The particle system.
    Particles(ParticleState),
    /// SGD.
    Sgd(SgdState),
}

/// The state of either solver, borrowed for writing.
#[derive(Debug, Clone, Copy)]
pub enum StateRef<'a> {
    /// The particle system.
    Particles(&'a ParticleState),
    /// SGD.
    Sgd(&'a SgdState),
}

/// Everything a checkpoint holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// The run's header (config included).
    pub header: Header,
    /// The checkpoint's format version: [`FORMAT_VERSION`], or an older one still read
    /// ([`OLDEST_FORMAT_VERSION`] and up). Checkpoints are always written in the current one.
    pub format_version: u32,
    /// The solver state.
    pub state: SolverState,
    /// The trajectory up to the checkpoint's step.
    pub trajectory: Trajectory,
    /// The snapshots up to the checkpoint's step.
    pub snapshots: Vec<Snapshot>,
}

impl Checkpoint {
    /// Steps taken at the checkpoint.
    pub fn step(&self) -> u64 {
        match &self.state {
            SolverState::Particles(s) => s.step,
            SolverState::Sgd(s) => s.step,
        }
    }
}

/// `RUN.checkpoint.h5` beside `RUN.h5`.
pub fn checkpoint_path(run: &Path) -> PathBuf {
    sibling(run, CHECKPOINT_SUFFIX)
}

/// `RUN.checkpoint.previous.h5` beside `RUN.h5`: the checkpoint before the latest, kept so
/// that a damaged latest checkpoint costs one checkpoint interval, not the run.
pub fn previous_checkpoint_path(run: &Path) -> PathBuf {
    sibling(run, "checkpoint.previous.h5")
}

/// `RUN.lock` beside `RUN.h5`: the file whose OS lock the one writer of the run holds.
pub fn lock_path(run: &Path) -> PathBuf {
    sibling(run, "lock")
}

/// `RUN.h5` for the checkpoint `RUN.checkpoint.h5`, to point a person who gave the one at
/// the other. `None` for a checkpoint not named so.
pub fn run_of_checkpoint(checkpoint: &Path) -> Option<PathBuf> {
    let name = checkpoint.file_name()?.to_str()?;
    let stem = name.strip_suffix(CHECKPOINT_SUFFIX)?.strip_suffix('.')?;
    Some(checkpoint.with_file_name(format!("{stem}.h5")))
}

/// The folder `RUN.snapshots` beside `RUN.h5`: one file per snapshot, written once, so that
/// a checkpoint can count them instead of copying them.
pub fn snapshots_dir(run: &Path) -> PathBuf {
    sibling(run, "snapshots")
}

fn sibling(run: &Path, suffix: &str) -> PathBuf {
    let stem = run.file_stem().unwrap_or_default().to_string_lossy();
    run.with_file_name(format!("{stem}.{suffix}"))
}

/// `RUN.snapshots/NNNNNN.h5`, the file of snapshot `index`.
pub(crate) fn snapshot_file(run: &Path, index: usize) -> PathBuf {
    snapshots_dir(run).join(format!("{index:06}.h5"))
}

/// What a name in the snapshot folder is, by its form alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SnapshotName {
    /// `NNNNNN.h5`, as [`snapshot_file`] names it.
    File,
    /// `NNNNNN.h5.TAG.tmp`, as [`temporary`](crate::durable::temporary) names it: a write
    /// that a crash interrupted.
    Temporary,
}

/// The index of a snapshot file or temporary named `name`; `None` for any other name.
pub(crate) fn snapshot_index(name: &str) -> Option<(usize, SnapshotName)> {
    let (file, kind) = match name.strip_suffix(".tmp") {
        Some(rest) => (rest.rsplit_once('.')?.0, SnapshotName::Temporary),
        None => (name, SnapshotName::File),
    };
    let digits = file.strip_suffix(".h5")?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((digits.parse().ok()?, kind))
}

/// Writes snapshot `index` of the run `run_id` to its own file under a fresh temporary
/// name; returns the temporary and the final path, for
/// [`replace`](crate::durable::replace) (or the durability worker) to finish.
pub(crate) fn write_snapshot_file(
    run: &Path,
    run_id: &str,
    index: usize,
    snapshot: &Snapshot,
) -> Result<(PathBuf, PathBuf)> {
    let directory = snapshots_dir(run);
    std::fs::create_dir_all(&directory).map_err(|error| FileError::Io {
        path: directory.clone(),
        error,
    })?;
    let path = snapshot_file(run, index);
    // Errors name the snapshot file, not its temporary.
    let ctx = Ctx::new(&path);
    let temporary = write_new(&ctx, &path, "new", |file| {
        ctx.write_str(&file, "format", SNAPSHOT_FORMAT)?;
        ctx.write_scalar(&file, VERSION_ATTRIBUTE, FORMAT_VERSION)?;
        ctx.write_str(&file, RUN_ID_ATTRIBUTE, run_id)?;
        let checksum = snapshot_checksum(SNAPSHOT_FORMAT, FORMAT_VERSION, run_id);
        ctx.write_scalar(&file, CHECKSUM_ATTRIBUTE, checksum)?;
        write_snapshot(&ctx, &file, index, snapshot)?;
        ctx.h5(file.close())
    })?;
    Ok((temporary, path))
}

/// The checksum over a snapshot file's root attributes `format`, `format_version` and
/// `run_id` (the others are fixed-size, in metadata that HDF5 checksums).
fn snapshot_checksum(format: &str, version: u32, run_id: &str) -> u32 {
    attributes_checksum(&[
        ("format", format.as_bytes()),
        (VERSION_ATTRIBUTE, &version.to_le_bytes()),
        (RUN_ID_ATTRIBUTE, run_id.as_bytes()),
    ])
}

/// Whose a file in a run's snapshot folder is, by its root attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SnapshotOwner {
    /// An mfcl snapshot file (format 4 and up) of the run with this id.
    Run(String),
    /// An mfcl snapshot file of formats 1 to 3, which record no run: no `format` attribute,
    /// and the group `snapshots/NNNNNN` of the file's name.
    Older,
    /// Another program's HDF5 file, or mfcl's of another kind.
    Other,
    /// HDF5's signature, but the file or its root attributes cannot be read, or do not
    /// match their checksum: a snapshot file a disk fault damaged, most likely.
    Damaged,
}

impl SnapshotOwner {
    /// Whether the file is a snapshot file of the run `run_id`: one that says so, or one of
    /// formats 1 to 3, which say nothing of their run.
    pub(crate) fn is_of(&self, run_id: &str) -> bool {
        match self {
            SnapshotOwner::Run(id) => id == run_id,
            SnapshotOwner::Older => true,
            SnapshotOwner::Other | SnapshotOwner::Damaged => false,
        }
    }
}

/// Whose the HDF5 file `path` is, as the file of snapshot `index`.
pub(crate) fn snapshot_owner(path: &Path, index: usize) -> SnapshotOwner {
    let ctx = Ctx::new(path);
    let Ok(file) = ctx.open() else {
        return SnapshotOwner::Damaged;
    };
    let owner = || -> Result<SnapshotOwner> {
        let Some(format) = ctx.read_optional_str(&file, "format")? else {
            let group = file.link_exists("snapshots")
                && file
                    .group("snapshots")
                    .is_ok_and(|group| group.link_exists(&format!("{index:06}")));
            return Ok(if group {
                SnapshotOwner::Older
            } else {
                SnapshotOwner::Other
            });
        };
        if format != SNAPSHOT_FORMAT {
            return Ok(SnapshotOwner::Other);
        }
        let version: u32 = ctx.read_scalar(&file, VERSION_ATTRIBUTE)?;
        let run_id = ctx.read_str(&file, RUN_ID_ATTRIBUTE)?;
        let recorded: u32 = ctx.read_scalar(&file, CHECKSUM_ATTRIBUTE)?;
        let intact = recorded == snapshot_checksum(&format, version, &run_id);
        Ok(if intact {
            SnapshotOwner::Run(run_id)
        } else {
            SnapshotOwner::Damaged
        })
    };
    owner().unwrap_or(SnapshotOwner::Damaged)
}

/// Snapshot `index` of the run file `run`, from its snapshot file.
pub(crate) fn read_snapshot_file(run: &Path, index: usize) -> Result<Snapshot> {
    let path = snapshot_file(run, index);
    let ctx = Ctx::new(&path);
    let file = ctx.open()?;
    let version = ctx.read_optional_scalar(&file, VERSION_ATTRIBUTE)?;
    let layout = Layout::of_version(&ctx, version.unwrap_or(OLDEST_FORMAT_VERSION))?;
    read_snapshot_at(&ctx, &file, index, layout)
}

/// Snapshot `index` of the run whose checkpoint has `header`, from its snapshot file, which
/// must be the run's: of the run id that the header records (formats 1 to 3 record none),
/// its root attributes matching their checksum.
fn read_own_snapshot_file(run: &Path, index: usize, header: &Header) -> Result<Snapshot> {
    let path = snapshot_file(run, index);
    let ours = match snapshot_owner(&path, index) {
        SnapshotOwner::Run(id) => id == header.run_id,
        SnapshotOwner::Older => true,
        SnapshotOwner::Other | SnapshotOwner::Damaged => false,
    };
    let snapshot = read_snapshot_file(run, index)?;
    if !ours {
        // Readable, but its root attributes are not this run's snapshot file's.
        return Err(Ctx::new(&path).damaged(format!(
            "its root attributes do not say it is snapshot {index} of this run"
        )));
    }
    Ok(snapshot)
}

/// Writes the checkpoint of the run file `run` durably: to a fresh temporary name, fsynced,
/// renamed into place, the checkpoint it replaces kept as [`previous_checkpoint_path`].
/// The `snapshots` it counts must already be in their files. Refuses (with
/// [`FileError::NotOurs`]) to replace a file at the checkpoint's path that is not mfcl's,
/// as [`claim_run`](crate::claim_run) does.
///
/// # Panics
///
/// If `header.generator` is not the generator of the state's streams: the checkpoint
/// could not be read back. If `header` has no run id (read from a file of formats 1 to 3):
/// the checkpoint would belong to no run.
pub fn save_checkpoint(
    run: &Path,
    header: &Header,
    state: StateRef,
    trajectory: &Trajectory,
    snapshots: usize,
) -> Result<()> {
    claim_checkpoint(run, identify(run))?;
    let (temporary, path) = write_checkpoint_file(run, header, state, trajectory, snapshots)?;
    replace_keeping(&temporary, &path, &previous_checkpoint_path(run))
}

/// The checkpoint under a fresh temporary name that says its step; returns it and the
/// final path. Panics as [`save_checkpoint`] does.
pub(crate) fn write_checkpoint_file(
    run: &Path,
    header: &Header,
    state: StateRef,
    trajectory: &Trajectory,
    snapshots: usize,
) -> Result<(PathBuf, PathBuf)> {
    let path = checkpoint_path(run);
    let (step, generator) = match state {
        StateRef::Particles(s) => (s.step, s.population.generator),
        StateRef::Sgd(s) => (s.step, s.population.generator),
    };
    // The header's generator says how `state/streams` is read back.
    assert_eq!(
        header.generator, generator,
        "the checkpoint's header names another generator than its state's"
    );
    // Errors name the checkpoint, not its temporary.
    let ctx = Ctx::new(&path);
    let temporary = write_new(&ctx, &path, &step.to_string(), |file| {
        header.write(&ctx, &file, CHECKPOINT_FORMAT)?;
        ctx.write_scalar(&file, "snapshots", snapshots as u64)?;
        let group = ctx.h5(file.create_group("state"))?;
        ctx.write_scalar(&group, "step", step)?;
        let population = match state {
            StateRef::Particles(s) => {
                if let Some(previous) = &s.previous {
                    write_coefficients(&ctx, &group, previous, s.population.neurons)?;
                }
                &s.population
            }
            StateRef::Sgd(s) => {
                let views = s.noise.len() / s.population.len().max(1);
                ctx.write_array(&group, "noise", &s.noise, &[s.population.len(), views])?;
                // A plain xoshiro256++ stream, whatever the chunks' generator.
                ctx.write_array(&group, "samples", &words_of(&s.samples), &[4])?;
                &s.population
            }
        };
        write_population(&ctx, &group, population)?;
        // HDF5 writes its caches out when the file's last open handle closes, and a failure
        // there (a full disk) reaches us only if that handle is the file's own `close`: with
        // the group still open, a checkpoint missing its metadata would be renamed into place.
        drop(group);
        TrajectoryDatasets::create(&ctx, &file, population.features, header.neurons)?
            .append(&ctx, trajectory, 0)?;
        ctx.h5(file.close())
    })?;
    Ok((temporary, path))
}

/// The step at which the checkpoint of the run file `run` was taken, read without its
/// state: whether a run's last checkpoint is in place costs no more than this.
pub fn checkpoint_step(run: &Path) -> Result<u64> {
    checkpoint_step_of(&checkpoint_path(run))
}

/// Opens the checkpoint `path` and checks its kind and format version; returns it with its
/// header, format version and layout.
fn open_checkpoint(path: &Path) -> Result<(Ctx, hdf5::File, Header, u32, Layout)> {
    let ctx = Ctx::new(path);
    expect_kind(path, FileKind::Checkpoint)?;
    let file = ctx.open()?;
    let (header, version, layout) = Header::read(&ctx, &file, CHECKPOINT_FORMAT)?;
    Ok((ctx, file, header, version, layout))
}

/// Reads the checkpoint of the run file `run`, with the snapshots it counts, refusing files
/// of another kind or format version, and streams that are not of the header's generator.
/// Anything damaged or missing is an error: [`recover_checkpoint`] makes do where it can.
pub fn load_checkpoint(run: &Path) -> Result<Checkpoint> {
    let (mut checkpoint, count) = read_checkpoint_file(&checkpoint_path(run))?;
    for index in 0..count {
        let snapshot = read_own_snapshot_file(run, index, &checkpoint.header)?;
        checkpoint.snapshots.push(snapshot);
    }
    Ok(checkpoint)
}

/// A checkpoint to resume from, and what was damaged or missing on the way to it.
#[derive(Debug)]
pub struct Recovered {
    /// The checkpoint, its snapshots complete.
    pub checkpoint: Checkpoint,
    /// One line for each file that could not be used and what stands in for it, for a
    /// person ("runs/p.checkpoint.h5 is damaged: checksum mismatch in state/x; resuming
    /// from the previous checkpoint ..."); empty when all was intact.
    pub notes: Vec<String>,
}

/// The checkpoint that the run file `run` resumes from, as [`load_checkpoint`] reads it,
/// making do without a damaged or missing file where another holds the same: a snapshot
/// file by the run file's copy of its snapshot, and the latest checkpoint by the previous
/// one ([`previous_checkpoint_path`]), which a resume then recomputes from. Only damage
/// (a file that HDF5 cannot read, a checksum that does not match, inconsistent content)
/// and missing files are made do without; a checkpoint of another format version, kind or
/// generator is refused as [`load_checkpoint`] refuses it. When nothing can stand in, the
/// latest checkpoint's error.
pub fn recover_checkpoint(run: &Path) -> Result<Recovered> {
    let latest = checkpoint_path(run);
    // Another run's checkpoint is no damage to fall back from: it would be replaced.
    if let (Ok(ours), Ok((_, _, theirs, ..))) = (read_header(run), open_checkpoint(&latest))
        && !ours.run_id.is_empty()
        && !theirs.run_id.is_empty()
        && ours.run_id != theirs.run_id
    {
        return Err(FileError::OtherRun {
            checkpoint: latest,
            run: run.to_path_buf(),
        });
    }
    let mut notes = Vec::new();
    let error = match recover_from(run, &latest, &mut notes) {
        Ok(checkpoint) => return Ok(Recovered { checkpoint, notes }),
        Err(error) if is_damage(&error) => error,
        Err(error) => return Err(error),
    };
    let previous = previous_checkpoint_path(run);
    let mut previous_notes = Vec::new();
    let Ok(checkpoint) = recover_from(run, &previous, &mut previous_notes) else {
        return Err(error);
    };
    // Of this run, as far as the run file says: not a checkpoint that an earlier run left.
    let other_run = read_header(run)
        .is_ok_and(|header| !header.run_id.is_empty() && header.run_id != checkpoint.header.run_id);
    if other_run {
        return Err(error);
    }
    let time = |step| time_of(&checkpoint.header, step);
    let back = match checkpoint_step_of(&latest) {
        Ok(latest) if latest > checkpoint.step() => {
            format!(", {} before", time(latest - checkpoint.step()))
        }
        _ => String::new(),
    };
    let mut notes = vec![format!(
        "{}; resuming from the previous checkpoint {} at t = {}{back}",
        unusable(&error),
        previous.display(),
        time(checkpoint.step())
    )];
    notes.append(&mut previous_notes);
    Ok(Recovered { checkpoint, notes })
}

/// The checkpoint `path` of the run file `run` with its snapshots, each from its file, or
/// where that is damaged or missing from the run file's copy (saying so in `notes`).
fn recover_from(run: &Path, path: &Path, notes: &mut Vec<String>) -> Result<Checkpoint> {
    let (mut checkpoint, count) = read_checkpoint_file(path)?;
    for index in 0..count {
        let snapshot = match read_own_snapshot_file(run, index, &checkpoint.header) {
            Ok(snapshot) => snapshot,
            Err(error) if is_damage(&error) => {
                let copy = read_run_snapshot(run, index, &checkpoint.header).map_err(|copy| {
                    let what = format!(
                        "snapshot {index} can be read neither from its file ({error}) nor from \
                         the run file ({copy})"
                    );
                    Ctx::new(path).damaged(what)
                })?;
                notes.push(format!(
                    "{}; rebuilding it from the run file's copy of snapshot {index}",
                    unusable(&error)
                ));
                copy
            }
            Err(error) => return Err(error),
        };
        checkpoint.snapshots.push(snapshot);
    }
    Ok(checkpoint)
}

/// Whether `error` says that a file is damaged or missing, rather than of another kind,
/// format or program: what [`recover_checkpoint`] makes do without.
fn is_damage(error: &FileError) -> bool {
    match error {
        FileError::Damaged { .. } | FileError::Hdf5 { .. } => true,
        FileError::Io { error, .. } => error.kind() == std::io::ErrorKind::NotFound,
        _ => false,
    }
}

/// Why a file could not be used, for a person: "PATH is missing", or the error.
fn unusable(error: &FileError) -> String {
    match error {
        FileError::Io { path, error } if error.kind() == std::io::ErrorKind::NotFound => {
            format!("{} is missing", path.display())
        }
        error => error.to_string(),
    }
}

/// The step of the checkpoint `path`, read without its state.
fn checkpoint_step_of(path: &Path) -> Result<u64> {
    let (ctx, file, ..) = open_checkpoint(path)?;
    let group = ctx.h5(file.group("state"))?;
    ctx.read_scalar(&group, "step")
}

/// Model time after `steps` steps of the run of `header`, for a person: a particle step is
/// `run.dt`, an SGD step `1/run.dimension` (MODEL.md §1), rounded to 9 digits; a config that
/// does not parse gives the steps instead.
fn time_of(header: &Header, steps: u64) -> String {
    let Ok(config) = mfcl_model::Config::parse(&header.config) else {
        return format!("{steps} steps");
    };
    let run = &config.run;
    let step = match run.solver {
        mfcl_model::SolverKind::Particles => run.dt,
        mfcl_model::SolverKind::Sgd => 1.0 / run.dimension as f64,
    };
    let t = steps as f64 * step;
    format!("{}", (t * 1e9).round() / 1e9)
}

/// The checkpoint `path` without its snapshots, and the number of snapshots it counts.
fn read_checkpoint_file(path: &Path) -> Result<(Checkpoint, usize)> {
    let (ctx, file, header, version, layout) = open_checkpoint(path)?;
    let group = ctx.h5(file.group("state"))?;
    let step: u64 = ctx.read_scalar(&group, "step")?;
    let population = read_population(&ctx, &group, layout, header.neurons, header.generator)?;
    let state = match header.solver.as_str() {
        "particles" => {
            let previous = group
                .link_exists("previous")
                .then(|| read_coefficients(&ctx, &group, layout, &population))
                .transpose()?;
            SolverState::Particles(ParticleState {
                step,
                population,
                previous,
            })
        }
        "sgd" => {
            let (noise, _) = ctx.read_array::<f64>(&group, "noise")?;
            let (samples, _) = ctx.read_array::<u64>(&group, "samples")?;
            let samples = from_words(&samples)
                .ok_or_else(|| ctx.damaged("state/samples is not a stream state"))?;
            SolverState::Sgd(SgdState {
                step,
                population,
                noise,
                samples,
            })
        }
        other => return Err(ctx.damaged(format!("unknown solver {other:?}"))),
    };
    let trajectory = TrajectoryDatasets::open(&ctx, &file)?.read(&ctx, layout, header.neurons)?;
    let count: u64 = ctx.read_scalar(&file, "snapshots")?;
    let count =
        usize::try_from(count).map_err(|_| ctx.damaged(format!("it counts {count} snapshots")))?;
    let checkpoint = Checkpoint {
        header,
        format_version: version,
        state,
        trajectory,
        snapshots: Vec::new(),
    };
    Ok((checkpoint, count))
}

/// `state/previous`: the group of `drive` (p, K), `self_term` (K, K) and `noise` (K, K).
fn write_coefficients(
    ctx: &Ctx,
    group: &Group,
    coefficients: &Coefficients,
    neurons: usize,
) -> Result<()> {
    let previous = ctx.h5(group.create_group("previous"))?;
    let (p, k) = (coefficients.drive.len() / neurons, neurons);
    ctx.write_array(&previous, "drive", &coefficients.drive, &[p, k])?;
    ctx.write_array(&previous, "self_term", &coefficients.self_term, &[k, k])?;
    ctx.write_array(&previous, "noise", &coefficients.noise, &[k, k])
}

/// `state/previous` of a checkpoint in `layout` for `population`. Format 1 stored the one
/// vector `[g_1..g_p, g_0, v]`.
fn read_coefficients(
    ctx: &Ctx,
    group: &Group,
    layout: Layout,
    population: &Population,
) -> Result<Coefficients> {
    let (p, k) = (population.features, population.neurons);
    let wrong = |what: &str| ctx.damaged(format!("state/previous{what} has the wrong shape"));
    match layout {
        Layout::SingleNeuron => {
            let (values, _) = ctx.read_array::<f64>(group, "previous")?;
            if values.len() != p + 2 {
                return Err(wrong(""));
            }
            Ok(Coefficients {
                drive: values[..p].to_vec(),
                self_term: vec![values[p]],
                noise: vec![values[p + 1]],
            })
        }
        Layout::Layer => {
            let previous = ctx.h5(group.group("previous"))?;
            let matrix = |name: &str, shape: [usize; 2]| {
                let (values, found) = ctx.read_array::<f64>(&previous, name)?;
                if found != shape {
                    return Err(wrong(&format!("/{name}")));
                }
                Ok(values)
            };
            Ok(Coefficients {
                drive: matrix("drive", [p, k])?,
                self_term: matrix("self_term", [k, k])?,
                noise: matrix("noise", [k, k])?,
            })
        }
    }
}

/// `state/x` (N, K), `state/xi` (N, p) and `state/streams` (chunks, words), each chunk's
/// stream in the [`Generator::state_words`] words of the population's generator.
fn write_population(ctx: &Ctx, group: &Group, population: &Population) -> Result<()> {
    let (n, p, k) = (population.len(), population.features, population.neurons);
    ctx.write_array(group, "x", &population.x, &[n, k])?;
    ctx.write_array(group, "xi", &population.labels.values(p), &[n, p])?;
    let words: Vec<u64> = population
        .streams
        .iter()
        .flat_map(ChunkStream::words)
        .collect();
    let shape = [population.streams.len(), population.generator.state_words()];
    ctx.write_array(group, "streams", &words, &shape)
}

/// The population of a checkpoint in `layout` of a run of `neurons` neurons drawing with
/// `generator` (format 1 stored `x` as (N)).
fn read_population(
    ctx: &Ctx,
    group: &Group,
    layout: Layout,
    neurons: usize,
    generator: Generator,
) -> Result<Population> {
    let (x, x_shape) = ctx.read_array::<f64>(group, "x")?;
    let (xi, xi_shape) = ctx.read_array::<f32>(group, "xi")?;
    let (words, words_shape) = ctx.read_array::<u64>(group, "streams")?;
    let (n, features) = match xi_shape[..] {
        [n, features] => (n, features),
        _ => (0, 0),
    };
    let x_shape_expected = match layout {
        Layout::SingleNeuron => vec![n],
        Layout::Layer => vec![n, neurons],
    };
    if features == 0 || x_shape != x_shape_expected {
        return Err(ctx.damaged("state/x and state/xi disagree in size"));
    }
    let streams_shape = [n.div_ceil(mfcl_solver::CHUNK), generator.state_words()];
    if words_shape != streams_shape {
        return Err(ctx.damaged(format!(
            "state/streams has the shape {words_shape:?}, but {n} coordinates drawing with \
             {generator} need {streams_shape:?}"
        )));
    }
    let streams = words
        .chunks(streams_shape[1])
        .enumerate()
        .map(|(chunk, words)| {
            ChunkStream::from_words(generator, words).ok_or_else(|| {
                ctx.damaged(format!(
                    "state/streams: chunk {chunk} holds no state of {generator} (an all-zero \
                     xoshiro256++ state)"
                ))
            })
        })
        .collect::<Result<_>>()?;
    Ok(Population {
        features,
        neurons,
        x,
        labels: Labels::compact(xi, features),
        generator,
        streams,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::temporary;
    use rand::Rng;

    #[test]
    fn snapshot_names_are_recognised_by_form() {
        let run = Path::new("runs/qs.h5");
        for index in [0, 7, 123_456, 1_234_567] {
            let file = snapshot_file(run, index);
            let name = file.file_name().unwrap().to_str().unwrap();
            assert_eq!(snapshot_index(name), Some((index, SnapshotName::File)));
            let temporary = temporary(&file, "new");
            let name = temporary.file_name().unwrap().to_str().unwrap();
            assert_eq!(snapshot_index(name), Some((index, SnapshotName::Temporary)));
        }
        for other in [
            "notes.txt",
            "1.h5",
            "00000a.h5",
            "000001.h5.tmp",
            "000001.png",
            ".h5",
        ] {
            assert_eq!(snapshot_index(other), None, "{other}");
        }
    }

    #[test]
    fn a_checkpoint_names_its_run_file() {
        let run = Path::new("runs/qs.h5");
        assert_eq!(
            run_of_checkpoint(&checkpoint_path(run)).as_deref(),
            Some(run)
        );
        assert_eq!(run_of_checkpoint(Path::new("runs/qs.h5")), None);
    }

    /// Checkpoints store streams as words: the state read back draws what the original does.
    #[test]
    fn stream_states_round_trip() {
        let mut original = mfcl_solver::stream(42, 7);
        original.next_u64();
        let mut restored = from_words(&words_of(&original)).unwrap();
        assert_eq!(restored, original);
        assert_eq!(restored.next_u64(), original.next_u64());
        for generator in Generator::ALL {
            let mut original = generator.chunk_stream(42, 7);
            let mut drawn = [0.0; 5];
            original.fill(&mut drawn);
            let words = original.words();
            assert_eq!(words.len(), generator.state_words());
            let mut restored = ChunkStream::from_words(generator, &words).unwrap();
            assert_eq!(restored, original);
            let (mut a, mut b) = ([0.0; 37], [0.0; 37]);
            original.fill(&mut a);
            restored.fill(&mut b);
            assert_eq!(a.map(f64::to_bits), b.map(f64::to_bits), "{generator}");
        }
    }
}
