//! `mfcl basins`: the probability that a random start near the uninformative state selects
//! each feature (for a layer: which feature each neuron learns), from the reduced ODE or
//! from independent particle runs, for one config or for each value of one config key.

use std::io::IsTerminal;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::Args;

use anyhow::anyhow;
use mfcl_comparator::{
    Attractors, BasinSample, CONFIDENCE, FixedPointReport, Fraction, Selection, StabilityThreshold,
    Tally, basins, coinciding_point, coinciding_threshold, selection_at, sphere_starts,
};
use mfcl_model::{Config, OrderParameters, Trajectory};
use mfcl_solver::{ParticleSystem, SolverError, Stepper};
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::commands::sweep::parse_values;
use crate::config::{ConfigOptions, load, load_with};
use crate::failure::Failure;
use crate::figures::fractions::{FractionCurve, FractionPlot, FractionPoint, fractions_figure};
use crate::{figures, output, progress, threads};

/// How `mfcl basins` follows its starts.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BasinSolver {
    /// The reduced ODE from `Q = r0 U`, `R = R_0 I` (L2 or no regularizer).
    Ode,
    /// Independent particle runs (the config's N and dt, seeds seed, seed + 1, ...) from
    /// `Q = 0`, `R = R_0 I`: the finite-size check of the ODE picture.
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
    /// Radius r0 of the ODE's starts Q = r0 U, U uniform on the unit sphere of p × K
    /// matrices (default 0.02).
    #[arg(long, value_name = "R0")]
    radius: Option<f64>,
    /// Follow the starts with the reduced ODE or with particle runs.
    #[arg(long, value_enum, default_value = "ode")]
    solver: BasinSolver,
    /// Estimate the basins for each value of this dotted config key (with --values), e.g.
    /// model.decorrelation.
    #[arg(long, value_name = "KEY", requires = "values")]
    param: Option<String>,
    /// K evenly spaced values of --param from A to B inclusive, e.g. 0:1:6.
    #[arg(
        long,
        value_name = "A:B:K",
        allow_hyphen_values = true,
        requires = "param"
    )]
    values: Option<String>,
    /// Also draw a PNG (a PNG already there is replaced, any other file is refused): with
    /// --param, the fractions against the value (for a layer, "distinct"); otherwise, for
    /// a single neuron on two features, the phase portrait of (m_1, m_2).
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

/// One basin estimate: the config (at one value of `--param`, if given) and its results.
struct Estimate {
    /// The value of `--param`, if any.
    value: Option<f64>,
    config: Config,
    report: FixedPointReport,
    /// The ODE's start radius (unused by particle runs).
    radius: f64,
    samples: Vec<BasinSample>,
    tally: Tally,
}

/// `mfcl basins CONFIG` on the current worker pool.
fn basins_command(args: &BasinsArgs) -> Result<(), Failure> {
    let scan = configs(args)?;
    let (values, configs): (Vec<Option<f64>>, Vec<Config>) = scan.into_iter().unzip();
    let first = &configs[0].problem;
    let (p, k) = (first.features(), first.neurons);
    let samples = args.samples.unwrap_or(match args.solver {
        BasinSolver::Ode => DEFAULT_SAMPLES.0,
        BasinSolver::Particles => DEFAULT_SAMPLES.1,
    });
    if samples == 0 {
        return Err(Failure::input(anyhow!("--samples must be at least 1")));
    }
    if args.solver == BasinSolver::Particles && args.radius.is_some() {
        return Err(Failure::input(anyhow!(
            "--radius sets the ODE's starts; particle runs start at the uninformative state itself"
        )));
    }
    if let Some(path) = &args.plot {
        if args.param.is_none() && k > 1 {
            return Err(Failure::input(anyhow!(
                "--plot draws a layer's fraction \"distinct\" against a parameter: add --param KEY --values A:B:K"
            )));
        }
        if args.param.is_none() && p != 2 {
            return Err(Failure::input(anyhow!(
                "--plot draws the phase portrait of (m_1, m_2): it needs 2 features, the config has {p} (or add --param KEY --values A:B:K for the fractions against a parameter)"
            )));
        }
        figures::check_writable("--plot", path).map_err(Failure::input)?;
    }
    let bar = progress::counter(
        (samples * configs.len()) as u64,
        "starts",
        !args.options.json && std::io::stderr().is_terminal(),
    );
    let tick = || bar.inc(1);
    let estimates = values
        .into_iter()
        .zip(configs)
        .map(|(value, config)| estimate(args, value, config, samples, &tick))
        .collect::<Result<Vec<_>, _>>()?;
    let thresholds = match &args.param {
        Some(param) if k > 1 => coinciding_thresholds(args, param, &estimates),
        _ => Vec::new(),
    };
    bar.finish_and_clear();
    match (&args.param, args.options.json) {
        (None, true) => output::print_json(&basins_json(args.solver, &estimates[0])),
        (None, false) => print_basins(args.solver, &estimates[0]),
        (Some(param), true) => {
            output::print_json(&scan_json(args.solver, param, &estimates, &thresholds))
        }
        (Some(param), false) => print_scan(args.solver, param, &estimates, &thresholds),
    }
    if let Some(path) = &args.plot {
        match &args.param {
            None => {
                let e = &estimates[0];
                figures::portrait::phase_portrait(path, &e.config, &e.report, &e.samples)
                    .map_err(Failure::input)?;
            }
            Some(param) => {
                let name = args
                    .config
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy();
                let plot = fraction_curves(args.solver, &name, param, &estimates, &thresholds);
                fractions_figure(path, &plot).map_err(Failure::input)?;
            }
        }
        if !args.options.json {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// The config, or with `--param` one config per value (each validated before any work), all
/// with the same numbers of features and neurons.
fn configs(args: &BasinsArgs) -> Result<Vec<(Option<f64>, Config)>, Failure> {
    let (Some(param), Some(values)) = (&args.param, &args.values) else {
        return Ok(vec![(None, load(Some(&args.config), &args.options)?)]);
    };
    let values = parse_values(values).map_err(Failure::input)?;
    let configs: Vec<(Option<f64>, Config)> = values
        .iter()
        .map(|&value| {
            let set = format!("{param}={value:?}");
            load_with(Some(&args.config), &args.options, &[set]).map(|c| (Some(value), c))
        })
        .collect::<Result<_, _>>()?;
    let shape = |c: &Config| (c.problem.features(), c.problem.neurons);
    let first = shape(&configs[0].1);
    if let Some((value, config)) = configs.iter().find(|(_, c)| shape(c) != first) {
        let (p, k) = shape(config);
        return Err(Failure::input(anyhow!(
            "--param {param}: at {} the config has p = {p} features and K = {k} neurons, at {} p = {} and K = {}; a scan keeps both fixed",
            value.unwrap_or_default(),
            configs[0].0.unwrap_or_default(),
            first.0,
            first.1
        )));
    }
    Ok(configs)
}

/// The fixed points (whose stable points decide the starts, for both solvers), the starts
/// and their outcomes for one config.
fn estimate(
    args: &BasinsArgs,
    value: Option<f64>,
    config: Config,
    samples: usize,
    tick: &(dyn Fn() + Sync),
) -> Result<Estimate, Failure> {
    let problem = &config.problem;
    let at = value.map_or(String::new(), |v| format!(" at {v}"));
    let report =
        mfcl_comparator::fixed_points(problem, &config.init, config.run.t_end).map_err(|e| {
            Failure::input(anyhow!(
                "basins{at} need the reduced ODE's fixed points: {e}"
            ))
        })?;
    let attractors = Attractors::new(problem, &report);
    let norm2 = report.uninformative.norm2;
    let radius = match args.radius {
        Some(r) if !(r > 0.0 && r * r < norm2) => {
            return Err(Failure::input(anyhow!(
                "--radius {r}{at}: must be positive and below sqrt(R_0) = {:.6}",
                norm2.sqrt()
            )));
        }
        r => r.unwrap_or(mfcl_comparator::DEFAULT_START_RADIUS),
    };
    let results = match args.solver {
        BasinSolver::Ode => {
            let starts = sphere_starts(
                problem.features(),
                problem.neurons,
                radius,
                norm2,
                samples,
                config.run.seed,
            );
            basins(problem, &attractors, &starts, tick).map_err(Failure::input)?
        }
        BasinSolver::Particles => {
            particle_basins(&config, &attractors, norm2, samples, tick).map_err(Failure::failed)?
        }
    };
    let tally = Tally::new(results.iter().map(|s| s.selection.clone()));
    Ok(Estimate {
        value,
        config,
        report,
        radius,
        samples: results,
        tally,
    })
}

/// Resolution, relative to the scanned range, of the thresholds where the state of
/// coinciding neurons changes stability.
const THRESHOLD_RESOLUTION: f64 = 1e-3;

/// For a layer scanned over `param`: per feature, where the state of coinciding neurons on
/// that feature changes stability between two scanned values, bisected (MODEL.md §7,
/// Finding 4). A feature whose coinciding state is not found at some value is skipped.
fn coinciding_thresholds(
    args: &BasinsArgs,
    param: &str,
    estimates: &[Estimate],
) -> Vec<(usize, StabilityThreshold)> {
    let problem_at = |value: f64| {
        let set = format!("{param}={value:?}");
        load_with(Some(&args.config), &args.options, &[set])
            .ok()
            .map(|c| c.problem)
    };
    let values: Vec<f64> = estimates.iter().filter_map(|e| e.value).collect();
    let span = values
        .iter()
        .fold(0.0f64, |m, v| m.max((v - values[0]).abs()));
    let features = estimates[0].config.problem.features();
    (0..features)
        .into_par_iter()
        .flat_map_iter(|j| {
            let stable: Option<Vec<bool>> = estimates
                .iter()
                .map(|e| {
                    coinciding_point(&e.config.problem, j, None)
                        .ok()
                        .map(|f| f.stable)
                })
                .collect();
            let stable = stable.unwrap_or_default();
            let changes: Vec<(f64, f64)> = (1..stable.len())
                .filter(|&i| stable[i] != stable[i - 1])
                .map(|i| (values[i - 1], values[i]))
                .collect();
            changes.into_iter().filter_map(move |bracket| {
                coinciding_threshold(&problem_at, j, bracket, THRESHOLD_RESOLUTION * span)
                    .ok()
                    .flatten()
                    .map(|t| (j, t))
            })
        })
        .collect()
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
    let (p, k) = (config.problem.features(), config.problem.neurons);
    let start = OrderParameters::isotropic(k, vec![0.0; p * k], norm2);
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

/// DESIGN.md's `{"samples", "selected", "undecided"}`, plus `"standard_error"` and
/// `"confidence_interval"` (95% Wilson) per feature, the same for `"undecided"`
/// (`"undecided_standard_error"`, `"undecided_confidence_interval"`), `"confidence"`,
/// `"solver"`, `"radius"` (ODE starts), `"norm2"` (`R_0`), and the stable fixed points
/// with the feature each one selects.
///
/// A layer has, instead of the per-feature keys, `"neurons"`, `"classes"` (each with
/// `"learned"`, the features of the neurons, 1-based, `null` for none; `"label"`;
/// `"fraction"`, `"standard_error"`, `"confidence_interval"`), the same three for
/// `"distinct"`, and stable fixed points with `p × K` and `K × K` nested lists and
/// `"learned"` per neuron.
fn basins_json(solver: BasinSolver, estimate: &Estimate) -> Value {
    let (tally, report, config) = (&estimate.tally, &estimate.report, &estimate.config);
    let (p, k) = (config.problem.features(), config.problem.neurons);
    let learned = |selection: &Selection| match selection {
        Selection::Assigned(features) => {
            json!(
                features
                    .iter()
                    .map(|j| j.map(|j| j + 1))
                    .collect::<Vec<_>>()
            )
        }
        Selection::Undecided => Value::Null,
    };
    let mut doc = if k == 1 {
        let selected = tally.selected(p);
        json!({
            "samples": tally.samples,
            "selected": selected.iter().map(|f| f.value).collect::<Vec<_>>(),
            "undecided": tally.undecided.value,
            "standard_error": selected.iter().map(|f| f.standard_error).collect::<Vec<_>>(),
            "confidence_interval": selected.iter().map(|f| f.confidence_interval).collect::<Vec<_>>(),
            "undecided_standard_error": tally.undecided.standard_error,
            "undecided_confidence_interval": tally.undecided.confidence_interval,
            "stable_fixed_points": report.fixed_points.iter().filter(|f| f.stable).map(|f| json!({
                "overlaps": f.state.overlaps,
                "norm2": f.state.norm2[0],
                "cosine": f.state.cosine(),
                "selects": selection_at(&f.state).single_feature().map(|j| j + 1),
            })).collect::<Vec<_>>(),
        })
    } else {
        let fraction = |f: &Fraction| {
            json!({
                "fraction": f.value,
                "standard_error": f.standard_error,
                "confidence_interval": f.confidence_interval,
            })
        };
        json!({
            "samples": tally.samples,
            "neurons": k,
            "classes": tally.classes.iter().map(|(class, f)| {
                let mut doc = fraction(f);
                doc["learned"] = learned(class);
                doc["label"] = json!(class.describe());
                doc
            }).collect::<Vec<_>>(),
            "distinct": tally.distinct.value,
            "distinct_standard_error": tally.distinct.standard_error,
            "distinct_confidence_interval": tally.distinct.confidence_interval,
            "undecided": tally.undecided.value,
            "undecided_standard_error": tally.undecided.standard_error,
            "undecided_confidence_interval": tally.undecided.confidence_interval,
            "stable_fixed_points": report.fixed_points.iter().filter(|f| f.stable).map(|f| {
                let mut doc = output::state_json(&f.state);
                doc["cosine"] = output::matrix(&f.state.cosine(), k);
                doc["learned"] = json!(f.learned.iter().map(|j| j.map(|j| j + 1)).collect::<Vec<_>>());
                doc
            }).collect::<Vec<_>>(),
        })
    };
    doc["confidence"] = json!(CONFIDENCE);
    doc["solver"] = json!(solver.name());
    doc["norm2"] = json!(report.uninformative.norm2);
    match solver {
        BasinSolver::Ode => doc["radius"] = json!(estimate.radius),
        BasinSolver::Particles => {
            doc["particles"] = json!(config.run.particles);
            doc["dt"] = json!(config.run.dt);
        }
    }
    doc
}

/// `{"param", "values", "results"}`, `"results"` holding one [`basins_json`] document per
/// value; for a layer also `"thresholds"`, where the state of coinciding neurons on a
/// feature changes stability (`"feature"`, 1-based; `"value"`; `"bracket"`;
/// `"stable_below"`).
fn scan_json(
    solver: BasinSolver,
    param: &str,
    estimates: &[Estimate],
    thresholds: &[(usize, StabilityThreshold)],
) -> Value {
    let mut doc = json!({
        "param": param,
        "values": estimates.iter().map(|e| e.value).collect::<Vec<_>>(),
        "results": estimates.iter().map(|e| basins_json(solver, e)).collect::<Vec<_>>(),
    });
    if estimates[0].config.problem.neurons > 1 {
        doc["thresholds"] = json!(
            thresholds
                .iter()
                .map(|(j, t)| json!({
                    "feature": j + 1,
                    "value": t.value,
                    "bracket": t.bracket,
                    "stable_below": t.stable_below,
                }))
                .collect::<Vec<_>>()
        );
    }
    doc
}

/// How the starts were made, in one line; `norm2` is how to show `R_0` (its value, or in
/// a scan where it depends on the value, a phrase).
fn describe_starts(solver: BasinSolver, estimate: &Estimate, norm2: &str) -> String {
    let (config, tally) = (&estimate.config, &estimate.tally);
    let (p, k) = (config.problem.features(), config.problem.neurons);
    let r = if k == 1 {
        String::new()
    } else {
        " I with R_0".into()
    };
    match solver {
        BasinSolver::Ode if k == 1 => format!(
            "{} starts Q = {} u (u uniform on the unit sphere of R^{p}), R = R_0 {norm2}, \
             followed with the reduced ODE",
            tally.samples, estimate.radius
        ),
        BasinSolver::Ode => format!(
            "{} starts Q = {} U (U uniform on the unit sphere of {p} x {k} matrices), R = R_0 I \
             with R_0 {norm2}, followed with the reduced ODE",
            tally.samples, estimate.radius
        ),
        BasinSolver::Particles => format!(
            "{} particle runs (N = {}, dt = {}, seeds {}..{}) from Q = 0, R = R_0{r} {norm2}",
            tally.samples,
            config.run.particles,
            config.run.dt,
            config.run.seed,
            config.run.seed.wrapping_add(tally.samples as u64 - 1),
        ),
    }
}

/// `f ± se  [lo, hi]`.
fn fraction_text(f: &Fraction) -> String {
    let (lo, hi) = f.confidence_interval;
    format!(
        "{:.4} ± {:.4}  [{lo:.4}, {hi:.4}]",
        f.value, f.standard_error
    )
}

fn print_basins(solver: BasinSolver, estimate: &Estimate) {
    let (config, tally, report) = (&estimate.config, &estimate.tally, &estimate.report);
    let (p, k) = (config.problem.features(), config.problem.neurons);
    let norm2 = format!("= {:.8}", report.uninformative.norm2);
    println!("{}", describe_starts(solver, estimate, &norm2));
    println!();
    println!("stable fixed points (where the starts are decided):");
    for point in report.fixed_points.iter().filter(|f| f.stable) {
        let cosines: Vec<String> = point
            .state
            .cosine()
            .iter()
            .map(|m| format!("{m:.6}"))
            .collect();
        let selection = selection_at(&point.state);
        let selects = match &selection {
            Selection::Assigned(_) if k == 1 => format!("selects {}", selection.describe()),
            Selection::Assigned(_) => format!("learned {}", selection.describe()),
            Selection::Undecided if point.state.overlaps.iter().all(|q| q.abs() < 1e-9) => {
                "the uninformative state, selects no feature".into()
            }
            Selection::Undecided => "selects no single feature (a tie)".into(),
        };
        if k == 1 {
            println!(
                "  m = [{}], R = {:.6}: {selects}",
                cosines.join(", "),
                point.state.norm2[0]
            );
        } else {
            let rows: Vec<String> = cosines.chunks(k).map(|row| row.join(", ")).collect();
            let gram: Vec<String> = point
                .state
                .norm2
                .chunks(k)
                .map(|row| {
                    row.iter()
                        .map(|r| format!("{r:.6}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .collect();
            println!(
                "  m = [[{}]], R = [[{}]]: {selects}",
                rows.join("], ["),
                gram.join("], [")
            );
        }
    }
    println!();
    println!(
        "fraction of starts {} (± one standard error; {:.0}% Wilson interval):",
        if k == 1 {
            "that select each feature"
        } else {
            "by the features the neurons learned"
        },
        100.0 * CONFIDENCE
    );
    if k == 1 {
        for (j, (f, law)) in tally
            .selected(p)
            .iter()
            .zip(&config.problem.hidden)
            .enumerate()
        {
            println!(
                "  feature {} (c = {} x {}): {}",
                j + 1,
                law.scale,
                law.shape.name(),
                fraction_text(f)
            );
        }
    } else {
        for (class, f) in &tally.classes {
            println!("  {}: {}", class.describe(), fraction_text(f));
        }
        println!(
            "  distinct (every neuron on a different feature): {}",
            fraction_text(&tally.distinct)
        );
    }
    println!("  undecided: {}", fraction_text(&tally.undecided));
}

/// The classes shown in a scan's table and figure: for one neuron every feature, for a
/// layer every class that occurred at some value.
fn scan_classes(estimates: &[Estimate]) -> Vec<Selection> {
    let problem = &estimates[0].config.problem;
    if problem.neurons == 1 {
        return (0..problem.features()).map(Selection::feature).collect();
    }
    let mut classes: Vec<Selection> = estimates
        .iter()
        .flat_map(|e| e.tally.classes.iter().map(|(c, _)| c.clone()))
        .collect();
    classes.sort();
    classes.dedup();
    classes
}

fn print_scan(
    solver: BasinSolver,
    param: &str,
    estimates: &[Estimate],
    thresholds: &[(usize, StabilityThreshold)],
) {
    let layer = estimates[0].config.problem.neurons > 1;
    println!("basins by {param}; at each value:");
    let norm2 = "(the uninformative state's, at each value)";
    println!("  {}", describe_starts(solver, &estimates[0], norm2));
    println!(
        "fractions of starts ± one standard error ({:.0}% Wilson intervals in --json):",
        100.0 * CONFIDENCE
    );
    let classes = scan_classes(estimates);
    let mut columns: Vec<String> = Vec::new();
    if layer {
        columns.push("distinct".into());
    }
    columns.extend(classes.iter().map(Selection::describe));
    columns.push("undecided".into());
    let width = |name: &str| name.chars().count().max(15) + 2;
    let name = param.rsplit('.').next().unwrap_or(param);
    let first = name.len().max(10) + 1;
    let mut head = format!("{name:>first$}");
    for column in &columns {
        head += &format!("{column:>w$}", w = width(column));
    }
    println!("{head}");
    for e in estimates {
        let mut cells: Vec<Fraction> = Vec::new();
        if layer {
            cells.push(e.tally.distinct);
        }
        cells.extend(classes.iter().map(|c| e.tally.fraction(c)));
        cells.push(e.tally.undecided);
        let mut line = format!("{:>first$.6}", e.value.unwrap_or_default());
        for (cell, column) in cells.iter().zip(&columns) {
            let text = format!("{:.4} ± {:.4}", cell.value, cell.standard_error);
            line += &format!("{text:>w$}", w = width(column));
        }
        println!("{line}");
    }
    for (j, t) in thresholds {
        let (lo, hi) = t.bracket;
        let (below, above) = if t.stable_below {
            ("stable", "a saddle")
        } else {
            ("unstable", "stable")
        };
        println!(
            "coinciding neurons on feature {}: {below} below {param} = {:.4}, {above} above (bisected to [{lo:.6}, {hi:.6}])",
            j + 1,
            t.value
        );
    }
    if layer && thresholds.is_empty() {
        println!("the state of coinciding neurons keeps its stability over the scanned values");
    }
}

/// One mark per distinct threshold value (features alike share one), labelled with its
/// features and the direction of the change.
fn threshold_marks(thresholds: &[(usize, StabilityThreshold)]) -> Vec<(String, f64)> {
    let mut marks: Vec<(Vec<usize>, &StabilityThreshold)> = Vec::new();
    // The same threshold: the same direction, within one bracket width of the mark's.
    let same = |m: &StabilityThreshold, t: &StabilityThreshold| {
        let (lo, hi) = m.bracket;
        m.stable_below == t.stable_below && (t.value - 0.5 * (lo + hi)).abs() <= 1.5 * (hi - lo)
    };
    for (j, t) in thresholds {
        match marks.iter_mut().find(|(_, m)| same(m, t)) {
            Some((features, _)) => features.push(j + 1),
            None => marks.push((vec![j + 1], t)),
        }
    }
    marks
        .into_iter()
        .map(|(features, t)| {
            let list = features
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            let noun = if features.len() == 1 {
                "feature"
            } else {
                "features"
            };
            let change = if t.stable_below { "lose" } else { "gain" };
            (
                format!("coinciding neurons on {noun} {list} {change} stability"),
                t.value,
            )
        })
        .collect()
}

/// The curves of the scan figure: for a layer `distinct`, for one neuron the fraction that
/// selects each feature; each with its Wilson intervals, and the thresholds as marks.
fn fraction_curves(
    solver: BasinSolver,
    name: &str,
    param: &str,
    estimates: &[Estimate],
    thresholds: &[(usize, StabilityThreshold)],
) -> FractionPlot {
    let layer = estimates[0].config.problem.neurons > 1;
    let points = |fraction: &dyn Fn(&Tally) -> Fraction| -> Vec<FractionPoint> {
        estimates
            .iter()
            .map(|e| FractionPoint {
                value: e.value.unwrap_or_default(),
                fraction: fraction(&e.tally),
            })
            .collect()
    };
    let curves = if layer {
        vec![FractionCurve {
            label: "distinct: the neurons learned different features".into(),
            points: points(&|t| t.distinct),
        }]
    } else {
        scan_classes(estimates)
            .into_iter()
            .map(|class| FractionCurve {
                label: format!("selects {}", class.describe()),
                points: points(&|t| t.fraction(&class)),
            })
            .collect()
    };
    let e = &estimates[0];
    FractionPlot {
        title: format!(
            "{name}: basins by {param} ({} {} per value)",
            e.tally.samples,
            if solver == BasinSolver::Ode {
                "ODE starts"
            } else {
                "particle runs"
            }
        ),
        param: param.to_owned(),
        curves,
        thresholds: threshold_marks(thresholds),
    }
}
