//! JSON documents in the shapes of DESIGN.md, and readable tables.

use mfcl_comparator::FixedPointReport;
use mfcl_model::Trajectory;
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

fn row(values: impl IntoIterator<Item = f64>) -> String {
    values.into_iter().map(|v| format!("{v:>12.8}")).collect()
}

/// `t`, `Q_j`, `R`, `m_j` per recorded time.
pub fn print_trajectory(trajectory: &Trajectory) {
    let p = trajectory.overlaps.first().map_or(0, Vec::len);
    println!("{}", header(&["t", "Q", "R", "m"], p));
    for (k, cosine) in trajectory.cosine().iter().enumerate() {
        let values = std::iter::once(trajectory.t[k])
            .chain(trajectory.overlaps[k].iter().copied())
            .chain([trajectory.norm2[k]])
            .chain(cosine.iter().copied());
        println!("{}", row(values));
    }
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
