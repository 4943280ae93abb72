//! Feature labels `ξ` of a population.
//!
//! Particles get stratified labels (MODEL.md §5): a discrete feature law gives every pattern
//! of atoms its exact share of the particles, and the Gaussian law gives each feature the
//! `N` midpoint quantiles, shuffled independently per feature. SGD draws its features
//! i.i.d. from their law, as the algorithm does.

use mfcl_model::FeatureLaw;
use rand::RngExt;
use rayon::prelude::*;

use crate::stream::{LABELS, stream};

/// Stratified labels for `len` particles and `p` features, particle-major.
pub fn stratified(law: FeatureLaw, p: usize, len: usize, seed: u64) -> Vec<f32> {
    match law.discrete_atoms() {
        Some(atoms) => discrete_patterns(&atoms, p, len),
        None => gaussian_quantiles(p, len, seed),
    }
}

/// Independent draws for `len` coordinates of `p` features, coordinate-major.
pub fn independent(law: FeatureLaw, p: usize, len: usize, seed: u64) -> Vec<f32> {
    let mut rng = stream(seed, LABELS);
    (0..len * p).map(|_| law.sample(&mut rng) as f32).collect()
}

/// Particle `k` takes the pattern at quantile `(k + ½)/N` of the joint law of `p` independent
/// features, patterns in lexicographic order: each pattern's count is within one of its
/// expected share.
fn discrete_patterns(atoms: &[(f64, f64)], p: usize, len: usize) -> Vec<f32> {
    let radix = atoms.len();
    let patterns = radix.pow(p as u32);
    let digits = |mut pattern: usize| {
        (0..p).rev().map(move |_| {
            let d = pattern % radix;
            pattern /= radix;
            d
        })
    };
    let mut labels = Vec::with_capacity(len * p);
    let (mut pattern, mut upper) = (0, 0.0);
    let probability = |pattern: usize| digits(pattern).map(|d| atoms[d].1).product::<f64>();
    upper += probability(0);
    for k in 0..len {
        let quantile = (k as f64 + 0.5) / len as f64;
        while quantile > upper && pattern + 1 < patterns {
            pattern += 1;
            upper += probability(pattern);
        }
        let mut row: Vec<f32> = digits(pattern).map(|d| atoms[d].0 as f32).collect();
        row.reverse();
        labels.extend(row);
    }
    labels
}

/// Feature `j` of particle `k` is `Φ⁻¹((π_j(k) + ½)/N)` with `π_0` the identity and the other
/// `π_j` seeded shuffles; each column is rescaled to unit second moment.
fn gaussian_quantiles(p: usize, len: usize, seed: u64) -> Vec<f32> {
    let column: Vec<f64> = (0..len)
        .into_par_iter()
        .map(|k| normal_quantile((k as f64 + 0.5) / len as f64))
        .collect();
    let scale = (column.iter().map(|x| x * x).sum::<f64>() / len as f64)
        .sqrt()
        .recip();
    let mut labels = vec![0.0f32; len * p];
    for j in 0..p {
        let mut order: Vec<usize> = (0..len).collect();
        if j > 0 {
            let mut rng = stream(seed, LABELS + j as u64);
            for i in (1..len).rev() {
                order.swap(i, rng.random_range(0..=i));
            }
        }
        for (k, &source) in order.iter().enumerate() {
            labels[k * p + j] = (scale * column[source]) as f32;
        }
    }
    labels
}

/// `Φ⁻¹(u)` by Acklam's rational approximation refined with one Halley step (relative
/// error below 1e-15).
fn normal_quantile(u: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if u < 0.02425 {
        tail((-2.0 * u.ln()).sqrt())
    } else if u > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - u).ln()).sqrt())
    } else {
        let q = u - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // Halley refinement on Φ(x) − u, with Φ from erfc.
    let e = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2) - u;
    let d = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - d / (1.0 + x * d / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rademacher_patterns_have_exact_proportions() {
        let labels = stratified(FeatureLaw::Rademacher, 2, 1000, 1);
        let mut counts = std::collections::HashMap::new();
        for row in labels.chunks(2) {
            *counts.entry((row[0] as i32, row[1] as i32)).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 4);
        assert!(counts.values().all(|&c| c == 250), "{counts:?}");
    }

    #[test]
    fn sparse_labels_have_unit_second_moment() {
        let labels = stratified(FeatureLaw::Sparse(0.2), 1, 10_000, 1);
        let m2: f64 = labels.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / 10_000.0;
        let zeros = labels.iter().filter(|&&x| x == 0.0).count();
        assert_eq!(zeros, 8000);
        assert!((m2 - 1.0).abs() < 1e-6);
    }

    #[test]
    fn gaussian_quantiles_are_standard_and_independent() {
        let n = 20_000;
        let labels = stratified(FeatureLaw::Gaussian, 2, n, 3);
        let mean = |j: usize, f: &dyn Fn(f64) -> f64| {
            labels.chunks(2).map(|r| f(f64::from(r[j]))).sum::<f64>() / n as f64
        };
        assert!(
            (mean(0, &|x| x * x) - 1.0).abs() < 1e-6 && (mean(1, &|x| x * x) - 1.0).abs() < 1e-6
        );
        assert!((mean(0, &|x| x.powi(4)) - 3.0).abs() < 0.01);
        let cross = labels
            .chunks(2)
            .map(|r| f64::from(r[0]) * f64::from(r[1]))
            .sum::<f64>()
            / n as f64;
        assert!(cross.abs() < 4.0 / (n as f64).sqrt());
    }

    #[test]
    fn normal_quantile_inverts_the_cdf() {
        for &u in &[1e-10, 0.001, 0.02, 0.3, 0.5, 0.77, 0.999] {
            let x = normal_quantile(u);
            let back = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2);
            assert!((back - u).abs() < 1e-15 * u.max(1e-3) * 10.0, "{u}: {back}");
        }
    }
}
