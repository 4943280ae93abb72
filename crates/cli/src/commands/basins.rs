//! `mfcl basins`: the probability that a random start near the uninformative state selects
//! each feature, from the reduced ODE or from independent particle runs.

use std::io::IsTerminal;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::Args;

use anyhow::anyhow;
use mfcl_comparator::{
    Attractors, BasinSample, CONFIDENCE, FixedPointReport, Selection, Tally, basins,
    dominant_feature, sphere_starts,
};
use mfcl_model::{Config, OrderParameters, Trajectory};
use mfcl_solver::{ParticleSystem, SolverError, Stepper};
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::config::{ConfigOptions, load};
use crate::failure::Failure;
use crate::{figures, output, progress, threads};

/// How `mfcl basins` follows its starts.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BasinSolver {
    /// The reduced ODE from `Q = r0 u`, `R = R_0` (L2 or no regularizer).
    Ode,
    /// Independent particle runs (the config's N and dt, seeds seed, seed + 1, ...) from
    /// `Q = 0`, `R = R_0`: the finite-size check of the ODE picture.
    Particles,
}

impl BasinSolver {
    /// The command-line spelling.
    pub fn name(self) -> &'static str {
        match self {
            BasinSolver::Ode => "ode",
            BasinSolver::Particles => "particles",
        }
    }
}

/// Arguments of `mfcl basins`.
#[derive(Args)]
pub struct BasinsArgs {
    /// The TOML config; its run.seed seeds the starts.
    pub config: PathBuf,
    #[command(flatten)]
    options: ConfigOptions,
    /// Number of starts (default 1000 for the ODE, 200 particle runs).
    #[arg(long, value_name = "K")]
    samples: Option<usize>,
    /// Radius r0 of the ODE's starts Q = r0 u, u uniform on the unit sphere (default 0.02).
    #[arg(long, value_name = "R0")]
    radius: Option<f64>,
    /// Follow the starts with the reduced ODE or with particle runs.
    #[arg(long, value_enum, default_value = "ode")]
    solver: BasinSolver,
    /// Also draw the phase portrait of (m_1, m_2) as a PNG (two features only; a PNG
    /// already there is replaced, any other file is refused).
    #[arg(long, value_name = "PNG")]
    plot: Option<PathBuf>,
    /// Number of worker threads (default: one per core). Results do not depend on it.
    #[arg(long, value_name = "K", value_parser = threads::parse_threads)]
    threads: Option<NonZeroUsize>,
}

/// Model time after which a particle run is left undecided.
pub const PARTICLE_HORIZON: f64 = 200.0;
/// Default number of starts: reduced-ODE trajectories, or particle runs.
const DEFAULT_SAMPLES: (usize, usize) = (1000, 200);

/// `mfcl basins CONFIG`, on `--threads` workers.
pub fn run(args: &BasinsArgs) -> Result<(), Failure> {
    threads::install(args.threads, || basins_command(args))?
}

/// `mfcl basins CONFIG` on the current worker pool.
fn basins_command(args: &BasinsArgs) -> Result<(), Failure> {
    let config = load(Some(&args.config), &args.options)?;
    let problem = &config.problem;
    if problem.neurons > 1 {
        return Err(Failure::input(anyhow!(
            "basins are computed for a single neuron only (model.neurons = 1); this config has K = {} neurons",
            problem.neurons
        )));
    }
    let samples = args.samples.unwrap_or(match args.solver {
        BasinSolver::Ode => DEFAULT_SAMPLES.0,
        BasinSolver::Particles => DEFAULT_SAMPLES.1,
    });
    if samples == 0 {
        return Err(Failure::input(anyhow!("--samples must be at least 1")));
    }
    if let Some(path) = &args.plot {
        if problem.features() != 2 {
            return Err(Failure::input(anyhow!(
                "--plot draws the phase portrait of (m_1, m_2): it needs 2 features, the config has {}",
                problem.features()
            )));
        }
        figures::check_writable("--plot", path).map_err(Failure::input)?;
    }
    // The decision balls sit on the fixed points of the reduced ODE, for both solvers.
    let report = mfcl_comparator::fixed_points(problem, &config.init, config.run.t_end)
        .map_err(|e| Failure::input(anyhow!("basins need the reduced ODE's fixed points: {e}")))?;
    let attractors = Attractors::new(problem, &report);
    let norm2 = report.uninformative.norm2;
    let radius = match (args.solver, args.radius) {
        (BasinSolver::Particles, Some(_)) => {
            return Err(Failure::input(anyhow!(
                "--radius sets the ODE's starts; particle runs start at the uninformative state itself"
            )));
        }
        (_, Some(r)) if !(r > 0.0 && r * r < norm2) => {
            return Err(Failure::input(anyhow!(
                "--radius {r}: must be positive and below sqrt(R_0) = {:.6}",
                norm2.sqrt()
            )));
        }
        (_, r) => r.unwrap_or(mfcl_comparator::DEFAULT_START_RADIUS),
    };
    let bar = progress::counter(
        samples as u64,
        "starts",
        !args.options.json && std::io::stderr().is_terminal(),
    );
    let tick = || bar.inc(1);
    let results = match args.solver {
        BasinSolver::Ode => {
            let starts = sphere_starts(problem.features(), radius, norm2, samples, config.run.seed);
            basins(problem, &attractors, &starts, &tick).map_err(Failure::input)?
        }
        BasinSolver::Particles => {
            particle_basins(&config, &attractors, norm2, samples, &tick).map_err(Failure::failed)?
        }
    };
    bar.finish_and_clear();
    let tally = Tally::new(problem.features(), results.iter().map(|s| s.selection));
    let summary = Summary {
        config: &config,
        solver: args.solver,
        radius,
        report: &report,
        tally: &tally,
    };
    if args.options.json {
        output::print_json(&basins_json(&summary));
    } else {
        print_basins(&summary);
    }
    if let Some(path) = &args.plot {
        figures::portrait::phase_portrait(path, &config, &report, &results)
            .map_err(Failure::input)?;
        if !args.options.json {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// Independent particle runs from `Q = 0`, `R = R_0`, with the config's `N`, `dt` and the
/// seeds `seed, seed + 1, …`; each is decided when its `(Q, R)` enters a decision ball.
fn particle_basins(
    config: &Config,
    attractors: &Attractors,
    norm2: f64,
    samples: usize,
    tick: &(dyn Fn() + Sync),
) -> anyhow::Result<Vec<BasinSample>> {
    let start = OrderParameters::single(vec![0.0; config.problem.features()], norm2);
    (0..samples as u64)
        .into_par_iter()
        .map(|k| {
            let run = &config.run;
            let seed = run.seed.wrapping_add(k);
            let mut system =
                ParticleSystem::new(&config.problem, &start, run.particles, run.dt, seed);
            let sample = follow(&mut system, attractors, PARTICLE_HORIZON)
                .map_err(|e| anyhow!("the particle run with seed {seed} failed: {e}"));
            tick();
            sample
        })
        .collect()
}

/// Steps until the state is in a decision ball or past `horizon`; the path is recorded
/// about every 0.05 model time.
fn follow(
    system: &mut ParticleSystem,
    attractors: &Attractors,
    horizon: f64,
) -> Result<BasinSample, SolverError> {
    let record_every = (0.05 / system.time_of(1)).round().max(1.0) as u64;
    let mut path = Trajectory::default();
    let mut state = Vec::new();
    loop {
        let order = system.order_parameters();
        state.clear();
        state.extend(order.coordinates());
        let decision = attractors.decide(&state);
        let done = decision.is_some() || system.time() >= horizon;
        if done || system.steps_taken().is_multiple_of(record_every) {
            path.push(system.time(), order);
        }
        if done {
            let selection = decision.unwrap_or(Selection::Undecided);
            return Ok(BasinSample { path, selection });
        }
        system.step()?;
    }
}

struct Summary<'a> {
    config: &'a Config,
    solver: BasinSolver,
    radius: f64,
    report: &'a FixedPointReport,
    tally: &'a Tally,
}

/// DESIGN.md's `{"samples", "selected", "undecided"}`, plus `"standard_error"` and
/// `"confidence_interval"` (95% Wilson) per feature, the same for `"undecided"`
/// (`"undecided_standard_error"`, `"undecided_confidence_interval"`), `"confidence"`,
/// `"solver"`, `"radius"` (ODE starts), `"norm2"` (`R_0`), and the stable fixed points
/// with the feature each one selects.
fn basins_json(summary: &Summary) -> Value {
    let (tally, report) = (summary.tally, summary.report);
    let mut doc = json!({
        "samples": tally.samples,
        "selected": tally.selected,
        "undecided": tally.undecided,
        "standard_error": tally.standard_error,
        "confidence_interval": tally.confidence_interval,
        "undecided_standard_error": tally.undecided_standard_error,
        "undecided_confidence_interval": tally.undecided_confidence_interval,
        "confidence": CONFIDENCE,
        "solver": summary.solver.name(),
        "norm2": report.uninformative.norm2,
        "stable_fixed_points": report.fixed_points.iter().filter(|f| f.stable).map(|f| json!({
            "overlaps": f.state.overlaps,
            "norm2": f.state.norm2[0],
            "cosine": f.state.cosine(),
            "selects": match dominant_feature(&f.state.overlaps, f.state.norm2[0]) {
                Selection::Feature(k) => json!(k + 1),
                Selection::Undecided => Value::Null,
            },
        })).collect::<Vec<_>>(),
    });
    match summary.solver {
        BasinSolver::Ode => doc["radius"] = json!(summary.radius),
        BasinSolver::Particles => {
            doc["particles"] = json!(summary.config.run.particles);
            doc["dt"] = json!(summary.config.run.dt);
        }
    }
    doc
}

fn print_basins(summary: &Summary) {
    let (config, tally, report) = (summary.config, summary.tally, summary.report);
    let norm2 = report.uninformative.norm2;
    let p = config.problem.features();
    match summary.solver {
        BasinSolver::Ode => println!(
            "{} starts Q = {} u (u uniform on the unit sphere of R^{p}), R = R_0 = {:.8}, \
             followed with the reduced ODE",
            tally.samples, summary.radius, norm2
        ),
        BasinSolver::Particles => println!(
            "{} particle runs (N = {}, dt = {}, seeds {}..{}) from Q = 0, R = R_0 = {:.8}",
            tally.samples,
            config.run.particles,
            config.run.dt,
            config.run.seed,
            config.run.seed.wrapping_add(tally.samples as u64 - 1),
            norm2
        ),
    }
    println!();
    println!("stable fixed points (where the starts are decided):");
    for point in report.fixed_points.iter().filter(|f| f.stable) {
        let cosines: Vec<String> = point
            .state
            .cosine()
            .iter()
            .map(|m| format!("{m:.6}"))
            .collect();
        let selects = match dominant_feature(&point.state.overlaps, point.state.norm2[0]) {
            Selection::Feature(k) => format!("selects feature {}", k + 1),
            Selection::Undecided if point.state.overlaps.iter().all(|q| q.abs() < 1e-9) => {
                "the uninformative state, selects no feature".into()
            }
            Selection::Undecided => "selects no single feature (a tie)".into(),
        };
        println!(
            "  m = [{}], R = {:.6}: {selects}",
            cosines.join(", "),
            point.state.norm2[0]
        );
    }
    println!();
    println!(
        "fraction of starts that select each feature (± one standard error; {:.0}% Wilson interval):",
        100.0 * CONFIDENCE
    );
    let features = tally
        .selected
        .iter()
        .zip(&tally.standard_error)
        .zip(&tally.confidence_interval)
        .zip(&config.problem.hidden);
    for (j, (((&fraction, error), &(lo, hi)), law)) in features.enumerate() {
        println!(
            "  feature {} (c = {} x {}): {fraction:.4} ± {error:.4}  [{lo:.4}, {hi:.4}]",
            j + 1,
            law.scale,
            law.shape.name(),
        );
    }
    let (lo, hi) = tally.undecided_confidence_interval;
    println!(
        "  undecided: {:.4} ± {:.4}  [{lo:.4}, {hi:.4}]",
        tally.undecided, tally.undecided_standard_error
    );
}
