//! Coverage measurement is off during a leak check (pytest-cov, and coverage
//! started by COVERAGE_PROCESS_START), said on the header line;
//! `--keep-coverage` leaves it on. fixtures/coverage's tests fail when a
//! coverage tracer runs.

mod common;

use std::path::Path;

use common::{coverage_venv, final_counts, fixtures, leakhunt_with, verdicts, PYTEST};

const PASSED: &[&str] = &[
    "test_first.py::test_no_coverage_tracer PASSED",
    "test_second.py::test_no_coverage_tracer_either PASSED",
];
const FAILED: &[&str] = &[
    "test_first.py::test_no_coverage_tracer FAILED",
    "test_second.py::test_no_coverage_tracer_either FAILED",
];

/// coverage's .pth starts tracing at startup when COVERAGE_PROCESS_START is
/// set; fixtures/coverage/site/sitecustomize.py does what it does.
#[test]
fn coverage_process_start_is_turned_off() {
    let site = fixtures().join("coverage/site");
    let env = [
        ("COVERAGE_PROCESS_START", Path::new("setup.cfg")),
        ("PYTHONPATH", site.as_path()),
    ];
    let dir = fixtures().join("coverage");
    let run = leakhunt_with(&dir, &["--engine", "builtin", "-v"], &env);
    assert_eq!(verdicts(&run.stdout), PASSED, "{}", run.stdout);
    assert!(run.stdout.contains(
        "\nengine: builtin, coverage off (COVERAGE_PROCESS_START; --keep-coverage leaves it on), warm-up "
    ), "{}", run.stdout);
    assert_eq!(run.code, 0);

    let run = leakhunt_with(
        &dir,
        &["--engine", "builtin", "-v", "--keep-coverage"],
        &env,
    );
    assert_eq!(verdicts(&run.stdout), FAILED, "{}", run.stdout);
    assert!(run
        .stdout
        .contains("AssertionError: tracing: <function _trace at "));
    assert!(run.stdout.contains("\nengine: builtin, warm-up "));
}

/// coverage sets COVERAGE_PROCESS_CONFIG for every process started after it
/// under `patch = subprocess`: a leakhunt run under `coverage run`.
#[test]
fn coverage_process_config_is_turned_off() {
    let site = fixtures().join("coverage/site");
    let env = [
        ("COVERAGE_PROCESS_CONFIG", Path::new("{}")),
        ("PYTHONPATH", site.as_path()),
    ];
    let dir = fixtures().join("coverage");
    let run = leakhunt_with(&dir, &["--engine", "builtin", "-v"], &env);
    assert_eq!(verdicts(&run.stdout), PASSED, "{}", run.stdout);
    assert!(run.stdout.contains(
        "\nengine: builtin, coverage off (COVERAGE_PROCESS_CONFIG; --keep-coverage leaves it on), warm-up "
    ), "{}", run.stdout);
}

/// coverage started by COVERAGE_PROCESS_START saves what it measured when
/// the process exits (atexit), as a worker ends: `coverage combine` finds it.
#[test]
fn kept_coverage_saves_its_data_when_the_session_ends() {
    let venv = coverage_venv();
    let project = tempfile::tempdir().unwrap();
    let root = project.path();
    std::fs::copy(
        fixtures().join("coverage/covered.py"),
        root.join("covered.py"),
    )
    .unwrap();
    std::fs::write(
        root.join("test_covered.py"),
        "import covered\n\n\ndef test_double():\n    assert covered.double(2) == 4\n",
    )
    .unwrap();
    std::fs::write(root.join(".coveragerc"), "[run]\nparallel = true\n").unwrap();
    let python = venv.join("bin/python");
    let env = [("COVERAGE_PROCESS_START", ".coveragerc")];
    let args = [
        "--python",
        python.to_str().expect("a UTF-8 path"),
        "--keep-coverage",
    ];
    let run = leakhunt_with(root, &args, &env);
    assert_eq!(final_counts(&run.stdout), "1 passed", "{}", run.stdout);

    let coverage = |args: &[&str]| {
        let output = std::process::Command::new(&python)
            .args(["-m", "coverage"])
            .args(args)
            .current_dir(root)
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).to_string()
    };
    coverage(&["combine", "-q"]);
    let report = coverage(&["report", "--include=covered.py"]);
    assert!(
        report.contains("\ncovered.py       2      0   100%\n"),
        "{report}"
    );
}

/// `keep-coverage = true` in the configuration is `--keep-coverage`.
#[test]
fn the_keep_coverage_key_leaves_it_on() {
    let project = tempfile::tempdir().unwrap();
    for file in ["covered.py", "test_first.py", "test_second.py"] {
        std::fs::copy(
            fixtures().join("coverage").join(file),
            project.path().join(file),
        )
        .unwrap();
    }
    std::fs::write(
        project.path().join("leakhunt.toml"),
        "keep-coverage = true\n",
    )
    .unwrap();
    let site = fixtures().join("coverage/site");
    let env = [
        ("COVERAGE_PROCESS_START", Path::new("setup.cfg")),
        ("PYTHONPATH", site.as_path()),
    ];
    let run = leakhunt_with(project.path(), &["--show-config"], &env);
    assert!(
        run.stdout
            .contains("\nkeep-coverage = true                     # leakhunt.toml:1\n"),
        "{}",
        run.stdout
    );
    let run = leakhunt_with(project.path(), &["--engine", "builtin", "-v"], &env);
    assert_eq!(verdicts(&run.stdout), FAILED, "{}", run.stdout);
}

/// A project whose addopts has --cov: two workers used to run two pytest-cov
/// sessions in one folder ("DataError: Couldn't use data file"), and one
/// worker left .coverage.* files behind.
#[test]
fn pytest_cov_is_turned_off() {
    let venv = coverage_venv();
    let project = tempfile::tempdir().unwrap();
    for file in [
        "pytest.ini",
        "covered.py",
        "test_first.py",
        "test_second.py",
    ] {
        std::fs::copy(
            fixtures().join("coverage").join(file),
            project.path().join(file),
        )
        .unwrap();
    }
    let python = venv.to_str().expect("a UTF-8 path");
    let none: &[(&str, &str)] = &[];
    let run = leakhunt_with(project.path(), &["--python", python, "-n", "2", "-v"], none);
    // With two workers, progress lines come as tests finish.
    let mut finished = verdicts(&run.stdout);
    finished.sort();
    assert_eq!(finished, PASSED, "{}", run.stdout);
    assert_eq!(final_counts(&run.stdout), "2 passed");
    assert!(run.stdout.contains(&format!(
        "\nengine: pytest {PYTEST}, coverage off (pytest-cov; --keep-coverage leaves it on), warm-up "
    )), "{}", run.stdout);
    let left: Vec<String> = std::fs::read_dir(project.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().to_string())
        .filter(|name| name.starts_with(".coverage"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    let args = ["--python", python, "-v", "--keep-coverage"];
    let run = leakhunt_with(project.path(), &args, none);
    assert_eq!(verdicts(&run.stdout), FAILED, "{}", run.stdout);
    assert!(run
        .stdout
        .contains("AssertionError: tracing: <coverage.CTracer object at "));
}

/// With plugin autoloading off, pytest-cov is not loaded and knows no
/// `--no-cov`: leakhunt passes none, and says nothing about coverage.
#[test]
fn pytest_cov_installed_but_not_loaded_is_left_alone() {
    let venv = coverage_venv();
    let project = tempfile::tempdir().unwrap();
    for file in ["covered.py", "test_first.py"] {
        std::fs::copy(
            fixtures().join("coverage").join(file),
            project.path().join(file),
        )
        .unwrap();
    }
    std::fs::write(project.path().join("pytest.ini"), "[pytest]\n").unwrap();
    let python = venv.to_str().expect("a UTF-8 path");
    for (env, extra) in [
        (&[("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")][..], &[][..]),
        (&[][..], &["--", "--disable-plugin-autoload"][..]),
    ] {
        let mut args = vec!["--python", python, "-v"];
        args.extend_from_slice(extra);
        let run = leakhunt_with(project.path(), &args, env);
        assert_eq!(
            verdicts(&run.stdout),
            PASSED[..1],
            "{}{}",
            run.stdout,
            run.stderr
        );
        assert!(run
            .stdout
            .contains(&format!("\nengine: pytest {PYTEST}, warm-up ")));
    }
}
