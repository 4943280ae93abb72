//! Deterministic random streams: one xoshiro256++ generator per (seed, stream index).
//!
//! Chunk `k` of a population draws from stream `k`; streams past `LABELS` serve the labels
//! and the per-step draws of SGD. Stream states come from SplitMix64 applied to the seed
//! and the index, so any stream can be created without stepping through the others.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The generator used everywhere.
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
