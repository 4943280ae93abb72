//! A recorded trajectory of the order parameters: what every level of description
//! produces and what the comparator compares.

use crate::OrderParameters;

/// Order parameters sampled at increasing times.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trajectory {
    /// `K`, the number of neurons (0 until the first sample).
    pub neurons: usize,
    /// Model times.
    pub t: Vec<f64>,
    /// `Q(t)`: one `p × K` row-major matrix per time.
    pub overlaps: Vec<Vec<f64>>,
    /// `R(t)`: one `K × K` row-major matrix per time.
    pub norm2: Vec<Vec<f64>>,
}

impl Trajectory {
    /// Appends one sample.
    pub fn push(&mut self, t: f64, state: &OrderParameters) {
        debug_assert!(self.is_empty() || self.neurons == state.neurons);
        self.neurons = state.neurons;
        self.t.push(t);
        self.overlaps.push(state.overlaps.clone());
        self.norm2.push(state.norm2.clone());
    }

    /// Sample `i` as order parameters.
    pub fn state(&self, i: usize) -> OrderParameters {
        OrderParameters {
            neurons: self.neurons,
            overlaps: self.overlaps[i].clone(),
            norm2: self.norm2[i].clone(),
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.t.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// `m_{jk}(t) = Q_{jk}(t) / √R_{kk}(t)` at every sample, `p × K` row-major.
    pub fn cosine(&self) -> Vec<Vec<f64>> {
        (0..self.len()).map(|i| self.state(i).cosine()).collect()
    }
}

/// A model time as people read it: at most 12 significant digits, so that `38 · 0.1`
/// prints as `3.8`, not `3.8000000000000003` (times are products of a step count and a
/// step, whose last bit is noise), and without trailing zeros.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Time(pub f64);

impl std::fmt::Display for Time {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Rounding through 12 significant digits, then Rust's shortest round-trip form of
        // the rounded value.
        let rounded: f64 = format!("{:.11e}", self.0).parse().unwrap_or(self.0);
        write!(f, "{rounded}")
    }
}

#[cfg(test)]
mod tests {
    use super::Time;

    #[test]
    fn times_print_without_rounding_noise() {
        assert_eq!(Time(38.0 * 0.1).to_string(), "3.8");
        assert_eq!(Time(3.8000000000000003).to_string(), "3.8");
        assert_eq!(Time(0.1 + 0.2).to_string(), "0.3");
        assert_eq!(Time(10.0).to_string(), "10");
        assert_eq!(Time(0.0).to_string(), "0");
        assert_eq!(Time(1.0949180583311728).to_string(), "1.09491805833");
        assert_eq!(Time(1e4).to_string(), "10000");
        assert_eq!(Time(2.5e-7).to_string(), "0.00000025");
        assert_eq!(Time(f64::INFINITY).to_string(), "inf");
    }
}
