//! Feature labels `ξ` of a population.
//!
//! Particles get stratified labels (MODEL.md §5): a discrete feature law gives every pattern
//! of atoms its exact share of the particles, and the Gaussian law gives each feature the
//! `N` midpoint quantiles, shuffled independently per feature. SGD draws its features
//! i.i.d. from their law, as the algorithm does.

use mfcl_model::FeatureLaw;
use rand::RngExt;
use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, Normal};

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
    let normal = Normal::standard();
    let column: Vec<f64> = (0..len)
        .into_par_iter()
        .map(|k| normal.inverse_cdf((k as f64 + 0.5) / len as f64))
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

    /// The labels are only as good as `Φ⁻¹`: statrs' `inverse_cdf` must hold full double
    /// precision, in the centre (where `Φ⁻¹(u)` is tiny and a Newton step on `Φ(x) − u` loses
    /// relative precision) and far in the tails. Reference values from mpmath at 40 digits.
    #[test]
    fn normal_quantile_has_full_precision() {
        let normal = Normal::standard();
        for (u, x) in [
            (1e-10, -6.361340902404057),
            (0.001, -3.0902323061678136),
            (0.02, -2.053748910631823),
            (0.3, -0.5244005127080408),
            (0.5, 0.0),
            (0.5000005, 1.2533141372127224e-6),
            (0.77, 0.7388468491852137),
            (0.975, 1.959963984540054),
            (0.999, 3.090232306167813),
            (0.9999975, 4.56478773027951),
        ] {
            let q = normal.inverse_cdf(u);
            assert!(
                (q - x).abs() <= 4.0 * f64::EPSILON * x.abs(),
                "{u}: {q} vs {x}"
            );
        }
    }

    /// `Φ(Φ⁻¹(u)) = u` with statrs' own CDF. The tolerance is that CDF's, not the quantile's:
    /// statrs 0.19.1's `erfc` keeps about 10 digits for arguments beyond 0.5 (its interval
    /// constants are truncated; fixed upstream after 0.19.1 by statrs-dev/statrs#412).
    #[test]
    fn normal_quantile_inverts_the_cdf() {
        let normal = Normal::standard();
        for k in 0..1000 {
            let u = (k as f64 + 0.5) / 1000.0;
            let back = normal.cdf(normal.inverse_cdf(u));
            assert!((back - u).abs() < 1e-9 * u.min(1.0 - u), "{u}: {back}");
        }
    }
}
