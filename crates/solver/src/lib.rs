//! mfcl-solver: the McKean–Vlasov particle system and the SGD simulator.
//!
//! Both are [`Stepper`]s over plain state structs ([`ParticleState`], [`SgdState`]) that a
//! checkpoint can hold, driven by [`drive`], which owns the loop and calls the
//! [`Observer`] hooks that recording, progress and checkpointing attach to.
//!
//! # Determinism
//!
//! Coordinates are split into chunks of [`CHUNK`]; chunk `k` draws from its own stream
//! derived from `(seed, k)`, and every reduction adds per-chunk partial sums in chunk
//! order. Results therefore depend on the config and seed only, not on the number of rayon
//! threads: rayon's scheduling (its one source of nondeterminism) decides only which
//! thread computes a chunk, never what the chunk computes or in which order sums meet.

#![warn(missing_docs)]

mod driver;
mod labels;
mod linalg;
pub mod normals;
mod particles;
mod population;
mod sgd;
mod snapshot;
mod stream;

pub use driver::{
    Interrupted, NORM2_BOUND, Observer, ObserverError, Schedule, Silent, Stepper, drive, drive_from,
};
pub use particles::{LAYER_QUADRATURE, ParticleState, ParticleSystem, quadrature};
pub use population::{CHUNK, Labels, PATTERNS, Population};
pub use sgd::{Sgd, SgdState};
pub use snapshot::{HISTOGRAM_BINS, Histogram, SNAPSHOT_LIMIT, Snapshot};
pub use stream::{ACCUMULATORS, ChunkStream, Generator, Stream, stream};

/// Why a run stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SolverError {
    /// A non-finite value, or `R` beyond [`NORM2_BOUND`].
    #[error("the run diverged at t = {time}: {reason}", time = mfcl_model::Time(*.t))]
    Diverged {
        /// Model time reached.
        t: f64,
        /// What went wrong.
        reason: String,
    },
    /// An observer stopped the run (a failed write, or an interruption).
    #[error("the run stopped at t = {time}: {reason}", time = mfcl_model::Time(*.t))]
    Stopped {
        /// Model time reached.
        t: f64,
        /// What the observer reported.
        reason: String,
    },
    /// More features than the steppers are built for.
    #[error("{0} features: the solvers support at most 8")]
    TooManyFeatures(usize),
    /// More neurons than the steppers are built for (the count, then the most supported).
    #[error("{0} neurons: the solvers support at most {1}")]
    TooManyNeurons(usize, usize),
}

/// The most neurons `K` the steppers support: their per-coordinate updates are
/// monomorphised for `K = 1 … MAX_NEURONS`, so that the inner loops unroll.
pub const MAX_NEURONS: usize = 4;
