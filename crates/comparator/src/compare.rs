//! Trajectory against trajectory: the metrics of `mfcl compare` and of run summaries.

use mfcl_model::Trajectory;

/// Largest deviations between two trajectories sampled at the same times.
#[derive(Debug, Clone, PartialEq)]
pub struct Deviation {
    /// `max_t |m_j − m_j'|`, per feature.
    pub max_abs_cosine_error: Vec<f64>,
    /// `max_t |R − R'|`.
    pub max_abs_norm2_error: f64,
}

impl Deviation {
    /// The largest cosine deviation over all features.
    pub fn worst_cosine(&self) -> f64 {
        self.max_abs_cosine_error
            .iter()
            .fold(0.0, |m: f64, e| m.max(*e))
    }
}

/// Compares `a` with `reference` sample by sample. `None` if their time grids differ.
pub fn deviation(a: &Trajectory, reference: &Trajectory) -> Option<Deviation> {
    let same_grid = a.len() == reference.len()
        && a.t
            .iter()
            .zip(&reference.t)
            .all(|(s, t)| (s - t).abs() <= 1e-9 * t.abs().max(1.0));
    if !same_grid || a.is_empty() {
        return None;
    }
    let p = a.overlaps[0].len();
    let mut max_abs_cosine_error = vec![0.0f64; p];
    let mut max_abs_norm2_error = 0.0f64;
    for ((m, m_ref), (r, r_ref)) in a
        .cosine()
        .iter()
        .zip(reference.cosine())
        .zip(a.norm2.iter().zip(&reference.norm2))
    {
        for (e, (x, y)) in max_abs_cosine_error.iter_mut().zip(m.iter().zip(&m_ref)) {
            *e = e.max((x - y).abs());
        }
        max_abs_norm2_error = max_abs_norm2_error.max((r - r_ref).abs());
    }
    Some(Deviation {
        max_abs_cosine_error,
        max_abs_norm2_error,
    })
}
