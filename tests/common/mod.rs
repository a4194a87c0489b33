//! Running the leakhunt binary on the bundled fixtures.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Where the tests' sessions remember test durations.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("leakhunt-cache")
}

/// Runs `leakhunt ARGS` from the fixtures folder, without colour.
pub fn leakhunt(args: &[&str]) -> Run {
    leakhunt_in(&fixtures(), args)
}

/// Runs `leakhunt ARGS` from `dir`, without colour.
pub fn leakhunt_in(dir: &Path, args: &[&str]) -> Run {
    leakhunt_with(dir, args, &[] as &[(&str, &str)])
}

/// Runs `leakhunt ARGS` from `dir` with extra environment variables, without
/// colour, outside any virtualenv or CI the caller may be in.
pub fn leakhunt_with<V: AsRef<std::ffi::OsStr>>(
    dir: &Path,
    args: &[&str],
    env: &[(&str, V)],
) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_leakhunt"));
    // Before ARGS: anything after a `--` in them goes to pytest.
    command
        .arg("--color")
        .arg("no")
        .args(args)
        .current_dir(dir)
        .env_remove("COLUMNS")
        .env_remove("VIRTUAL_ENV")
        .env_remove("GITHUB_ACTIONS")
        // Test durations are remembered here, not in the user's cache.
        .env("LEAKHUNT_CACHE_DIR", cache_dir());
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("the leakhunt binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).to_string(),
        stderr: String::from_utf8_lossy(&output.stderr).to_string(),
    }
}

/// `nodeid VERDICT` for every test line of a `-v` run, in order.
pub fn verdicts(stdout: &str) -> Vec<String> {
    let words = [
        "PASSED",
        "FAILED",
        "SKIPPED",
        "LEAKED",
        "ERROR",
        "INCONCLUSIVE",
        "ALLOWED",
        "XFAIL",
        "XPASS",
    ];
    stdout
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let nodeid = parts.next()?;
            let word = parts.next()?;
            let percent = parts.collect::<Vec<_>>().join(" ");
            (nodeid.contains("::") && words.contains(&word) && percent.ends_with("%]"))
                .then(|| format!("{nodeid} {word}"))
        })
        .collect()
}

/// The last line of the output: `N failed, N passed ... in X.XXs`, without
/// the `=` rule and the time.
pub fn final_counts(stdout: &str) -> String {
    let last = stdout.lines().last().unwrap_or("").trim_matches('=').trim();
    match last.rfind(" in ") {
        Some(at) => last[..at].to_string(),
        None => last.to_string(),
    }
}

/// The lines of the warnings summary, after its rule: up to the next rule,
/// pytest's link to its documentation, or the final line (under `-q`).
pub fn warnings_summary(stdout: &str) -> Vec<&str> {
    let lines: Vec<&str> = stdout.lines().collect();
    let last = lines.len().saturating_sub(1);
    lines
        .iter()
        .enumerate()
        .skip_while(|(_, line)| !line.contains("warnings summary"))
        .skip(1)
        .take_while(|&(at, line)| {
            at < last && !line.starts_with('=') && !line.starts_with("-- Docs:")
        })
        .map(|(_, line)| *line)
        .collect()
}

/// pytest's version in the test virtualenv: pinned, so that outputs are exact.
pub const PYTEST: &str = "9.2.0";

static VENV: Mutex<()> = Mutex::new(());

/// A virtualenv with pytest in it, made once with the Python leakhunt is
/// built with (`python -m venv`, then pip from PyPI) and kept under target/
/// so that later runs reuse it.
pub fn pytest_venv() -> PathBuf {
    venv_with(
        &format!("venv-pytest-{PYTEST}"),
        &[&format!("pytest=={PYTEST}")],
    )
}

/// pytest-cov's version in the coverage test virtualenv, and coverage's.
pub const PYTEST_COV: &str = "7.1.0";
pub const COVERAGE: &str = "7.17.3";

/// A virtualenv with pytest, pytest-cov and coverage, made as `pytest_venv`.
pub fn coverage_venv() -> PathBuf {
    venv_with(
        &format!("venv-pytest-{PYTEST}-cov-{PYTEST_COV}"),
        &[
            &format!("pytest=={PYTEST}"),
            &format!("pytest-cov=={PYTEST_COV}"),
            &format!("coverage=={COVERAGE}"),
        ],
    )
}

/// Hypothesis's version in the Hypothesis test virtualenv.
pub const HYPOTHESIS: &str = "6.170.15";

/// A virtualenv with pytest and Hypothesis, made as `pytest_venv`.
pub fn hypothesis_venv() -> PathBuf {
    venv_with(
        &format!("venv-pytest-{PYTEST}-hypothesis-{HYPOTHESIS}"),
        &[
            &format!("pytest=={PYTEST}"),
            &format!("hypothesis=={HYPOTHESIS}"),
        ],
    )
}

/// pytest-xdist's version in the xdist test virtualenv.
pub const PYTEST_XDIST: &str = "3.8.0";

/// A virtualenv with pytest and pytest-xdist, made as `pytest_venv`.
pub fn xdist_venv() -> PathBuf {
    venv_with(
        &format!("venv-pytest-{PYTEST}-xdist-{PYTEST_XDIST}"),
        &[
            &format!("pytest=={PYTEST}"),
            &format!("pytest-xdist=={PYTEST_XDIST}"),
        ],
    )
}

/// The regex package's version in the regex test virtualenv.
pub const REGEX: &str = "2026.11.19";

/// A virtualenv with pytest and the regex package, made as `pytest_venv`.
pub fn regex_venv() -> PathBuf {
    venv_with(
        &format!("venv-pytest-{PYTEST}-regex-{REGEX}"),
        &[&format!("pytest=={PYTEST}"), &format!("regex=={REGEX}")],
    )
}

/// pytest-benchmark's version in the benchmark test virtualenv.
pub const PYTEST_BENCHMARK: &str = "5.3.1";

/// A virtualenv with pytest and pytest-benchmark, made as `pytest_venv`.
pub fn benchmark_venv() -> PathBuf {
    venv_with(
        &format!("venv-pytest-{PYTEST}-benchmark-{PYTEST_BENCHMARK}"),
        &[
            &format!("pytest=={PYTEST}"),
            &format!("pytest-benchmark=={PYTEST_BENCHMARK}"),
        ],
    )
}

/// The virtualenv `name` under target/, with `packages` (pinned, so that
/// outputs are exact) installed, made once.
fn venv_with(name: &str, packages: &[&str]) -> PathBuf {
    let _guard = VENV.lock().unwrap_or_else(|e| e.into_inner());
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    if venv.join("bin/python").exists() {
        return venv;
    }
    let python = match env!("LEAKHUNT_BUILD_PYTHON") {
        "" => "python3",
        built => built,
    };
    // Built aside and renamed: an interrupted build never looks finished.
    let partial = venv.with_extension(format!("partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    let status = Command::new(python)
        .args(["-m", "venv"])
        .arg(&partial)
        .status()
        .expect("python -m venv runs");
    assert!(status.success(), "python -m venv failed");
    let status = Command::new(partial.join("bin/python"))
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(packages)
        .status()
        .expect("pip runs");
    assert!(status.success(), "pip install {packages:?} failed");
    // Only bin/python and `python -m` are used, which do not name the
    // virtualenv's own path: it can be renamed. Another test binary may have
    // finished first; then its virtualenv is as good.
    if std::fs::rename(&partial, &venv).is_err() {
        let _ = std::fs::remove_dir_all(&partial);
    }
    assert!(
        venv.join("bin/python").exists(),
        "no virtualenv at {}",
        venv.display()
    );
    venv
}

/// Checks a JUnit file against the schema of what leakhunt writes, a
/// restriction of the one CI dashboards use (see the schema's header).
pub fn assert_valid_junit(path: &Path) {
    let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/schema/junit.xsd");
    let check = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(&schema)
        .arg(path)
        .output()
        .expect("xmllint is installed (.ci/run installs libxml2-utils)");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

/// The start of a long output, for assertion messages.
pub fn head(text: &str) -> &str {
    let mut end = text.len().min(6000);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Runs `leakhunt ARGS -v` from the fixtures with a JUnit, JSON and HTML
/// report written into `dir`, checks the JUnit file against the schema, and
/// returns the run and the three reports' texts.
pub fn run_with_reports(args: &[&str], dir: &Path) -> (Run, String, String, String) {
    let reports = ["r.xml", "r.json", "r.html"].map(|name| dir.join(name));
    let paths = reports
        .each_ref()
        .map(|p| p.to_str().expect("a UTF-8 temporary path"));
    let mut all = args.to_vec();
    all.extend([
        "-v",
        "--junitxml",
        paths[0],
        "--json",
        paths[1],
        "--html",
        paths[2],
    ]);
    let run = leakhunt_in(&fixtures(), &all);
    assert_valid_junit(&reports[0]);
    let [junit, json, html] =
        reports.map(|path| std::fs::read_to_string(path).expect("the report was written"));
    (run, junit, json, html)
}

/// The tests of `fixtures/fork/test_fork.py`, which fork, each PASSED.
pub const FORKING_TESTS: [&str; 3] = [
    "fork/test_fork.py::test_child_returns_from_the_test PASSED",
    "fork/test_fork.py::test_child_fails PASSED",
    "fork/test_fork.py::test_after_the_forks PASSED",
];

/// A `-v` run's verdicts in order, its last line's counts and its exit code;
/// `label` names the run in a failure (an attempt, an engine).
pub fn assert_outcomes(run: &Run, expected: &[&str], counts: &str, code: i32, label: &str) {
    assert_eq!(verdicts(&run.stdout), expected, "{label}:\n{}", run.stdout);
    assert_eq!(final_counts(&run.stdout), counts, "{label}");
    assert_eq!(run.code, code, "{label}");
}

/// A `-v` run in which every test passed: its verdicts in order, its last
/// line and its exit code.
pub fn assert_all_passed(run: &Run, expected: &[&str]) {
    let counts = format!("{} passed", expected.len());
    assert_outcomes(run, expected, &counts, 0, "");
}
