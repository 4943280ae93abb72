//! What several commands print: JSON documents in the shapes of DESIGN.md, and tables.

use mfcl_comparator::Deviation;
use mfcl_model::{OrderParameters, SolverKind, Trajectory};
use serde_json::{Value, json};

/// `{"t", "overlaps", "norm2", "cosine"}`: for `K = 1` lists `(T, p)` and `(T,)` as they
/// always were; for `K ≥ 2` nested lists `(T, p, K)`, `(T, K, K)`, `(T, p, K)` and a
/// `"neurons"` key.
pub fn trajectory_json(trajectory: &Trajectory) -> Value {
    let k = trajectory.neurons.max(1);
    let cosine = trajectory.cosine();
    if k == 1 {
        let norm2: Vec<f64> = trajectory.norm2.iter().map(|r| r[0]).collect();
        return json!({
            "t": trajectory.t,
            "overlaps": trajectory.overlaps,
            "norm2": norm2,
            "cosine": cosine,
        });
    }
    let nest = |rows: &[Vec<f64>]| -> Vec<Value> { rows.iter().map(|m| matrix(m, k)).collect() };
    json!({
        "neurons": k,
        "t": trajectory.t,
        "overlaps": nest(&trajectory.overlaps),
        "norm2": nest(&trajectory.norm2),
        "cosine": nest(&cosine),
    })
}

/// A row-major matrix with `columns` columns as a nested list of rows.
pub fn matrix(entries: &[f64], columns: usize) -> Value {
    json!(entries.chunks(columns.max(1)).collect::<Vec<_>>())
}

/// `{"overlaps": p×K, "norm2": K×K}` as nested lists, for every `K`.
pub fn state_json(state: &OrderParameters) -> Value {
    json!({
        "overlaps": matrix(&state.overlaps, state.neurons),
        "norm2": matrix(&state.norm2, state.neurons),
    })
}

/// `{"max_abs_cosine_error": [..], "max_abs_norm2_error": x}` for `K = 1`; for `K ≥ 2`
/// the cosine and overlap errors as `p × K` and the norm errors as `K × K` nested lists.
pub fn deviation_json(deviation: &Deviation, neurons: usize) -> Value {
    if neurons <= 1 {
        return json!({
            "max_abs_cosine_error": deviation.max_abs_cosine_error,
            "max_abs_norm2_error": deviation.max_abs_norm2_error[0],
        });
    }
    json!({
        "max_abs_cosine_error": matrix(&deviation.max_abs_cosine_error, neurons),
        "max_abs_overlap_error": matrix(&deviation.max_abs_overlap_error, neurons),
        "max_abs_norm2_error": matrix(&deviation.max_abs_norm2_error, neurons),
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
    values
        .into_iter()
        // A rounding residue such as −1e-12 would print as −0.00000000.
        .map(|v| if v.abs() < 5e-9 { 0.0 } else { v })
        .map(|v| format!(" {v:>11.8}"))
        .collect()
}

/// `a_jk` with one-digit indices run together, as MODEL.md writes them, and a comma
/// otherwise.
fn indexed(name: &str, a: usize, b: usize) -> String {
    if a < 10 && b < 10 {
        format!("{name}_{a}{b}")
    } else {
        format!("{name}_{a},{b}")
    }
}

/// The column names of [`state_row`]: for `K = 1`, `Q_j`, `R`, `m_j`; for a layer the
/// cosines `m_jk` (feature `j`, neuron `k`) and the Gram matrix `R_kl` for `k ≤ l`.
pub fn state_header(p: usize, neurons: usize) -> String {
    if neurons <= 1 {
        return header(&["Q", "R", "m"], p);
    }
    let cosines = (1..=p).flat_map(|j| (1..=neurons).map(move |k| indexed("m", j, k)));
    let gram = (1..=neurons).flat_map(|k| (k..=neurons).map(move |l| indexed("R", k, l)));
    cosines
        .chain(gram)
        .map(|name| format!("{name:>12}"))
        .collect()
}

/// The neuron–neuron cosines `R_kl / √(R_kk R_ll)`, `K × K` row-major (ones on the
/// diagonal): the cosines between the neurons' weight vectors.
pub fn neuron_cosines(state: &OrderParameters) -> Vec<f64> {
    let k = state.neurons;
    (0..k * k)
        .map(|i| {
            let (a, b) = (i / k, i % k);
            state.gram(a, b) / (state.gram(a, a) * state.gram(b, b)).sqrt()
        })
        .collect()
}

/// The names `cos_kl` of the neuron–neuron cosines for `k < l`, in columns of 12
/// characters.
pub fn neuron_cosine_header(neurons: usize) -> String {
    (1..=neurons)
        .flat_map(|k| (k + 1..=neurons).map(move |l| indexed("cos", k, l)))
        .map(|name| format!("{name:>12}"))
        .collect()
}

/// The values under [`neuron_cosine_header`].
pub fn neuron_cosine_row(state: &OrderParameters) -> String {
    let (k, cosines) = (state.neurons, &neuron_cosines(state));
    row((0..k).flat_map(|a| (a + 1..k).map(move |b| cosines[a * k + b])))
}

/// The values under [`state_header`].
pub fn state_row(state: &OrderParameters) -> String {
    let k = state.neurons;
    if k <= 1 {
        let values = state
            .overlaps
            .iter()
            .copied()
            .chain([state.norm2[0]])
            .chain(state.cosine());
        return row(values);
    }
    let gram = (0..k).flat_map(|a| (a..k).map(move |b| state.gram(a, b)));
    row(state.cosine().into_iter().chain(gram))
}

/// The column names of [`sample_row`].
fn trajectory_header(trajectory: &Trajectory) -> String {
    let p = trajectory.overlaps.first().map_or(0, Vec::len) / trajectory.neurons.max(1);
    format!("{:>12}{}", "t", state_header(p, trajectory.neurons))
}

/// `t` and the state of sample `i`.
fn sample_row(trajectory: &Trajectory, i: usize) -> String {
    row([trajectory.t[i]]) + &state_row(&trajectory.state(i))
}

/// One row per recorded time: `t`, then `Q_j`, `R`, `m_j` (one neuron) or `m_jk`, `R_kl`.
pub fn print_trajectory(trajectory: &Trajectory) {
    println!("{}", trajectory_header(trajectory));
    for i in 0..trajectory.len() {
        println!("{}", sample_row(trajectory, i));
    }
}

/// The last recorded sample, under its header.
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
/// per cosine and one per entry of the Gram matrix.
pub fn print_deviation(deviation: &Deviation, trajectory: &Trajectory) {
    let t_last = trajectory.t.last().copied().unwrap_or(0.0);
    println!(
        "largest deviation from the reduced ODE over {} samples (t = 0 to {}):",
        trajectory.len(),
        time(t_last)
    );
    let k = trajectory.neurons.max(1);
    if k == 1 {
        for (j, error) in deviation.max_abs_cosine_error.iter().enumerate() {
            println!("  max |m_{0} - m_{0}^ODE| = {error:.2e}", j + 1);
        }
        println!(
            "  max |R - R^ODE|     = {:.2e}",
            deviation.max_abs_norm2_error[0]
        );
        return;
    }
    for (i, error) in deviation.max_abs_cosine_error.iter().enumerate() {
        let m = indexed("m", i / k + 1, i % k + 1);
        println!("  max |{m} - {m}^ODE| = {error:.2e}");
    }
    for a in 0..k {
        for b in a..k {
            let r = indexed("R", a + 1, b + 1);
            let error = deviation.max_abs_norm2_error[a * k + b];
            println!("  max |{r} - {r}^ODE| = {error:.2e}");
        }
    }
}

/// A model time as people write it, `3.8` and not `3.8000000000000003` (see
/// [`mfcl_model::Time`], which library messages use too).
pub fn time(t: f64) -> String {
    mfcl_model::Time(t).to_string()
}
