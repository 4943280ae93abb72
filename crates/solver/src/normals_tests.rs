//! Unit tests of the batched normals: the hand-written `ln` and `cos_sin` against the C
//! library's, the whole transform against the same Box–Muller formula through the C
//! library, the two builds of `fill` against each other, the lanes against rand_xoshiro's
//! generator, and the checkpoint state.
//!
//! The statistical tests of the deviates (moments, Kolmogorov–Smirnov, tails,
//! independence) are in `tests/normals.rs`.

use std::cell::Cell;
use std::f64::consts::{FRAC_1_SQRT_2, FRAC_PI_2, FRAC_PI_4, SQRT_2};

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::*;
use crate::stream::{ChunkStream, Generator, stream};

/// The unit roundoff's double, 2⁻⁵²: one ulp of numbers in [1, 2).
const EPS: f64 = f64::EPSILON;

/// A fixed source of test inputs.
fn words() -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(0x006e_6f72_6d61_6c73)
}

/// `x` and its `k` neighbours on each side, in ulps.
fn around(x: f64, k: usize) -> Vec<f64> {
    let mut out = vec![x];
    let (mut down, mut up) = (x, x);
    for _ in 0..k {
        down = down.next_down();
        up = up.next_up();
        out.extend([down, up]);
    }
    out
}

/// The largest relative error of [`ln`] against `f64::ln` over `inputs`, with its input.
fn ln_relative_error(inputs: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let mut worst = (0.0, f64::NAN);
    for u in inputs {
        let exact = u.ln();
        if exact == 0.0 {
            assert_eq!(ln(u), 0.0, "ln 1");
            continue;
        }
        let error = ((ln(u) - exact) / exact).abs();
        assert!(error.is_finite(), "ln({u:e}) = {} against {exact}", ln(u));
        if error > worst.0 {
            worst = (error, u);
        }
    }
    worst
}

/// `ln u` within a relative error of 3 · 2⁻⁵² of the C library's `ln u`, itself
/// within about half an ulp of exact, for normal `u` in (0, 1]: the ends of the range the
/// transform uses (2⁻⁵², 1), the values next to 1, next to the mantissa split at √2 (both
/// sides, every exponent, where the series switches from `s > 0` to `s < 0`) and to √½,
/// every power of two down to the smallest normal, random `u` on the transform's grid
/// `k · 2⁻⁵²`, and random doubles spread over all exponents.
///
/// Measured: 1.93 · 2⁻⁵² (at u = 0.7715, where the series alone gives `ln u = −0.26`: two
/// ulps of the result) over 2 · 10⁶ random and 10⁵ chosen inputs.
#[test]
fn ln_is_within_a_few_ulps() {
    assert_eq!(ln(1.0), 0.0, "ln 1 is exactly 0");
    let mut inputs = vec![EPS, f64::MIN_POSITIVE, 0.5, 0.25, 1.0];
    // Next to 1, from below: ln u ≈ u − 1 is tiny, a test of the relative error.
    let mut u = 1.0_f64;
    for _ in 0..10_000 {
        u = u.next_down();
        inputs.push(u);
    }
    // The mantissa split (m > √2 halves m) and the powers of two, at every exponent.
    for e in -1022..=0 {
        let scale = 2.0_f64.powi(e);
        let normal = |u: &f64| (f64::MIN_POSITIVE..=1.0).contains(u);
        inputs.extend(around(scale * SQRT_2, 8).into_iter().filter(normal));
        inputs.extend(around(scale * FRAC_1_SQRT_2, 8).into_iter().filter(normal));
        inputs.extend(around(scale, 8).into_iter().filter(normal));
    }
    // The transform's grid, `u = 2 − 1.f`, from random words.
    let mut rng = words();
    inputs.extend((0..1_000_000).map(|_| 2.0 - unit_interval(rng.next_u64())));
    // Random doubles over all normal exponents: a random mantissa times 2^−e.
    inputs.extend((0..1_000_000).map(|_| {
        let word = rng.next_u64();
        let exponent = 1 + (word >> 52) % 1022;
        f64::from_bits((1023 - exponent) << 52 | (word & FRACTION))
    }));
    let (worst, at) = ln_relative_error(inputs);
    eprintln!(
        "ln: max relative error {:.3} · 2⁻⁵² at u = {at:e}",
        worst / EPS
    );
    assert!(
        worst <= 3.0 * EPS,
        "ln: relative error {:.3} ulps at u = {at:e}",
        worst / EPS
    );
}

/// `(cos φ, sin φ)` within 1.5 · 2⁻⁵³ (absolute) of the C library's, over the range of
/// the transform's angle `[−π/4, π/4]`: a grid of 2²¹ + 1 points, the endpoints and their
/// neighbours, the transform's own extreme angles, and tiny angles. `sin φ` also within
/// 1.5 ulps relative, so that small angles keep their precision.
///
/// Measured: cos and sin 1.00 · 2⁻⁵³ absolute (one ulp of results in [½, 1)); sin
/// 1.00 · 2⁻⁵² relative.
#[test]
fn cos_sin_is_within_an_ulp() {
    let mut inputs: Vec<f64> = Vec::new();
    let n = 1 << 21;
    inputs.extend((0..=n).map(|k| -FRAC_PI_4 + FRAC_PI_2 * f64::from(k) / f64::from(n)));
    inputs.extend(around(FRAC_PI_4, 16));
    inputs.extend(around(-FRAC_PI_4, 16));
    // The transform's extreme angles: (1.f − 1.5) π/2 for f = 0 and f = 1 − 2⁻⁵².
    inputs.extend([(1.0 - 1.5) * FRAC_PI_2, ((2.0 - EPS) - 1.5) * FRAC_PI_2]);
    inputs.extend([0.0, -0.0, 1e-300, -1e-300, 1e-20, 1e-8, -1e-8, 1e-4]);
    let (mut cos_worst, mut sin_worst, mut sin_relative) = (0.0_f64, 0.0_f64, 0.0_f64);
    for &phi in &inputs {
        let (cos, sin) = cos_sin(phi);
        cos_worst = cos_worst.max((cos - phi.cos()).abs());
        sin_worst = sin_worst.max((sin - phi.sin()).abs());
        if phi != 0.0 {
            sin_relative = sin_relative.max(((sin - phi.sin()) / phi.sin()).abs());
        }
    }
    let half = EPS / 2.0;
    eprintln!(
        "cos_sin: max absolute error cos {:.3} · 2⁻⁵³, sin {:.3} · 2⁻⁵³; sin relative {:.3} · 2⁻⁵²",
        cos_worst / half,
        sin_worst / half,
        sin_relative / EPS
    );
    assert!(cos_worst <= 1.5 * half, "cos: {:e}", cos_worst);
    assert!(sin_worst <= 1.5 * half, "sin: {:e}", sin_worst);
    assert!(
        sin_relative <= 1.5 * EPS,
        "sin relative: {:e}",
        sin_relative
    );
}

/// The transform of the module docs through the C library's `ln`, `cos`, `sin`: `u` from
/// bits 10–61 of `a`, `φ` from bits 10–61 of `b`, the quadrant `q` from bits 62–63 of `b`,
/// and `(z₁, z₂) = √(−2 ln u) (cos, sin)(φ + qπ/2)`.
///
/// The quarter turns are applied to `(cos φ, sin φ)` exactly, by the identities
/// `(cos, sin)(φ + π/2) = (−sin φ, cos φ)` and so on, rather than by rounding `φ + qπ/2`:
/// the reference is then as accurate as the C library.
fn reference(a: u64, b: u64) -> (f64, f64) {
    // The 52 fraction bits as k · 2⁻⁵² ∈ [0, 1): exact.
    let fraction = |word: u64| ((word >> 10) & FRACTION) as f64 * EPS;
    // u = 2 − 1.f = 1 − f ∈ (0, 1], exact.
    let u = 1.0 - fraction(a);
    // (1.f − 1.5) = f − ½, exact; one rounding in the product, as in the transform.
    let phi = (fraction(b) - 0.5) * FRAC_PI_2;
    let radius = (-2.0 * u.ln()).sqrt();
    let (cos, sin) = (phi.cos(), phi.sin());
    let (cos, sin) = match b >> 62 {
        0 => (cos, sin),
        1 => (-sin, cos),
        2 => (-cos, -sin),
        _ => (sin, -cos),
    };
    (radius * cos, radius * sin)
}

/// The transform of one round on given words: lane `l` gets `a[l]` and `b[l]`.
fn transform(a: [u64; LANES], b: [u64; LANES]) -> [f64; ROUND] {
    let calls = Cell::new(0);
    let next = |_: &mut [[u64; LANES]; 4]| {
        calls.set(calls.get() + 1);
        if calls.get() == 1 { a } else { b }
    };
    let mut out = [0.0; ROUND];
    round(&mut [[0; LANES]; 4], &next, &mut out);
    assert_eq!(calls.get(), 2, "a round draws two words per lane");
    out
}

/// The largest `|Δz|` and `|Δz|/r` (`r` the radius) of a round's deviates against
/// [`reference`], with the words where they occur.
#[derive(Debug, Default)]
struct Worst {
    absolute: (f64, u64, u64),
    per_radius: (f64, u64, u64),
}

impl Worst {
    fn round(&mut self, a: [u64; LANES], b: [u64; LANES], out: &[f64]) {
        for l in 0..LANES {
            let (z1, z2) = reference(a[l], b[l]);
            let radius = z1.hypot(z2);
            for error in [(out[l] - z1).abs(), (out[LANES + l] - z2).abs()] {
                assert!(error.is_finite(), "a = {:#x}, b = {:#x}", a[l], b[l]);
                if error > self.absolute.0 {
                    self.absolute = (error, a[l], b[l]);
                }
                if radius > 0.0 && error / radius > self.per_radius.0 {
                    self.per_radius = (error / radius, a[l], b[l]);
                }
            }
        }
    }
}

/// The bound on `|Δz|/r`, a deviate's distance from the Box–Muller transform through the
/// C library's `ln`, `cos`, `sin` (each within about an ulp of exact) relative to its
/// radius `r = √(−2 ln u)`: `3 · 2⁻⁵²`. Measured: 1.97 · 2⁻⁵² over 3.2 · 10⁶ random pairs
/// of words and the chosen ones, 1.94 · 2⁻⁵² through `fill`. An ulp of `ln u` (a relative
/// `2⁻⁵²`), half of it after the square root, an ulp of `cos φ` (`2⁻⁵³`) and the rounding
/// of the product add up to about that.
const PER_RADIUS_BOUND: f64 = 3.0 * EPS;

/// The bound on `|Δz|` itself, `r ≤ √(104 ln 2) = 8.49` times [`PER_RADIUS_BOUND`]:
/// `25.5 · 2⁻⁵² ≈ 5.7 · 10⁻¹⁵`. Measured: 16 · 2⁻⁵² ≈ 3.6 · 10⁻¹⁵ (two ulps of a deviate
/// near −8.0), and 4 · 2⁻⁵² through `fill` (fewer large radii there).
///
/// # Why this is far below the statistical error of any run
///
/// A deterministic error `|Δz| ≤ δ` moves the expectation of a smooth observable `f(z)` by
/// at most `E|f′(z)| δ`: for the moments up to the sixth, `k E|z|^(k−1) ≤ 6 E|z|⁵ = 38`,
/// so by less than `38 δ ≈ 2 · 10⁻¹³`; a probability `P(z ≤ x)` moves by at most the
/// density times δ, `0.4 δ`. The smallest statistical error of any run is that of an
/// average over all its draws, `1/√(N · steps) ≥ 1/√(10⁹ particles · 10⁷ steps) ≈ 3 · 10⁻⁹`:
/// four orders of magnitude above the bias. (The 2⁻⁵² resolution of `u` and `φ`, common to
/// the transform and the reference, truncates the law beyond 8.49σ: probability
/// 2 · 10⁻¹⁷.)
const DEVIATE_BOUND: f64 = 8.5 * PER_RADIUS_BOUND;

/// Asserts both bounds on `worst`, after printing the measured errors.
fn assert_within_bounds(what: &str, worst: &Worst) {
    let (absolute, a, b) = worst.absolute;
    let (per_radius, a_r, b_r) = worst.per_radius;
    eprintln!(
        "{what}: max |Δz| = {absolute:.3e} = {:.3} · 2⁻⁵² (a = {a:#018x}, b = {b:#018x}, z = {:?}); \
         max |Δz|/r = {:.3} · 2⁻⁵² (a = {a_r:#018x}, b = {b_r:#018x}, z = {:?})",
        absolute / EPS,
        reference(a, b),
        per_radius / EPS,
        reference(a_r, b_r),
    );
    assert!(
        absolute <= DEVIATE_BOUND,
        "{what}: |Δz| = {absolute:e} at a = {a:#x}, b = {b:#x}"
    );
    assert!(
        per_radius <= PER_RADIUS_BOUND,
        "{what}: |Δz|/r = {:.3} · 2⁻⁵² at a = {a_r:#x}, b = {b_r:#x}",
        per_radius / EPS
    );
}

/// Deviates on chosen words (the largest radius `u = 2⁻⁵²`, radius 0 at `u = 1`, the
/// extreme angles, each quadrant), on random words, and on random words with `u` spread
/// over all scales down to 2⁻⁵² (so that the largest radii, where the absolute error is
/// largest, are well represented), against [`reference`] within [`PER_RADIUS_BOUND`] and
/// [`DEVIATE_BOUND`].
#[test]
fn deviates_match_box_muller_through_the_c_library() {
    // Bits 10–61: the fraction; bits 62, 63: the quadrant.
    let all_fraction = FRACTION << 10;
    let quadrant = |q: u64| q << 62;
    let mut worst = Worst::default();
    // The extremes: lane after lane, every (fraction of a, fraction of b, quadrant).
    let a_choices = [all_fraction, 0, 1 << 10, all_fraction ^ (1 << 10), 0x3ff];
    let b_choices = [0, all_fraction, 1 << 61, (1 << 61) - (1 << 10), 0x3ff];
    let mut a = [0; LANES];
    let mut b = [0; LANES];
    let mut k = 0;
    for &fa in &a_choices {
        for &fb in &b_choices {
            for q in 0..4 {
                a[k % LANES] = fa | quadrant(q ^ 1);
                b[k % LANES] = fb | quadrant(q);
                k += 1;
                if k % LANES == 0 {
                    worst.round(a, b, &transform(a, b));
                }
            }
        }
    }
    // The largest radius itself: u = 2⁻⁵², φ = 0, √(104 ln 2).
    let largest = transform([all_fraction; LANES], [1 << 61; LANES]);
    let radius = (104.0 * std::f64::consts::LN_2).sqrt();
    assert!(
        (largest[0] - radius).abs() < DEVIATE_BOUND,
        "{} vs {radius}",
        largest[0]
    );
    // Radius 0: both deviates are zeros.
    let zero = transform([0; LANES], [12345 << 10; LANES]);
    assert!(
        zero.iter().all(|&z| z == 0.0),
        "u = 1 gives radius 0: {zero:?}"
    );
    // Random words.
    let mut rng = words();
    for _ in 0..200_000 {
        let a = std::array::from_fn(|_| rng.next_u64());
        let b = std::array::from_fn(|_| rng.next_u64());
        worst.round(a, b, &transform(a, b));
    }
    // Random words with u = k · 2⁻⁵², k log-uniform in [1, 2⁵²]: fraction 2⁵² − k.
    for _ in 0..200_000 {
        let a = std::array::from_fn(|_| {
            let shift = 12 + rng.next_u64() % 52;
            let k = 1 + (rng.next_u64() >> shift);
            (((1 << 52) - k) << 10) | (rng.next_u64() & !(all_fraction))
        });
        let b = std::array::from_fn(|_| rng.next_u64());
        worst.round(a, b, &transform(a, b));
    }
    assert_within_bounds("transform", &worst);
}

/// A chunk's stream through the public `fill`: lane `l` of round `r` takes the words
/// `2r` and `2r + 1` of its generator (the chunk's stream after `l` jumps), its cosine
/// goes to `out[16r + l]` and its sine to `out[16r + 8 + l]`, within the bounds of
/// [`reference`]. Checks the lanes, the layout and the transform end to end, in the build
/// `fill` dispatches to (AVX2 and FMA where the CPU has them).
#[test]
fn fill_is_the_transform_of_the_lanes_words() {
    let first = stream(7, 3);
    let mut generators: Vec<Xoshiro256PlusPlus> = (0..LANES)
        .scan(first.clone(), |g, _| {
            let lane = g.clone();
            g.jump();
            Some(lane)
        })
        .collect();
    let mut lanes = LaneStream::from_stream(first);
    let mut out = vec![0.0; 20_000 * ROUND];
    lanes.fill(&mut out);
    let mut worst = Worst::default();
    for round in out.chunks_exact(ROUND) {
        let a: [u64; LANES] = std::array::from_fn(|l| generators[l].next_u64());
        let b: [u64; LANES] = std::array::from_fn(|l| generators[l].next_u64());
        worst.round(a, b, round);
    }
    assert_within_bounds("fill", &worst);
}

/// Whether this CPU runs the AVX2 build.
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The AVX2 build's deviates, bit for bit those of the baseline build (the determinism
/// the module docs promise: `mul_add` is a correctly rounded fused multiply-add in both),
/// and both leave the same state: for lengths that are whole rounds and lengths that are
/// not, one after another on the same streams. Where the CPU lacks AVX2 or FMA, `fill`
/// and `fill_portable` are the same code and the test says so.
#[test]
fn the_avx2_build_gives_the_portable_bits() {
    if !has_avx2() {
        eprintln!("no AVX2 and FMA here: only the portable build runs");
    }
    let lengths = [
        0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 100, 1000, 1024, 4099, 65_536, 100_003,
    ];
    for index in 0..4 {
        let mut dispatched = LaneStream::from_stream(stream(11, index));
        let mut portable = dispatched.clone();
        for &n in &lengths {
            let mut x = vec![f64::NAN; n];
            let mut y = vec![f64::NAN; n];
            #[cfg(target_arch = "x86_64")]
            if has_avx2() {
                // SAFETY: the CPU has AVX2 and FMA, checked above.
                unsafe { dispatched.run_fast(FillWork(&mut x)) };
            } else {
                dispatched.fill(&mut x);
            }
            #[cfg(not(target_arch = "x86_64"))]
            dispatched.fill(&mut x);
            portable.fill_portable(&mut y);
            for (k, (x, y)) in x.iter().zip(&y).enumerate() {
                assert_eq!(
                    x.to_bits(),
                    y.to_bits(),
                    "stream {index}, length {n}, deviate {k}: {x} vs {y}"
                );
            }
            assert_eq!(
                dispatched, portable,
                "stream {index}: states after length {n}"
            );
        }
    }
    // `fill` dispatches to the same bits.
    let mut dispatched = LaneStream::from_stream(stream(11, 9));
    let mut portable = dispatched.clone();
    let (mut x, mut y) = (vec![0.0; 4099], vec![0.0; 4099]);
    dispatched.fill(&mut x);
    portable.fill_portable(&mut y);
    assert!(x.iter().zip(&y).all(|(x, y)| x.to_bits() == y.to_bits()));
}

/// A partial round draws the whole round and drops its rest ([`LaneStream::fill`]): 17
/// deviates then 16 are deviates 0–16 and 32–47 of one fill of 48.
#[test]
fn a_partial_round_drops_its_rest() {
    let mut whole = LaneStream::from_stream(stream(5, 0));
    let mut parts = whole.clone();
    let mut all = vec![0.0; 48];
    whole.fill(&mut all);
    let (mut first, mut second) = (vec![0.0; 17], vec![0.0; 16]);
    parts.fill(&mut first);
    parts.fill(&mut second);
    assert_eq!(first, all[..17]);
    assert_eq!(second, all[32..]);
    assert_eq!(parts, whole);
}

/// Lane `l` is the chunk's xoshiro256++ stream after `l` jumps: its state is that
/// generator's (read through rand_xoshiro's own `state`, not through the serde path that
/// `from_stream` uses), and both builds' steps give that generator's outputs, 1000 of them.
#[test]
fn lane_l_is_the_stream_after_l_jumps() {
    for (seed, index) in [(0, 0), (1, 0), (1, 1), (u64::MAX, 1 << 40)] {
        let ChunkStream::BoxMuller(lanes) = Generator::BoxMuller.chunk_stream(seed, index) else {
            panic!("a Box–Muller chunk stream");
        };
        let mut reference = stream(seed, index);
        let mut generators = Vec::new();
        for l in 0..LANES {
            let state = reference.state();
            let words: Vec<u64> = state
                .chunks_exact(8)
                .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
                .collect();
            assert_eq!(
                lanes.words()[4 * l..4 * l + 4],
                words[..],
                "lane {l}'s state"
            );
            generators.push(reference.clone());
            reference.jump();
        }
        let mut portable = lanes.state;
        #[cfg(target_arch = "x86_64")]
        let mut avx2 = lanes.state;
        for step in 0..1000 {
            let expected: [u64; LANES] = std::array::from_fn(|l| generators[l].next_u64());
            assert_eq!(next_portable(&mut portable), expected, "step {step}");
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2, checked on the line above.
                assert_eq!(
                    unsafe { next_avx2(&mut avx2) },
                    expected,
                    "AVX2, step {step}"
                );
            }
        }
    }
}

/// `words` and `from_words` restore a stream that continues the same deviates, in both
/// `LaneStream` and `ChunkStream`; the state has 32 words, lane after lane.
#[test]
fn words_round_trip_continues_the_sequence() {
    let mut original = LaneStream::from_stream(stream(3, 2));
    let mut skip = vec![0.0; 37];
    original.fill(&mut skip);
    let words = original.words();
    assert_eq!(words.len(), 4 * LANES);
    assert_eq!(words.len(), Generator::BoxMuller.state_words());
    let mut restored = LaneStream::from_words(&words).expect("a valid state");
    assert_eq!(restored, original);
    let (mut x, mut y) = (vec![0.0; 1000], vec![0.0; 1000]);
    original.fill(&mut x);
    restored.fill(&mut y);
    assert_eq!(x, y);

    let mut chunk = Generator::BoxMuller.chunk_stream(3, 2);
    chunk.fill(&mut skip);
    let mut restored =
        ChunkStream::from_words(Generator::BoxMuller, &chunk.words()).expect("a valid state");
    assert_eq!(restored.generator(), Generator::BoxMuller);
    chunk.fill(&mut x);
    restored.fill(&mut y);
    assert_eq!(x, y);
}

/// `from_words` refuses states of the wrong length and any lane with the all-zero state
/// (xoshiro's one forbidden state, a fixed point that would give constant deviates), and
/// accepts lanes with some zero words.
#[test]
fn from_words_refuses_invalid_states() {
    let words = LaneStream::from_stream(stream(3, 2)).words();
    for n in [0, 1, 4, 4 * LANES - 1, 4 * LANES + 1, 8 * LANES] {
        let mut wrong = words.clone();
        wrong.resize(n, 1);
        assert_eq!(LaneStream::from_words(&wrong), None, "length {n}");
        assert_eq!(
            ChunkStream::from_words(Generator::BoxMuller, &wrong),
            None,
            "length {n}"
        );
    }
    for l in 0..LANES {
        let mut zero = words.clone();
        zero[4 * l..4 * l + 4].fill(0);
        assert_eq!(LaneStream::from_words(&zero), None, "lane {l} all zero");
        assert_eq!(
            ChunkStream::from_words(Generator::BoxMuller, &zero),
            None,
            "lane {l} all zero"
        );
        // Three zero words of four are a valid state.
        let mut some = words.clone();
        some[4 * l..4 * l + 3].fill(0);
        assert!(
            LaneStream::from_words(&some).is_some(),
            "lane {l} with one non-zero word"
        );
    }
    assert_eq!(LaneStream::from_words(&[0; 4 * LANES]), None);
}
