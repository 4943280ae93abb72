//! One function per subcommand.

use anyhow::Context;
use mfcl_comparator::{ComparatorError, ReducedOde, Tolerance};
use mfcl_model::Config;

use crate::{ConfigArgs, Failure, output};

/// Reads and validates the config with its `--set` overrides.
fn load(args: &ConfigArgs) -> Result<Config, Failure> {
    let path = &args.config;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config {}", path.display()))
        .map_err(Failure::input)?;
    Config::parse_with(&text, &args.sets)
        .with_context(|| format!("invalid config {}", path.display()))
        .map_err(Failure::input)
}

/// Every comparator error comes from the config's content: no closed ODE, or a problem
/// whose dynamics leave the domain.
fn comparator_failure(error: ComparatorError) -> Failure {
    Failure::input(error)
}

/// `mfcl ode CONFIG`.
pub fn ode(args: &ConfigArgs) -> Result<(), Failure> {
    let config = load(args)?;
    let ode = ReducedOde::new(&config.problem).map_err(comparator_failure)?;
    let trajectory = ode
        .integrate(
            &config.init,
            config.run.t_end,
            config.run.record_every,
            Tolerance::default(),
        )
        .map_err(comparator_failure)?;
    if args.json {
        output::print_json(&output::trajectory_json(&trajectory));
    } else {
        output::print_trajectory(&trajectory);
    }
    Ok(())
}

/// `mfcl fixed-points CONFIG`.
pub fn fixed_points(args: &ConfigArgs) -> Result<(), Failure> {
    let config = load(args)?;
    let report = mfcl_comparator::fixed_points(&config.problem, &config.init, config.run.t_end)
        .map_err(comparator_failure)?;
    if args.json {
        output::print_json(&output::fixed_points_json(&report));
    } else {
        output::print_fixed_points(&report);
    }
    Ok(())
}
