//! `mfcl ode CONFIG`: the reduced ODE from the config's `init` to `run.t_end`.

use anyhow::anyhow;
use mfcl_comparator::{ReducedOde, Tolerance, recording_times};
use serde_json::json;

use crate::config::{ConfigArgs, load};
use crate::failure::Failure;
use crate::output;

/// `mfcl ode CONFIG`. A divergence is a failed computation, as for `mfcl run`: the samples
/// up to it are printed (in JSON with an `"error"` key) and the exit code is 1.
pub fn ode(args: &ConfigArgs) -> Result<(), Failure> {
    let config = load(Some(&args.config), &args.options)?;
    // No closed ODE (l1, elastic) is a property of the config: bad input.
    let ode = ReducedOde::new(&config.problem).map_err(Failure::input)?;
    let times = recording_times(config.run.t_end, config.run.record_every);
    let (trajectory, error) =
        match ode.integrate_recording(&config.init, &times, Tolerance::default()) {
            Ok(trajectory) => (trajectory, None),
            Err(stopped) => (stopped.trajectory, Some(stopped.error)),
        };
    if args.options.json {
        let mut doc = output::trajectory_json(&trajectory);
        if let Some(error) = &error {
            doc["error"] = json!(error.to_string());
        }
        output::print_json(&doc);
    } else {
        output::print_trajectory(&trajectory);
    }
    match error {
        Some(error) => Err(Failure::failed(anyhow!(error))),
        None => Ok(()),
    }
}
