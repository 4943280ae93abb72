//! Deterministic random streams: one generator per (seed, stream index), and the
//! [`Generator`] that turns a chunk's stream into normal deviates.
//!
//! Chunk `k` of a population draws from stream `k`; streams past `LABELS` serve the labels
//! and the per-step draws of SGD. Stream states come from SplitMix64 applied to the seed
//! and the index, so any stream can be created without stepping through the others.

use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::normals::{LANES, LaneStream};

/// The generator used for everything but the chunks' normal deviates of a
/// [`Generator::BoxMuller`] run.
pub type Stream = Xoshiro256PlusPlus;

/// First index of the streams that are not chunk streams.
pub(crate) const LABELS: u64 = 1 << 62;
/// The stream of SGD's per-step hidden-variable draws.
pub(crate) const SAMPLES: u64 = LABELS - 1;

/// The stream `index` of a run with this seed.
pub fn stream(seed: u64, index: u64) -> Stream {
    Xoshiro256PlusPlus::seed_from_u64(splitmix(seed ^ splitmix(index.wrapping_add(0x6d66_636c))))
}

/// SplitMix64's finaliser: a bijection of `u64` that scatters nearby inputs.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// How a run makes the normal deviates of its chunks, and in which order the step adds up
/// the moments: with the config and the seed, what fixes a run's every bit. Recorded in
/// run files and checkpoints; a run resumes with the generator it started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generator {
    /// Formats 1 and 2: one xoshiro256++ per chunk and rand_distr's ziggurat, one deviate
    /// at a time; each moment summed in one accumulator, coordinate after coordinate.
    Ziggurat,
    /// Format 3 on: [`LANES`] interleaved xoshiro256++ per chunk and the Box–Muller
    /// transform, in batches ([`crate::normals`]); fewer than four moments each summed in
    /// [`ACCUMULATORS`] interleaved accumulators.
    BoxMuller,
}

/// Accumulators per moment in the step's sums of a [`Generator::BoxMuller`] run with fewer
/// than four moments (`pK + K(K+1)/2`: one neuron and one or two features), so that the
/// additions do not wait on each other: coordinate `4 g + a` of a chunk adds to accumulator
/// `a` (a chunk's last `len mod 4` coordinates to accumulator 0), and the four are added as
/// `(a₀ + a₂) + (a₁ + a₃)` at the chunk's end. Four moments or more are independent
/// additions enough, and four copies of them would not stay in registers: one accumulator.
pub const ACCUMULATORS: usize = 4;

impl Generator {
    /// The generator of new runs.
    pub const CURRENT: Generator = Generator::BoxMuller;

    /// Every generator, oldest first.
    pub const ALL: [Generator; 2] = [Generator::Ziggurat, Generator::BoxMuller];

    /// The name recorded in files.
    pub fn name(self) -> &'static str {
        match self {
            Generator::Ziggurat => "xoshiro256++/ziggurat",
            Generator::BoxMuller => "xoshiro256++x8/box-muller",
        }
    }

    /// The generator recorded as `name`.
    pub fn from_name(name: &str) -> Option<Generator> {
        Generator::ALL.into_iter().find(|g| g.name() == name)
    }

    /// Accumulators per moment in the step's sums of a run with `moments` moments (`pK +
    /// K(K+1)/2`, see [`ACCUMULATORS`]).
    pub fn accumulators(self, moments: usize) -> usize {
        match self {
            Generator::BoxMuller if moments < ACCUMULATORS => ACCUMULATORS,
            _ => 1,
        }
    }

    /// The deviates of chunk `index` of a run with this seed.
    pub fn chunk_stream(self, seed: u64, index: u64) -> ChunkStream {
        let first = stream(seed, index);
        match self {
            Generator::Ziggurat => ChunkStream::Ziggurat(first),
            Generator::BoxMuller => ChunkStream::BoxMuller(LaneStream::from_stream(first)),
        }
    }

    /// 64-bit words in a chunk stream's state.
    pub fn state_words(self) -> usize {
        match self {
            Generator::Ziggurat => 4,
            Generator::BoxMuller => 4 * LANES,
        }
    }
}

impl std::fmt::Display for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The normal deviates of one chunk.
// One per chunk of `CHUNK` coordinates: the 224 bytes a ziggurat stream leaves unused cost
// nothing next to its chunk, and boxing the lanes would cost an indirection per chunk.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkStream {
    /// [`Generator::Ziggurat`].
    Ziggurat(Stream),
    /// [`Generator::BoxMuller`].
    BoxMuller(LaneStream),
}

impl ChunkStream {
    /// Its generator.
    pub fn generator(&self) -> Generator {
        match self {
            ChunkStream::Ziggurat(_) => Generator::Ziggurat,
            ChunkStream::BoxMuller(_) => Generator::BoxMuller,
        }
    }

    /// Fills `out` with standard normal deviates, in order. The ziggurat draws exactly
    /// `out.len()`; the lanes draw whole rounds and drop the rest
    /// ([`LaneStream::fill`]), so runs must ask for the same lengths to repeat.
    pub fn fill(&mut self, out: &mut [f64]) {
        match self {
            ChunkStream::Ziggurat(rng) => Deviates::fill(rng, out),
            ChunkStream::BoxMuller(lanes) => lanes.fill(out),
        }
    }

    /// Runs `work` (a chunk's part of a step) with this stream as its source of deviates.
    pub(crate) fn run(&mut self, work: impl ChunkWork) {
        match self {
            ChunkStream::Ziggurat(rng) => work.run(rng),
            ChunkStream::BoxMuller(lanes) => lanes.run(work),
        }
    }

    /// The state, [`Generator::state_words`] words, for checkpoints.
    pub fn words(&self) -> Vec<u64> {
        match self {
            ChunkStream::Ziggurat(rng) => crate::normals::words_of(rng).to_vec(),
            ChunkStream::BoxMuller(lanes) => lanes.words(),
        }
    }

    /// The stream of `generator` with the state `words`; `None` for a state the generator
    /// cannot have (wrong length, an all-zero xoshiro state).
    pub fn from_words(generator: Generator, words: &[u64]) -> Option<ChunkStream> {
        match generator {
            Generator::Ziggurat => crate::normals::from_words(words).map(ChunkStream::Ziggurat),
            Generator::BoxMuller => LaneStream::from_words(words).map(ChunkStream::BoxMuller),
        }
    }
}

/// A source of standard normal deviates for one chunk.
pub(crate) trait Deviates {
    /// Accumulators per moment in the sums of a step with fewer than four moments that
    /// draws from this source ([`Generator::accumulators`]).
    const ACCUMULATORS: usize;

    /// Fills `out`, in order.
    fn fill(&mut self, out: &mut [f64]);
}

impl Deviates for Stream {
    const ACCUMULATORS: usize = 1;

    #[inline(always)]
    fn fill(&mut self, out: &mut [f64]) {
        out.iter_mut()
            .for_each(|z| *z = self.sample(StandardNormal));
    }
}

/// A chunk's part of a step, generic over its source of deviates so that it can be built
/// together with the source's fastest form ([`ChunkStream::run`]).
pub(crate) trait ChunkWork {
    /// Does the work, drawing from `deviates`.
    fn run<D: Deviates>(self, deviates: &mut D);
}
