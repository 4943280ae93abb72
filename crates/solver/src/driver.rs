//! The loop around a stepper: recording, observers, divergence checks.
//!
//! Steppers know nothing of files, progress bars or logs; those attach here as observers
//! whose methods default to doing nothing.

use mfcl_model::{OrderParameters, Trajectory};

use crate::SolverError;

/// Beyond this squared norm a run is declared divergent.
pub const NORM2_BOUND: f64 = 1e8;

/// One time step over a plain state.
pub trait Stepper {
    /// Advances by one step.
    fn step(&mut self) -> Result<(), SolverError>;
    /// Steps taken since `t = 0`.
    fn steps_taken(&self) -> u64;
    /// Model time of the current state.
    fn time(&self) -> f64 {
        self.time_of(self.steps_taken())
    }
    /// Model time of step `k`.
    fn time_of(&self, k: u64) -> f64;
    /// `(Q, R)` of the current state.
    fn order_parameters(&self) -> &OrderParameters;
    /// Particles or coordinates updated per step (for throughput figures).
    fn size(&self) -> usize;
}

/// Why an observer stopped the run: a failed write, or a request to stop (Ctrl-C).
pub type ObserverError = Box<dyn std::error::Error + Send + Sync>;

/// Hooks called by [`drive`] with the stepper they observe. Every method does nothing by
/// default; an error stops the run.
pub trait Observer<S: ?Sized> {
    /// A sample was recorded: it is the last row of `trajectory`.
    fn on_record(&mut self, _stepper: &S, _trajectory: &Trajectory) -> Result<(), ObserverError> {
        Ok(())
    }

    /// A step was completed (and recorded, if it was a recording step); also called once
    /// before the first step of a fresh run.
    fn after_step(&mut self, _stepper: &S, _trajectory: &Trajectory) -> Result<(), ObserverError> {
        Ok(())
    }
}

/// The observer that observes nothing.
pub struct Silent;
impl<S: ?Sized> Observer<S> for Silent {}

/// Two observers, called in order.
impl<S: ?Sized, A: Observer<S>, B: Observer<S>> Observer<S> for (A, B) {
    fn on_record(&mut self, stepper: &S, trajectory: &Trajectory) -> Result<(), ObserverError> {
        self.0.on_record(stepper, trajectory)?;
        self.1.on_record(stepper, trajectory)
    }

    fn after_step(&mut self, stepper: &S, trajectory: &Trajectory) -> Result<(), ObserverError> {
        self.0.after_step(stepper, trajectory)?;
        self.1.after_step(stepper, trajectory)
    }
}

/// When to stop and when to record, in steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// The run ends after this many steps from `t = 0`.
    pub total_steps: u64,
    /// A sample is recorded every this many steps (and at the last step).
    pub record_every: u64,
}

impl Schedule {
    /// `round(t_end / dt)` steps, recording every `round(record_every / dt)` (at least 1).
    pub fn new(t_end: f64, dt: f64, record_every: f64) -> Schedule {
        Schedule {
            total_steps: (t_end / dt).round().max(1.0) as u64,
            record_every: (record_every / dt).round().max(1.0) as u64,
        }
    }
}

/// A run that stopped early, with what it had recorded.
#[derive(Debug)]
pub struct Interrupted {
    /// Why it stopped.
    pub error: SolverError,
    /// Samples recorded before it stopped.
    pub trajectory: Trajectory,
}

/// Steps a fresh or resumed `stepper` to the end of `schedule`; see [`drive_from`].
pub fn drive<S: Stepper>(
    stepper: &mut S,
    schedule: &Schedule,
    observer: &mut dyn Observer<S>,
) -> Result<Trajectory, Interrupted> {
    drive_from(stepper, schedule, Trajectory::default(), observer)
}

/// Steps `stepper` to the end of `schedule`, continuing `recorded` (the samples of a resumed
/// run, empty for a fresh one). Records at step 0 of a fresh run, every `record_every`
/// steps and at the last step, calling the observer's hooks; returns every sample.
pub fn drive_from<S: Stepper>(
    stepper: &mut S,
    schedule: &Schedule,
    recorded: Trajectory,
    observer: &mut dyn Observer<S>,
) -> Result<Trajectory, Interrupted> {
    let mut trajectory = recorded;
    let outcome = (|| {
        if stepper.steps_taken() == 0 {
            record(stepper, &mut trajectory, observer)?;
            observer
                .after_step(stepper, &trajectory)
                .map_err(|e| stopped(stepper, e))?;
        }
        while stepper.steps_taken() < schedule.total_steps {
            stepper.step()?;
            check(stepper)?;
            let k = stepper.steps_taken();
            if k.is_multiple_of(schedule.record_every) || k == schedule.total_steps {
                record(stepper, &mut trajectory, observer)?;
            }
            observer
                .after_step(stepper, &trajectory)
                .map_err(|e| stopped(stepper, e))?;
        }
        Ok(())
    })();
    match outcome {
        Ok(()) => Ok(trajectory),
        Err(error) => Err(Interrupted { error, trajectory }),
    }
}

fn record<S: Stepper>(
    stepper: &S,
    trajectory: &mut Trajectory,
    observer: &mut dyn Observer<S>,
) -> Result<(), SolverError> {
    let order = stepper.order_parameters();
    trajectory.push(stepper.time(), order);
    observer
        .on_record(stepper, trajectory)
        .map_err(|e| stopped(stepper, e))
}

fn stopped<S: Stepper>(stepper: &S, error: ObserverError) -> SolverError {
    SolverError::Stopped {
        t: stepper.time(),
        reason: error.to_string(),
    }
}

fn check<S: Stepper>(stepper: &S) -> Result<(), SolverError> {
    let order = stepper.order_parameters();
    let finite = order
        .norm2
        .iter()
        .chain(&order.overlaps)
        .all(|v| v.is_finite());
    // The largest squared norm of a neuron: R_kk bounds every |R_kl| (Cauchy–Schwarz).
    let k = order.neurons;
    let largest = (0..k)
        .map(|a| order.norm2[a * k + a])
        .fold(f64::NEG_INFINITY, f64::max);
    if !finite || largest > NORM2_BOUND {
        return Err(SolverError::Diverged {
            t: stepper.time(),
            reason: if finite {
                format!("R = {largest:.3e} exceeds {NORM2_BOUND:e}")
            } else {
                "non-finite overlaps or norm".into()
            },
        });
    }
    Ok(())
}
