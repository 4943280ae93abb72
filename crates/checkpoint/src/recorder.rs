//! The observer that writes a run: trajectory rows and snapshots into the run file as they
//! come, and checkpoints on their cadence and at the end.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mfcl_model::{FeatureLaw, Trajectory};
use mfcl_solver::{Observer, ObserverError, ParticleSystem, Population, Sgd, Snapshot, Stepper};

use crate::checkpoint::{
    StateRef, checkpoint_path, previous_checkpoint_path, write_checkpoint_file, write_snapshot_file,
};
use crate::durable::Durable;
use crate::layout::Header;
use crate::run_file::RunFile;
use crate::{FileError, Result};

/// A stepper whose state the checkpoint crate knows how to store.
pub trait Persist: Stepper {
    /// The state a checkpoint holds.
    fn state_ref(&self) -> StateRef<'_>;
    /// The coordinates a snapshot shows.
    fn population(&self) -> &Population;
}

impl Persist for ParticleSystem {
    fn state_ref(&self) -> StateRef<'_> {
        StateRef::Particles(self.state())
    }

    fn population(&self) -> &Population {
        &self.state().population
    }
}

impl Persist for Sgd {
    fn state_ref(&self) -> StateRef<'_> {
        StateRef::Sgd(self.state())
    }

    fn population(&self) -> &Population {
        &self.state().population
    }
}

/// When to take snapshots and checkpoints, in steps (and optionally wall-clock time).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cadence {
    /// A snapshot every this many steps.
    pub snapshot_every: u64,
    /// A checkpoint every this many steps.
    pub checkpoint_every: u64,
    /// And a checkpoint whenever this much wall time has passed since the last one.
    pub checkpoint_every_secs: Option<Duration>,
    /// The last step of the run, which is always checkpointed.
    pub total_steps: u64,
}

impl Cadence {
    /// From model-time intervals and the step size `dt` (each at least one step).
    pub fn new(
        snapshot_every: f64,
        checkpoint_every: f64,
        checkpoint_every_secs: Option<f64>,
        dt: f64,
        total_steps: u64,
    ) -> Cadence {
        let steps = |every: f64| (every / dt).round().max(1.0) as u64;
        Cadence {
            snapshot_every: steps(snapshot_every),
            checkpoint_every: steps(checkpoint_every),
            checkpoint_every_secs: checkpoint_every_secs.map(Duration::from_secs_f64),
            total_steps,
        }
    }
}

/// Writes the run file, the snapshot files and the checkpoints of one run.
pub struct Recorder {
    header: Header,
    law: FeatureLaw,
    run_file: RunFile,
    path: PathBuf,
    cadence: Cadence,
    /// Snapshots taken so far (a resumed run counts those before its checkpoint).
    snapshots: usize,
    durable: Durable,
    last_checkpoint: Instant,
    /// The step of the last checkpoint written: a second one at the same step (Ctrl-C right
    /// after a scheduled one) would push the previous checkpoint out for a copy of it.
    last_checkpoint_step: Option<u64>,
    /// Time spent writing on the driving thread, for the I/O budget.
    io_time: Duration,
    /// The write that stopped the run, for [`Recorder::take_failure`].
    failure: Option<FileError>,
}

impl Recorder {
    /// Creates the run file at `path` holding what a resumed run already has (nothing for a
    /// fresh run), through [`RunFile::create`]: it refuses to replace files that are not
    /// mfcl's ([`claim_run`](crate::claim_run)) and removes what a previous run there left.
    /// A header read from a file of formats 1 to 3 gets a run id here, which the run file,
    /// the checkpoints and the snapshot files record from now on.
    pub fn start(
        path: &Path,
        header: Header,
        features: usize,
        law: FeatureLaw,
        cadence: Cadence,
        trajectory: &Trajectory,
        snapshots: &[Snapshot],
    ) -> Result<Recorder> {
        let started = Instant::now();
        let header = header.identified();
        let run_file = RunFile::create(path, &header, features, trajectory, snapshots)?;
        Ok(Recorder {
            header,
            law,
            run_file,
            path: path.to_path_buf(),
            cadence,
            snapshots: snapshots.len(),
            durable: Durable::start(),
            last_checkpoint: Instant::now(),
            last_checkpoint_step: None,
            io_time: started.elapsed(),
            failure: None,
        })
    }

    /// Writes a checkpoint of `stepper` now; it replaces the latest one once it is on disk
    /// (see [`Recorder::finish`]), which becomes the previous one. Waits while the one
    /// before is still being made durable. A checkpoint at the step of the latest one is
    /// that one, and is not written again.
    pub fn checkpoint<S: Persist>(&mut self, stepper: &S, trajectory: &Trajectory) -> Result<()> {
        let step = stepper.steps_taken();
        if self.last_checkpoint_step == Some(step) {
            return Ok(());
        }
        let started = Instant::now();
        let (temporary, path) = write_checkpoint_file(
            &self.path,
            &self.header,
            stepper.state_ref(),
            trajectory,
            self.snapshots,
        )?;
        let previous = previous_checkpoint_path(&self.path);
        self.durable.replace_keeping(temporary, path, previous)?;
        self.last_checkpoint = Instant::now();
        self.last_checkpoint_step = Some(step);
        self.io_time += started.elapsed();
        Ok(())
    }

    /// Waits until every checkpoint and snapshot file written so far is on disk.
    pub fn finish(&mut self) -> Result<()> {
        let started = Instant::now();
        let outcome = self.durable.finish();
        self.io_time += started.elapsed();
        outcome
    }

    /// Marks the run file as diverged, with the reason (see [`RunFile::record_divergence`]).
    pub fn record_divergence(&mut self, reason: &str) -> Result<()> {
        self.run_file.record_divergence(reason)
    }

    /// Wall time spent writing on the driving thread so far.
    pub fn io_time(&self) -> Duration {
        self.io_time
    }

    /// The write that failed and stopped the run, if one did. The driver sees only its
    /// message; this is the error itself, to report it as a file error, not as the run's.
    pub fn take_failure(&mut self) -> Option<FileError> {
        self.failure.take()
    }

    /// Keeps `error` for [`Recorder::take_failure`] and stops the run with its message.
    fn stop(&mut self, error: FileError) -> ObserverError {
        let message = error.to_string();
        self.failure = Some(error);
        message.into()
    }

    /// Where the checkpoints go.
    pub fn checkpoint_path(&self) -> PathBuf {
        checkpoint_path(&self.path)
    }

    fn snapshot(&mut self, population: &Population, step: u64, t: f64) -> Result<()> {
        let snapshot = population.snapshot(self.law, step, t);
        self.run_file.add_snapshot(&snapshot)?;
        let (temporary, path) =
            write_snapshot_file(&self.path, &self.header.run_id, self.snapshots, &snapshot)?;
        self.durable.replace(temporary, path)?;
        self.snapshots += 1;
        Ok(())
    }
}

impl<S: Persist> Observer<S> for Recorder {
    fn on_record(
        &mut self,
        _stepper: &S,
        trajectory: &Trajectory,
    ) -> std::result::Result<(), ObserverError> {
        let started = Instant::now();
        self.run_file
            .append(trajectory)
            .map_err(|error| self.stop(error))?;
        self.io_time += started.elapsed();
        Ok(())
    }

    fn after_step(
        &mut self,
        stepper: &S,
        trajectory: &Trajectory,
    ) -> std::result::Result<(), ObserverError> {
        let step = stepper.steps_taken();
        if step.is_multiple_of(self.cadence.snapshot_every) {
            let started = Instant::now();
            self.snapshot(stepper.population(), step, stepper.time())
                .map_err(|error| self.stop(error))?;
            self.io_time += started.elapsed();
        }
        let due_by_wall = self
            .cadence
            .checkpoint_every_secs
            .is_some_and(|every| self.last_checkpoint.elapsed() >= every);
        // None at step 0: `mfcl resume` starts a run without a checkpoint over from its config.
        if step > 0 && step.is_multiple_of(self.cadence.checkpoint_every)
            || step == self.cadence.total_steps
            || due_by_wall
        {
            self.checkpoint(stepper, trajectory)
                .map_err(|error| self.stop(error))?;
        }
        Ok(())
    }
}
