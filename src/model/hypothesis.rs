//! How many examples each run of a Hypothesis `@given` test gets.
//!
//! Hypothesis runs a `@given` test's whole example budget (its settings'
//! `max_examples`, 100 by default) on every call, and leakhunt calls a test
//! at least `warm-up + flat_runs` times. So every run of such a test runs
//! the same small, derandomized set of examples instead: all the runs of a
//! test in which nothing moved then cost about one plain run of it, and a
//! leak per example shows as the same growth every run.

/// The fewest examples a run gets, so that each run exercises something.
pub const MIN_EXAMPLES_PER_RUN: u64 = 5;

/// The examples each run of a `@given` test runs: its own budget
/// (`max_examples`) shared among the runs a test in which nothing moves gets
/// (`fewest_runs`: warm-ups and the flat judged runs), rounded up, at least
/// [`MIN_EXAMPLES_PER_RUN`] and at most the test's own budget.
pub fn examples_per_run(max_examples: u64, fewest_runs: usize) -> u64 {
    let runs = u64::try_from(fewest_runs.max(1)).unwrap_or(u64::MAX);
    max_examples
        .div_ceil(runs)
        .max(MIN_EXAMPLES_PER_RUN)
        .min(max_examples)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runs_together_cost_about_the_tests_own_budget() {
        // Hypothesis's default of 100, over 2 warm-ups and 3 flat runs.
        assert_eq!(examples_per_run(100, 5), 20);
        assert_eq!(examples_per_run(10_000, 5), 2000);
        assert_eq!(examples_per_run(40, 5), 8);
    }

    #[test]
    fn each_run_gets_a_floor_but_never_more_than_the_test_asks() {
        assert_eq!(examples_per_run(10, 8), MIN_EXAMPLES_PER_RUN);
        assert_eq!(examples_per_run(3, 8), 3);
        assert_eq!(examples_per_run(0, 8), 1);
        assert_eq!(examples_per_run(100, 0), 100);
    }
}
