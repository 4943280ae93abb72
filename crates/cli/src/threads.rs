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

#[cfg(test)]
mod tests {
    use super::*;

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
