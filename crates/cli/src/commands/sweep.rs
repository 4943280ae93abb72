//! `mfcl sweep`: the steady state reached from the config's initial condition, for each
//! value of one config key.

use std::io::IsTerminal;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use clap::Args;

use anyhow::anyhow;
use mfcl_comparator::{FixedPoint, steady_state, uninformative};
use mfcl_model::Config;
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::commands::fixed_points::{eigenvalue_pairs, learned, learned_json};
use crate::config::{ConfigOptions, load_with};
use crate::failure::Failure;
use crate::figures::sweep::{Sweep, SweepPoint, sweep_figure};
use crate::output::{neuron_cosine_header, neuron_cosine_row, state_header, state_row};
use crate::{figures, output, progress, threads};

/// Arguments of `mfcl sweep`.
#[derive(Args)]
pub struct SweepArgs {
    /// The TOML config; the steady state is sought from its [init].
    config: PathBuf,
    #[command(flatten)]
    options: ConfigOptions,
    /// The dotted config key to vary, e.g. model.noise.correlation.
    #[arg(long, value_name = "KEY")]
    param: String,
    /// K evenly spaced values from A to B inclusive, e.g. -0.9:0.9:19.
    #[arg(long, value_name = "A:B:K", allow_hyphen_values = true)]
    values: String,
    /// Also draw the steady state and growth rates against the value as a PNG (a PNG
    /// already there is replaced, any other file is refused).
    #[arg(long, value_name = "PNG")]
    plot: Option<PathBuf>,
    /// Number of worker threads (default: one per core). Results do not depend on it.
    #[arg(long, value_name = "K", value_parser = threads::parse_threads)]
    threads: Option<NonZeroUsize>,
}

/// `A:B:K`: `K` evenly spaced values from `A` to `B` inclusive (`K = 1` gives `A`).
pub fn parse_values(text: &str) -> anyhow::Result<Vec<f64>> {
    let parts: Vec<&str> = text.split(':').collect();
    let [a, b, k] = parts[..] else {
        return Err(anyhow!(
            "--values {text}: expected A:B:K (K evenly spaced values from A to B), e.g. -0.9:0.9:19"
        ));
    };
    let number = |s: &str, what: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| anyhow!("--values {text}: {what} = {s:?} is not a finite number"))
    };
    let (a, b) = (number(a, "A")?, number(b, "B")?);
    let k: usize = k.trim().parse().ok().filter(|&k| k >= 1).ok_or_else(|| {
        anyhow!("--values {text}: K = {k:?} must be a whole number of at least 1")
    })?;
    Ok((0..k)
        .map(|i| {
            if k == 1 {
                a
            } else {
                a + (b - a) * i as f64 / (k - 1) as f64
            }
        })
        .collect())
}

/// Why sweeping `key` cannot change the steady state, if it cannot: the `run` settings (the
/// solver, its size, step and times, the seed, the output) never enter the reduced ODE,
/// which is integrated from `[init]` until it comes to rest.
fn unsweepable(key: &str) -> Option<&'static str> {
    (key == "run" || key.starts_with("run.")).then_some(
        "the run settings do not enter the steady state, which the reduced ODE reaches from \
         [init] whatever the solver, its size, step, times or seed; sweep a model, train or \
         init key",
    )
}

/// `mfcl sweep CONFIG --param KEY --values A:B:K`, on `--threads` workers.
pub fn sweep(args: &SweepArgs) -> Result<(), Failure> {
    threads::install(args.threads, || sweep_command(args))?
}

/// `mfcl sweep CONFIG --param KEY --values A:B:K` on the current worker pool.
fn sweep_command(args: &SweepArgs) -> Result<(), Failure> {
    if let Some(why) = unsweepable(args.param.trim()) {
        return Err(Failure::input(anyhow!("--param {}: {why}", args.param)));
    }
    let values = parse_values(&args.values).map_err(Failure::input)?;
    // Every value is validated before any work starts.
    let configs: Vec<Config> = values
        .iter()
        .map(|value| {
            let set = format!("{}={value:?}", args.param);
            load_with(Some(&args.config), &args.options, &[set])
        })
        .collect::<Result<_, _>>()?;
    if let Some(config) = configs.first() {
        mfcl_comparator::ReducedOde::new(&config.problem).map_err(Failure::input)?;
    }
    if let Some(path) = &args.plot {
        figures::check_writable("--plot", path).map_err(Failure::input)?;
    }
    let bar = progress::counter(
        values.len() as u64,
        "values",
        !args.options.json && std::io::stderr().is_terminal(),
    );
    let points: Vec<SweepPoint> = values
        .par_iter()
        .zip(&configs)
        .map(|(&value, config)| {
            let point = SweepPoint {
                value,
                steady: steady_state(&config.problem, &config.init),
                growth_rates: uninformative(&config.problem).ok().map(|u| u.growth_rates),
            };
            bar.inc(1);
            point
        })
        .collect();
    bar.finish_and_clear();
    let sweep = Sweep {
        param: args.param.clone(),
        features: configs[0].problem.features(),
        neurons: configs[0].problem.neurons,
        points,
    };
    if args.options.json {
        output::print_json(&sweep_json(&sweep));
    } else {
        print_sweep(&sweep);
    }
    if let Some(path) = &args.plot {
        sweep_figure(path, &sweep).map_err(Failure::input)?;
        if !args.options.json {
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// DESIGN.md's `{"param", "values", "cosine", "norm2"}`, plus `"overlaps"`, `"stable"`,
/// `"growth_rates"` and `"error"`; a value without a steady state has `null` everywhere
/// but in `"error"`. For one neuron the shapes of the single-neuron release (`cosine` and
/// `overlaps` lists of `p`, `norm2` a number); for a layer `"neurons"`, the states as
/// nested lists (`p × K`, `K × K`) as `mfcl fixed-points --json` writes them, and per value
/// `"neuron_cosine"` (`K × K`, `R_kl / √(R_kk R_ll)`), `"learned"` and `"eigenvalues"`.
pub fn sweep_json(sweep: &Sweep) -> Value {
    let field = |f: &dyn Fn(&FixedPoint) -> Value| -> Vec<Value> {
        sweep
            .points
            .iter()
            .map(|p| p.steady.as_ref().map_or(Value::Null, f))
            .collect()
    };
    let mut doc = json!({
        "param": sweep.param,
        "values": sweep.points.iter().map(|p| p.value).collect::<Vec<_>>(),
        "stable": field(&|f| json!(f.stable)),
        "growth_rates": sweep.points.iter().map(|p| json!(p.growth_rates)).collect::<Vec<_>>(),
        "error": sweep.points.iter().map(|p| match &p.steady {
            Ok(_) => Value::Null,
            Err(error) => json!(error.to_string()),
        }).collect::<Vec<_>>(),
    });
    let k = sweep.neurons;
    if k <= 1 {
        doc["cosine"] = json!(field(&|f| json!(f.state.cosine())));
        doc["norm2"] = json!(field(&|f| json!(f.state.norm2[0])));
        doc["overlaps"] = json!(field(&|f| json!(f.state.overlaps)));
        return doc;
    }
    doc["neurons"] = json!(k);
    doc["cosine"] = json!(field(&|f| output::matrix(&f.state.cosine(), k)));
    doc["norm2"] = json!(field(&|f| output::matrix(&f.state.norm2, k)));
    doc["overlaps"] = json!(field(&|f| output::matrix(&f.state.overlaps, k)));
    doc["neuron_cosine"] = json!(field(&|f| output::matrix(
        &output::neuron_cosines(&f.state),
        k
    )));
    doc["learned"] = json!(field(&learned_json));
    doc["eigenvalues"] = json!(field(&|f| json!(eigenvalue_pairs(&f.eigenvalues))));
    doc
}

/// One row per value: the steady state (for one neuron `m_j`, `R`; for a layer `m_jk`,
/// `R_kl`, the neuron–neuron cosines `cos_kl` and what each neuron has learned), whether
/// it is stable, and the growth rates at the uninformative state; then the reason for
/// every value without a steady state.
fn print_sweep(sweep: &Sweep) {
    let (p, k) = (sweep.features, sweep.neurons);
    let name = sweep.param.rsplit('.').next().unwrap_or("");
    let width = 12.max(name.len() + 1);
    let mut head = format!("{name:>width$}");
    if k <= 1 {
        for j in 1..=p {
            head += &format!("{:>12}", format!("m_{j}"));
        }
        head += &format!("{:>12}   stable", "R");
    } else {
        head += &state_header(p, k);
        head += &neuron_cosine_header(k);
        head += &format!("   stable  {:>7}", "learned");
    }
    // Columns of the steady state, for the gap of a value without one.
    let state_width = head.chars().count() - width;
    for j in 1..=p {
        head += &format!("{:>12}", format!("kappa_{j}"));
    }
    println!(
        "steady states from the config's initial condition, by {}:",
        sweep.param
    );
    if k > 1 {
        println!(
            "(cos_kl = R_kl/sqrt(R_kk R_ll); learned: the feature of each neuron's largest |m_jk|, \
             - when below {})",
            mfcl_comparator::LEARNED_COSINE
        );
    }
    println!("{head}");
    for point in &sweep.points {
        let mut line = format!(" {:>w$.6}", point.value, w = width - 1);
        match &point.steady {
            Ok(f) => {
                let stable = if f.stable { "yes" } else { "no" };
                if k <= 1 {
                    for m in f.state.cosine() {
                        line += &format!(" {m:>11.8}");
                    }
                    line += &format!(" {:>11.8}   {stable:>6}", f.state.norm2[0]);
                } else {
                    line += &state_row(&f.state);
                    line += &neuron_cosine_row(&f.state);
                    line += &format!("   {stable:>6}  {:>7}", learned(f));
                }
            }
            Err(_) => {
                line += &format!("{:>state_width$}", "not converged");
            }
        }
        for kappa in point.growth_rates.iter().flatten() {
            line += &format!(" {kappa:>11.6}");
        }
        println!("{line}");
    }
    for point in &sweep.points {
        if let Err(error) = &point.steady {
            println!("  {} = {}: {error}", sweep.param, point.value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_evenly_spaced_and_inclusive() {
        assert_eq!(
            parse_values("0:1:5").unwrap(),
            vec![0.0, 0.25, 0.5, 0.75, 1.0]
        );
        assert_eq!(parse_values("-0.5:0.5:1").unwrap(), vec![-0.5]);
        assert_eq!(parse_values("1:0:3").unwrap(), vec![1.0, 0.5, 0.0]);
        for bad in ["0:1", "0:1:0", "a:1:3", "0:1:2.5", "0:inf:3", "0:1:3:4"] {
            assert!(parse_values(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn run_settings_cannot_be_swept() {
        for key in ["run.dt", "run.seed", "run.t_end", "run"] {
            assert!(unsweepable(key).is_some(), "{key}");
        }
        for key in [
            "model.noise.correlation",
            "train.strength",
            "init.norm2",
            "runs.x",
        ] {
            assert!(unsweepable(key).is_none(), "{key}");
        }
    }
}
