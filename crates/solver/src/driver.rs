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
    fn time(&self) -> f64;
    /// Model time of step `k`.
    fn time_of(&self, k: u64) -> f64;
    /// `(Q, R)` of the current state.
    fn order_parameters(&self) -> &OrderParameters;
    /// Particles or coordinates updated per step (for throughput figures).
    fn size(&self) -> usize;
}

/// Hooks called by [`drive`]. Every method does nothing by default.
pub trait Observer {
    /// A trajectory sample was recorded.
    fn on_record(&mut self, _t: f64, _order: &OrderParameters) {}
}

/// The observer that observes nothing.
pub struct Silent;
impl Observer for Silent {}

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

/// Steps `stepper` to the end of `schedule`, recording into a trajectory (and telling the
/// observer) at step 0 if the stepper is fresh, every `record_every` steps, and at the end.
pub fn drive<S: Stepper>(
    stepper: &mut S,
    schedule: &Schedule,
    observer: &mut dyn Observer,
) -> Result<Trajectory, Interrupted> {
    let mut trajectory = Trajectory::default();
    let mut record = |stepper: &S, trajectory: &mut Trajectory| {
        let order = stepper.order_parameters();
        trajectory.push(stepper.time(), &order.overlaps, order.norm2);
        observer.on_record(stepper.time(), order);
    };
    if stepper.steps_taken() == 0 {
        record(stepper, &mut trajectory);
    }
    while stepper.steps_taken() < schedule.total_steps {
        let outcome = stepper.step().and_then(|()| check(stepper));
        if let Err(error) = outcome {
            return Err(Interrupted { error, trajectory });
        }
        let k = stepper.steps_taken();
        if k.is_multiple_of(schedule.record_every) || k == schedule.total_steps {
            record(stepper, &mut trajectory);
        }
    }
    Ok(trajectory)
}

fn check<S: Stepper>(stepper: &S) -> Result<(), SolverError> {
    let order = stepper.order_parameters();
    let finite = order.norm2.is_finite() && order.overlaps.iter().all(|q| q.is_finite());
    if !finite || order.norm2 > NORM2_BOUND {
        return Err(SolverError::Diverged {
            t: stepper.time(),
            reason: if finite {
                format!("R = {:e} exceeds {NORM2_BOUND:e}", order.norm2)
            } else {
                "non-finite overlaps or norm".into()
            },
        });
    }
    Ok(())
}
