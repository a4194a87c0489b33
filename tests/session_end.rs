//! When its session ends, a worker runs what the suite registered with
//! atexit, as a plain pytest's interpreter does when it exits: once in every
//! worker, each having imported the tests. fixtures/atexit_at_end.

mod common;

use common::{final_counts, fixtures, leakhunt_with, pytest_venv};

/// The marker file's lines after one session with `args`.
fn marker_after(args: &[&str]) -> String {
    let scratch = tempfile::tempdir().unwrap();
    let marker = scratch.path().join("marker");
    let dir = fixtures().join("atexit_at_end");
    let run = leakhunt_with(&dir, args, &[("LEAKHUNT_ATEXIT_MARKER", &marker)]);
    assert_eq!(final_counts(&run.stdout), "1 passed", "{}", run.stdout);
    assert_eq!(run.code, 0);
    std::fs::read_to_string(&marker).unwrap_or_default()
}

#[test]
fn atexit_callbacks_run_once_when_the_builtin_engine_ends() {
    assert_eq!(
        marker_after(&["--engine", "builtin"]),
        "atexit callback ran\n"
    );
}

#[test]
fn atexit_callbacks_run_once_when_the_pytest_engine_ends() {
    let venv = pytest_venv();
    let python = venv.to_str().expect("a UTF-8 path");
    assert_eq!(marker_after(&["--python", python]), "atexit callback ran\n");
}

/// Both workers imported the test file, and so registered the callback.
#[test]
fn atexit_callbacks_run_in_every_worker() {
    assert_eq!(
        marker_after(&["--engine", "builtin", "-n", "2"]),
        "atexit callback ran\natexit callback ran\n"
    );
}
