//! One function per subcommand (`run`, the largest, has its own module), and the config
//! loading that they share.

use std::path::Path;

use anyhow::Context;
use mfcl_comparator::{ComparatorError, ReducedOde, Tolerance};
use mfcl_model::Config;

use crate::{ConfigArgs, Failure, output};

/// Reads and validates a config with its `--set` overrides; without a path, the embedded
/// quickstart, so that `mfcl run` works out of the box and still takes overrides.
pub fn load(path: Option<&Path>, sets: &[String]) -> Result<Config, Failure> {
    let (text, name) = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config {}", path.display()))
                .map_err(Failure::input)?;
            (text, path.display().to_string())
        }
        // `source` is the quickstart's own document, so overrides apply to it as to a file.
        None => (
            Config::quickstart().source,
            "(the embedded quickstart)".into(),
        ),
    };
    Config::parse_with(&text, sets)
        .with_context(|| format!("invalid config {name}"))
        .map_err(Failure::input)
}

/// Every comparator error comes from the config's content: no closed ODE, or a problem
/// whose dynamics leave the domain.
fn comparator_failure(error: ComparatorError) -> Failure {
    Failure::input(error)
}

/// `mfcl ode CONFIG`.
pub fn ode(args: &ConfigArgs) -> Result<(), Failure> {
    let config = load(Some(&args.config), &args.options.sets)?;
    let ode = ReducedOde::new(&config.problem).map_err(comparator_failure)?;
    let trajectory = ode
        .integrate(
            &config.init,
            config.run.t_end,
            config.run.record_every,
            Tolerance::default(),
        )
        .map_err(comparator_failure)?;
    if args.options.json {
        output::print_json(&output::trajectory_json(&trajectory));
    } else {
        output::print_trajectory(&trajectory);
    }
    Ok(())
}

/// `mfcl fixed-points CONFIG`.
pub fn fixed_points(args: &ConfigArgs) -> Result<(), Failure> {
    let config = load(Some(&args.config), &args.options.sets)?;
    let report = mfcl_comparator::fixed_points(&config.problem, &config.init, config.run.t_end)
        .map_err(comparator_failure)?;
    if args.options.json {
        output::print_json(&output::fixed_points_json(&report));
    } else {
        output::print_fixed_points(&report);
    }
    Ok(())
}
