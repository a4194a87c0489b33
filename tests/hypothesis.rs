//! Hypothesis `@given` tests (fixtures/hypothesis, in a virtualenv with
//! pytest and Hypothesis): each run runs the same few examples, so that the
//! runs together cost about one call of the test, and a leak per example
//! still shows as steady growth.

mod common;

use std::path::PathBuf;

use common::{final_counts, fixtures, hypothesis_venv, leakhunt_with, verdicts};

/// `leakhunt -v hypothesis` under `engine`, with test_counted writing its
/// runs and examples to a log; returns the run and the examples of each run.
fn run_fixture(engine: &str) -> (common::Run, Vec<usize>) {
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
    let per_run = text
        .split("run\n")
        .skip(1)
        .map(|run| run.lines().filter(|line| *line == "example").count())
        .collect();
    (run, per_run)
}

const VERDICTS: &[&str] = &[
    "test_given.py::test_clean PASSED",
    "test_given.py::test_keeps_every_example LEAKED",
    "test_given.py::test_counted PASSED",
];

fn check(engine: &str) {
    let (run, per_run) = run_fixture(engine);
    assert_eq!(verdicts(&run.stdout), VERDICTS, "{}", run.stdout);
    assert_eq!(final_counts(&run.stdout), "2 passed, 1 leaked");
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
}

#[test]
fn given_tests_run_a_few_examples_a_run_under_pytest() {
    check("pytest");
}

#[test]
fn given_tests_run_a_few_examples_a_run_under_the_builtin_engine() {
    check("builtin");
}
