//! What several commands print: JSON documents in the shapes of DESIGN.md, and tables.

use mfcl_comparator::Deviation;
use mfcl_model::{SolverKind, Trajectory, cosine};
use serde_json::{Value, json};

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

/// One JSON document on stdout.
pub fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values always serialise")
    );
}

/// Column names of 12 characters: `t` and `R` as they are, every other name once per
/// feature (`Q_1`, `Q_2`, …).
pub fn header(names: &[&str], p: usize) -> String {
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
pub fn row(values: impl IntoIterator<Item = f64>) -> String {
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

/// The largest deviations from the reduced ODE over the samples of `trajectory`, one line
/// per cosine and one for the norm.
pub fn print_deviation(deviation: &Deviation, trajectory: &Trajectory) {
    let t_last = trajectory.t.last().copied().unwrap_or(0.0);
    println!(
        "largest deviation from the reduced ODE over {} samples (t = 0 to {}):",
        trajectory.len(),
        time(t_last)
    );
    for (j, error) in deviation.max_abs_cosine_error.iter().enumerate() {
        println!("  max |m_{0} - m_{0}^ODE| = {error:.2e}", j + 1);
    }
    println!(
        "  max |R - R^ODE|     = {:.2e}",
        deviation.max_abs_norm2_error
    );
}

/// A model time as people write it, `3.8` and not `3.8000000000000003` (see
/// [`mfcl_model::Time`], which library messages use too).
pub fn time(t: f64) -> String {
    mfcl_model::Time(t).to_string()
}
