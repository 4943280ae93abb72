//! Trajectory against trajectory: the metrics of `mfcl compare` and of run summaries.

use mfcl_model::Trajectory;

use crate::max_abs;

/// Largest deviations between two trajectories sampled at the same times.
#[derive(Debug, Clone, PartialEq)]
pub struct Deviation {
    /// `max_t |m_jk − m_jk'|`, `p × K` row-major like the overlaps (one per feature when
    /// `K = 1`).
    pub max_abs_cosine_error: Vec<f64>,
    /// `max_t |Q_jk − Q_jk'|`, `p × K` row-major.
    pub max_abs_overlap_error: Vec<f64>,
    /// `max_t |R_kl − R_kl'|`, `K × K` row-major (symmetric).
    pub max_abs_norm2_error: Vec<f64>,
}

impl Deviation {
    /// The largest cosine deviation over all features and neurons.
    pub fn worst_cosine(&self) -> f64 {
        max_abs(self.max_abs_cosine_error.iter().copied())
    }

    /// The largest deviation of the Gram matrix over all its entries (`|R − R'|` when
    /// `K = 1`).
    pub fn worst_norm2(&self) -> f64 {
        max_abs(self.max_abs_norm2_error.iter().copied())
    }
}

/// Compares `a` with `reference` sample by sample. `None` if their time grids differ, or
/// their shapes (features, neurons).
pub fn deviation(a: &Trajectory, reference: &Trajectory) -> Option<Deviation> {
    let same_grid = a.len() == reference.len()
        && a.t
            .iter()
            .zip(&reference.t)
            .all(|(s, t)| (s - t).abs() <= 1e-9 * t.abs().max(1.0));
    if !same_grid || a.is_empty() {
        return None;
    }
    let same_shape = a.neurons == reference.neurons
        && a.overlaps[0].len() == reference.overlaps[0].len()
        && a.norm2[0].len() == reference.norm2[0].len();
    if !same_shape {
        return None;
    }
    Some(Deviation {
        max_abs_cosine_error: largest_errors(&a.cosine(), &reference.cosine()),
        max_abs_overlap_error: largest_errors(&a.overlaps, &reference.overlaps),
        max_abs_norm2_error: largest_errors(&a.norm2, &reference.norm2),
    })
}

/// Entry by entry, the largest absolute difference over the samples.
fn largest_errors(a: &[Vec<f64>], reference: &[Vec<f64>]) -> Vec<f64> {
    let mut largest = vec![0.0f64; reference[0].len()];
    for (x, y) in a.iter().zip(reference) {
        for (e, (x, y)) in largest.iter_mut().zip(x.iter().zip(y)) {
            *e = e.max((x - y).abs());
        }
    }
    largest
}
