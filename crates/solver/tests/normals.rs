//! The deviates of [`Generator::BoxMuller`] against the standard normal law: its moments
//! to the sixth, its distribution function (Kolmogorov–Smirnov), its tails beyond 4σ and
//! 5σ, and independence between the positions of a round (lanes, and the cosine and sine
//! of a pair), between consecutive deviates, between chunk streams and between seeds.
//!
//! Every test draws from fixed seeds, so it passes or fails the same way on every run; its
//! threshold is set so that a correct generator would fail it for a random seed with the
//! stated small probability (mostly a ±5 standard error band: 5.7 · 10⁻⁷ per comparison,
//! two-sided, under the normal approximation), while any defect of the transform large
//! enough to matter to a run moves the statistic by many standard errors at these sizes.
//!
//! The error of the transform's own `ln`, `cos` and `sin` against the C library's is
//! bounded in the unit tests (`src/normals_tests.rs`), at ~10⁻¹⁵: far below the
//! resolution of any test here.

use mfcl_solver::{CHUNK, Generator};
use statrs::distribution::{ContinuousCDF, Normal};

/// Bands of this many standard errors: a correct generator leaves one with probability
/// 5.7 · 10⁻⁷ (two-sided normal tail).
const BAND: f64 = 5.0;

/// Calls `f` with the deviates of chunk streams `chunks` of `seed`, `per_chunk` from each,
/// in blocks of [`CHUNK`] as a run's steps draw them (the last block of a chunk shorter).
fn for_each_block(
    seed: u64,
    chunks: std::ops::Range<u64>,
    per_chunk: usize,
    mut f: impl FnMut(&[f64]),
) {
    let mut block = vec![0.0; CHUNK];
    for index in chunks {
        let mut stream = Generator::BoxMuller.chunk_stream(seed, index);
        let mut left = per_chunk;
        while left > 0 {
            let n = left.min(CHUNK);
            stream.fill(&mut block[..n]);
            f(&block[..n]);
            left -= n;
        }
    }
}

/// The deviates of chunk streams `chunks` of `seed`, `per_chunk` from each, in a vector.
fn deviates(seed: u64, chunks: std::ops::Range<u64>, per_chunk: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(chunks.clone().count() * per_chunk);
    for_each_block(seed, chunks, per_chunk, |block| {
        out.extend_from_slice(block)
    });
    out
}

/// `(2k − 1)!! = E z^{2k}` of a standard normal; the odd moments are 0.
fn normal_moment(k: u32) -> f64 {
    if k % 2 == 1 {
        0.0
    } else {
        (1..k).step_by(2).map(f64::from).product()
    }
}

/// The sample moments `mean(z^k)`, k = 1…6, of 10⁷ deviates (four chunk streams of
/// 2.5 · 10⁶) each within [`BAND`] standard errors of the normal moments 0, 1, 0, 3, 0, 15.
/// The standard error of `mean(z^k)` over `n` independent deviates is
/// `√((E z^{2k} − (E z^k)²)/n)`: 3.2 · 10⁻⁴, 4.5 · 10⁻⁴, 1.2 · 10⁻³, 3.1 · 10⁻³, 9.7 · 10⁻³,
/// 3.2 · 10⁻² for k = 1…6. (The sample mean of z⁶ is still close to normal at this n: its
/// skewness is that of z⁶, about 33, over √n, 0.01.)
///
/// Hypothesis: the deviates are standard normal. Each comparison fails a correct
/// generator with probability 5.7 · 10⁻⁷, all six with less than 4 · 10⁻⁶.
#[test]
fn moments_to_the_sixth_are_normal() {
    let (chunks, per_chunk) = (4, 2_500_000);
    let n = (chunks * per_chunk as u64) as f64;
    let mut sums = [0.0_f64; 6];
    for_each_block(1, 0..chunks, per_chunk, |block| {
        for &z in block {
            let z2 = z * z;
            let z3 = z2 * z;
            let powers = [z, z2, z3, z2 * z2, z3 * z2, z3 * z3];
            for (sum, power) in sums.iter_mut().zip(powers) {
                *sum += power;
            }
        }
    });
    for (k, sum) in (1..=6).zip(sums) {
        let (expected, mean) = (normal_moment(k), sum / n);
        let error = ((normal_moment(2 * k) - expected * expected) / n).sqrt();
        let score = (mean - expected) / error;
        eprintln!("moment {k}: {mean:.6} against {expected}, {score:+.2} standard errors");
        assert!(
            score.abs() < BAND,
            "E z^{k} = {mean} against {expected}: {score:+.2} standard errors of {error:.2e}"
        );
    }
}

/// The asymptotic Kolmogorov distribution's tail `P(√n D > x) = 2 Σ (−1)^{k−1} e^{−2k²x²}`.
fn kolmogorov_tail(x: f64) -> f64 {
    let sum: f64 = (1..=100)
        .map(|k: i32| {
            let sign = if k % 2 == 1 { 1.0 } else { -1.0 };
            sign * (-2.0 * f64::from(k * k) * x * x).exp()
        })
        .sum();
    (2.0 * sum).clamp(0.0, 1.0)
}

/// The Kolmogorov–Smirnov distance `D = sup |F_n(x) − Φ(x)|` of 10⁷ deviates (four chunk
/// streams) from statrs' standard normal distribution function, below `1.949/√n`, the
/// asymptotic critical value at significance α = 0.001 (`P(√n D > 1.949) = 0.001` under
/// the hypothesis, Kolmogorov's distribution; at n = 10⁷ the finite-n correction is
/// 4 · 10⁻⁵ relative). The threshold, 6.2 · 10⁻⁴, is a bound on the error of every
/// probability `P(z ≤ x)` the deviates give: a bias of the transform's angle or radius
/// that shifts any quantile's probability by 10⁻³ fails it.
///
/// Hypothesis: the deviates are standard normal. Sorting the 10⁷ deviates is most of the
/// cost (the test takes 0.7 s at opt-level 3).
#[test]
fn kolmogorov_smirnov_against_the_normal_law() {
    let mut z = deviates(2, 0..4, 2_500_000);
    let n = z.len() as f64;
    z.sort_unstable_by(f64::total_cmp);
    let normal = Normal::standard();
    let mut d = 0.0_f64;
    for (i, &x) in z.iter().enumerate() {
        let cdf = normal.cdf(x);
        // F_n jumps from i/n to (i + 1)/n at x.
        d = d.max(cdf - i as f64 / n).max((i + 1) as f64 / n - cdf);
    }
    let statistic = d * n.sqrt();
    eprintln!(
        "Kolmogorov–Smirnov: D = {d:.3e}, √n D = {statistic:.3}, p = {:.3}",
        kolmogorov_tail(statistic)
    );
    // Kolmogorov's distribution at α = 0.001: the root of 2 e^{−2x²} ≈ α (the further
    // terms are below 10⁻¹⁰ there).
    let critical = 1.949;
    assert!(
        (kolmogorov_tail(critical) - 0.001).abs() < 1e-5,
        "the critical value: {}",
        kolmogorov_tail(critical)
    );
    assert!(
        statistic < critical,
        "√n D = {statistic:.3} ≥ {critical}: p = {:.2e}",
        kolmogorov_tail(statistic)
    );
}

/// Counts `|z| > 4` and `|z| > 5` among `n` deviates of `seed` (`n/4` from each of four
/// chunk streams), and asserts each within [`BAND`] binomial standard errors
/// `√(n p (1 − p))` of `n p`, `p = 2Φ(−t)` from statrs: 6.334 · 10⁻⁵ and 5.733 · 10⁻⁷.
fn assert_tails(seed: u64, n: usize) {
    let thresholds = [4.0, 5.0];
    let mut counts = [0_u64; 2];
    for_each_block(seed, 0..4, n / 4, |block| {
        for &z in block {
            let a = z.abs();
            for (count, &t) in counts.iter_mut().zip(&thresholds) {
                *count += u64::from(a > t);
            }
        }
    });
    let normal = Normal::standard();
    let n = (4 * (n / 4)) as f64;
    for (&t, count) in thresholds.iter().zip(counts) {
        let p = 2.0 * normal.sf(t);
        let (expected, error) = (n * p, (n * p * (1.0 - p)).sqrt());
        let score = (count as f64 - expected) / error;
        eprintln!(
            "|z| > {t}: {count} of {n:e}, expected {expected:.1} ± {error:.1} (p = {p:.4e}), {score:+.2} standard errors"
        );
        assert!(
            score.abs() < BAND,
            "|z| > {t}: {count} against {expected:.1} ± {error:.1}: {score:+.2} standard errors"
        );
    }
}

/// The two-sided tails beyond 4σ and 5σ of 10⁸ deviates: 6334 ± 80 and 57 ± 7.6 expected,
/// each count within 5 binomial standard errors. The counts are nearly Poisson, skewed at
/// 57: a correct generator leaves the 5σ band [19.5, 95.2] with probability 2 · 10⁻⁶
/// (4 · 10⁻⁹ below, 2 · 10⁻⁶ above), the 4σ band with 6 · 10⁻⁷. A transform that loses
/// precision for small `u` (the large radii) shows here. 0.7 s.
///
/// Hypothesis: the deviates' tails are the normal law's.
#[test]
fn tails_beyond_four_and_five_sigma() {
    assert_tails(3, 100_000_000);
}

/// [`tails_beyond_four_and_five_sigma`] on 10⁹ deviates (63 342 ± 252 and 573 ± 24), about
/// ten times the cost (7.6 s); run with
/// `cargo test -p mfcl-solver --test normals -- --ignored tails_of_a_billion`.
#[test]
#[ignore = "10⁹ deviates, 8 s"]
fn tails_of_a_billion() {
    assert_tails(4, 1_000_000_000);
}

/// Pearson's correlation of pairs, accumulated.
#[derive(Default)]
struct Correlation {
    n: f64,
    x: f64,
    y: f64,
    xx: f64,
    yy: f64,
    xy: f64,
}

impl Correlation {
    fn add(&mut self, x: f64, y: f64) {
        self.n += 1.0;
        self.x += x;
        self.y += y;
        self.xx += x * x;
        self.yy += y * y;
        self.xy += x * y;
    }

    fn value(&self) -> f64 {
        let n = self.n;
        let cov = self.xy / n - (self.x / n) * (self.y / n);
        let var_x = self.xx / n - (self.x / n).powi(2);
        let var_y = self.yy / n - (self.y / n).powi(2);
        cov / (var_x * var_y).sqrt()
    }

    /// `|r| < 5/√n`: for independent variables with finite fourth moments, `√n r` tends to
    /// a standard normal, so a correct generator exceeds this with probability
    /// 5.7 · 10⁻⁷.
    fn assert_small(&self, what: &str) {
        let r = self.value();
        let bound = BAND / self.n.sqrt();
        assert!(
            r.abs() < bound,
            "{what}: r = {r:.3e}, beyond {bound:.3e} (n = {:e})",
            self.n
        );
    }
}

/// Linear correlation and correlation of squares, for pairs of deviates.
#[derive(Default)]
struct Dependence {
    linear: Correlation,
    squares: Correlation,
}

impl Dependence {
    fn add(&mut self, x: f64, y: f64) {
        self.linear.add(x, y);
        self.squares.add(x * x, y * y);
    }

    fn assert_independent(&self, what: &str) {
        self.linear.assert_small(what);
        self.squares.assert_small(&format!("{what}, squares"));
    }

    /// The larger of the two correlations, in units of `1/√n`.
    fn score(&self) -> f64 {
        self.linear.value().abs().max(self.squares.value().abs()) * self.linear.n.sqrt()
    }
}

/// Deviates per round of the lanes: [`mfcl_solver::normals::ROUND`].
const ROUND: usize = mfcl_solver::normals::ROUND;

/// The 16 positions of a round (8 lanes' cosines, then their sines) pairwise independent:
/// for every pair of positions `p < p'`, over 6.25 · 10⁵ rounds (10⁷ deviates of one chunk
/// stream), the correlation of `z_p` with `z_p'` and of `z_p²` with `z_p'²` below
/// `5/√n = 6.3 · 10⁻³`. That covers different lanes (`p mod 8 ≠ p' mod 8`) and the
/// cosine and sine of one lane's pair (`p' = p + 8`), tested on its own in
/// [`the_cosine_and_sine_of_a_pair_are_independent`].
///
/// Hypothesis: the lanes are independent generators. 240 comparisons: a correct generator
/// fails one with probability below 1.4 · 10⁻⁴.
#[test]
fn positions_of_a_round_are_independent() {
    let mut pairs: Vec<Dependence> = (0..ROUND * ROUND).map(|_| Dependence::default()).collect();
    for_each_block(5, 0..1, 10_000_000, |block| {
        for round in block.chunks_exact(ROUND) {
            for p in 0..ROUND {
                for q in p + 1..ROUND {
                    pairs[p * ROUND + q].add(round[p], round[q]);
                }
            }
        }
    });
    let mut worst = 0.0_f64;
    for p in 0..ROUND {
        for q in p + 1..ROUND {
            let pair = &pairs[p * ROUND + q];
            worst = worst.max(pair.score());
            pair.assert_independent(&format!("positions {p} and {q} of a round"));
        }
    }
    eprintln!("positions of a round: largest |r| √n = {worst:.2}");
}

/// The cosine and sine deviates of each lane's pair, `(r cos θ, r sin θ)`: uncorrelated
/// for any law of the angle symmetric enough, but independent only if `θ` is uniform and
/// independent of `r` and the radius has the Rayleigh law; the correlation of their
/// squares catches the dependence that the linear correlation misses (for example `u` and
/// `φ` drawn from related bits). Over 8 · 10⁶ pairs (1.6 · 10⁷ deviates of one chunk
/// stream) both correlations below `5/√n = 1.8 · 10⁻³`; and the radius's law,
/// `P((z₁² + z₂²)/2 > t) = e^{−t}`, at t = 1, 4, 9 within 5 binomial standard errors
/// (±1364, ±379, ±31 around 2.94 · 10⁶, 1.47 · 10⁵, 987).
///
/// Hypothesis: the pair is two independent standard normals. Five comparisons, each
/// failing a correct generator with probability 5.7 · 10⁻⁷.
#[test]
fn the_cosine_and_sine_of_a_pair_are_independent() {
    let mut pair = Dependence::default();
    // P(z₁² + z₂² > 2 t) = e^{−t} for independent standard normals: the radius's law.
    let mut beyond = [0_u64; 3];
    let thresholds = [1.0, 4.0, 9.0];
    for_each_block(6, 0..1, 16_000_000, |block| {
        for round in block.chunks_exact(ROUND) {
            let (cosines, sines) = round.split_at(ROUND / 2);
            for (&x, &y) in cosines.iter().zip(sines) {
                pair.add(x, y);
                let half = 0.5 * (x * x + y * y);
                for (count, &t) in beyond.iter_mut().zip(&thresholds) {
                    *count += u64::from(half > t);
                }
            }
        }
    });
    eprintln!(
        "cosine and sine of a pair: r = {:.2e}, squares r = {:.2e}, |r| √n ≤ {:.2}",
        pair.linear.value(),
        pair.squares.value(),
        pair.score()
    );
    pair.assert_independent("cosine and sine of a pair");
    let n = pair.linear.n;
    for (&t, count) in thresholds.iter().zip(beyond) {
        let p = (-t).exp();
        let (expected, error) = (n * p, (n * p * (1.0 - p)).sqrt());
        let score = (count as f64 - expected) / error;
        eprintln!(
            "(z₁² + z₂²)/2 > {t}: {count}, expected {expected:.0} ± {error:.0}, {score:+.2} standard errors"
        );
        assert!(
            score.abs() < BAND,
            "(z₁² + z₂²)/2 > {t}: {score:+.2} standard errors"
        );
    }
}

/// Consecutive deviates of a chunk stream as `fill` writes them (lag 1, which pairs a lane
/// with the next lane and, at the round's middle and end, a cosine with a sine or with the
/// next round), the same lane's cosine in consecutive rounds (lag 16) and lag 8 (the
/// cosine-sine pair): correlations and correlations of squares over 10⁷ deviates each below
/// `5/√n = 1.6 · 10⁻³`.
#[test]
fn consecutive_deviates_are_independent() {
    let z = deviates(7, 0..1, 10_000_000);
    for lag in [1, 8, 16] {
        let mut dependence = Dependence::default();
        for (&x, &y) in z.iter().zip(&z[lag..]) {
            dependence.add(x, y);
        }
        eprintln!("lag {lag}: |r| √n ≤ {:.2}", dependence.score());
        dependence.assert_independent(&format!("deviates {lag} apart"));
    }
}

/// The `i`-th deviates of two streams: correlations and correlations of squares over 10⁷
/// pairs each below `5/√n = 1.6 · 10⁻³`.
fn assert_streams_independent(
    what: &str,
    (seed_a, chunk_a): (u64, u64),
    (seed_b, chunk_b): (u64, u64),
) {
    let n = 10_000_000;
    let a = deviates(seed_a, chunk_a..chunk_a + 1, n);
    let b = deviates(seed_b, chunk_b..chunk_b + 1, n);
    let mut dependence = Dependence::default();
    for (&x, &y) in a.iter().zip(&b) {
        dependence.add(x, y);
    }
    eprintln!("{what}: |r| √n ≤ {:.2}", dependence.score());
    dependence.assert_independent(what);
}

/// Chunk streams 0 and 1 of seed 1: independent deviate by deviate (the streams' states
/// come from SplitMix64 of the seed and the index, which must not make neighbouring
/// indices related).
#[test]
fn chunk_streams_of_a_seed_are_independent() {
    assert_streams_independent("chunks 0 and 1 of seed 1", (1, 0), (1, 1));
}

/// Chunk 0 of seeds 1 and 2: independent deviate by deviate (neighbouring seeds must not
/// give related streams either).
#[test]
fn seeds_are_independent() {
    assert_streams_independent("chunk 0 of seeds 1 and 2", (1, 0), (2, 0));
}
