//! Reading run files, which every command that takes one shares: a file that cannot be used
//! is bad input (exit 2) with one line saying why; and the reduced ODE a run is compared with.

use std::path::{Path, PathBuf};

use anyhow::anyhow;
use mfcl_checkpoint::{RunContents, read_run, writer_of};
use mfcl_comparator::{
    ComparatorError, LAYER_BASIN_QUADRATURE, LAYER_BASIN_TOLERANCE, ReducedOde, Tolerance,
};
use mfcl_model::{Config, RunSettings, SolverKind, Trajectory};

use crate::failure::Failure;

/// A run file, whole, and the config it was run with.
pub struct Run {
    /// Where the file is.
    pub path: PathBuf,
    /// What the file holds.
    pub contents: RunContents,
    /// The config stored in its header, parsed and validated.
    pub config: Config,
}

/// Reads the run file at `path` and parses its config. Missing, damaged and foreign files,
/// and configs that this version refuses, are bad input. A run that another process is
/// writing is read as it is now, with a note saying so; if that read fails, the message
/// says that the file is being written rather than damaged.
pub fn read_run_file(path: &Path) -> Result<Run, Failure> {
    // One line, as `main` prints it: HDF5 and TOML messages may contain line breaks.
    let unusable = |why: String| {
        Failure::input(anyhow!(
            "cannot read the run file: {}",
            why.replace('\n', " ")
        ))
    };
    let name = path.display();
    let writer = writer_of(path);
    if !path.exists() {
        let yet = match &writer {
            Some(writer) => format!(" yet ({writer} is starting it)"),
            None => String::new(),
        };
        return Err(unusable(format!("{name}: no such file{yet}")));
    }
    if path.is_dir() {
        return Err(unusable(format!("{name}: it is a folder")));
    }
    if let Some(writer) = &writer {
        eprintln!("note: {name} is being written by {writer}; reading it as it is now");
    }
    let contents = read_run(path).map_err(|error| {
        if let Some(writer) = &writer {
            return unusable(format!(
                "{name} is being written by {writer} and cannot be read as it is now ({error}): \
                 try again when it ends"
            ));
        }
        // The error's own text (not `{:#}`): it starts with the path and already ends with
        // what HDF5 said, its source. HDF5 locks a file while a process writes it: say what
        // that means (the hdf5 crate exposes no error code for it, only this text).
        let message = error.to_string();
        let hint = if message.contains("unable to lock file") {
            " (a run still writing it holds the lock: wait until it ends)"
        } else {
            ""
        };
        unusable(format!("{message}{hint}"))
    })?;
    let config = Config::parse(&contents.header.config)
        .map_err(|error| unusable(format!("{name}: the config it holds is invalid: {error}")))?;
    let (features, neurons) = (config.problem.features(), config.problem.neurons);
    if let Some(found) = contents.trajectory.overlaps.first().map(Vec::len)
        && (found != features * neurons || contents.trajectory.neurons != neurons)
    {
        return Err(unusable(format!(
            "{name}: the trajectory has {found} overlaps of {} neurons per sample but the config has {features} features and {neurons} neurons",
            contents.trajectory.neurons
        )));
    }
    Ok(Run {
        path: path.to_path_buf(),
        contents,
        config,
    })
}

/// `N` for particles, `n` for SGD: the size that sets a run's statistical error.
pub fn size(run: &RunSettings) -> usize {
    match run.solver {
        SolverKind::Particles => run.particles,
        SolverKind::Sgd => run.dimension,
    }
}

/// The reduced ODE from the config's `init`, sampled at the times of `trajectory`. A
/// layer's is integrated as its basins are (the particles' quadrature, tolerance 1e-6):
/// within 5.3e-7 of the default on `two_neurons.toml` (tested), far below the statistical
/// error of any run (above 1e-4 for N ≤ 1e8), and ten times cheaper. At the defaults it took three quarters of the time
/// of a `two_neurons.toml` run.
pub fn reference_ode(
    config: &Config,
    trajectory: &Trajectory,
) -> Result<Trajectory, ComparatorError> {
    let ode = ReducedOde::new(&config.problem)?;
    if config.problem.neurons == 1 {
        ode.integrate_at(&config.init, &trajectory.t, Tolerance::default())
    } else {
        ode.with_quadrature(LAYER_BASIN_QUADRATURE).integrate_at(
            &config.init,
            &trajectory.t,
            LAYER_BASIN_TOLERANCE,
        )
    }
}

impl Run {
    /// The last recorded time, if anything was recorded.
    pub fn t_reached(&self) -> Option<f64> {
        self.contents.trajectory.t.last().copied()
    }

    /// Whether the run reached its `t_end`. A run stopped by Ctrl-C, a divergence or a
    /// crash has not; the driver always records the last step, so a finished run's last
    /// sample is at `t_end` (to rounding: times are `steps · dt`).
    pub fn is_complete(&self) -> bool {
        let t_end = self.config.run.t_end;
        self.t_reached()
            .is_some_and(|t| t >= t_end - 1e-9 * t_end.abs().max(1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A layer's reference ODE, at the coarser quadrature and tolerance, stays within 2e-6
    /// of the ODE at the defaults (MODEL.md §7's example with decorrelation, to t = 2;
    /// 5.3e-7 measured): fifty times below the statistical error of the largest runs
    /// (`1/√N ≈ 1e-4` at `N = 10⁸`).
    #[test]
    fn a_layers_reference_is_the_default_ode_to_2e_6() {
        let config = Config::parse(include_str!("../../../data/configs/two_neurons.toml"))
            .expect("the config parses");
        let times: Vec<f64> = (0..=20).map(|k| f64::from(k) * 0.1).collect();
        let samples = Trajectory {
            t: times.clone(),
            ..Trajectory::default()
        };
        let coarse = reference_ode(&config, &samples).unwrap();
        let exact = ReducedOde::new(&config.problem)
            .unwrap()
            .integrate_at(&config.init, &times, Tolerance::default())
            .unwrap();
        let deviation = mfcl_comparator::deviation(&coarse, &exact).expect("the same grid");
        let largest = deviation
            .max_abs_overlap_error
            .iter()
            .chain(&deviation.max_abs_norm2_error)
            .fold(0.0, |m: f64, e| m.max(*e));
        assert!(largest < 2e-6, "{largest:.2e}");
    }
}
