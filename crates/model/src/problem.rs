//! The validated learning problem: everything that defines the dynamics, nothing about how
//! a run is carried out.

use crate::{Activation, FeatureLaw, HiddenLaw};

/// Noise of the views (MODEL.md §1): `σ_a`, `σ_e` and `ρ` of `Σ_ν`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Noise {
    /// `σ_a ≥ 0`, the sample's own noise, shared by its two views.
    pub base: f64,
    /// `σ_e ≥ 0`, augmentation noise added to every view.
    pub augment: f64,
    /// `ρ ∈ [−1, 1]`, correlation of the two views' augmentation noises.
    pub correlation: f64,
}

impl Noise {
    /// `Σ_ν[s][s] = σ_a² + σ_e²`, the variance of each view's noise.
    pub fn view_variance(&self) -> f64 {
        self.base * self.base + self.augment * self.augment
    }

    /// `Σ_ν[1][2] = σ_a² + ρ σ_e²`, the covariance of the pair's noises.
    pub fn pair_covariance(&self) -> f64 {
        self.base * self.base + self.correlation * self.augment * self.augment
    }
}

/// The separable regularizer `Σ_i φ(x_i)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Regularizer {
    /// `φ = 0`.
    None,
    /// `φ = λ x² / 2`.
    L2(f64),
    /// `φ = λ |x|`.
    L1(f64),
    /// `φ = λ₁ |x| + λ₂ x² / 2`.
    Elastic {
        /// `λ₁`.
        l1: f64,
        /// `λ₂`.
        l2: f64,
    },
}

impl Regularizer {
    /// The `λ` of the closed ODE (MODEL.md §3), or `None` when the moment hierarchy does not
    /// close (`l1`, `elastic`).
    pub fn quadratic_strength(&self) -> Option<f64> {
        match *self {
            Regularizer::None => Some(0.0),
            Regularizer::L2(l) => Some(l),
            Regularizer::L1(_) | Regularizer::Elastic { .. } => None,
        }
    }

    /// `φ'(x)`, with the subgradient `sign(0) = 0` for the `l1` part.
    #[inline]
    pub fn derivative(&self, x: f64) -> f64 {
        let sign = |x: f64| if x == 0.0 { 0.0 } else { x.signum() };
        match *self {
            Regularizer::None => 0.0,
            Regularizer::L2(l) => l * x,
            Regularizer::L1(l) => l * sign(x),
            Regularizer::Elastic { l1, l2 } => l1 * sign(x) + l2 * x,
        }
    }

    /// The config spelling.
    pub fn name(&self) -> &'static str {
        match self {
            Regularizer::None => "none",
            Regularizer::L2(_) => "l2",
            Regularizer::L1(_) => "l1",
            Regularizer::Elastic { .. } => "elastic",
        }
    }
}

/// A validated learning problem (MODEL.md §1). Built by [`crate::Config`]; every field is
/// already checked for range and consistency.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Law of the feature entries.
    pub feature_law: FeatureLaw,
    /// One hidden law per feature: `hidden.len()` is `p`.
    pub hidden: Vec<HiddenLaw>,
    /// The activation `f`.
    pub activation: Activation,
    /// Whether each step draws one negative sample (`γ = 1`).
    pub negative: bool,
    /// Noise of the views.
    pub noise: Noise,
    /// `τ`.
    pub learning_rate: f64,
    /// `φ`.
    pub regularizer: Regularizer,
    /// `K`, the number of neurons of the layer (MODEL.md §7); 1 for the single neuron of
    /// §1–6.
    pub neurons: usize,
    /// `β ≥ 0`, the strength of the decorrelation penalty between neurons (no effect when
    /// `K = 1`).
    pub decorrelation: f64,
}

impl Problem {
    /// `p`, the number of features.
    pub fn features(&self) -> usize {
        self.hidden.len()
    }

    /// `γ ∈ {0, 1}` as a number.
    pub fn gamma(&self) -> f64 {
        if self.negative { 1.0 } else { 0.0 }
    }

    /// `∇ℓ(h) = (∂_1ℓ, ∂_2ℓ, ∂_3ℓ)` for `ℓ = −f(h_1) f(h_2) + γ/2 f(h_3) (f(h_1) + f(h_2))`
    /// (MODEL.md §1); `h_3` is ignored without a negative sample.
    #[inline]
    pub fn loss_gradient(&self, h: [f64; 3]) -> [f64; 3] {
        let [f1, d1, _] = self.activation.derivatives(h[0]);
        let [f2, d2, _] = self.activation.derivatives(h[1]);
        if !self.negative {
            return [-d1 * f2, -f1 * d2, 0.0];
        }
        let [f3, d3, _] = self.activation.derivatives(h[2]);
        [
            d1 * (0.5 * f3 - f2),
            d2 * (0.5 * f3 - f1),
            0.5 * d3 * (f1 + f2),
        ]
    }
}

/// Overlaps and Gram matrix: the state of the reduced ODE and the moments of the measure
/// (MODEL.md §7; for `K = 1`, `Q_j` and `R` of §1).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderParameters {
    /// `K`, the number of neurons.
    pub neurons: usize,
    /// `Q = Ξ W / n`, `p × K`, row-major: `overlaps[j * K + k] = Q_{jk}`, the overlap of
    /// neuron `k` with feature `j`.
    pub overlaps: Vec<f64>,
    /// `R = Wᵀ W / n`, `K × K`, row-major (symmetric).
    pub norm2: Vec<f64>,
}

impl OrderParameters {
    /// A single neuron's `Q_j` and `R`.
    pub fn single(overlaps: Vec<f64>, norm2: f64) -> OrderParameters {
        OrderParameters::isotropic(1, overlaps, norm2)
    }

    /// `neurons` neurons with overlaps `Q` (`p × K`, row-major) and `R = norm2 · I`: equal,
    /// mutually orthogonal norms, as at the uninformative state.
    pub fn isotropic(neurons: usize, overlaps: Vec<f64>, norm2: f64) -> OrderParameters {
        OrderParameters {
            neurons,
            overlaps,
            norm2: (0..neurons * neurons)
                .map(|i| if i % (neurons + 1) == 0 { norm2 } else { 0.0 })
                .collect(),
        }
    }

    /// `p`, the number of features.
    pub fn features(&self) -> usize {
        self.overlaps.len() / self.neurons
    }

    /// `Q_{jk}`.
    pub fn overlap(&self, feature: usize, neuron: usize) -> f64 {
        self.overlaps[feature * self.neurons + neuron]
    }

    /// `R_{kl}`.
    pub fn gram(&self, k: usize, l: usize) -> f64 {
        self.norm2[k * self.neurons + l]
    }

    /// Cosine similarities `m_{jk} = Q_{jk} / √R_{kk}`, `p × K` row-major.
    pub fn cosine(&self) -> Vec<f64> {
        let k = self.neurons;
        self.overlaps
            .iter()
            .enumerate()
            .map(|(i, q)| q / self.gram(i % k, i % k).sqrt())
            .collect()
    }

    /// The independent coordinates, as the ODE integrates them: every `Q_{jk}` (row-major),
    /// then `R_{kl}` for `k ≤ l` (row by row). For `K = 1`: `[Q_1, …, Q_p, R]`.
    pub fn coordinates(&self) -> Vec<f64> {
        let k = self.neurons;
        let mut y = self.overlaps.clone();
        for a in 0..k {
            y.extend_from_slice(&self.norm2[a * k + a..(a + 1) * k]);
        }
        y
    }

    /// The inverse of [`OrderParameters::coordinates`].
    pub fn from_coordinates(neurons: usize, y: &[f64]) -> OrderParameters {
        let k = neurons;
        let triangle = k * (k + 1) / 2;
        let (overlaps, upper) = y.split_at(y.len() - triangle);
        let mut norm2 = vec![0.0; k * k];
        let mut next = upper.iter();
        for a in 0..k {
            for b in a..k {
                let v = *next.next().expect("K(K+1)/2 entries");
                norm2[a * k + b] = v;
                norm2[b * k + a] = v;
            }
        }
        OrderParameters {
            neurons,
            overlaps: overlaps.to_vec(),
            norm2,
        }
    }
}
