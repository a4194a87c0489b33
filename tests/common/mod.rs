//! Running the leakhunt binary on the bundled fixtures.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Runs `leakhunt ARGS` from the fixtures folder, without colour.
pub fn leakhunt(args: &[&str]) -> Run {
    leakhunt_in(&fixtures(), args)
}

/// Runs `leakhunt ARGS` from `dir`, without colour.
pub fn leakhunt_in(dir: &std::path::Path, args: &[&str]) -> Run {
    leakhunt_with(dir, args, &[])
}

/// Runs `leakhunt ARGS` from `dir` with extra environment variables.
pub fn leakhunt_with(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_leakhunt"))
        .args(args)
        .arg("--color")
        .arg("no")
        .current_dir(dir)
        .env_remove("GITHUB_ACTIONS")
        .envs(env.iter().copied())
        .env_remove("COLUMNS")
        .output()
        .expect("the leakhunt binary runs");
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

/// Checks a JUnit file against the schema CI dashboards use.
pub fn assert_valid_junit(path: &std::path::Path) {
    let schema = fixtures().join("../../shared/junit-10.xsd");
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
