//! The wheel (`pip install leakhunt`) gives the verdicts the binary gives,
//! on every Python it is installed for.
//!
//! `.ci/run` builds the wheel once, installs it into a virtualenv of each
//! CPython 3.10–3.13 the machine has (and Debian's /usr/bin/python3.11), and
//! runs this test with those virtualenvs in `LEAKHUNT_WHEEL_VENVS`
//! (colon-separated): `cargo test --test wheel -- --ignored`.

mod common;

use std::path::Path;
use std::process::Command;

use common::{final_counts, fixtures, leakhunt, verdicts, Run};

/// `leakhunt ARGS` from a virtualenv's bin/, as common::leakhunt runs the binary.
fn leakhunt_from(venv: &Path, args: &[&str]) -> Run {
    let output = Command::new(venv.join("bin/leakhunt"))
        .arg("--color")
        .arg("no")
        .args(args)
        .current_dir(fixtures())
        .env_remove("COLUMNS")
        .env_remove("VIRTUAL_ENV")
        .env_remove("GITHUB_ACTIONS")
        .output()
        .expect("the virtualenv's leakhunt runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).to_string(),
    }
}

#[test]
#[ignore = "needs the wheel installed in virtualenvs: .ci/run"]
fn every_python_gives_the_binarys_verdicts_through_the_wheel() {
    let venvs = std::env::var("LEAKHUNT_WHEEL_VENVS")
        .expect("LEAKHUNT_WHEEL_VENVS names the virtualenvs the wheel is installed in");
    // No time limit: fixtures/leakhunt.toml's 10 s is for the hung tests of
    // fixtures/hostile, and a loaded CI machine must not turn a slow
    // diagnosis into a different verdict on one Python only.
    let args = ["-v", "--timeout", "0", "leaky", "clean"];
    let reference = leakhunt(&args);
    assert_eq!(
        final_counts(&reference.stdout),
        "22 passed, 32 leaked",
        "{}",
        reference.stdout
    );
    let expected = verdicts(&reference.stdout);
    for venv in venvs.split(':').filter(|v| !v.is_empty()) {
        let venv = Path::new(venv);
        let run = leakhunt_from(venv, &args);
        let python_line = format!("python: {}", venv.display());
        assert!(
            run.stdout.lines().any(|line| line == python_line),
            "{python_line} missing:\n{}",
            run.stdout
        );
        assert_eq!(
            verdicts(&run.stdout),
            expected,
            "{}:\n{}",
            venv.display(),
            run.stdout
        );
        assert_eq!(
            final_counts(&run.stdout),
            final_counts(&reference.stdout),
            "{}",
            venv.display()
        );
        assert_eq!(run.code, reference.code, "{}", venv.display());
        assert_eq!(run.stderr, "", "{}", venv.display());
    }
}

/// The `cause:` lines of a run, in order.
/// The cause lines, and the owners of leaked descriptors.
fn causes(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|line| line.starts_with("cause: ") || line.contains("  anon_inode:"))
        .collect()
}

#[test]
#[ignore = "needs the wheel installed in virtualenvs: .ci/run"]
fn every_python_finds_what_holds_a_leak_as_the_binary_does() {
    // Under 3.13, gc.get_referrers(*objects) packs its arguments in a
    // tuple the gc tracks: the search went up its own calls' tuples, and
    // what only C code holds read "no module, class or thread was found".
    let venvs = std::env::var("LEAKHUNT_WHEEL_VENVS")
        .expect("LEAKHUNT_WHEEL_VENVS names the virtualenvs the wheel is installed in");
    let args = [
        "--timeout",
        "0",
        "held_in_c",
        "context_var",
        "server_thread",
        "untracked_class_cache",
        "selector_fd",
        "shared_registry",
        "module_per_run",
        "leaky/test_native.py::test_incref_leaks_tracked_object",
    ];
    let reference = leakhunt(&args);
    let expected = causes(&reference.stdout);
    assert_eq!(expected.len(), 9, "{}", reference.stdout);
    assert!(
        expected.contains(&"cause: list: nothing refers to it: a reference was taken and never released (C code, e.g. a missing Py_DECREF)"),
        "{}",
        reference.stdout
    );
    for venv in venvs.split(':').filter(|v| !v.is_empty()) {
        let run = leakhunt_from(Path::new(venv), &args);
        assert_eq!(causes(&run.stdout), expected, "{venv}:\n{}", run.stdout);
    }
}

#[test]
#[ignore = "needs the wheel installed in virtualenvs: .ci/run"]
fn the_pytest_engine_runs_in_the_wheels_virtualenv_as_in_the_binarys() {
    // A virtualenv of the binary's Python with pytest and the wheel in it:
    // the wheel's `leakhunt` and the binary's `--python` run the same tests
    // in the same interpreter, with the same pytest.
    let venv = std::env::var("LEAKHUNT_WHEEL_PYTEST_VENV")
        .expect("LEAKHUNT_WHEEL_PYTEST_VENV names a virtualenv with pytest and the wheel");
    let venv = Path::new(&venv);
    let args = ["-v", "--timeout", "0", "pytest_project"];
    let run = leakhunt_from(venv, &args);
    let mut binary_args = vec!["--python", venv.to_str().expect("a UTF-8 path")];
    binary_args.extend(args);
    let reference = leakhunt(&binary_args);
    assert!(
        reference.stdout.contains("engine: pytest "),
        "{}",
        reference.stdout
    );
    assert_eq!(
        final_counts(&reference.stdout),
        "6 failed, 29 passed, 1 leaked, 6 skipped, 4 xfailed, 1 xpassed, 2 errors, 5 subtests passed",
        "{}",
        reference.stdout
    );
    assert_eq!(
        verdicts(&run.stdout),
        verdicts(&reference.stdout),
        "{}",
        run.stdout
    );
    assert_eq!(final_counts(&run.stdout), final_counts(&reference.stdout));
    assert_eq!(run.code, reference.code);
}

#[test]
#[ignore = "needs the wheel installed in virtualenvs: .ci/run"]
fn the_wheel_refuses_a_python_before_3_10_in_one_line() {
    let venvs = std::env::var("LEAKHUNT_WHEEL_VENVS").expect("LEAKHUNT_WHEEL_VENVS is set");
    let old = std::env::var("LEAKHUNT_OLD_PYTHON")
        .expect("LEAKHUNT_OLD_PYTHON names a CPython before 3.10");
    let venv = venvs.split(':').next().expect("one virtualenv at least");
    let run = leakhunt_from(Path::new(venv), &["--python", &old, "clean"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    let version = Command::new(&old)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .expect("the old Python runs");
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    assert_eq!(
        run.stderr,
        format!(
            "ERROR: --python {old} is Python {version}: leakhunt needs CPython 3.10 or newer; \
             use a virtualenv of CPython 3.10 to 3.13\n"
        )
    );
}
