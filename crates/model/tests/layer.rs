//! Checks of the layer coefficients `g`, `G_0`, `V` for `K` neurons with decorrelation
//! (MODEL.md §7): the worked example, agreement with the single-neuron code at `K = 1`,
//! refinement of the quadrature, the symmetries of the problem, independent copies at
//! `β = 0`, exact Gaussian moments for the linear activation and a Monte Carlo for tanh.
//!
//! Heavier checks are `#[ignore]`d; run them with
//! `cargo test -p mfcl-model --test layer -- --ignored --nocapture`.

use mfcl_model::{
    Activation, Coefficients, Config, HiddenShape, OrderParameters, Problem, QuadratureOptions,
};
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;

mod common;
use common::{assert_close, law, layer, noise, problem, skewed};

// ---------------------------------------------------------------------------------------
// Problems and states
// ---------------------------------------------------------------------------------------

/// MODEL.md §7's worked example, `data/configs/layer.toml` (two neurons, `β = 1`), with or
/// without a negative sample (its `[init]` is not needed for the coefficients).
fn worked_problem(negatives: u32) -> Problem {
    Config::parse_with(
        include_str!("../../../data/configs/layer.toml"),
        &[format!("model.negatives={negatives}")],
    )
    .expect("the worked example parses")
    .problem
}

/// `Q = [[0.3, 0.1], [0.05, 0.2]]`, `R = [[1.1, 0.2], [0.2, 0.9]]`.
fn worked_state() -> OrderParameters {
    OrderParameters {
        neurons: 2,
        overlaps: vec![0.3, 0.1, 0.05, 0.2],
        norm2: vec![1.1, 0.2, 0.2, 0.9],
    }
}

/// A state of `K` neurons from `Q` given by rows (features) and `R` by rows.
fn state(overlaps: &[&[f64]], norm2: &[&[f64]]) -> OrderParameters {
    OrderParameters {
        neurons: norm2.len(),
        overlaps: overlaps.concat(),
        norm2: norm2.concat(),
    }
}

/// `K = 3` with a skewed law and `β = 1`: no symmetry makes any entry vanish.
fn three_neurons() -> (Problem, OrderParameters) {
    (
        layer(
            problem(
                Activation::Tanh,
                true,
                vec![law(HiddenShape::Rademacher, 1.5), law(skewed(), 1.0)],
                noise(0.8, 0.6, 0.3),
            ),
            3,
            1.0,
        ),
        state(
            &[&[0.4, -0.1, 0.2], &[0.1, 0.3, -0.25]],
            &[&[1.0, 0.2, -0.1], &[0.2, 0.8, 0.15], &[-0.1, 0.15, 1.2]],
        ),
    )
}

fn all(c: &Coefficients) -> Vec<f64> {
    [&c.drive[..], &c.self_term, &c.noise].concat()
}

fn max_difference(a: &Coefficients, b: &Coefficients) -> f64 {
    all(a)
        .iter()
        .zip(all(b))
        .fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

// ---------------------------------------------------------------------------------------
// 1. The worked example
// ---------------------------------------------------------------------------------------

/// MODEL.md §7 quotes every entry to 8 decimals: within half a unit of the last one, through
/// the entry point [`Problem::coefficients`].
#[test]
fn worked_example_matches_the_model_document() {
    let c = worked_problem(0).coefficients(&worked_state());
    let quoted = [
        (
            "g",
            &c.drive,
            [0.22619545, 0.05993191, 0.01441968, 0.16398216],
        ),
        (
            "G_0",
            &c.self_term,
            [0.04000180, -0.02197331, -0.02197331, 0.06287873],
        ),
        (
            "V",
            &c.noise,
            [0.21089772, 0.02001838, 0.02001838, 0.19840592],
        ),
    ];
    for (name, got, want) in quoted {
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert_close(&format!("{name}[{}][{}]", i / 2, i % 2), *g, w, 5e-9);
        }
    }
}

// ---------------------------------------------------------------------------------------
// 2. K = 1 is the single-neuron learner
// ---------------------------------------------------------------------------------------

/// With one neuron the decorrelation term is empty: the general expansion
/// (`Problem::layer_coefficients`) gives the coefficients of the single-neuron reduction that
/// `Problem::coefficients` uses for `K = 1`, whatever `β`.
#[test]
fn one_neuron_equals_the_single_neuron_coefficients() {
    use HiddenShape::{Gaussian, Rademacher, Sparse, Uniform};
    let cases = [
        (
            "rademacher",
            vec![law(Rademacher, 2.0)],
            noise(1.0, 0.5, 0.0),
            vec![0.3],
            1.2,
        ),
        (
            "skewed and sparse, negative pair covariance",
            vec![law(skewed(), 1.2), law(Sparse(0.5), 0.6)],
            noise(0.2, 1.5, -0.8),
            vec![0.2, 0.5],
            0.9,
        ),
        (
            "no augmentation",
            vec![law(Rademacher, 1.0)],
            noise(0.8, 0.0, 0.0),
            vec![0.3],
            1.0,
        ),
        (
            "rho = -1, no base",
            vec![law(Rademacher, 1.0)],
            noise(0.0, 1.0, -1.0),
            vec![0.5],
            1.1,
        ),
        (
            "gaussian and uniform",
            vec![law(Gaussian, 1.5), law(Uniform, 1.0)],
            noise(0.7, 0.6, 0.4),
            vec![0.5, -0.4],
            1.2,
        ),
        (
            "large norm",
            vec![law(skewed(), 1.0)],
            noise(1.0, 0.5, 0.2),
            vec![1.5],
            4.0,
        ),
    ];
    let mut worst: f64 = 0.0;
    for (label, hidden, noise, overlaps, norm2) in cases {
        for activation in [Activation::Tanh, Activation::Erf, Activation::Linear] {
            for negative in [false, true] {
                let problem = layer(problem(activation, negative, hidden.clone(), noise), 1, 0.7);
                let state = OrderParameters::single(overlaps.clone(), norm2);
                let single = problem.coefficients(&state);
                let general = problem.layer_coefficients(&state, QuadratureOptions::default());
                let what = format!("{label} / {activation:?} / negative={negative}");
                let names = (1..=overlaps.len())
                    .map(|j| format!("g_{j}"))
                    .chain(["g_0".into(), "v".into()]);
                for (name, (l, s)) in names.zip(all(&general).iter().zip(all(&single))) {
                    assert_close(&format!("{what}: {name}"), *l, s, 1e-10);
                    worst = worst.max((l - s).abs());
                }
            }
        }
    }
    eprintln!("K = 1: largest difference from Problem::coefficients {worst:.1e}");
}

// ---------------------------------------------------------------------------------------
// 3. Refinement
// ---------------------------------------------------------------------------------------

/// Doubling the resolution (halving every spacing, including the tables') changes the
/// coefficients by less than 1e-9: with tanh's poles, with erf, with singular `Σ_ν`, with
/// two coinciding or almost coinciding neurons (a singular or nearly singular `R`) and with
/// three neurons; `β = 1` throughout. Halving the resolution instead visibly changes them
/// (the rules' error at that spacing), so the refinement does probe the quadrature's error.
#[test]
fn refinement_leaves_the_coefficients_unchanged() {
    let (three, three_state) = three_neurons();
    let cases = [
        ("worked example", worked_problem(0), worked_state()),
        (
            "worked example with a negative",
            worked_problem(1),
            worked_state(),
        ),
        (
            "erf, negative pair covariance",
            problem(
                Activation::Erf,
                true,
                vec![law(skewed(), 1.0), law(HiddenShape::Sparse(0.4), 1.3)],
                noise(0.3, 1.2, -0.7),
            ),
            state(&[&[0.5, -0.2], &[0.1, 0.4]], &[&[1.3, -0.3], &[-0.3, 0.7]]),
        ),
        (
            "no augmentation noise",
            problem(
                Activation::Tanh,
                true,
                vec![law(HiddenShape::Rademacher, 2.0)],
                noise(1.0, 0.0, 0.0),
            ),
            state(&[&[0.3, 0.2]], &[&[1.1, 0.4], &[0.4, 0.9]]),
        ),
        (
            "nearly coinciding neurons",
            problem(
                Activation::Tanh,
                false,
                vec![law(HiddenShape::Rademacher, 2.0)],
                noise(1.0, 0.5, 0.0),
            ),
            state(&[&[0.3, 0.3]], &[&[1.0, 0.999_999], &[0.999_999, 1.0]]),
        ),
        (
            "coinciding neurons",
            problem(
                Activation::Tanh,
                false,
                vec![law(HiddenShape::Rademacher, 2.0)],
                noise(1.0, 0.5, 0.0),
            ),
            state(&[&[0.3, 0.3]], &[&[1.0, 1.0], &[1.0, 1.0]]),
        ),
        ("three neurons", three, three_state),
    ];
    for (label, problem, state) in cases {
        let problem = layer(problem, state.neurons, 1.0);
        let base = problem.coefficients(&state);
        let fine = problem.coefficients_with(&state, QuadratureOptions { resolution: 2.0 });
        let change = max_difference(&base, &fine);
        let coarse = max_difference(
            &base,
            &problem.coefficients_with(&state, QuadratureOptions { resolution: 0.5 }),
        );
        eprintln!(
            "{label}: refinement changes the coefficients by {change:.1e}, coarsening by \
             {coarse:.1e}"
        );
        assert!(
            change < 1e-9,
            "{label}: refinement changes the coefficients by {change:.1e}"
        );
        assert!(
            coarse > 20.0 * 1e-9,
            "{label}: resolution 0.5 is already within {coarse:.1e}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 4. Symmetries, and V positive semi-definite
// ---------------------------------------------------------------------------------------

/// The four pre-activations of two neurons in both views are integrated by conditioning on
/// the noise the views share when `0 < Σ_ν[1,2] < σ²`, by the nested sums otherwise: a
/// correlation `ρ` a hair inside `(0, 1)` must give the nested sums' values at its ends.
/// The balls of the hidden nodes then lie far apart on the shared grid (`Σ_ν[1,2] → 0`) or
/// the smoothings of one view are nearly the activation itself (`Σ_ν[1,2] → σ²`).
#[test]
fn conditioning_on_the_shared_noise_agrees_with_the_nested_sums() {
    let hidden = || {
        vec![
            law(HiddenShape::Rademacher, 2.0),
            law(HiddenShape::Sparse(0.6), 2.0),
        ]
    };
    for (nested, conditioned) in [(0.0, 1e-12), (1.0, 1.0 - 1e-12)] {
        let at = |correlation| {
            let problem = problem(
                Activation::Tanh,
                true,
                hidden(),
                noise(0.0, 0.8, correlation),
            );
            layer(problem, 2, 1.0).coefficients(&worked_state())
        };
        let difference = max_difference(&at(nested), &at(conditioned));
        assert!(
            difference < 1e-11,
            "ρ = {nested} against ρ = {conditioned}: difference {difference:.2e}"
        );
    }
}

/// The library computes the upper triangles of `G_0` and `V`. Relabelling the neurons
/// computes the lower ones afresh, so that `G_0` and `V` must come out permuted (and in
/// particular symmetric); for odd `f`, flipping the sign of a neuron flips its rows and
/// columns. `G_0` and `V` are symmetric and `V` is positive semi-definite.
#[test]
fn permuting_and_flipping_neurons_and_noise_is_positive_semi_definite() {
    let (problem, state) = three_neurons();
    let problem = layer(problem, 3, 0.8);
    let k = state.neurons;
    let base = problem.coefficients(&state);
    let permutation = [2, 0, 1];
    let flips = [1.0, -1.0, 1.0];
    // Neuron a of the new state is neuron permutation[a] of the old, times flips[a].
    let p = problem.features();
    let moved = OrderParameters {
        neurons: k,
        overlaps: (0..p * k)
            .map(|i| flips[i % k] * state.overlaps[i / k * k + permutation[i % k]])
            .collect(),
        norm2: (0..k * k)
            .map(|i| {
                flips[i / k]
                    * flips[i % k]
                    * state.norm2[permutation[i / k] * k + permutation[i % k]]
            })
            .collect(),
    };
    let after = problem.coefficients(&moved);
    for j in 0..p {
        for a in 0..k {
            let want = flips[a] * base.drive[j * k + permutation[a]];
            assert_close(&format!("g[{j}][{a}]"), after.drive[j * k + a], want, 1e-12);
        }
    }
    for a in 0..k {
        for b in 0..k {
            let sign = flips[a] * flips[b];
            let old = permutation[a] * k + permutation[b];
            assert_close(
                &format!("G_0[{a}][{b}]"),
                after.self_term[a * k + b],
                sign * base.self_term[old],
                1e-12,
            );
            assert_close(
                &format!("V[{a}][{b}]"),
                after.noise[a * k + b],
                sign * base.noise[old],
                1e-12,
            );
        }
    }
    for c in [
        &base,
        &layer(problem.clone(), 2, 0.8).coefficients(&worked_state_for(&problem)),
    ] {
        let n = (c.noise.len() as f64).sqrt() as usize;
        for a in 0..n {
            for b in 0..a {
                assert_eq!(
                    c.self_term[a * n + b],
                    c.self_term[b * n + a],
                    "G_0 symmetric"
                );
                assert_eq!(c.noise[a * n + b], c.noise[b * n + a], "V symmetric");
            }
        }
        let eigenvalues = symmetric_eigenvalues(&c.noise, n);
        assert!(
            eigenvalues.iter().all(|&e| e >= -1e-12),
            "V has eigenvalues {eigenvalues:?}"
        );
    }
}

/// The worked example's `Q`, `R` padded to the problem's features (for a second `K`).
fn worked_state_for(problem: &Problem) -> OrderParameters {
    let mut s = worked_state();
    s.overlaps.resize(problem.features() * 2, 0.1);
    s
}

/// Eigenvalues of a small symmetric matrix.
fn symmetric_eigenvalues(matrix: &[f64], n: usize) -> Vec<f64> {
    let (mut a, mut vectors) = (matrix.to_vec(), vec![0.0; n * n]);
    mfcl_model::symmetric_eigen(&mut a, &mut vectors, n);
    (0..n).map(|i| a[i * n + i]).collect()
}

// ---------------------------------------------------------------------------------------
// 5. A negative sample only adds noise for odd f and symmetric laws
// ---------------------------------------------------------------------------------------

/// `E[f(h_3)] = 0` and `E[c'_j f'(h_3)] = 0` when `f` is odd and the hidden laws symmetric,
/// so every negative term of `g` and `G_0` vanishes; `V` gains `E[(∂ℓ/∂h_3)²]` terms.
#[test]
fn negative_changes_only_the_noise_for_odd_activation_and_symmetric_laws() {
    use HiddenShape::{Gaussian, Rademacher, Sparse, Uniform};
    let (_, three) = three_neurons();
    let cases = [
        (
            "worked example's laws",
            vec![law(Rademacher, 2.0), law(Sparse(0.6), 2.0)],
            worked_state(),
        ),
        (
            "gaussian and uniform laws",
            vec![law(Gaussian, 1.5), law(Uniform, 1.0)],
            worked_state(),
        ),
        (
            "three neurons",
            vec![law(Rademacher, 1.5), law(Sparse(0.4), 1.0)],
            three,
        ),
    ];
    for (label, hidden, state) in cases {
        for activation in [Activation::Tanh, Activation::Erf, Activation::Linear] {
            let what = format!("{label} / {activation:?}");
            let at = |negative| {
                let problem = problem(activation, negative, hidden.clone(), noise(1.0, 0.5, 0.2));
                layer(problem, state.neurons, 1.0).coefficients(&state)
            };
            let (a, b) = (at(false), at(true));
            for (x, y) in a
                .drive
                .iter()
                .chain(&a.self_term)
                .zip(b.drive.iter().chain(&b.self_term))
            {
                assert_close(&format!("{what}: g or G_0"), *y, *x, 1e-12);
            }
            for (x, y) in a.noise.iter().zip(&b.noise) {
                assert!((x - y).abs() > 1e-3, "{what}: V unchanged by the negative");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// 6. β = 0: independent copies
// ---------------------------------------------------------------------------------------

/// Without decorrelation each neuron is the single-neuron learner at its own `(Q_{·k}, R_kk)`
/// and no Hessian entry couples two neurons; the gradient noises of two neurons are still
/// correlated through the shared data.
#[test]
fn without_decorrelation_neurons_are_independent_copies() {
    let (problem, state) = three_neurons();
    let (k, p) = (state.neurons, problem.features());
    let general = layer(problem.clone(), k, 0.0).coefficients(&state);
    let one = layer(problem, 1, 0.0);
    for a in 0..k {
        let overlaps: Vec<f64> = (0..p).map(|j| state.overlaps[j * k + a]).collect();
        let single = one.coefficients(&OrderParameters::single(overlaps, state.gram(a, a)));
        for j in 0..p {
            assert_close(
                &format!("g[{j}][{a}]"),
                general.drive[j * k + a],
                single.drive[j],
                1e-10,
            );
        }
        assert_close(
            &format!("G_0[{a}][{a}]"),
            general.self_term[a * k + a],
            single.self_term[0],
            1e-10,
        );
        assert_close(
            &format!("V[{a}][{a}]"),
            general.noise[a * k + a],
            single.noise[0],
            1e-10,
        );
        for b in (0..k).filter(|&b| b != a) {
            assert_eq!(general.self_term[a * k + b], 0.0, "G_0[{a}][{b}]");
            assert!(
                general.noise[a * k + b].abs() > 1e-3,
                "V[{a}][{b}] should not vanish"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// 7a. The linear activation: exact Gaussian moments
// ---------------------------------------------------------------------------------------

/// Closed form at `β = 0` for `f(h) = h`: with `M = Qᵀ diag(⟨c_j²⟩) Q`, `A = s2 R + M`
/// (`E[h_s h_sᵀ]`, also for the negative) and `B = r R + M` (`E[h_1 h_2ᵀ]`),
/// `∂_{s,k} = −h_{s̄,k} + γ/2 h_{3,k}` and `∂_{3,k} = γ/2 (h_{1,k} + h_{2,k})` give
///
/// ```text
///   g = 2 diag(⟨c_j²⟩) Q,   G_0 = 2 r I,
///   V = s2 [2 (1 + γ²/4) A + γ²/2 (A + B)] + 2 r [B + γ²/4 A].
/// ```
#[test]
fn linear_activation_without_decorrelation_matches_closed_form() {
    let (problem, state) = three_neurons();
    let mut problem = layer(problem, state.neurons, 0.0);
    problem.activation = Activation::Linear;
    for negative in [false, true] {
        problem.negative = negative;
        let (k, p) = (state.neurons, problem.features());
        let g2 = if negative { 0.25 } else { 0.0 };
        let second: Vec<f64> = problem.hidden.iter().map(|l| l.scale * l.scale).collect();
        let (s2, r) = (
            problem.noise.view_variance(),
            problem.noise.pair_covariance(),
        );
        let m = |a: usize, b: usize| -> f64 {
            (0..p)
                .map(|j| second[j] * state.overlaps[j * k + a] * state.overlaps[j * k + b])
                .sum()
        };
        let c = problem.coefficients(&state);
        for a in 0..k {
            for (j, second) in second.iter().enumerate() {
                let want = 2.0 * second * state.overlaps[j * k + a];
                assert_close("g", c.drive[j * k + a], want, 1e-12);
            }
            for b in 0..k {
                let aa = s2 * state.norm2[a * k + b] + m(a, b);
                let bb = r * state.norm2[a * k + b] + m(a, b);
                let v =
                    s2 * (2.0 * (1.0 + g2) * aa + 2.0 * g2 * (aa + bb)) + 2.0 * r * (bb + g2 * aa);
                let g0 = if a == b { 2.0 * r } else { 0.0 };
                assert_close("G_0", c.self_term[a * k + b], g0, 1e-12);
                assert_close("V", c.noise[a * k + b], v, 1e-11);
            }
        }
    }
}

/// A polynomial in the pre-activations: `Σ coefficient · Π h_v` over lists of variables
/// (`v = s K + k` for `h_{s,k}`, `s = 0, 1` the pair and `2` the negative).
type Poly = Vec<(f64, Vec<usize>)>;

fn times(a: &Poly, b: &Poly) -> Poly {
    a.iter()
        .flat_map(|(x, u)| b.iter().map(move |(y, v)| (x * y, [&u[..], v].concat())))
        .collect()
}

/// `E[Π_i h_{v_i}]` for `h ~ N(m, C)` by Wick's theorem with means:
/// `E[h_1 P] = m_1 E[P] + Σ_j C_{1j} E[P without h_j]`.
fn gaussian_moment(vars: &[usize], mean: &[f64], cov: &dyn Fn(usize, usize) -> f64) -> f64 {
    let Some((&first, rest)) = vars.split_first() else {
        return 1.0;
    };
    let mut total = mean[first] * gaussian_moment(rest, mean, cov);
    for i in 0..rest.len() {
        let c = cov(first, rest[i]);
        if c != 0.0 {
            let others: Vec<usize> = rest[..i].iter().chain(&rest[i + 1..]).copied().collect();
            total += c * gaussian_moment(&others, mean, cov);
        }
    }
    total
}

/// How `E[Π_i h_{v_i}]` for `h ~ N(m, C)` changes when `m` and `C` move linearly along
/// `dm`, `dC`: by Stein's lemma and Price's theorem (`∂E[P]/∂m_v = E[∂_v P]`,
/// `∂E[P]/∂C_uv = E[∂_u ∂_v P]` for `u ≠ v`, half that for `u = v`), each factor or pair of
/// factors in turn is differentiated away:
/// `Σ_i dm_{v_i} E[Π_{i'≠i}] + Σ_{i<j} dC_{v_i v_j} E[Π_{i'≠i,j}]`.
fn gaussian_moment_derivative(
    vars: &[usize],
    mean: &[f64],
    cov: &dyn Fn(usize, usize) -> f64,
    d_mean: &[f64],
    d_cov: &dyn Fn(usize, usize) -> f64,
) -> f64 {
    let without = |drop: &[usize]| -> Vec<usize> {
        (0..vars.len())
            .filter(|i| !drop.contains(i))
            .map(|i| vars[i])
            .collect()
    };
    let mut total = 0.0;
    for i in 0..vars.len() {
        if d_mean[vars[i]] != 0.0 {
            total += d_mean[vars[i]] * gaussian_moment(&without(&[i]), mean, cov);
        }
        for j in i + 1..vars.len() {
            let dc = d_cov(vars[i], vars[j]);
            if dc != 0.0 {
                total += dc * gaussian_moment(&without(&[i, j]), mean, cov);
            }
        }
    }
    total
}

/// The exact coefficients for `f(h) = h` and discrete hidden laws, at `β =
/// problem.decorrelation`: the derivatives of the loss of MODEL.md §7 written out by hand,
/// their products expanded, each monomial integrated by Wick's theorem, the hidden
/// variables summed over every pair of atom combinations `(c, c')`. With `along`, instead
/// their exact derivative in the direction of `along` (`Q` and `R` moving by its overlaps
/// and Gram matrix): the means of the pre-activations are linear in `Q` and their
/// covariances in `R`, so [`gaussian_moment_derivative`] gives it monomial by monomial.
fn linear_exact(
    problem: &Problem,
    state: &OrderParameters,
    along: Option<&OrderParameters>,
) -> Coefficients {
    let (k, p) = (state.neurons, problem.features());
    let beta = problem.decorrelation;
    let g = if problem.negative { 0.5 } else { 0.0 };
    let h = |s: usize, n: usize| s * k + n;
    let sigma = {
        let (s2, r) = (
            problem.noise.view_variance(),
            problem.noise.pair_covariance(),
        );
        [[s2, r, 0.0], [r, s2, 0.0], [0.0, 0.0, s2]]
    };
    // ∂ℓ/∂h_{s,k} = −h_{s̄,k} + γ/2 h_{3,k} + β h_{s,k} Σ_{l≠k} h_{s̄,l}², ∂ℓ/∂h_{3,k} = γ/2 (h_{1,k} + h_{2,k}).
    let gradient = |s: usize, n: usize| -> Poly {
        if s == 2 {
            return vec![(g, vec![h(0, n)]), (g, vec![h(1, n)])];
        }
        let other = 1 - s;
        let mut poly = vec![(-1.0, vec![h(other, n)]), (g, vec![h(2, n)])];
        for l in (0..k).filter(|&l| l != n) {
            poly.push((beta, vec![h(s, n), h(other, l), h(other, l)]));
        }
        poly
    };
    // The Hessian entries that Σ_ν sees (f'' = 0): ∂²/∂h_{s,k}² = β Σ_{m≠k} h_{s̄,m}²,
    // ∂²/∂h_{1,k}∂h_{2,l} = −δ_{kl} + 2β h_{1,k} h_{2,l} [k ≠ l].
    let hessian = |s: usize, a: usize, t: usize, b: usize| -> Poly {
        match (s, t) {
            (0, 0) | (1, 1) if a == b => (0..k)
                .filter(|&m| m != a)
                .map(|m| (beta, vec![h(1 - s, m), h(1 - s, m)]))
                .collect(),
            (0, 1) | (1, 0) if a == b => vec![(-1.0, vec![])],
            (0, 1) | (1, 0) => vec![(2.0 * beta, vec![h(s, a), h(t, b)])],
            _ => vec![],
        }
    };
    let atoms: Vec<Vec<(f64, f64)>> = problem
        .hidden
        .iter()
        .map(|l| match &l.shape {
            HiddenShape::Rademacher => vec![(-l.scale, 0.5), (l.scale, 0.5)],
            HiddenShape::Atoms { values, weights } => values
                .iter()
                .zip(weights)
                .map(|(v, w)| (l.scale * v, *w))
                .collect(),
            other => panic!("{other:?}: only finite laws here"),
        })
        .collect();
    let mut combos: Vec<(f64, Vec<f64>)> = vec![(1.0, vec![])];
    for feature in &atoms {
        combos = combos
            .iter()
            .flat_map(|(w, c)| {
                feature
                    .iter()
                    .map(move |(x, v)| (w * v, [&c[..], &[*x]].concat()))
            })
            .collect();
    }
    let cov = |u: usize, v: usize| sigma[u / k][v / k] * state.norm2[(u % k) * k + v % k];
    let d_cov = |u: usize, v: usize| {
        along.map_or(0.0, |d| sigma[u / k][v / k] * d.norm2[(u % k) * k + v % k])
    };
    let mut out = Coefficients {
        drive: vec![0.0; p * k],
        self_term: vec![0.0; k * k],
        noise: vec![0.0; k * k],
    };
    for (w, c) in &combos {
        for (w3, c3) in &combos {
            let means = |overlaps: &[f64]| -> Vec<f64> {
                (0..3 * k)
                    .map(|v| {
                        let hidden = if v < 2 * k { c } else { c3 };
                        (0..p).map(|j| hidden[j] * overlaps[j * k + v % k]).sum()
                    })
                    .collect()
            };
            let mean = means(&state.overlaps);
            let d_mean = along.map(|d| means(&d.overlaps));
            let moment = |vars: &[usize]| match &d_mean {
                None => gaussian_moment(vars, &mean, &cov),
                Some(d_mean) => gaussian_moment_derivative(vars, &mean, &cov, d_mean, &d_cov),
            };
            let e = |poly: &Poly| -> f64 {
                w * w3 * poly.iter().map(|(x, vars)| x * moment(vars)).sum::<f64>()
            };
            for n in 0..k {
                let (pair, negative) = (
                    e(&[gradient(0, n), gradient(1, n)].concat()),
                    e(&gradient(2, n)),
                );
                for j in 0..p {
                    out.drive[j * k + n] -= c[j] * pair + c3[j] * negative;
                }
            }
            for a in 0..k {
                for b in 0..k {
                    for (s, row) in sigma.iter().enumerate() {
                        for (t, weight) in row.iter().enumerate() {
                            out.self_term[a * k + b] -= weight * e(&hessian(s, a, t, b));
                            out.noise[a * k + b] +=
                                weight * e(&times(&gradient(s, a), &gradient(t, b)));
                        }
                    }
                }
            }
        }
    }
    out
}

/// With decorrelation the linear activation's coefficients are moments of degree up to six
/// of a Gaussian mixture: the quadrature reproduces them exactly (up to the truncation of
/// the Gaussian tails, which polynomial integrands feel most).
#[test]
fn linear_activation_with_decorrelation_matches_exact_moments() {
    let hidden = vec![law(HiddenShape::Rademacher, 1.5), law(skewed(), 1.0)];
    let cases = [
        (
            noise(0.8, 0.6, 0.3),
            state(&[&[0.4, -0.1], &[0.1, 0.3]], &[&[1.0, 0.2], &[0.2, 0.8]]),
        ),
        (
            noise(0.3, 1.0, -0.6),
            state(
                &[&[0.3, 0.1, -0.2], &[0.2, -0.3, 0.1]],
                &[&[0.9, 0.1, 0.0], &[0.1, 1.1, -0.2], &[0.0, -0.2, 0.7]],
            ),
        ),
    ];
    for (noise, state) in cases {
        for negative in [false, true] {
            for beta in [0.0, 0.6] {
                let problem = layer(
                    problem(Activation::Linear, negative, hidden.clone(), noise),
                    state.neurons,
                    beta,
                );
                let exact = linear_exact(&problem, &state, None);
                let got = problem.coefficients(&state);
                for (i, (x, y)) in all(&got).iter().zip(all(&exact)).enumerate() {
                    let what = format!(
                        "K={} negative={negative} beta={beta}: entry {i}",
                        state.neurons
                    );
                    assert_close(&what, *x, y, 1e-10 * (1.0 + y.abs()));
                }
            }
        }
    }
}

/// `Problem::coefficient_derivatives` (fourth-order central differences of the quadrature)
/// against the exact derivatives of the linear activation's coefficients, in every
/// coordinate of the ODE's state (each `Q_jk`, then `R_00`, `R_01 = R_10`, `R_11`), for
/// `K = 2` with and without decorrelation and a negative. The coefficients are polynomials
/// of degree at most 3 in `R`, for which the differences are exact, and 6 in `Q`; what is
/// left is mostly the quadrature's error divided by the step (1e-3): within 1e-9.
#[test]
fn linear_coefficient_derivatives_match_exact_derivatives() {
    let hidden = vec![law(HiddenShape::Rademacher, 1.5), law(skewed(), 1.0)];
    let state = state(&[&[0.4, -0.1], &[0.1, 0.3]], &[&[1.0, 0.2], &[0.2, 0.8]]);
    let dimension = state.coordinates().len();
    let mut worst: f64 = 0.0;
    for negative in [false, true] {
        for beta in [0.0, 0.6] {
            let problem = layer(
                problem(
                    Activation::Linear,
                    negative,
                    hidden.clone(),
                    noise(0.8, 0.6, 0.3),
                ),
                2,
                beta,
            );
            let got = problem.coefficient_derivatives(&state);
            assert_eq!(got.len(), dimension, "one derivative per coordinate");
            for (i, d) in got.iter().enumerate() {
                let mut unit = vec![0.0; dimension];
                unit[i] = 1.0;
                let direction = OrderParameters::from_coordinates(2, &unit);
                let want = linear_exact(&problem, &state, Some(&direction));
                for (e, (x, y)) in all(d).iter().zip(all(&want)).enumerate() {
                    let what = format!("negative={negative} beta={beta}: d entry {e} / d y_{i}");
                    assert_close(&what, *x, y, 1e-9);
                    worst = worst.max((x - y).abs());
                }
            }
        }
    }
    eprintln!("K = 2: largest error of the derivatives {worst:.1e}");
}

// ---------------------------------------------------------------------------------------
// 7b. Monte Carlo for tanh
// ---------------------------------------------------------------------------------------

/// Per sample: `g` (p × K), then the upper triangles of `G_0` and `V`, straight from the
/// formulas of MODEL.md §7 for tanh.
fn tanh_sample(
    h: &[[f64; 2]; 3],
    c: &[f64; 2],
    c3: &[f64; 2],
    beta: f64,
    sigma: &[[f64; 3]; 3],
) -> [f64; 10] {
    let gamma_half = 0.5;
    let f = h.map(|v| v.map(f64::tanh));
    let d = f.map(|v| v.map(|t| 1.0 - t * t));
    let dd = f.map(|v| v.map(|t| -2.0 * t * (1.0 - t * t)));
    // S_{s,k} = Σ_{l≠k} F_{s,l}² for K = 2.
    let s = |view: usize, k: usize| f[view][1 - k] * f[view][1 - k];
    let mut grad = [[0.0; 2]; 3];
    for k in 0..2 {
        for view in 0..2 {
            let other = 1 - view;
            grad[view][k] = d[view][k]
                * (-f[other][k] + gamma_half * f[2][k] + beta * f[view][k] * s(other, k));
        }
        grad[2][k] = gamma_half * d[2][k] * (f[0][k] + f[1][k]);
    }
    // ∂²ℓ/∂h_{s,k}∂h_{t,l} for the entries Σ_ν weighs.
    let hessian = |sv: usize, k: usize, tv: usize, l: usize| -> f64 {
        match (sv, tv) {
            (0, 0) | (1, 1) if k == l => {
                let o = 1 - sv;
                dd[sv][k] * (-f[o][k] + gamma_half * f[2][k] + beta * f[sv][k] * s(o, k))
                    + beta * d[sv][k] * d[sv][k] * s(o, k)
            }
            (0, 1) | (1, 0) if k == l => -d[sv][k] * d[tv][k],
            (0, 1) | (1, 0) => 2.0 * beta * d[sv][k] * f[sv][k] * f[tv][l] * d[tv][l],
            (2, 2) if k == l => gamma_half * dd[2][k] * (f[0][k] + f[1][k]),
            _ => 0.0,
        }
    };
    let mut out = [0.0; 10];
    for j in 0..2 {
        for k in 0..2 {
            out[2 * j + k] = -(c[j] * (grad[0][k] + grad[1][k]) + c3[j] * grad[2][k]);
        }
    }
    for (i, (k, l)) in [(0, 0), (0, 1), (1, 1)].into_iter().enumerate() {
        for sv in 0..3 {
            for tv in 0..3 {
                out[4 + i] -= sigma[sv][tv] * hessian(sv, k, tv, l);
                out[7 + i] += sigma[sv][tv] * grad[sv][k] * grad[tv][l];
            }
        }
    }
    out
}

/// Means and standard errors of [`tanh_sample`] over `samples` draws of the worked example
/// with a negative sample.
fn tanh_monte_carlo(samples: u64, seed: u64) -> ([f64; 10], [f64; 10]) {
    const CHUNK: u64 = 100_000;
    let problem = worked_problem(1);
    let state = worked_state();
    let (s2, r) = (
        problem.noise.view_variance(),
        problem.noise.pair_covariance(),
    );
    let sigma = [[s2, r, 0.0], [r, s2, 0.0], [0.0, 0.0, s2]];
    // z_{s,k} = Σ_m L_{km} ζ_{s,m} with R = L Lᵀ and ζ_{·,m} ~ N(0, Σ_ν) independent over m.
    let l11 = state.norm2[0].sqrt();
    let l21 = state.norm2[2] / l11;
    let l22 = (state.norm2[3] - l21 * l21).sqrt();
    let (a, b) = (r / s2.sqrt(), (s2 - r * r / s2).sqrt());
    let sums = (0..samples / CHUNK)
        .into_par_iter()
        .map(|chunk| {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed * 1_000_003 + chunk);
            let (mut sum, mut sum_sq) = ([0.0; 10], [0.0; 10]);
            for _ in 0..CHUNK {
                let [c, c3] = [(); 2].map(|_| draw_hidden(&mut rng));
                // zeta[m][view]: the views' noises along the m-th column of L.
                let zeta: [[f64; 3]; 2] = std::array::from_fn(|_| {
                    let [u1, u2, u3]: [f64; 3] =
                        std::array::from_fn(|_| StandardNormal.sample(&mut rng));
                    [s2.sqrt() * u1, a * u1 + b * u2, s2.sqrt() * u3]
                });
                let mean = |c: &[f64; 2], k: usize| {
                    c[0] * state.overlaps[k] + c[1] * state.overlaps[2 + k]
                };
                let mut h = [[0.0; 2]; 3];
                for (view, h) in h.iter_mut().enumerate() {
                    let hidden = if view < 2 { &c } else { &c3 };
                    h[0] = mean(hidden, 0) + l11 * zeta[0][view];
                    h[1] = mean(hidden, 1) + l21 * zeta[0][view] + l22 * zeta[1][view];
                }
                let x = tanh_sample(&h, &c, &c3, 1.0, &sigma);
                for i in 0..10 {
                    sum[i] += x[i];
                    sum_sq[i] += x[i] * x[i];
                }
            }
            (sum, sum_sq)
        })
        .reduce(
            || ([0.0; 10], [0.0; 10]),
            |(a, b), (c, d)| {
                (
                    std::array::from_fn(|i| a[i] + c[i]),
                    std::array::from_fn(|i| b[i] + d[i]),
                )
            },
        );
    let n = (samples / CHUNK * CHUNK) as f64;
    let mean = sums.0.map(|s| s / n);
    let se = std::array::from_fn(|i| ((sums.1[i] / n - mean[i] * mean[i]) / (n - 1.0)).sqrt());
    (mean, se)
}

/// `c = (2 · rademacher, 2 · sparse(0.6))`, the worked example's hidden laws.
fn draw_hidden(rng: &mut Xoshiro256PlusPlus) -> [f64; 2] {
    let (u, v): (f64, f64) = (rng.random(), rng.random());
    let sparse = 2.0 / 0.6f64.sqrt();
    [
        if u < 0.5 { -2.0 } else { 2.0 },
        if v < 0.3 {
            -sparse
        } else if v < 0.6 {
            sparse
        } else {
            0.0
        },
    ]
}

fn check_monte_carlo(samples: u64, seed: u64) {
    let c = worked_problem(1).coefficients(&worked_state());
    let quadrature = [
        &c.drive[..],
        &[c.self_term[0], c.self_term[1], c.self_term[3]],
        &[c.noise[0], c.noise[1], c.noise[3]],
    ]
    .concat();
    let (mean, se) = tanh_monte_carlo(samples, seed);
    let names = [
        "g00", "g01", "g10", "g11", "G00", "G01", "G11", "V00", "V01", "V11",
    ];
    for i in 0..10 {
        let z = (quadrature[i] - mean[i]) / se[i];
        eprintln!(
            "{}: quadrature {:.8}, Monte Carlo {:.8} ± {:.1e} ({z:+.2} s.e.)",
            names[i], quadrature[i], mean[i], se[i]
        );
        assert!(z.abs() < 5.0, "{}: {z:.1} standard errors off", names[i]);
    }
}

/// The worked example with a negative sample (tanh, β = 1) against 2·10⁶ samples of the
/// definitions: within five standard errors.
#[test]
fn tanh_agrees_with_monte_carlo() {
    check_monte_carlo(2_000_000, 1);
}

/// The same with 10⁸ samples (standard errors 2e-5 to 1.4e-4; about 15 s on two cores):
/// `cargo test -p mfcl-model --test layer large_monte_carlo -- --ignored --nocapture`.
#[test]
#[ignore]
fn large_monte_carlo() {
    check_monte_carlo(100_000_000, 2);
}

// ---------------------------------------------------------------------------------------
// 8. Speed
// ---------------------------------------------------------------------------------------

/// One evaluation of the worked example, and of `K = 1 … 4` with two features (`K = 1`
/// both by the single-neuron reduction and by the general expansion), on one core:
/// `cargo test -p mfcl-model --test layer speed -- --ignored --nocapture`. The criterion
/// bench `cargo bench -p mfcl-benches --bench coefficients` measures the same against a
/// reference kernel.
#[test]
#[ignore]
fn speed() {
    let time = |evaluate: &dyn Fn() -> Coefficients| {
        evaluate();
        let start = std::time::Instant::now();
        let mut n = 0;
        while start.elapsed().as_secs_f64() < 1.0 {
            std::hint::black_box(evaluate());
            n += 1;
        }
        start.elapsed().as_secs_f64() / f64::from(n)
    };
    for negatives in [0, 1] {
        let problem = worked_problem(negatives);
        let t = time(&|| problem.coefficients(&worked_state()));
        eprintln!("worked example, negatives = {negatives}: {:.1} ms", 1e3 * t);
    }
    for k in 1..=4 {
        let problem = layer(worked_problem(0), k, 1.0);
        let state = OrderParameters {
            neurons: k,
            overlaps: (0..2 * k).map(|i| 0.1 + 0.05 * i as f64).collect(),
            norm2: (0..k * k)
                .map(|i| if i / k == i % k { 1.0 } else { 0.1 })
                .collect(),
        };
        eprintln!(
            "K = {k}: {:.1} ms",
            1e3 * time(&|| problem.coefficients(&state))
        );
        if k == 1 {
            let general =
                time(&|| problem.layer_coefficients(&state, QuadratureOptions::default()));
            eprintln!("K = 1, general expansion: {:.1} ms", 1e3 * general);
        }
    }
}
