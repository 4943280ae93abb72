//! The coefficient functionals `g_j`, `g_0`, `v` (MODEL.md §2) and the curvature `K`
//! (MODEL.md §4): the only way the particles, the ODE and the fixed-point analysis see the
//! learning problem.
//!
//! # How the expectations are computed
//!
//! Given the discrete part of the hidden variables (summed exactly over every combination
//! of atoms), the pre-activations are Gaussian. Gaussian hidden laws are folded into that
//! Gaussian exactly: they add `σ_w² = Σ ⟨c_j²⟩ Q_j²` to the variance shared by the two
//! views, and a factor `c_j` inside an expectation is replaced by its conditional mean,
//! a linear form in the standardised coordinates. The pair is written
//!
//! ```text
//!   h_1 = μ + α v_0 + β v_1,   h_2 = μ ± α v_0 + β v_2,   v_k i.i.d. N(0, 1),
//! ```
//!
//! with a shared coordinate `v_0`, so that every expectation of a product
//! `A(h_1) B(h_2)` is an outer sum over `v_0` of products of inner one-dimensional sums:
//! the loss is a sum of such products (MODEL.md §5). The negative sample is independent of
//! the pair (`Σ_ν` is block-diagonal) and needs one-dimensional integrals only. Every
//! one-dimensional rule is the truncated trapezoidal rule of [`crate::quadrature`].

use crate::law::HiddenQuadrature;
use crate::quadrature::GaussianRule;
use std::cell::RefCell;

use crate::{Activation, HiddenLaw, OrderParameters, Problem};

/// The coefficient functionals at one `(Q, R)` (MODEL.md §2, §7): for `K = 1` the drive is
/// `g_j`, the self term `g_0` and the noise `v`, each as a `1 × 1` block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Coefficients {
    /// `g_{jk} = −Σ_s E[c_{s,j} ∂ℓ/∂h_{s,k}]`, `p × K`, row-major like
    /// [`OrderParameters::overlaps`].
    pub drive: Vec<f64>,
    /// `(G_0)_{kl} = −Σ_{s,s'} Σ_ν[s,s'] E[∂²ℓ/∂h_{s,k}∂h_{s',l}]`, `K × K`, symmetric.
    pub self_term: Vec<f64>,
    /// `V_{kl} = Σ_{s,s'} Σ_ν[s,s'] E[∂ℓ/∂h_{s,k} ∂ℓ/∂h_{s',l}]`, `K × K`, positive
    /// semi-definite.
    pub noise: Vec<f64>,
}

/// Accuracy knobs of the quadrature. The defaults reach about 1e-13 at moderate `(Q, R)`;
/// tests raise `resolution` to show the error vanishing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuadratureOptions {
    /// Refinement factor: node spacings are divided, and Gauss–Legendre node counts
    /// multiplied, by it.
    pub resolution: f64,
}

impl Default for QuadratureOptions {
    fn default() -> Self {
        QuadratureOptions { resolution: 1.0 }
    }
}

impl Problem {
    /// `g`, `G_0` and `V` at `state` (`R` positive definite): the one entry point through
    /// which the ODE, the particles and the fixed-point analysis see the problem.
    ///
    /// A single neuron is evaluated by the dedicated reduction of this module (two
    /// pre-activations at a time, five times cheaper); a layer by the general expansion of
    /// [`Problem::layer_coefficients`]. The two agree to rounding at `K = 1` (tested).
    pub fn coefficients(&self, state: &OrderParameters) -> Coefficients {
        self.coefficients_with(state, QuadratureOptions::default())
    }

    /// [`Problem::coefficients`] with explicit quadrature options.
    pub fn coefficients_with(
        &self,
        state: &OrderParameters,
        options: QuadratureOptions,
    ) -> Coefficients {
        let mut out = Coefficients::default();
        self.coefficients_into_with(state, options, &mut out);
        out
    }

    /// [`Problem::coefficients`] into an existing value, reusing its buffers: for a single
    /// neuron, together with the per-thread quadrature workspace, repeated evaluations
    /// allocate nothing.
    pub fn coefficients_into(&self, state: &OrderParameters, out: &mut Coefficients) {
        self.coefficients_into_with(state, QuadratureOptions::default(), out);
    }

    /// [`Problem::coefficients_into`] with explicit quadrature options.
    pub fn coefficients_into_with(
        &self,
        state: &OrderParameters,
        options: QuadratureOptions,
        out: &mut Coefficients,
    ) {
        if state.neurons == 1 {
            self.with_moments(&state.overlaps, state.norm2[0], options, |m| {
                m.write_coefficients(self, out)
            });
        } else {
            *out = self.layer_coefficients(state, options);
        }
    }

    /// `K(R) = E[∂_11ℓ + 2∂_12ℓ + ∂_22ℓ + ∂_33ℓ]` of a single neuron at `Q = 0`: at the
    /// uninformative state `∂g_j/∂Q_j = −⟨c_j²⟩ K(R)`, which sets the growth rates
    /// (MODEL.md §4).
    pub fn curvature(&self, norm2: f64) -> f64 {
        self.curvature_with(norm2, QuadratureOptions::default())
    }

    /// [`Problem::curvature`] with explicit quadrature options.
    pub fn curvature_with(&self, norm2: f64, options: QuadratureOptions) -> f64 {
        let zeros = vec![0.0; self.features()];
        self.with_moments(&zeros, norm2, options, |m| m.curvature(self))
    }

    /// How many points the activation is evaluated at for one [`Problem::coefficients`] call
    /// at `state` (by the same path: the single-neuron reduction or the layer's expansion):
    /// the cost model of the quadrature, used by the benchmarks' reference kernel.
    pub fn quadrature_evaluations(&self, state: &OrderParameters) -> usize {
        if state.neurons == 1 {
            self.with_moments(
                &state.overlaps,
                state.norm2[0],
                QuadratureOptions::default(),
                |m| m.evaluations,
            )
        } else {
            self.layer_quadrature_evaluations(state)
        }
    }

    /// Derivatives of the coefficients in each coordinate of the ODE's state
    /// ([`OrderParameters::coordinates`]: every `Q_{jk}`, then `R_{kl}` for `k ≤ l`, moving
    /// `R_{kl}` and `R_{lk}` together), by fourth-order central differences of the
    /// quadrature (the coefficients are accurate to ~1e-13, so a step of 1e-3 leaves an
    /// error near 1e-10 from both truncation and rounding).
    pub fn coefficient_derivatives(&self, state: &OrderParameters) -> Vec<Coefficients> {
        let base = state.coordinates();
        let scale = (0..state.neurons)
            .map(|k| state.norm2[k * state.neurons + k])
            .fold(f64::INFINITY, f64::min)
            .min(1.0);
        let overlaps = state.overlaps.len();
        (0..base.len())
            .map(|i| {
                let h = if i < overlaps { 1e-3 } else { 1e-3 * scale };
                let at = |steps: f64| {
                    let mut y = base.clone();
                    y[i] += steps * h;
                    self.coefficients(&OrderParameters::from_coordinates(state.neurons, &y))
                };
                let (p1, m1, p2, m2) = (at(1.0), at(-1.0), at(2.0), at(-2.0));
                let combine = |a: &[f64], b: &[f64], c: &[f64], d: &[f64]| -> Vec<f64> {
                    (0..a.len())
                        .map(|e| (8.0 * (a[e] - b[e]) - (c[e] - d[e])) / (12.0 * h))
                        .collect()
                };
                Coefficients {
                    drive: combine(&p1.drive, &m1.drive, &p2.drive, &m2.drive),
                    self_term: combine(&p1.self_term, &m1.self_term, &p2.self_term, &m2.self_term),
                    noise: combine(&p1.noise, &m1.noise, &p2.noise, &m2.noise),
                }
            })
            .collect()
    }

    /// Runs `read` on all the expectations the single-neuron coefficients are made of,
    /// computed in this thread's workspace.
    fn with_moments<T>(
        &self,
        overlaps: &[f64],
        norm2: f64,
        options: QuadratureOptions,
        read: impl FnOnce(&Moments) -> T,
    ) -> T {
        assert_eq!(overlaps.len(), self.features(), "one overlap per feature");
        WORKSPACE.with_borrow_mut(|workspace| {
            workspace.evaluate(self, overlaps, norm2, options);
            read(&workspace.moments)
        })
    }
}

thread_local! {
    /// Buffers of the quadrature, kept per thread so that repeated evaluations (one per
    /// particle step, thousands per ODE solve) allocate nothing once warm.
    static WORKSPACE: RefCell<Workspace> = RefCell::new(Workspace::default());
}

/// Everything one evaluation needs besides its inputs.
#[derive(Default)]
struct Workspace {
    /// The hidden laws and resolution that `nodes` and `gaussian_variance` were built for.
    laws: Vec<HiddenLaw>,
    resolution: f64,
    /// Per feature: the quadrature nodes of a non-Gaussian law (empty for a Gaussian one).
    nodes: Vec<Vec<(f64, f64)>>,
    /// Per feature: `⟨c_j²⟩` of a Gaussian law, folded into the noise; 0 otherwise.
    gaussian_variance: Vec<f64>,
    /// Features whose laws are summed over nodes.
    discrete: Vec<usize>,
    /// Odometer over the node combinations, and the current `c` (0 for Gaussian features).
    index: Vec<usize>,
    c: Vec<f64>,
    pair: PairGeometry,
    /// `E[c'_j | v_3] = negative_gain_j v_3` for Gaussian `c'_j`.
    negative_gain: Vec<f64>,
    shared: GaussianRule,
    own: GaussianRule,
    negative: GaussianRule,
    inner: InnerSums,
    moments: Moments,
}

impl Workspace {
    fn prepare_laws(&mut self, hidden: &[HiddenLaw], resolution: f64) {
        if self.laws == hidden && self.resolution == resolution {
            return;
        }
        self.laws = hidden.to_vec();
        self.resolution = resolution;
        self.nodes.clear();
        self.gaussian_variance.clear();
        self.discrete.clear();
        for (j, law) in hidden.iter().enumerate() {
            match law.quadrature(resolution) {
                HiddenQuadrature::Nodes(nodes) => {
                    self.nodes.push(nodes);
                    self.gaussian_variance.push(0.0);
                    self.discrete.push(j);
                }
                HiddenQuadrature::Gaussian(variance) => {
                    self.nodes.push(Vec::new());
                    self.gaussian_variance.push(variance);
                }
            }
        }
    }

    fn evaluate(
        &mut self,
        problem: &Problem,
        overlaps: &[f64],
        norm2: f64,
        options: QuadratureOptions,
    ) {
        let p = problem.features();
        let activation = problem.activation;
        self.prepare_laws(&problem.hidden, options.resolution);
        // Variance of Σ_j c_j Q_j over the Gaussian hidden laws: shared by both views.
        let folded: f64 = self
            .gaussian_variance
            .iter()
            .zip(overlaps)
            .map(|(v, q)| v * q * q)
            .sum();
        let view_var = problem.noise.view_variance();
        let pair_cov = norm2 * problem.noise.pair_covariance() + folded;
        let own = norm2 * (view_var - problem.noise.pair_covariance());
        self.pair
            .set(pair_cov, own, &self.gaussian_variance, overlaps);
        self.shared
            .set(activation, self.pair.alpha, options.resolution);
        self.own.set(activation, self.pair.beta, options.resolution);
        let negative_sd = (norm2 * view_var + folded).sqrt();
        self.negative
            .set(activation, negative_sd, options.resolution);
        self.negative_gain.clear();
        self.negative_gain
            .extend(self.gaussian_variance.iter().zip(overlaps).map(|(v, q)| {
                if negative_sd > 0.0 {
                    v * q / negative_sd
                } else {
                    0.0
                }
            }));

        self.moments.reset(p);
        self.inner.resize(self.shared.len());
        self.index.clear();
        self.index.resize(self.discrete.len(), 0);
        self.c.clear();
        self.c.resize(p, 0.0);
        loop {
            let mut weight = 1.0;
            for (&j, &k) in self.discrete.iter().zip(&self.index) {
                let (value, w) = self.nodes[j][k];
                self.c[j] = value;
                weight *= w;
            }
            let mean: f64 = self.c.iter().zip(overlaps).map(|(c, q)| c * q).sum();
            self.inner
                .fill(activation, mean, &self.pair, &self.shared, &self.own);
            self.moments.evaluations += self.shared.len() * self.own.len();
            self.moments
                .add_pair(weight, &self.c, &self.inner, &self.pair, &self.shared);
            if problem.negative {
                self.moments.add_negative(
                    weight,
                    &self.c,
                    activation,
                    mean,
                    negative_sd,
                    &self.negative_gain,
                    &self.negative,
                );
                self.moments.evaluations += self.negative.len();
            }
            if !self.advance() {
                return;
            }
        }
    }

    /// Moves the odometer to the next combination of nodes; `false` after the last.
    fn advance(&mut self) -> bool {
        for (k, &j) in self.discrete.iter().enumerate() {
            self.index[k] += 1;
            if self.index[k] < self.nodes[j].len() {
                return true;
            }
            self.index[k] = 0;
        }
        false
    }
}

/// The Gaussian part of the pair in shared/own coordinates, and how the Gaussian hidden
/// variables load on them.
#[derive(Default)]
struct PairGeometry {
    /// Loading of the shared coordinate `v_0` on `h_1`.
    alpha: f64,
    /// `h_2` loads `v_0` with `sign · α`: −1 when the views' covariance is negative.
    sign: f64,
    /// Loading of each view's own coordinate.
    beta: f64,
    /// `E[c_j | v] = shared_gain_j v_0 + own_gain_j (v_1 + v_2)` for Gaussian `c_j`.
    shared_gain: Vec<f64>,
    own_gain: Vec<f64>,
}

impl PairGeometry {
    /// From `Cov(h_1, h_2)` and the extra variance `Var(h_1) − Cov(h_1, h_2) ≥ 0`.
    fn set(
        &mut self,
        covariance: f64,
        own_variance: f64,
        gaussian_variance: &[f64],
        overlaps: &[f64],
    ) {
        let alpha = covariance.abs().sqrt();
        let sign = if covariance >= 0.0 { 1.0 } else { -1.0 };
        // With a negative covariance the shared coordinate carries −|C| into the
        // covariance, so each own coordinate must make up 2|C| more variance.
        let beta = (own_variance + covariance - covariance.abs())
            .max(0.0)
            .sqrt();
        (self.alpha, self.sign, self.beta) = (alpha, sign, beta);
        self.shared_gain.clear();
        self.own_gain.clear();
        // Any loading that reproduces Cov(c_j, h_s) = ⟨c_j²⟩ Q_j for s = 1, 2 gives the
        // right expectation (Stein's lemma only sees that covariance).
        for (v, q) in gaussian_variance.iter().zip(overlaps) {
            let cov = v * q;
            let (shared, own) = if sign > 0.0 && alpha > 0.0 {
                (cov / alpha, 0.0)
            } else if beta > 0.0 {
                (0.0, cov / beta)
            } else {
                (0.0, 0.0)
            };
            self.shared_gain.push(shared);
            self.own_gain.push(own);
        }
    }
}

/// Functions of one pre-activation whose expectations the loss needs.
#[derive(Debug, Clone, Copy, Default)]
struct Basis {
    f: f64,
    fp: f64,
    fpp: f64,
    f2: f64,
    fp2: f64,
    fp_f: f64,
}

impl Basis {
    #[inline]
    fn at(activation: Activation, h: f64) -> Basis {
        let [f, fp, fpp] = activation.derivatives(h);
        Basis {
            f,
            fp,
            fpp,
            f2: f * f,
            fp2: fp * fp,
            fp_f: fp * f,
        }
    }

    #[inline]
    fn add_scaled(&mut self, w: f64, b: &Basis) {
        self.f += w * b.f;
        self.fp += w * b.fp;
        self.fpp += w * b.fpp;
        self.f2 += w * b.f2;
        self.fp2 += w * b.fp2;
        self.fp_f += w * b.fp_f;
    }
}

/// Inner sums over a view's own coordinate, for each node of the shared one:
/// `plain[i] = E_{v_1}[A(μ + α v_{0,i} + β v_1)]`, and `weighted[i]` the same with a factor
/// `v_1` (needed when a Gaussian `c_j` loads on the own coordinates).
#[derive(Default)]
struct InnerSums {
    plain: Vec<Basis>,
    weighted: Vec<Basis>,
}

impl InnerSums {
    fn resize(&mut self, n: usize) {
        self.plain.resize(n, Basis::default());
        self.weighted.resize(n, Basis::default());
    }

    fn fill(
        &mut self,
        activation: Activation,
        mean: f64,
        pair: &PairGeometry,
        shared: &GaussianRule,
        own: &GaussianRule,
    ) {
        for (i, &v0) in shared.nodes.iter().enumerate() {
            let centre = mean + pair.alpha * v0;
            let (mut plain, mut weighted) = (Basis::default(), Basis::default());
            for (&v1, &w1) in own.nodes.iter().zip(&own.weights) {
                let b = Basis::at(activation, centre + pair.beta * v1);
                plain.add_scaled(w1, &b);
                weighted.add_scaled(w1 * v1, &b);
            }
            self.plain[i] = plain;
            self.weighted[i] = weighted;
        }
    }

    /// Index of the second view's sums at shared node `i`: mirrored when `h_2` loads `−α v_0`.
    #[inline]
    fn partner(&self, i: usize, pair: &PairGeometry) -> usize {
        if pair.sign > 0.0 {
            i
        } else {
            self.plain.len() - 1 - i
        }
    }
}

/// The expectations of the pair (`_1`, `_2` refer to the views) and of the negative (`_3`).
#[derive(Debug, Default)]
struct Moments {
    /// Marginals of one view: E[f], E[f'], E[f''], E[f²], E[f'²].
    one: Basis,
    /// E[f'_1 f_2], E[f''_1 f_2], E[f'_1 f'_2], E[f_1 f_2].
    fp_f: f64,
    fpp_f: f64,
    fp_fp: f64,
    f_f: f64,
    /// E[f'_1² f_2²], E[f'_1² f_2], E[f'_1 f_1 f'_2 f_2], E[f'_1 f'_2 f_2].
    fp2_f2: f64,
    fp2_f: f64,
    fpf_fpf: f64,
    fp_fpf: f64,
    /// Per feature: E[c_j f'_1 f_2] and E[c_j f'_1].
    c_fp_f: Vec<f64>,
    c_fp: Vec<f64>,
    /// Negative sample: E[f_3], E[f''_3], E[f_3²], E[f'_3²] (in `neg.f`, ...).
    neg: Basis,
    /// Per feature: E[c'_j f'_3].
    neg_c_fp: Vec<f64>,
    /// Points at which the activation was evaluated.
    evaluations: usize,
}

impl Moments {
    /// Zero sums for `p` features, keeping the buffers.
    fn reset(&mut self, p: usize) {
        let mut per_feature = [
            std::mem::take(&mut self.c_fp_f),
            std::mem::take(&mut self.c_fp),
            std::mem::take(&mut self.neg_c_fp),
        ];
        for buffer in &mut per_feature {
            buffer.clear();
            buffer.resize(p, 0.0);
        }
        let [c_fp_f, c_fp, neg_c_fp] = per_feature;
        *self = Moments {
            c_fp_f,
            c_fp,
            neg_c_fp,
            ..Default::default()
        };
    }

    fn add_pair(
        &mut self,
        weight: f64,
        c: &[f64],
        inner: &InnerSums,
        pair: &PairGeometry,
        shared: &GaussianRule,
    ) {
        for (i, (&v0, &w0)) in shared.nodes.iter().zip(&shared.weights).enumerate() {
            let w = weight * w0;
            let (a, na) = (&inner.plain[i], &inner.weighted[i]);
            let k = inner.partner(i, pair);
            let (b, nb) = (&inner.plain[k], &inner.weighted[k]);
            self.one.add_scaled(w, a);
            self.fp_f += w * a.fp * b.f;
            self.fpp_f += w * a.fpp * b.f;
            self.fp_fp += w * a.fp * b.fp;
            self.f_f += w * a.f * b.f;
            self.fp2_f2 += w * a.fp2 * b.f2;
            self.fp2_f += w * a.fp2 * b.f;
            self.fpf_fpf += w * a.fp_f * b.fp_f;
            self.fp_fpf += w * a.fp * b.fp_f;
            for (j, &cj) in c.iter().enumerate() {
                // c_j is an atom (discrete law) or a linear form in v (Gaussian law).
                let shared_part = cj + pair.shared_gain[j] * v0;
                let own = pair.own_gain[j];
                self.c_fp_f[j] +=
                    w * (shared_part * a.fp * b.f + own * (na.fp * b.f + a.fp * nb.f));
                self.c_fp[j] += w * (shared_part * a.fp + own * na.fp);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_negative(
        &mut self,
        weight: f64,
        c: &[f64],
        activation: Activation,
        mean: f64,
        sd: f64,
        gain: &[f64],
        rule: &GaussianRule,
    ) {
        for (&v3, &w3) in rule.nodes.iter().zip(&rule.weights) {
            let w = weight * w3;
            let b = Basis::at(activation, mean + sd * v3);
            self.neg.add_scaled(w, &b);
            for ((sum, cj), gain) in self.neg_c_fp.iter_mut().zip(c).zip(gain) {
                *sum += w * (cj + gain * v3) * b.fp;
            }
        }
    }

    /// MODEL.md §2, with `∂_sℓ` and `∂_stℓ` of `ℓ = −f_1 f_2 + γ/2 f_3 (f_1 + f_2)` expanded
    /// and the exchangeability of the two views used to merge mirror terms.
    fn write_coefficients(&self, problem: &Problem, out: &mut Coefficients) {
        let g = problem.gamma();
        let (s2, r) = (
            problem.noise.view_variance(),
            problem.noise.pair_covariance(),
        );
        let (one, neg) = (&self.one, &self.neg);
        out.drive.clear();
        out.drive.extend((0..problem.features()).map(|j| {
            2.0 * self.c_fp_f[j] - g * self.c_fp[j] * neg.f - g * self.neg_c_fp[j] * one.f
        }));
        let self_term = s2 * (2.0 * self.fpp_f - g * neg.f * one.fpp - g * neg.fpp * one.f)
            + 2.0 * r * self.fp_fp;
        let views = 2.0 * (self.fp2_f2 - g * self.fp2_f * neg.f + g * g / 4.0 * one.fp2 * neg.f2);
        let negative = g * g / 4.0 * neg.fp2 * (2.0 * one.f2 + 2.0 * self.f_f);
        let cross = self.fpf_fpf - g * self.fp_fpf * neg.f + g * g / 4.0 * self.fp_fp * neg.f2;
        out.self_term.clear();
        out.self_term.push(self_term);
        out.noise.clear();
        out.noise.push(s2 * (views + negative) + 2.0 * r * cross);
    }

    /// `K = E[∂_11ℓ + 2∂_12ℓ + ∂_22ℓ + ∂_33ℓ]` from the same expectations.
    fn curvature(&self, problem: &Problem) -> f64 {
        let g = problem.gamma();
        -2.0 * self.fpp_f + g * self.neg.f * self.one.fpp - 2.0 * self.fp_fp
            + g * self.neg.fpp * self.one.f
    }
}
