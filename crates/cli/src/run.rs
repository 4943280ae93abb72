//! `mfcl run`: the particle system or SGD from a config, with a progress bar, a summary and
//! a comparison with the reduced ODE where one exists.

use std::io::IsTerminal;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use anyhow::Context;
use mfcl_comparator::{ComparatorError, Deviation, ReducedOde, Tolerance};
use mfcl_model::{Config, SolverKind, Trajectory};
use mfcl_solver::{
    Interrupted, Observer, ParticleSystem, Schedule, Sgd, Silent, SolverError, Stepper, drive,
};

use crate::progress::Progress;
use crate::{Failure, RunArgs, commands, output};

/// What a run produced, whether it reached `t_end` or not.
pub struct RunReport {
    /// The samples recorded, up to `t_end` or up to the failure.
    pub trajectory: Trajectory,
    /// Why the run stopped early, if it did.
    pub error: Option<SolverError>,
    /// Particles or coordinates updated per step.
    pub size: usize,
    /// Steps taken.
    pub steps: u64,
    /// Wall time of building the initial state and stepping (not of the ODE comparison).
    pub wall: Duration,
    /// The largest deviations from the reduced ODE over the recorded samples, or why there
    /// is no ODE to compare with.
    pub ode: Result<Deviation, ComparatorError>,
}

impl RunReport {
    /// Particle-steps (or coordinate-steps) per second of wall time.
    pub fn throughput(&self) -> f64 {
        self.size as f64 * self.steps as f64 / self.wall.as_secs_f64()
    }
}

/// `mfcl run [CONFIG]`.
pub fn run(args: &RunArgs) -> Result<(), Failure> {
    let config = commands::load(args.config.as_deref(), &args.options.sets)?;
    if let Some(out) = &args.out {
        eprintln!(
            "warning: run files are not written yet; --out {} is ignored",
            out.display()
        );
    }
    // The bar is for a person watching: not for a redirected stderr, and not with --json,
    // whose reader is a program.
    let show_progress = !args.options.json && std::io::stderr().is_terminal();
    let work = || simulate(&config, show_progress);
    let report = match args.threads {
        Some(threads) => thread_pool(threads)?.install(work),
        None => work(),
    };
    if args.options.json {
        output::print_json(&output::run_json(&report));
    } else if report.error.is_some() {
        // A summary of a run cut short would mislead; what was recorded is the useful part.
        output::print_trajectory(&report.trajectory);
    } else {
        output::print_run_summary(&config, &report);
    }
    match report.error {
        Some(error) => Err(Failure::failed(error)),
        None => Ok(()),
    }
}

/// A pool of exactly `threads` workers. Results do not depend on their number (DESIGN.md
/// "Determinism"), only the speed does.
fn thread_pool(threads: NonZeroUsize) -> Result<rayon::ThreadPool, Failure> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.get())
        .build()
        .with_context(|| format!("cannot start {threads} threads"))
        .map_err(Failure::failed)
}

/// Builds the configured stepper and runs it to `run.t_end`, on the current rayon pool.
fn simulate(config: &Config, show_progress: bool) -> RunReport {
    let (problem, init, run) = (&config.problem, &config.init, &config.run);
    // The clock starts before construction: drawing labels and the initial state is part
    // of what a run costs.
    let started = Instant::now();
    match run.solver {
        SolverKind::Particles => {
            let mut stepper = ParticleSystem::new(problem, init, run.particles, run.dt, run.seed);
            run_stepper(&mut stepper, run.dt, config, show_progress, started)
        }
        SolverKind::Sgd => {
            let mut stepper = Sgd::new(problem, init, run.dimension, run.seed);
            // One SGD step is 1/n of model time (MODEL.md §1).
            let dt = 1.0 / run.dimension as f64;
            run_stepper(&mut stepper, dt, config, show_progress, started)
        }
    }
}

/// Drives `stepper` (time step `dt`) with the optional progress bar, then compares what it
/// recorded with the ODE.
fn run_stepper<S: Stepper>(
    stepper: &mut S,
    dt: f64,
    config: &Config,
    show_progress: bool,
    started: Instant,
) -> RunReport {
    let run = &config.run;
    let schedule = Schedule::new(run.t_end, dt, run.record_every);
    let mut progress = show_progress
        .then(|| Progress::start(&schedule, dt, run.t_end, stepper.size(), run.solver));
    let observer: &mut dyn Observer = match &mut progress {
        Some(bar) => bar,
        None => &mut Silent,
    };
    let (trajectory, error) = match drive(stepper, &schedule, observer) {
        Ok(trajectory) => (trajectory, None),
        Err(Interrupted { error, trajectory }) => (trajectory, Some(error)),
    };
    let wall = started.elapsed();
    if let Some(bar) = progress {
        bar.finish();
    }
    RunReport {
        ode: compare_with_ode(config, &trajectory),
        trajectory,
        error,
        size: stepper.size(),
        steps: stepper.steps_taken(),
        wall,
    }
}

/// The run against the reduced ODE integrated onto the run's own time grid.
fn compare_with_ode(config: &Config, run: &Trajectory) -> Result<Deviation, ComparatorError> {
    let ode = ReducedOde::new(&config.problem)?.integrate_at(
        &config.init,
        &run.t,
        Tolerance::default(),
    )?;
    // A fresh stepper always records t = 0, and the ODE lands on every time it is given.
    Ok(mfcl_comparator::deviation(run, &ode).expect("the ODE is sampled on the run's grid"))
}
