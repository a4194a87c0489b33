//! Hypothesis `@given` tests and state machines (fixtures/hypothesis, in a
//! virtualenv with pytest and Hypothesis): each run runs the same few
//! examples, so that the runs together cost about one call of the test, and
//! a leak per example still shows as steady growth.

mod common;

use std::path::PathBuf;

use common::{final_counts, fixtures, hypothesis_venv, leakhunt_with, verdicts};

/// `leakhunt -v hypothesis` under `engine`, with test_counted and
/// TestCountedMachine writing their runs and examples to a log; returns the
/// run and the examples of each run of each of the two.
fn run_fixture(engine: &str) -> (common::Run, Vec<usize>, Vec<usize>) {
    let venv = hypothesis_venv();
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("hypothesis-{engine}"));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).expect("a scratch folder");
    let log = scratch.join("log");
    let run = leakhunt_with(
        &fixtures(),
        &[
            "--python",
            venv.to_str().expect("a UTF-8 path"),
            "--engine",
            engine,
            "-v",
            "hypothesis",
        ],
        &[
            ("HYPOTHESIS_LOG", log.as_os_str()),
            // Hypothesis's own files (its character tables) go here, not
            // into the fixtures.
            (
                "HYPOTHESIS_STORAGE_DIRECTORY",
                scratch.join("storage").as_os_str(),
            ),
        ],
    );
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let per_run = |start: &str, example: &str| -> Vec<usize> {
        let mut runs = Vec::new();
        for line in text.lines() {
            if line == start {
                runs.push(0);
            } else if let (true, Some(examples)) = (line == example, runs.last_mut()) {
                *examples += 1;
            }
        }
        runs
    };
    let given = per_run("run", "example");
    let machine = per_run("machine run", "machine");
    (run, given, machine)
}

const VERDICTS: &[&str] = &[
    "test_given.py::test_clean PASSED",
    "test_given.py::test_keeps_every_example LEAKED",
    "test_given.py::test_counted PASSED",
    "test_given.py::test_draws_from_a_new_strategy_each_example PASSED",
    "test_stateful.py::TestCountedMachine::runTest PASSED",
    "test_stateful.py::TestKeeper::runTest LEAKED",
];

fn check(engine: &str) {
    let (run, per_run, machines) = run_fixture(engine);
    assert_eq!(verdicts(&run.stdout), VERDICTS, "{}", run.stdout);
    assert_eq!(final_counts(&run.stdout), "4 passed, 2 leaked");
    assert_eq!(run.code, 1);
    // Hypothesis's default budget of 100 examples, shared among 2 warm-ups
    // and 3 judged runs: 20 a run, each kept.
    assert!(
        run.stdout
            .contains("test_keeps_every_example - +20 objects/run"),
        "{}",
        run.stdout
    );
    // test_counted asks for 40 examples: 8 in each of its runs (at least 2
    // warm-ups and 3 judged runs), never its whole budget.
    assert!(per_run.len() >= 5, "{per_run:?}");
    assert!(per_run.iter().all(|&examples| examples == 8), "{per_run:?}");
    // A state machine's TestCase asks for 40 examples in its `settings`: 8
    // machines in each run too. Hypothesis's cache of the strategies it
    // built (about 32 objects for every machine) is cleared with the
    // interpreter's caches, so the machine that keeps nothing is clean.
    assert!(machines.len() >= 5, "{machines:?}");
    assert!(
        machines.iter().all(|&examples| examples == 8),
        "{machines:?}"
    );
    // TestKeeper keeps one list a machine: 100 examples shared as 20 a run,
    // for which Hypothesis runs 21 machines (as it does in plain Python).
    assert!(
        run.stdout.contains("TestKeeper::runTest - +21 objects/run"),
        "{}",
        run.stdout
    );
}

#[test]
fn given_tests_run_a_few_examples_a_run_under_pytest() {
    check("pytest");
}

#[test]
fn given_tests_run_a_few_examples_a_run_under_the_builtin_engine() {
    check("builtin");
}

/// Hypothesis's pytest plugin wraps a parametrized @given test's settings in
/// new ones at every call (parent=the old), once per test under pytest.
/// Repeated, the chain grew by 2 objects a run and every such test was
/// LEAKED (python-dateutil's test_gettz_returns_local); each run now starts
/// from the settings the test had before it.
#[test]
fn a_parametrized_given_test_is_clean_under_pytest() {
    let venv = hypothesis_venv();
    let storage = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hypothesis-parametrized");
    let run = leakhunt_with(
        &fixtures(),
        &[
            "--python",
            venv.to_str().expect("a UTF-8 path"),
            "-v",
            "pytest_hypothesis",
        ],
        &[("HYPOTHESIS_STORAGE_DIRECTORY", storage.as_os_str())],
    );
    common::assert_all_passed(
        &run,
        &[
            "test_parametrized_given.py::test_parametrized[0] PASSED",
            "test_parametrized_given.py::test_parametrized[1] PASSED",
        ],
    );
}
