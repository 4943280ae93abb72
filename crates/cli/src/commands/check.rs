//! `mfcl check CONFIG`: validates a config with its edits and prints it resolved, every
//! default filled in, so that a script can vet a whole grid before launching any of it.

use anyhow::Context;

use crate::config::{ConfigArgs, load};
use crate::failure::Failure;
use crate::output;

/// `mfcl check CONFIG [--set k=v]... [--unset k]... [--json]`.
pub fn check(args: &ConfigArgs) -> Result<(), Failure> {
    let config = load(Some(&args.config), &args.options)?;
    let resolved = config.resolved();
    if args.options.json {
        // The same document as a JSON object: TOML maps onto JSON one to one.
        let table: toml::Table = resolved
            .parse()
            .context("the resolved config does not reparse")
            .map_err(Failure::failed)?;
        let value = serde_json::to_value(table)
            .context("the resolved config does not convert to JSON")
            .map_err(Failure::failed)?;
        output::print_json(&value);
    } else {
        print!("{resolved}");
    }
    Ok(())
}
