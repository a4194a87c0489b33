//! Tests that are not repeatable: they change state on every call (a class
//! attribute, a file, a registry) and then fail when run again, or get slower
//! with each run until `--timeout` stops them. A user must tell "my test is
//! not repeatable" from "my code leaks" at a glance, so such a failure is
//! named apart in every report.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Fewer completed runs than this do not show a trend.
const MIN_TIMED_RUNS: usize = 3;
/// The last completed run took at least this many times the first.
const MIN_SLOWDOWN: f64 = 2.0;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum NotRepeatable {
    /// Passed its first runs, then failed run `run`.
    FailsWhenRepeated { run: usize },
    /// Each run took longer than the ones before until `--timeout` (in
    /// seconds) stopped one: the seconds of each run that ended.
    SlowerEveryRun { run_times: Vec<f64>, timeout: f64 },
}

impl NotRepeatable {
    /// A failure on run `run` after the first, in the test's own setup, call
    /// or teardown (a module's teardown after the last run, run 0, is not a
    /// repeat).
    pub fn of_failed_run(run: usize) -> Option<NotRepeatable> {
        (run > 1).then_some(NotRepeatable::FailsWhenRepeated { run })
    }

    /// The runs `completed` before the one `--timeout` stopped at `limit`,
    /// when their times grew steadily: at least two steps in three longer
    /// than the run before, and the last at least twice the first.
    pub fn of_timeout(completed: &[Duration], limit: Duration) -> Option<NotRepeatable> {
        if completed.len() < MIN_TIMED_RUNS {
            return None;
        }
        let seconds: Vec<f64> = completed.iter().map(Duration::as_secs_f64).collect();
        let steps = seconds.len() - 1;
        let longer = seconds.windows(2).filter(|pair| pair[1] > pair[0]).count();
        let first = seconds[0];
        let last = seconds[steps];
        if longer * 3 < steps * 2 || last < first * MIN_SLOWDOWN {
            return None;
        }
        Some(NotRepeatable::SlowerEveryRun {
            run_times: seconds,
            timeout: limit.as_secs_f64(),
        })
    }

    /// One line for reports: `... fails when run again (run 2)`, or
    /// `... slower every run: 0.10s 0.20s ... 0.90s, then stopped by the 1s timeout`.
    pub fn describe(&self) -> String {
        match self {
            NotRepeatable::FailsWhenRepeated { run } => {
                format!("not repeatable: passes, then fails when run again (run {run})")
            }
            NotRepeatable::SlowerEveryRun { run_times, timeout } => {
                let times = run_times.iter().map(|s| format!("{s:.2}s")).collect();
                format!(
                    "not repeatable: slower every run: {}, then stopped by the {timeout}s timeout",
                    head_and_tail(times)
                )
            }
        }
    }
}

/// Long lists keep their first and last few items: the trend is what counts.
fn head_and_tail(items: Vec<String>) -> String {
    const KEEP: usize = 6;
    if items.len() <= 2 * KEEP {
        return items.join(" ");
    }
    format!(
        "{} ... {}",
        items[..KEEP].join(" "),
        items[items.len() - KEEP..].join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn a_failure_after_the_first_run_is_a_repeat() {
        assert_eq!(NotRepeatable::of_failed_run(1), None);
        assert_eq!(NotRepeatable::of_failed_run(0), None);
        assert_eq!(
            NotRepeatable::of_failed_run(2),
            Some(NotRepeatable::FailsWhenRepeated { run: 2 })
        );
    }

    #[test]
    fn steadily_growing_run_times_are_slower_every_run() {
        let limit = Duration::from_secs(2);
        assert_eq!(
            NotRepeatable::of_timeout(&millis(&[100, 200, 300, 450]), limit),
            Some(NotRepeatable::SlowerEveryRun {
                run_times: vec![0.1, 0.2, 0.3, 0.45],
                timeout: 2.0
            })
        );
        // One step down in three is still a trend.
        assert!(NotRepeatable::of_timeout(&millis(&[100, 250, 240, 400]), limit).is_some());
    }

    #[test]
    fn flat_noisy_or_short_series_are_not_a_trend() {
        let limit = Duration::from_secs(2);
        assert_eq!(
            NotRepeatable::of_timeout(&millis(&[100, 101, 102, 103]), limit),
            None
        );
        assert_eq!(
            NotRepeatable::of_timeout(&millis(&[100, 300, 100, 300, 100, 300]), limit),
            None
        );
        assert_eq!(NotRepeatable::of_timeout(&millis(&[100, 400]), limit), None);
        assert_eq!(NotRepeatable::of_timeout(&[], limit), None);
    }

    #[test]
    fn descriptions_name_the_run_or_the_times() {
        assert_eq!(
            NotRepeatable::FailsWhenRepeated { run: 2 }.describe(),
            "not repeatable: passes, then fails when run again (run 2)"
        );
        let run_times = (1..=20).map(|i| f64::from(i) / 10.0).collect();
        let slower = NotRepeatable::SlowerEveryRun {
            run_times,
            timeout: 2.0,
        };
        assert_eq!(
            slower.describe(),
            "not repeatable: slower every run: 0.10s 0.20s 0.30s 0.40s 0.50s 0.60s ... \
             1.50s 1.60s 1.70s 1.80s 1.90s 2.00s, then stopped by the 2s timeout"
        );
    }
}
