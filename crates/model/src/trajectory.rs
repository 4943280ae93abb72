//! A recorded trajectory of the order parameters: what every level of description
//! produces and what the comparator compares.

use crate::problem::cosine;

/// Order parameters sampled at increasing times.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trajectory {
    /// Model times.
    pub t: Vec<f64>,
    /// `Q(t)`: one vector of length `p` per time.
    pub overlaps: Vec<Vec<f64>>,
    /// `R(t)`.
    pub norm2: Vec<f64>,
}

impl Trajectory {
    /// Appends one sample.
    pub fn push(&mut self, t: f64, overlaps: &[f64], norm2: f64) {
        self.t.push(t);
        self.overlaps.push(overlaps.to_vec());
        self.norm2.push(norm2);
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.t.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// `m_j(t) = Q_j(t) / √R(t)` at every sample.
    pub fn cosine(&self) -> Vec<Vec<f64>> {
        self.overlaps
            .iter()
            .zip(&self.norm2)
            .map(|(q, &r)| cosine(q, r))
            .collect()
    }
}
