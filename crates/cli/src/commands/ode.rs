//! `mfcl ode CONFIG`: the reduced ODE from the config's `init` to `run.t_end`.

use mfcl_comparator::{ReducedOde, Tolerance};

use crate::config::{ConfigArgs, load};
use crate::failure::Failure;
use crate::output;

/// `mfcl ode CONFIG`.
pub fn ode(args: &ConfigArgs) -> Result<(), Failure> {
    let config = load(Some(&args.config), &args.options.sets)?;
    // Every comparator error comes from the config's content: no closed ODE, or a problem
    // whose dynamics leave the domain.
    let ode = ReducedOde::new(&config.problem).map_err(Failure::input)?;
    let trajectory = ode
        .integrate(
            &config.init,
            config.run.t_end,
            config.run.record_every,
            Tolerance::default(),
        )
        .map_err(Failure::input)?;
    if args.options.json {
        output::print_json(&output::trajectory_json(&trajectory));
    } else {
        output::print_trajectory(&trajectory);
    }
    Ok(())
}
