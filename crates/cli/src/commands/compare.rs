//! `mfcl compare RUN.h5`: a run against the reduced ODE integrated onto the run's own
//! time grid, with a tolerance that follows the run's statistical error.

use clap::Args;
use std::path::PathBuf;

use anyhow::anyhow;
use mfcl_comparator::ComparatorError;
use mfcl_model::{RunSettings, SolverKind};
use serde_json::json;

use crate::failure::Failure;
use crate::output;
use crate::run_file::{Run, read_run_file, reference_ode, size};

/// Arguments of `mfcl compare`.
#[derive(Args)]
pub struct CompareArgs {
    /// The run file.
    run: PathBuf,
    /// Largest allowed `max_t |m_j - m_j^ODE|` for every feature. Default: it follows the
    /// run's statistical error, 5/sqrt(N) + 1e-4 (dt/0.01)^2 for N particles with step dt,
    /// 10/sqrt(n) for SGD in dimension n. Starts very near the uninformative state amplify
    /// fluctuations further and may need a larger tolerance.
    #[arg(long, value_name = "X")]
    tol: Option<f64>,
    /// Print one JSON document on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

/// `c` in the statistical part `c / √N` of the default tolerance for particles. A run's
/// deviation is a maximum over time of fluctuations of order `1/√N`, amplified while the
/// state escapes the unstable uninformative point. Measured worst cases (release build,
/// 6 to 26 seeds each): the quickstart `2.3/√N`, the quickstart with a negative sample
/// `3.0/√N`, `data/configs/two_features.toml` `3.5/√N`, the quickstart started at
/// `Q = 0.6` `0.4/√N`. Five passes them all with margin.
const PARTICLES_C: f64 = 5.0;

/// `c` in the default tolerance `c / √n` for SGD. SGD fluctuates about twice as much as
/// particles of the same size (its labels are not stratified, and each step's hidden
/// variables are shared by every coordinate): measured worst cases `4.3/√n` for the
/// quickstart at `n = 10⁴`, `6.5/√n` at `n = 10³`, `0.6/√n` started at `Q = 0.6`.
const SGD_C: f64 = 10.0;

/// The particle scheme's bias in the cosines at `dt = REFERENCE_DT`, stated generously. It
/// is second order in `dt` (MODEL.md §5): the quickstart with 10⁶ particles measures about
/// `3.5e-5 (dt/0.01)²` (3–4e-3 at dt = 0.1, 1.4e-2 at dt = 0.2), three times below this.
const BIAS_AT_REFERENCE_DT: f64 = 1e-4;

/// The step at which [`BIAS_AT_REFERENCE_DT`] is stated: the default `run.dt`.
const REFERENCE_DT: f64 = 0.01;

/// The default tolerance on `max_t |m_j − m_j^ODE|`: `5/√N + 1e-4 (dt/0.01)²` for `N`
/// particles with step `dt`, `10/√n` for SGD in dimension `n` (whose step `1/n` adds no
/// bias beyond the statistics).
fn default_tolerance(run: &RunSettings) -> f64 {
    let root_size = (size(run) as f64).sqrt();
    match run.solver {
        SolverKind::Particles => {
            PARTICLES_C / root_size + BIAS_AT_REFERENCE_DT * (run.dt / REFERENCE_DT).powi(2)
        }
        SolverKind::Sgd => SGD_C / root_size,
    }
}

/// `mfcl compare RUN.h5 [--tol X] [--json]`.
pub fn compare(args: &CompareArgs) -> Result<(), Failure> {
    let path = args.run.display();
    let Run { contents, config } = read_run_file(&args.run)?;
    let tolerance = match args.tol {
        Some(tol) if !(tol.is_finite() && tol >= 0.0) => {
            return Err(Failure::input(anyhow!(
                "--tol {tol}: the tolerance must be a finite number >= 0"
            )));
        }
        Some(tol) => tol,
        None => default_tolerance(&config.run),
    };
    let trajectory = &contents.trajectory;
    // The ODE starts from `init` at the first sample, which must be the run's own start,
    // and lands on each later time in turn.
    if trajectory.t.first() != Some(&0.0) {
        return Err(Failure::input(anyhow!(
            "{path}: the trajectory does not start at t = 0 (nothing recorded yet?)"
        )));
    }
    if !trajectory.t.windows(2).all(|pair| pair[0] < pair[1]) {
        return Err(Failure::input(anyhow!(
            "{path}: the trajectory's times do not increase: the file is damaged"
        )));
    }
    let ode = reference_ode(&config, trajectory).map_err(|error| match error {
        ComparatorError::NoClosedOde(regularizer) => Failure::input(anyhow!(
            "{path}: no reduced ODE to compare with: the moments do not close for regularizer \"{regularizer}\" (only \"l2\" and \"none\" have one)"
        )),
        error => Failure::input(anyhow!("{path}: the reduced ODE failed: {error}")),
    })?;
    let deviation = mfcl_comparator::deviation(trajectory, &ode)
        .expect("the ODE is sampled on the run's own increasing, non-empty grid");
    let pass = deviation.worst_cosine() <= tolerance;
    if args.json {
        let mut doc = output::deviation_json(&deviation);
        doc["tolerance"] = json!(tolerance);
        doc["pass"] = json!(pass);
        output::print_json(&doc);
    } else {
        output::print_deviation(&deviation, trajectory);
        let origin = if args.tol.is_some() {
            "--tol".to_owned()
        } else {
            match config.run.solver {
                SolverKind::Particles => format!(
                    "default for particles: {PARTICLES_C}/sqrt(N) + {BIAS_AT_REFERENCE_DT:e} (dt/{REFERENCE_DT})^2"
                ),
                SolverKind::Sgd => format!("default for SGD: {SGD_C}/sqrt(n)"),
            }
        };
        println!("tolerance on every |m_j - m_j^ODE|: {tolerance:.2e} ({origin})");
        println!("{}", if pass { "pass" } else { "fail" });
    }
    if pass {
        Ok(())
    } else {
        Err(Failure::failed(anyhow!(
            "{path}: the cosines deviate from the reduced ODE by up to {:.2e}, beyond the tolerance {tolerance:.2e}",
            deviation.worst_cosine()
        )))
    }
}
