//! Standard normal deviates in batches: [`LANES`] interleaved xoshiro256++ generators and
//! the Box–Muller transform, written as straight-line arithmetic over lane arrays so that
//! the compiler turns each step into SIMD instructions.
//!
//! # The transform
//!
//! Two 64-bit words `a`, `b` of one lane give two deviates:
//!
//! ```text
//!   u = 2 − m(a) ∈ (0, 1],   m(a) = 1.f (52 bits of a) ∈ [1, 2)
//!   φ = (f(b) − ½) π/2 ∈ [−π/4, π/4),   q = the top two bits of b
//!   (z₁, z₂) = √(−2 ln u) · (cos, sin)(φ + q π/2)
//! ```
//!
//! `φ + qπ/2` is uniform on an interval of length 2π, so `(z₁, z₂)` are two independent
//! standard normals. The resolution of `u` (2⁻⁵²) bounds `|z| ≤ √(104 ln 2) = 8.49`: a
//! standard normal exceeds that with probability 2·10⁻¹⁷.
//!
//! `ln`, `sin` and `cos` are evaluated here, not by the C library, so that they vectorise:
//! `ln u = e ln 2 + 2 atanh s` with `s = (m − 1)/(m + 1)`, `m ∈ [√½, √2)`, `|s| ≤ 0.172`,
//! ten terms of the atanh series (truncation below 3·10⁻¹⁷ relative); `sin` and `cos` of
//! `|φ| ≤ π/4` by their Taylor series to `φ¹⁷` and `φ¹⁶` (truncation below 5·10⁻¹⁷). The
//! tests bound the deviates' distance from the same transform through the C library's
//! `ln`, `sin` and `cos` (within a few ulps of exact).
//!
//! # Determinism
//!
//! Every operation is an IEEE-754 addition, multiplication, division, square root or fused
//! multiply-add (`f64::mul_add`, rounded once), or an integer operation, so each has one
//! correctly rounded result. On x86-64 the batch is compiled twice, for the baseline and
//! for AVX2 with FMA (four lanes per instruction), and chosen at run time; both give the
//! same bits, so a run's deviates do not depend on the machine. The baseline build does
//! its fused multiply-adds in software: correct, but some twenty times slower.
//!
//! # Cost
//!
//! On one core of an AMD EPYC (Zen 4): 2.05 ns a deviate, against 2.6 ns for the ziggurat
//! of [`crate::Generator::Ziggurat`] (`cargo bench --bench normals`, same run). A ziggurat
//! fed by the lanes' words measured 2.5 ns there; without FMA the transform took 2.5 ns.
//! The division in `ln` and the square root take about a third of the time.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::stream::{ACCUMULATORS, ChunkWork, Deviates};

/// Generators per stream, interleaved. Eight lanes fill two AVX2 registers per state word,
/// two independent chains that hide the instruction latencies.
pub const LANES: usize = 8;

/// Deviates per round of the lanes (two per lane).
pub const ROUND: usize = 2 * LANES;

/// [`LANES`] xoshiro256++ generators stepped together, state word `w` of lane `l` at
/// `state[w][l]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneStream {
    state: [[u64; LANES]; 4],
}

impl LaneStream {
    /// Lanes that are consecutive non-overlapping stretches of `first`'s sequence: lane `l`
    /// starts `l · 2¹²⁸` steps after `first` (xoshiro256++'s jump).
    pub fn from_stream(first: Xoshiro256PlusPlus) -> LaneStream {
        let mut lane = first;
        let lanes: [[u64; 4]; LANES] = std::array::from_fn(|_| {
            let words = words_of(&lane);
            lane.jump();
            words
        });
        LaneStream {
            state: std::array::from_fn(|w| std::array::from_fn(|l| lanes[l][w])),
        }
    }

    /// The state as `4 · LANES` words, lane after lane (each lane's four words in
    /// xoshiro256++'s order), for checkpoints.
    pub fn words(&self) -> Vec<u64> {
        (0..LANES)
            .flat_map(|l| (0..4).map(move |w| self.state[w][l]))
            .collect()
    }

    /// The stream with the state `words` (as [`LaneStream::words`] wrote it); `None` for the
    /// wrong length or a lane with the all-zero state, which xoshiro forbids.
    pub fn from_words(words: &[u64]) -> Option<LaneStream> {
        if words.len() != 4 * LANES {
            return None;
        }
        let mut state = [[0; LANES]; 4];
        for (l, lane) in words.chunks_exact(4).enumerate() {
            if lane.iter().all(|&w| w == 0) {
                return None;
            }
            for (w, &word) in lane.iter().enumerate() {
                state[w][l] = word;
            }
        }
        Some(LaneStream { state })
    }

    /// Fills `out` with standard normal deviates. Whole rounds of [`ROUND`] deviates are
    /// drawn; the unused part of the last round is dropped, so the stream's position after
    /// a call depends on `out.len()` rounded up to a round.
    pub fn fill(&mut self, out: &mut [f64]) {
        self.run(FillWork(out));
    }

    /// [`LaneStream::fill`] in the baseline build, whatever the CPU.
    pub fn fill_portable(&mut self, out: &mut [f64]) {
        Portable(self).fill(out);
    }

    /// Runs `work` with this stream as its source of deviates, in the fast build (AVX2 and
    /// FMA) where the CPU has it: `work` is inlined there, so a step's sweep and its
    /// deviates are compiled, and interleaved, together.
    pub(crate) fn run(&mut self, work: impl ChunkWork) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA, checked on the line above.
            unsafe { self.run_fast(work) };
            return;
        }
        work.run(&mut Portable(self));
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn run_fast(&mut self, work: impl ChunkWork) {
        work.run(&mut Fast(self));
    }
}

/// [`LaneStream::fill`] as work to run.
struct FillWork<'a>(&'a mut [f64]);

impl ChunkWork for FillWork<'_> {
    #[inline(always)]
    fn run<D: Deviates>(self, deviates: &mut D) {
        deviates.fill(self.0);
    }
}

/// The lanes in the baseline build.
struct Portable<'a>(&'a mut LaneStream);

impl Deviates for Portable<'_> {
    const ACCUMULATORS: usize = ACCUMULATORS;

    #[inline(always)]
    fn fill(&mut self, out: &mut [f64]) {
        fill_with(&mut self.0.state, out, next_portable);
    }
}

/// The lanes in the AVX2 build; made only where the CPU has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
struct Fast<'a>(&'a mut LaneStream);

#[cfg(target_arch = "x86_64")]
impl Deviates for Fast<'_> {
    const ACCUMULATORS: usize = ACCUMULATORS;

    #[inline(always)]
    fn fill(&mut self, out: &mut [f64]) {
        // SAFETY: a `Fast` exists only inside `LaneStream::run_fast`, which runs where the
        // CPU has AVX2 and FMA.
        fill_with(&mut self.0.state, out, |state| unsafe { next_avx2(state) });
    }
}

/// Fills `out` round by round (see [`LaneStream::fill`]), stepping the lanes with `next`.
#[inline(always)]
fn fill_with(
    state: &mut [[u64; LANES]; 4],
    out: &mut [f64],
    next: impl Fn(&mut [[u64; LANES]; 4]) -> [u64; LANES],
) {
    let mut lanes = *state;
    let mut rounds = out.chunks_exact_mut(ROUND);
    for out in &mut rounds {
        round(&mut lanes, &next, out);
    }
    let rest = rounds.into_remainder();
    if !rest.is_empty() {
        let mut last = [0.0; ROUND];
        round(&mut lanes, &next, &mut last);
        rest.copy_from_slice(&last[..rest.len()]);
    }
    *state = lanes;
}

/// Two words per lane, and from them [`ROUND`] deviates (module docs): the cosines in the
/// first half of `out`, the sines in the second.
#[inline(always)]
fn round(
    lanes: &mut [[u64; LANES]; 4],
    next: &impl Fn(&mut [[u64; LANES]; 4]) -> [u64; LANES],
    out: &mut [f64],
) {
    let a = next(lanes);
    let b = next(lanes);
    let (cosines, sines) = out.split_at_mut(LANES);
    for l in 0..LANES {
        let radius = (-2.0 * ln(2.0 - unit_interval(a[l]))).sqrt();
        let phi = (unit_interval(b[l]) - 1.5) * std::f64::consts::FRAC_PI_2;
        let (cos, sin) = cos_sin(phi);
        // Rotate by q·90°: a quarter turn for bit 62, a half turn for bit 63.
        let (cos, sin) = if b[l] >> 62 & 1 == 1 {
            (-sin, cos)
        } else {
            (cos, sin)
        };
        let half = (b[l] >> 63) << 63;
        cosines[l] = f64::from_bits((radius * cos).to_bits() ^ half);
        sines[l] = f64::from_bits((radius * sin).to_bits() ^ half);
    }
}

/// xoshiro256++'s output and state transition, lane by lane.
#[inline(always)]
fn next_portable(state: &mut [[u64; LANES]; 4]) -> [u64; LANES] {
    let [s0, s1, s2, s3] = state;
    let mut out = [0; LANES];
    for l in 0..LANES {
        out[l] = s0[l]
            .wrapping_add(s3[l])
            .rotate_left(23)
            .wrapping_add(s0[l]);
        let t = s1[l] << 17;
        s2[l] ^= s0[l];
        s3[l] ^= s1[l];
        s1[l] ^= s2[l];
        s0[l] ^= s3[l];
        s2[l] ^= t;
        s3[l] = s3[l].rotate_left(45);
    }
    out
}

/// [`next_portable`] in AVX2 registers, four lanes each. Spelt out because the compiler
/// does the rotations lane by lane in general registers (AVX2 has no vector rotation).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn next_avx2(state: &mut [[u64; LANES]; 4]) -> [u64; LANES] {
    use std::arch::x86_64::*;
    let mut out = [0; LANES];
    for half in 0..LANES / 4 {
        let at = 4 * half;
        let load = |words: &[u64; LANES]| {
            // SAFETY: `at + 4 ≤ LANES`; unaligned load of four words.
            unsafe { _mm256_loadu_si256(words[at..].as_ptr().cast()) }
        };
        let [mut s0, mut s1, mut s2, mut s3] = [0, 1, 2, 3].map(|w| load(&state[w]));
        let sum = _mm256_add_epi64(s0, s3);
        let rotated = _mm256_or_si256(_mm256_slli_epi64::<23>(sum), _mm256_srli_epi64::<41>(sum));
        let result = _mm256_add_epi64(rotated, s0);
        let t = _mm256_slli_epi64::<17>(s1);
        s2 = _mm256_xor_si256(s2, s0);
        s3 = _mm256_xor_si256(s3, s1);
        s1 = _mm256_xor_si256(s1, s2);
        s0 = _mm256_xor_si256(s0, s3);
        s2 = _mm256_xor_si256(s2, t);
        s3 = _mm256_or_si256(_mm256_slli_epi64::<45>(s3), _mm256_srli_epi64::<19>(s3));
        let store = |words: &mut [u64; LANES], value| {
            // SAFETY: `at + 4 ≤ LANES`; unaligned store of four words.
            unsafe { _mm256_storeu_si256(words[at..].as_mut_ptr().cast(), value) }
        };
        for (w, value) in [s0, s1, s2, s3].into_iter().enumerate() {
            store(&mut state[w], value);
        }
        store(&mut out, result);
    }
    out
}

/// `1.f ∈ [1, 2)` with the 52 fraction bits taken from bits 10 to 61 of `word` (bits 62 and
/// 63 choose the quadrant).
#[inline(always)]
fn unit_interval(word: u64) -> f64 {
    f64::from_bits(((word >> 10) & FRACTION) | ONE)
}

const FRACTION: u64 = (1 << 52) - 1;
const ONE: u64 = 0x3ff0_0000_0000_0000;

/// `ln u` for a normal positive `u`, without branches (module docs). Public for the tests
/// that bound its error.
#[inline(always)]
pub fn ln(u: f64) -> f64 {
    let bits = u.to_bits();
    // The exponent as a double without an integer conversion (which AVX2 lacks for 64 bits):
    // 2⁵² + e's bits, exactly, minus 2⁵² + 1023.
    let exponent =
        f64::from_bits(0x4330_0000_0000_0000 | (bits >> 52)) - (4_503_599_627_370_496.0 + 1023.0);
    let m = f64::from_bits((bits & FRACTION) | ONE);
    let high = m > std::f64::consts::SQRT_2;
    let (m, exponent) = if high {
        (0.5 * m, exponent + 1.0)
    } else {
        (m, exponent)
    };
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    // 1 + s²/3 + s⁴/5 + … + s¹⁸/19, by Horner.
    let mut series: f64 = 1.0 / 19.0;
    for k in (0..9).rev() {
        series = series.mul_add(s2, 1.0 / f64::from(2 * k + 1));
    }
    exponent * std::f64::consts::LN_2 + 2.0 * s * series
}

/// `(cos φ, sin φ)` for `|φ| ≤ π/4` by their Taylor series (module docs). Public for the
/// tests that bound its error.
#[inline(always)]
pub fn cos_sin(phi: f64) -> (f64, f64) {
    let p2 = phi * phi;
    // Σ (−φ²)ᵏ/(2k)! to k = 8 and Σ (−φ²)ᵏ/(2k+1)! to k = 8, by Horner.
    let (mut cos, mut sin) = (COS[8], SIN[8]);
    for k in (0..8).rev() {
        cos = cos.mul_add(p2, COS[k]);
        sin = sin.mul_add(p2, SIN[k]);
    }
    (cos, phi * sin)
}

/// `(−1)ᵏ/(2k)!`.
const COS: [f64; 9] = [
    1.0,
    -1.0 / 2.0,
    1.0 / 24.0,
    -1.0 / 720.0,
    1.0 / 40_320.0,
    -1.0 / 3_628_800.0,
    1.0 / 479_001_600.0,
    -1.0 / 87_178_291_200.0,
    1.0 / 20_922_789_888_000.0,
];

/// `(−1)ᵏ/(2k+1)!`.
const SIN: [f64; 9] = [
    1.0,
    -1.0 / 6.0,
    1.0 / 120.0,
    -1.0 / 5040.0,
    1.0 / 362_880.0,
    -1.0 / 39_916_800.0,
    1.0 / 6_227_020_800.0,
    -1.0 / 1_307_674_368_000.0,
    1.0 / 355_687_428_096_000.0,
];

/// The four state words of a xoshiro256++ generator, read through its serde representation
/// (the generator exposes its state no other way).
pub fn words_of(stream: &Xoshiro256PlusPlus) -> [u64; 4] {
    let value = serde_json::to_value(stream).expect("a generator state serialises");
    let words = value["s"]
        .as_array()
        .expect("xoshiro256++ serialises its state as `s`");
    std::array::from_fn(|k| words[k].as_u64().expect("state words are u64"))
}

/// The xoshiro256++ generator with the state `words`; `None` for the wrong length or the
/// all-zero state, which xoshiro forbids.
pub fn from_words(words: &[u64]) -> Option<Xoshiro256PlusPlus> {
    if words.len() != 4 || words.iter().all(|&w| w == 0) {
        return None;
    }
    let mut seed = [0u8; 32];
    for (chunk, word) in seed.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    Some(Xoshiro256PlusPlus::from_seed(seed))
}

#[cfg(test)]
#[path = "normals_tests.rs"]
mod tests;
