//! `mfcl fixed-points CONFIG`: the uninformative state and its growth rates, then every
//! fixed point found, with its stability and, for a layer, what each neuron has learned.

use mfcl_comparator::{FixedPoint, FixedPointReport};
use serde_json::{Value, json};

use crate::config::{ConfigArgs, load};
use crate::failure::Failure;
use crate::output::{self, state_header, state_row};

/// `mfcl fixed-points CONFIG`.
pub fn fixed_points(args: &ConfigArgs) -> Result<(), Failure> {
    let config = load(Some(&args.config), &args.options)?;
    let report = mfcl_comparator::fixed_points(&config.problem, &config.init, config.run.t_end)
        .map_err(Failure::input)?;
    if args.options.json {
        output::print_json(&fixed_points_json(&report, config.problem.neurons));
    } else {
        print_fixed_points(&report, config.problem.features(), config.problem.neurons);
    }
    Ok(())
}

/// `{"uninformative": {...}, "fixed_points": [...]}`. For one neuron the shapes of the
/// single-neuron release (lists of `p`, `R` a number); for a layer the states as nested
/// lists, the eigenvalues at the uninformative state, and per fixed point the feature
/// each neuron has learned (1-based, `null` for none).
pub fn fixed_points_json(report: &FixedPointReport, neurons: usize) -> Value {
    let u = &report.uninformative;
    if neurons <= 1 {
        return json!({
            "uninformative": { "norm2": u.norm2, "growth_rates": u.growth_rates },
            "fixed_points": report.fixed_points.iter().map(|f| json!({
                "overlaps": f.state.overlaps,
                "norm2": f.state.norm2[0],
                "cosine": f.state.cosine(),
                "eigenvalues": eigenvalue_pairs(&f.eigenvalues),
                "stable": f.stable,
            })).collect::<Vec<_>>(),
        });
    }
    json!({
        "neurons": neurons,
        "uninformative": {
            "norm2": u.norm2,
            "growth_rates": u.growth_rates,
            "eigenvalues": eigenvalue_pairs(&u.eigenvalues),
        },
        "fixed_points": report.fixed_points.iter().map(|f| {
            let mut doc = output::state_json(&f.state);
            doc["cosine"] = output::matrix(&f.state.cosine(), neurons);
            doc["eigenvalues"] = json!(eigenvalue_pairs(&f.eigenvalues));
            doc["stable"] = json!(f.stable);
            doc["learned"] = learned_json(f);
            doc
        }).collect::<Vec<_>>(),
    })
}

/// Eigenvalues as `[re, im]` pairs.
pub fn eigenvalue_pairs(values: &[(f64, f64)]) -> Vec<[f64; 2]> {
    values.iter().map(|&(re, im)| [re, im]).collect()
}

/// The feature each neuron has learned, 1-based, `null` for none.
pub fn learned_json(point: &FixedPoint) -> Value {
    json!(
        point
            .learned
            .iter()
            .map(|l| l.map(|j| j + 1))
            .collect::<Vec<_>>()
    )
}

/// `1,2,-`: the feature each neuron has learned (1-based; `-` for none).
pub fn learned(point: &FixedPoint) -> String {
    let names: Vec<String> = point
        .learned
        .iter()
        .map(|l| l.map_or("-".to_owned(), |j| (j + 1).to_string()))
        .collect();
    names.join(",")
}

/// The uninformative state, then one line per fixed point.
fn print_fixed_points(report: &FixedPointReport, p: usize, neurons: usize) {
    let u = &report.uninformative;
    if neurons <= 1 {
        println!("uninformative state: Q = 0, R_0 = {:.8}", u.norm2);
    } else {
        println!(
            "uninformative state: Q = 0, R = R_0 I with R_0 = {:.8}",
            u.norm2
        );
    }
    for (j, kappa) in u.growth_rates.iter().enumerate() {
        let verdict = if *kappa > 0.0 {
            "learnable"
        } else {
            "not learnable"
        };
        println!("  growth rate kappa_{} = {kappa:.8}  ({verdict})", j + 1);
    }
    if neurons > 1 {
        println!(
            "  eigenvalues of the Jacobian there: {}",
            format_eigenvalues(&u.eigenvalues)
        );
    }
    println!();
    if neurons <= 1 {
        println!("fixed points (up to the sign symmetry of symmetric hidden laws):");
        println!("{}   stable  eigenvalues", state_header(p, 1));
    } else {
        println!(
            "fixed points (up to neuron permutation and, for odd f and symmetric hidden laws, \
             each neuron's sign); learned: the feature of each neuron's largest |m_jk| \
             (- when below {}):",
            mfcl_comparator::LEARNED_COSINE
        );
        println!(
            "{}   stable  learned  eigenvalues",
            state_header(p, neurons)
        );
    }
    for point in &report.fixed_points {
        let stable = if point.stable { "yes" } else { "no" };
        let eigenvalues = format_eigenvalues(&point.eigenvalues);
        if neurons <= 1 {
            println!("{}   {stable:>6}  {eigenvalues}", state_row(&point.state));
        } else {
            println!(
                "{}   {stable:>6}  {:>7}  {eigenvalues}",
                state_row(&point.state),
                learned(point)
            );
        }
    }
}

fn format_eigenvalues(values: &[(f64, f64)]) -> String {
    let shown: Vec<String> = values
        .iter()
        .map(|&(re, im)| {
            if im == 0.0 {
                format!("{re:.6}")
            } else {
                format!("{re:.6}{im:+.6}i")
            }
        })
        .collect();
    shown.join(", ")
}
