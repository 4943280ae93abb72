//! JSON documents in the shapes of DESIGN.md, and readable tables.

use indicatif::HumanCount;
use mfcl_comparator::{ComparatorError, Deviation, FixedPointReport};
use mfcl_model::{Config, SolverKind, Trajectory, cosine};
use serde_json::{Value, json};

use crate::run::RunReport;

/// `{"t", "overlaps", "norm2", "cosine"}`.
pub fn trajectory_json(trajectory: &Trajectory) -> Value {
    json!({
        "t": trajectory.t,
        "overlaps": trajectory.overlaps,
        "norm2": trajectory.norm2,
        "cosine": trajectory.cosine(),
    })
}

/// `{"max_abs_cosine_error": [..], "max_abs_norm2_error": x}`.
pub fn deviation_json(deviation: &Deviation) -> Value {
    json!({
        "max_abs_cosine_error": deviation.max_abs_cosine_error,
        "max_abs_norm2_error": deviation.max_abs_norm2_error,
    })
}

/// The trajectory, plus `"wall_seconds"`, `"steps_per_second"` (particle- or
/// coordinate-steps), `"io_seconds"`, `"run_file"`, `"checkpoint"`, `"ode_deviation"`
/// where an ODE exists and `"error"` if the run stopped early.
pub fn run_json(report: &RunReport) -> Value {
    let mut doc = trajectory_json(&report.trajectory);
    doc["wall_seconds"] = json!(report.wall.as_secs_f64());
    doc["steps_per_second"] = json!(report.throughput());
    doc["io_seconds"] = json!(report.io.as_secs_f64());
    doc["run_file"] = json!(report.run_file.display().to_string());
    doc["checkpoint"] = json!(report.checkpoint.display().to_string());
    if let Ok(deviation) = &report.ode {
        doc["ode_deviation"] = deviation_json(deviation);
    }
    if let Some(error) = &report.error {
        doc["error"] = json!(error.to_string());
    }
    doc
}

/// `{"uninformative": {...}, "fixed_points": [...]}`.
pub fn fixed_points_json(report: &FixedPointReport) -> Value {
    json!({
        "uninformative": {
            "norm2": report.uninformative.norm2,
            "growth_rates": report.uninformative.growth_rates,
        },
        "fixed_points": report.fixed_points.iter().map(|f| json!({
            "overlaps": f.state.overlaps,
            "norm2": f.state.norm2,
            "cosine": f.state.cosine(),
            "eigenvalues": f.eigenvalues.iter().map(|&(re, im)| [re, im]).collect::<Vec<_>>(),
            "stable": f.stable,
        })).collect::<Vec<_>>(),
    })
}

/// One JSON document on stdout.
pub fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values always serialise")
    );
}

fn header(names: &[&str], p: usize) -> String {
    names
        .iter()
        .flat_map(|name| match *name {
            "R" | "t" => vec![format!("{name:>12}")],
            _ => (1..=p)
                .map(|j| format!("{:>12}", format!("{name}_{j}")))
                .collect(),
        })
        .collect::<String>()
}

/// Columns of 12 characters, as in [`header`]; the leading space keeps a value too wide for
/// its column (a run heading for divergence) apart from its neighbour.
fn row(values: impl IntoIterator<Item = f64>) -> String {
    values.into_iter().map(|v| format!(" {v:>11.8}")).collect()
}

/// The column names of [`sample_row`].
fn trajectory_header(trajectory: &Trajectory) -> String {
    let p = trajectory.overlaps.first().map_or(0, Vec::len);
    header(&["t", "Q", "R", "m"], p)
}

/// `t`, `Q_j`, `R`, `m_j` of sample `k`.
fn sample_row(trajectory: &Trajectory, k: usize) -> String {
    let (overlaps, norm2) = (&trajectory.overlaps[k], trajectory.norm2[k]);
    let values = std::iter::once(trajectory.t[k])
        .chain(overlaps.iter().copied())
        .chain([norm2])
        .chain(cosine(overlaps, norm2));
    row(values)
}

/// `t`, `Q_j`, `R`, `m_j` per recorded time.
pub fn print_trajectory(trajectory: &Trajectory) {
    println!("{}", trajectory_header(trajectory));
    for k in 0..trajectory.len() {
        println!("{}", sample_row(trajectory, k));
    }
}

/// `t`, `Q_j`, `R`, `m_j` of the last recorded sample, under its header.
pub fn print_last_sample(trajectory: &Trajectory) {
    if let Some(last) = trajectory.len().checked_sub(1) {
        println!("{}", trajectory_header(trajectory));
        println!("{}", sample_row(trajectory, last));
    }
}

/// What one step of `solver` updates, for throughput figures.
pub fn step_unit(solver: SolverKind) -> &'static str {
    match solver {
        SolverKind::Particles => "particle-steps",
        SolverKind::Sgd => "coordinate-steps",
    }
}

/// The solver and its size, the final state, the deviation from the ODE, the cost.
pub fn print_run_summary(config: &Config, report: &RunReport) {
    let run = &config.run;
    match run.solver {
        SolverKind::Particles => println!(
            "particles: N = {}, dt = {}, t_end = {}, seed = {}",
            run.particles, run.dt, run.t_end, run.seed
        ),
        SolverKind::Sgd => println!(
            "sgd: n = {}, t_end = {}, seed = {}",
            run.dimension, run.t_end, run.seed
        ),
    }
    let trajectory = &report.trajectory;
    println!();
    print_last_sample(trajectory);
    println!();
    match &report.ode {
        Ok(deviation) => print_deviation(deviation, trajectory),
        Err(ComparatorError::NoClosedOde(regularizer)) => println!(
            "no ODE to compare with: the moments do not close for regularizer \"{regularizer}\""
        ),
        Err(error) => println!("no ODE to compare with: {error}"),
    }
    println!();
    println!(
        "{} steps in {:.2} s: {} {}/s",
        report.steps,
        report.wall.as_secs_f64(),
        HumanCount(report.throughput() as u64),
        step_unit(run.solver)
    );
    println!(
        "run file {} (checkpoint {}); writing took {:.2} s, {:.1}% of the wall time",
        report.run_file.display(),
        report.checkpoint.display(),
        report.io.as_secs_f64(),
        100.0 * report.io.as_secs_f64() / report.wall.as_secs_f64()
    );
}

/// The uninformative state, then one line per fixed point.
pub fn print_fixed_points(report: &FixedPointReport) {
    let u = &report.uninformative;
    println!("uninformative state: Q = 0, R_0 = {:.8}", u.norm2);
    for (j, kappa) in u.growth_rates.iter().enumerate() {
        let verdict = if *kappa > 0.0 {
            "learnable"
        } else {
            "not learnable"
        };
        println!("  growth rate kappa_{} = {kappa:.8}  ({verdict})", j + 1);
    }
    let p = u.growth_rates.len();
    println!();
    println!("fixed points (up to the sign symmetry of symmetric hidden laws):");
    println!("{}   stable  eigenvalues", header(&["Q", "R", "m"], p));
    for point in &report.fixed_points {
        let values = point
            .state
            .overlaps
            .iter()
            .copied()
            .chain([point.state.norm2])
            .chain(point.state.cosine());
        let eigenvalues: Vec<String> = point
            .eigenvalues
            .iter()
            .map(|&(re, im)| {
                if im == 0.0 {
                    format!("{re:.6}")
                } else {
                    format!("{re:.6}{im:+.6}i")
                }
            })
            .collect();
        let stable = if point.stable { "yes" } else { "no" };
        println!("{}   {stable:>6}  {}", row(values), eigenvalues.join(", "));
    }
}

/// The largest deviations from the reduced ODE over the samples of `trajectory`, one line
/// per cosine and one for the norm.
pub fn print_deviation(deviation: &Deviation, trajectory: &Trajectory) {
    let t_last = trajectory.t.last().copied().unwrap_or(0.0);
    println!(
        "largest deviation from the reduced ODE over {} samples (t = 0 to {t_last}):",
        trajectory.len()
    );
    for (j, error) in deviation.max_abs_cosine_error.iter().enumerate() {
        println!("  max |m_{0} - m_{0}^ODE| = {error:.2e}", j + 1);
    }
    println!(
        "  max |R - R^ODE|     = {:.2e}",
        deviation.max_abs_norm2_error
    );
}
