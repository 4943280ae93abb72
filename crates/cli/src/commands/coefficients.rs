//! `mfcl coefficients CONFIG`: the coefficient functionals `g`, `G_0`, `V` (MODEL.md §7)
//! at the config's `init` state, for theorists checking their own derivations.

use crate::config::{ConfigArgs, load};
use crate::failure::Failure;
use crate::output;

/// `mfcl coefficients CONFIG [--set k=v]... [--json]`. JSON: `{"overlaps": p×K,
/// "norm2": K×K, "drive": p×K, "self_term": K×K, "noise": K×K}`, nested lists for every
/// `K`.
pub fn coefficients(args: &ConfigArgs) -> Result<(), Failure> {
    let config = load(Some(&args.config), &args.options)?;
    let state = &config.init;
    let k = state.neurons;
    let c = config.problem.coefficients(state);
    if args.options.json {
        let mut doc = output::state_json(state);
        doc["drive"] = output::matrix(&c.drive, k);
        doc["self_term"] = output::matrix(&c.self_term, k);
        doc["noise"] = output::matrix(&c.noise, k);
        output::print_json(&doc);
        return Ok(());
    }
    println!(
        "coefficients at the config's init state (p = {}, K = {k}, beta = {}):",
        config.problem.features(),
        config.problem.decorrelation
    );
    for (name, entries) in [
        ("Q (overlaps, rows: features)", &state.overlaps),
        ("R (norm2)", &state.norm2),
        ("g (drive, rows: features)", &c.drive),
        ("G_0 (self_term)", &c.self_term),
        ("V (noise)", &c.noise),
    ] {
        println!("{name}:");
        for line in entries.chunks(k) {
            println!("{}", output::row(line.iter().copied()));
        }
    }
    Ok(())
}
