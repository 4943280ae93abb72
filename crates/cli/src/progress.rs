//! The progress bar of `mfcl run`: a solver observer that draws on stderr.

use std::fmt::Write;
use std::time::Duration;

use indicatif::{HumanCount, ProgressBar, ProgressState, ProgressStyle};
use mfcl_model::{SolverKind, Trajectory};
use mfcl_solver::{Observer, ObserverError, Schedule, Stepper};

use crate::output;

/// A bar over the steps of a run, showing model time, the cosines `m_j`, the rate and the
/// ETA; it advances at every recorded sample.
pub struct Progress {
    bar: ProgressBar,
    t_end: f64,
}

impl Progress {
    /// Starts drawing a bar for `schedule`, whose steps update `size` particles or
    /// coordinates each.
    pub fn start(
        schedule: &Schedule,
        t_end: f64,
        size: usize,
        solver: SolverKind,
        visible: bool,
    ) -> Progress {
        let unit = output::step_unit(solver);
        // indicatif measures steps per second; what compares across sizes is the rate at
        // which particles (or coordinates) are updated.
        let rate = move |state: &ProgressState, w: &mut dyn Write| {
            let rate = HumanCount((state.per_sec() * size as f64) as u64);
            write!(w, "{rate} {unit}/s").expect("the bar renders into a String");
        };
        // The bar takes whatever width the text leaves, so that the line fits the terminal.
        let style =
            ProgressStyle::with_template("{elapsed_precise} [{wide_bar}] {msg}  {rate}  ETA {eta}")
                .expect("the template is valid")
                .with_key("rate", rate)
                .progress_chars("=> ");
        let bar = if visible {
            ProgressBar::new(schedule.total_steps)
        } else {
            ProgressBar::hidden()
        }
        .with_style(style);
        // Samples of a large run can be seconds apart: a steady tick keeps the elapsed time
        // and the ETA moving in between.
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar, t_end }
    }

    /// Removes the bar, leaving the terminal to the summary or the error.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

impl<S: Stepper> Observer<S> for Progress {
    fn on_record(&mut self, stepper: &S, _trajectory: &Trajectory) -> Result<(), ObserverError> {
        let cosines: Vec<String> = stepper
            .order_parameters()
            .cosine()
            .iter()
            .map(|m| format!("{m:.4}"))
            .collect();
        self.bar.set_message(format!(
            "t = {:.2}/{}  m = {}",
            stepper.time(),
            self.t_end,
            cosines.join(" ")
        ));
        self.bar.set_position(stepper.steps_taken());
        Ok(())
    }
}

/// A bar that counts finished items (`mfcl basins`, `mfcl sweep`) with the rate and ETA;
/// hidden unless `visible`.
pub fn counter(total: u64, unit: &'static str, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template(&format!(
        "{{elapsed_precise}} [{{wide_bar}}] {{pos}}/{{len}} {unit}  ETA {{eta}}"
    ))
    .expect("the template is valid")
    .progress_chars("=> ");
    let bar = ProgressBar::new(total).with_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
