//! `--threads K`: the worker pool of the commands that compute in parallel.

use std::num::NonZeroUsize;

use anyhow::Context;

use crate::failure::Failure;

/// Runs `work` on a pool of exactly `threads` workers, or on rayon's global pool (one worker
/// per core, or `RAYON_NUM_THREADS`) without `--threads`. Results do not depend on the
/// number of workers (DESIGN.md "Determinism"), only the speed does.
pub fn install<T: Send>(
    threads: Option<NonZeroUsize>,
    work: impl FnOnce() -> T + Send,
) -> Result<T, Failure> {
    match threads {
        None => Ok(work()),
        Some(threads) => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads.get())
                .build()
                .with_context(|| format!("cannot start {threads} threads"))
                .map_err(Failure::failed)?;
            Ok(pool.install(work))
        }
    }
}
