//! `mfcl fixed-points CONFIG`: the uninformative state and its growth rates, then every
//! fixed point found, with its stability.

use mfcl_comparator::FixedPointReport;
use serde_json::{Value, json};

use crate::config::{ConfigArgs, load};
use crate::failure::Failure;
use crate::output::{self, header, row};

/// `mfcl fixed-points CONFIG`.
pub fn fixed_points(args: &ConfigArgs) -> Result<(), Failure> {
    let config = load(Some(&args.config), &args.options)?;
    let report = mfcl_comparator::fixed_points(&config.problem, &config.init, config.run.t_end)
        .map_err(Failure::input)?;
    if args.options.json {
        output::print_json(&fixed_points_json(&report));
    } else {
        print_fixed_points(&report);
    }
    Ok(())
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

/// The uninformative state, then one line per fixed point.
fn print_fixed_points(report: &FixedPointReport) {
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
