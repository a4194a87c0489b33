//! A bounded cache fills and then stops growing: a test that adds to one
//! every run reads as a leak for as many runs as the cache has room
//! (Pygments' `lru_cache(maxsize=100)` on a method, jsonschema's class-level
//! `lru_cache` of 128 resolvers). When a leak's diagnosis finds what grew
//! held only through such caches, the test is run until each holds only
//! entries these runs made, and then judged again on fresh runs: a leak
//! behind a cache still grows there.
//!
//! Full is not enough: Pygments' cache, full of an earlier test's entries
//! (ten a formatter), kept one more formatter a run for 90 runs as this
//! test's entries (one a formatter) took their place. A cache has turned
//! over once it has missed `maxsize` times, each miss a new entry.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::model::outcome::{CacheFill, MAX_FILL_RUNS, MAX_FILL_TIME};
use crate::worker::diagnosis::{filling_caches, forget_caches};
use crate::worker::engine::RunProblem;
use crate::worker::test_run::TestRun;

/// Runs in a row that add nothing to a cache, after which it is not what
/// grows: a list an `lru_cache` returns every run may be the leak.
const STALLED_RUNS: usize = 10;
/// Runs before the rate a cache takes new entries at is trusted to say it
/// cannot turn over in time.
const MEASURED_RUNS: usize = 5;

/// How a fill ended.
pub enum Filled {
    Done(CacheFill),
    /// A run failed: the test is not repeatable (the run's number).
    Problem(RunProblem, usize),
}

/// One cache as the fill follows it.
struct Cache {
    maxsize: usize,
    /// New entries (misses) since the fill began.
    added: usize,
    /// The fill's run in which it last took one.
    added_at: usize,
}

impl Cache {
    fn turning_over(&self, runs: usize) -> bool {
        self.added < self.maxsize && runs - self.added_at < STALLED_RUNS
    }

    /// Runs it needs yet at the rate it took entries in the first `runs`.
    fn runs_needed(&self, runs: usize) -> usize {
        match self.added {
            0 => 0, // it takes none: the stall ends it
            added => (self.maxsize - added).saturating_mul(runs).div_ceil(added),
        }
    }
}

/// When the last diagnosis found every chain going through a bounded cache,
/// runs the test until each has turned over or takes no new entries (or the
/// runs or the time allowed run out); None when it found none. Either way
/// the harness lets go of the caches it found.
pub fn fill(run: &mut TestRun<'_, '_>) -> Result<Option<Filled>> {
    let filled = fill_found(run);
    forget_caches(run.py)?;
    filled
}

fn fill_found(run: &mut TestRun<'_, '_>) -> Result<Option<Filled>> {
    let found = filling_caches(run.py)?;
    if found.is_empty() {
        return Ok(None);
    }
    let mut caches: Vec<Cache> = found
        .iter()
        .map(|&(_, maxsize, _)| Cache {
            maxsize,
            added: 0,
            added_at: 0,
        })
        .collect();
    let started = Instant::now();
    let mut runs = 0;
    let full = loop {
        if !caches.iter().any(|c| c.turning_over(runs)) {
            break true;
        }
        if !fits(&caches, runs, started.elapsed()) {
            break false;
        }
        if let Some(problem) = run.run_once()? {
            return Ok(Some(Filled::Problem(problem, run.runs())));
        }
        runs += 1;
        for ((cache, (_, _, first)), (_, _, now)) in
            caches.iter_mut().zip(&found).zip(filling_caches(run.py)?)
        {
            let added = now.saturating_sub(*first);
            if added > cache.added {
                cache.added_at = runs;
            }
            cache.added = added;
        }
    };
    Ok(Some(Filled::Done(CacheFill {
        caches: found
            .into_iter()
            .map(|(name, maxsize, _)| (name, maxsize))
            .collect(),
        runs,
        full,
    })))
}

/// Whether the caches still turning over do so within the runs and the time
/// left, at the rate they took entries so far: a cache of 100,000 entries
/// that takes one a run is not run for its whole budget to find that out.
fn fits(caches: &[Cache], runs: usize, elapsed: Duration) -> bool {
    if runs >= MAX_FILL_RUNS || elapsed >= MAX_FILL_TIME {
        return false;
    }
    if runs < MEASURED_RUNS {
        return true;
    }
    let per_run = elapsed.as_secs_f64() / runs as f64;
    let by_time = (MAX_FILL_TIME - elapsed).as_secs_f64() / per_run.max(1e-9);
    let runs_left = (MAX_FILL_RUNS - runs).min(by_time as usize);
    caches
        .iter()
        .filter(|c| c.turning_over(runs))
        .all(|c| c.runs_needed(runs) <= runs_left)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(maxsize: usize, added: usize, added_at: usize) -> Cache {
        Cache {
            maxsize,
            added,
            added_at,
        }
    }

    #[test]
    fn a_cache_turns_over_until_it_took_maxsize_entries_or_stalls() {
        assert!(cache(40, 30, 10).turning_over(10));
        assert!(!cache(40, 40, 20).turning_over(20));
        // Took its last entry 10 runs ago: stalled.
        assert!(!cache(40, 5, 5).turning_over(15));
        assert!(cache(40, 5, 6).turning_over(15));
    }

    #[test]
    fn a_cache_too_large_for_the_runs_left_is_not_filled() {
        let second = Duration::from_secs(1);
        // One a run, 99,995 to go: more than the 995 runs left.
        assert!(!fits(&[cache(100_000, 5, 5)], 5, second));
        // One a run, 35 to go.
        assert!(fits(&[cache(40, 5, 5)], 5, second));
        // Few enough by count, not by time: 20 s for 5 runs leaves 2 runs.
        assert!(!fits(&[cache(40, 5, 5)], 5, 20 * second));
        // Too few runs to tell yet, or out of runs or time.
        assert!(fits(&[cache(100_000, 3, 3)], 3, second));
        assert!(!fits(&[cache(100_000, 3, 3)], MAX_FILL_RUNS, second));
        assert!(!fits(&[cache(100_000, 3, 3)], 3, MAX_FILL_TIME));
        // A cache that stopped taking entries does not count.
        assert!(fits(&[cache(100_000, 1, 1), cache(40, 25, 25)], 25, second));
    }
}
