//! `--threads K`: the worker pool of the commands that compute in parallel.

use std::num::NonZeroUsize;

use anyhow::Context;

use crate::failure::Failure;

/// Clap's parser of `--threads K`: a whole number of at least 1. Clap's own `NonZeroUsize`
/// parser answers `0` with "number would be zero for non-zero type", which names a Rust
/// type rather than what is allowed.
pub fn parse_threads(text: &str) -> Result<NonZeroUsize, String> {
    match text.trim().parse::<usize>() {
        Ok(count) => NonZeroUsize::new(count).ok_or_else(|| "must be at least 1".to_owned()),
        Err(_) => Err("must be a whole number of at least 1".to_owned()),
    }
}

/// The most workers per core that `--threads` starts. The work is compute-bound, so more
/// than one per core only helps to balance uneven chunks; thousands would each take a stack
/// (and may fail to start) for nothing.
const THREADS_PER_CORE: usize = 4;

/// `requested` workers, at most [`THREADS_PER_CORE`] per core of `cores`.
fn capped(requested: usize, cores: usize) -> usize {
    requested.min(THREADS_PER_CORE * cores.max(1))
}

/// Runs `work` on a pool of `threads` workers, or on rayon's global pool (one worker per
/// core, or `RAYON_NUM_THREADS`) without `--threads`. Results do not depend on the number of
/// workers (DESIGN.md "Determinism"), only the speed does: a count beyond
/// [`THREADS_PER_CORE`] per core is capped there, and a note says so.
pub fn install<T: Send>(
    threads: Option<NonZeroUsize>,
    work: impl FnOnce() -> T + Send,
) -> Result<T, Failure> {
    match threads {
        None => Ok(work()),
        Some(threads) => {
            let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
            let workers = capped(threads.get(), cores);
            if workers < threads.get() {
                eprintln!(
                    "note: --threads {threads}: using {workers}, the most mfcl starts on \
                     {cores} cores ({THREADS_PER_CORE} per core)"
                );
            }
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(workers)
                .build()
                .with_context(|| format!("cannot start {workers} threads"))
                .map_err(Failure::failed)?;
            Ok(pool.install(work))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_counts_are_capped_per_core() {
        assert_eq!(capped(3, 2), 3);
        assert_eq!(capped(8, 2), 8);
        assert_eq!(capped(1_000_000, 2), 8);
        // A machine whose cores cannot be counted gets one core's share.
        assert_eq!(capped(100, 0), THREADS_PER_CORE);
    }

    #[test]
    fn thread_counts_are_whole_numbers_of_at_least_one() {
        assert_eq!(parse_threads("2"), Ok(NonZeroUsize::new(2).unwrap()));
        assert_eq!(parse_threads("0").unwrap_err(), "must be at least 1");
        for bad in ["-1", "1.5", "two", ""] {
            assert!(
                parse_threads(bad).unwrap_err().contains("at least 1"),
                "{bad}"
            );
        }
    }
}
