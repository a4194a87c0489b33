//! The command line, as clap parses it: each option a configuration file
//! can also set is `None` unless given (a flag: `false`), so that its
//! default lives in one place, the table of [`crate::settings::options`].
//! clap parses the types; [`crate::settings::Settings`] checks the values.

use std::path::PathBuf;

use clap::Parser;

use crate::model::engine::EngineChoice;
use crate::plan::shard::Shard;
use crate::settings::values::{ColorChoice, Threshold, Workers};

/// Runs each pytest-style test many times in an embedded CPython and flags the
/// tests whose live objects, memory, file descriptors or threads keep growing.
#[derive(Debug, Parser)]
#[command(name = "leakhunt", version)]
pub struct Cli {
    /// Folders, files or node ids (`tests/test_x.py::TestC::test_y`); default `.`.
    pub paths: Option<Vec<String>>,

    /// Only run tests matching the expression (pytest's -k: and, or, not, parentheses).
    #[arg(short = 'k', value_name = "EXPR")]
    pub keyword: Option<String>,

    /// Stop after the first failure, error or leak.
    #[arg(short = 'x', long = "exitfirst")]
    pub exitfirst: bool,

    /// Less output (-q).
    #[arg(short = 'q', long = "quiet", action = clap::ArgAction::Count)]
    pub quiet: u8,

    /// More output: -v one line per test, -vv also every test's series.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// List the tests that would run, run nothing.
    #[arg(long = "collect-only")]
    pub collect_only: bool,

    /// Write a JUnit XML report to this path.
    #[arg(long = "junitxml", value_name = "PATH")]
    pub junitxml: Option<PathBuf>,

    /// Write a self-contained HTML report (table of tests, charts of leaks) to this path.
    #[arg(long = "html", value_name = "PATH")]
    pub html: Option<PathBuf>,

    /// Runs of each test whose samples are not judged [default: 2]
    #[arg(long, value_name = "N")]
    pub warmup: Option<usize>,

    /// Judged runs of each test before the first verdict (at least 3) [default: 10]
    #[arg(long, value_name = "N", value_parser = whole_number)]
    pub iterations: Option<usize>,

    /// Judged runs at most, when a series stays ambiguous [default: 60]
    #[arg(long = "max-iterations", value_name = "N")]
    pub max_iterations: Option<usize>,

    /// Worker processes running tests side by side (a number, or `auto` for one per CPU) [default: 1]
    #[arg(short = 'n', long = "workers", value_name = "N")]
    pub workers: Option<Workers>,

    /// Seconds one run of a test (or the teardown of its fixtures after its last run) may take before the test is stopped and failed; 0 disables [default: 300]
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,

    /// Run only the K-th of N deterministic slices of the tests (by file), for CI matrices.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,

    /// Only test files changed since REF (default: the merge-base with
    /// origin/main, else HEAD), committed or not: `--changed` or `--changed=REF`.
    #[arg(long, value_name = "REF", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub changed: Option<String>,

    /// Skip this file or folder while collecting (repeatable).
    #[arg(long, value_name = "PATH")]
    pub ignore: Option<Vec<String>>,

    /// Smallest growth per run that counts for a signal, e.g. `rss=131072` (repeatable).
    #[arg(long = "threshold", value_name = "SIGNAL=N")]
    pub thresholds: Option<Vec<Threshold>>,

    /// Fail only on leaks not in this baseline file (or grown beyond the tolerance).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// How much a known leak may grow over its baseline rate before it fails (0.5 = 50 %) [default: 0.5]
    #[arg(long = "baseline-tolerance", value_name = "FRACTION")]
    pub baseline_tolerance: Option<f64>,

    /// Record the leaks seen in this baseline file (sorted, stable).
    #[arg(long = "write-baseline", value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,

    /// Merge these baselines (e.g. of --shard jobs) into --write-baseline FILE; runs no tests.
    #[arg(long = "merge-baselines", value_name = "FILE", num_args = 1.., requires = "write_baseline")]
    pub merge_baselines: Vec<PathBuf>,

    /// Read the configuration from this file instead of looking for
    /// leakhunt.toml or pyproject.toml's [tool.leakhunt] upwards from here.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print the effective configuration and where each value came from.
    #[arg(long = "show-config")]
    pub show_config: bool,

    /// Write a JSON report (every outcome, series and diagnosis) to this path.
    #[arg(long = "json", value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// Fail tests that drop a file, socket or event loop without closing it.
    #[arg(long = "strict-resources")]
    pub strict_resources: bool,

    /// Leave coverage measurement on (pytest-cov's --cov, coverage started by
    /// COVERAGE_PROCESS_START): off by default, as it slows every line and
    /// its tracer holds references that look like leaks.
    #[arg(long = "keep-coverage")]
    pub keep_coverage: bool,

    /// Which engine collects and runs the tests: pytest if importable (auto),
    /// the built-in one, or pytest [default: auto]
    #[arg(long, value_enum)]
    pub engine: Option<EngineChoice>,

    /// The Python (a virtualenv folder or a python executable) to run the tests
    /// in; default $VIRTUAL_ENV, else ./.venv, else the one leakhunt was built with.
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,

    /// Arguments after `--` go to pytest as they are (pytest engine only).
    #[arg(last = true, value_name = "PYTEST_ARGS")]
    pub pytest_args: Vec<String>,

    /// Colour the output [default: auto]
    #[arg(long, value_enum)]
    pub color: Option<ColorChoice>,
}

/// `--iterations`: a whole number (that it is at least 3 is checked with
/// the configuration file's value).
fn whole_number(text: &str) -> Result<usize, String> {
    text.parse()
        .map_err(|_| format!("'{text}' is not a whole number"))
}
