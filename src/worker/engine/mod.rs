//! Engines collect tests and run one iteration of one test inside the
//! interpreter. The runner only talks to this trait, so the built-in engine and
//! a pytest-driven one are interchangeable.

pub mod builtin;
pub mod pytest;

use std::path::Path;

use anyhow::{anyhow, Result};
use pyo3::prelude::*;

use crate::model::engine::{EngineChoice, EngineSelection};
use crate::model::exit::UsageError;
use crate::model::outcome::{CollectionError, TestItem};
use crate::worker::harness::PhaseReport;

/// What went wrong in one run (a passing run has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunProblem {
    pub outcome: ProblemKind,
    /// Exception type name.
    pub kind: String,
    pub message: String,
    pub traceback: String,
    /// `setup`, `call` or `teardown`.
    pub phase: String,
    /// What the test wrote to stdout and stderr during that run.
    pub captured: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// An exception in the test (call) or its setup/teardown.
    Failed,
    /// The test cannot run here (it is reported as an error).
    Error,
    Skipped,
    /// Ctrl-C arrived while the test ran.
    Interrupted,
    /// Failed as its `xfail` mark expects (the message is the mark's reason).
    XFailed,
    /// Passed although marked `xfail` (not strict; a strict one is Failed).
    XPassed,
}

impl RunProblem {
    /// Reads a run's result from the harness: None (a passing run) or a
    /// phase report.
    pub fn from_harness(value: Bound<'_, PyAny>) -> Result<Option<RunProblem>> {
        let report: Option<PhaseReport> = value
            .extract()
            .map_err(|e| anyhow!("unexpected result from the harness: {e}"))?;
        Ok(report.map(RunProblem::from_report))
    }

    /// What a phase that did not simply pass means: the one place where
    /// either engine's report becomes an outcome.
    pub fn from_report(report: PhaseReport) -> RunProblem {
        let outcome = match (report.outcome.as_str(), &report.xfail) {
            _ if report.interrupted => ProblemKind::Interrupted,
            ("passed", Some(_)) => ProblemKind::XPassed,
            ("skipped", Some(_)) => ProblemKind::XFailed,
            ("skipped", None) => ProblemKind::Skipped,
            // An exception in the test itself fails it; in its setup or
            // teardown, it is an error, as pytest counts them.
            _ if report.phase == "call" => ProblemKind::Failed,
            _ => ProblemKind::Error,
        };
        let (kind, message) = match report.xfail {
            // The message of an xfail is its mark's reason.
            Some(reason) if matches!(outcome, ProblemKind::XFailed | ProblemKind::XPassed) => {
                (String::new(), reason)
            }
            _ => (report.exception, report.message),
        };
        RunProblem {
            outcome,
            kind,
            message,
            traceback: report.traceback,
            phase: report.phase,
            captured: report.captured,
        }
    }
}

/// Tests found in the given files, in collection order.
#[derive(Debug, Default)]
pub struct Collection {
    pub tests: Vec<TestItem>,
    pub errors: Vec<CollectionError>,
    /// Set by an engine that applies node ids and `-k` itself (pytest): the
    /// tests it deselected, and its own rootdir. `tests` is then the selection.
    pub selected_by_engine: Option<EngineSelection>,
    /// Allow-list entries the tests declare themselves (pytest markers).
    pub allow: Vec<crate::model::allow::AllowEntry>,
    /// For each test, the module or class whose scoped fixtures it shares
    /// with others (see `schedule`); empty when the engine pins nothing.
    pub pins: Vec<Option<String>>,
    /// Warnings of pytest's configuration and collection.
    pub warnings: Vec<crate::model::outcome::PytestWarning>,
}

/// What pytest tells of a test's one run besides its outcome.
#[derive(Debug, Default)]
pub struct FirstRun {
    /// Counts by pytest's category name (`subtests passed`).
    pub counts: Vec<(String, usize)>,
    /// Its warnings' messages (but ResourceWarnings'), as pytest shows them.
    pub warnings: Vec<String>,
}

pub trait Engine {
    /// Name and version for the header, e.g. `builtin`.
    fn describe(&self) -> String;

    /// Does the engine find files and apply node ids and `-k` itself (from
    /// what it was loaded with), rather than collect the files it is given?
    fn selects_tests(&self) -> bool {
        false
    }

    /// Imports `files` (absolute paths) and lists their tests; node ids are
    /// relative to `rootdir`.
    fn collect(
        &mut self,
        py: Python<'_>,
        rootdir: &Path,
        files: &[std::path::PathBuf],
    ) -> Result<Collection>;

    /// Sets up what test `index` (of the collection) needs once: module and
    /// class scopes.
    fn enter(&mut self, py: Python<'_>, index: usize) -> Result<Option<RunProblem>>;

    /// One run: setup, call, teardown.
    fn run_once(&mut self, py: Python<'_>, index: usize) -> Result<Option<RunProblem>>;

    /// Tears down the scopes that test `next` (None: no further test) does not share.
    fn leave(&mut self, py: Python<'_>, next: Option<usize>) -> Result<Option<RunProblem>>;

    /// When test `index` is a Hypothesis `@given` test, the examples each
    /// call of it runs by its own settings (`max_examples`).
    fn hypothesis_examples(&self, _index: usize) -> Option<u64> {
        None
    }

    /// Makes every later call of the Hypothesis test `index` run the same
    /// `examples` examples (see `model::hypothesis`).
    fn limit_examples(&mut self, _py: Python<'_>, _index: usize, _examples: u64) -> Result<()> {
        Ok(())
    }

    /// What pytest's final line and warnings summary tell of test
    /// `index`'s first run apart from its outcome.
    fn first_run(&mut self, _py: Python<'_>, _index: usize) -> Result<FirstRun> {
        Ok(FirstRun::default())
    }

    /// The coverage plugins the engine turned off (`pytest-cov`).
    fn coverage_off(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// Ends the session once every test is done and left (pytest's
    /// sessionfinish and unconfigure); `failed` when a test of this worker
    /// failed, leaked or errored.
    fn finish(&mut self, _py: Python<'_>, _failed: bool) -> Result<()> {
        Ok(())
    }
}

/// What the user asked to run, for an engine that selects by itself.
pub struct Request<'a> {
    pub paths: &'a [String],
    pub keyword: Option<&'a str>,
    /// Given after `--`.
    pub pytest_args: &'a [String],
    pub ignore: &'a [std::path::PathBuf],
    /// Leave pytest-cov on (`--keep-coverage`).
    pub keep_coverage: bool,
}

/// The engine `choice` asks for in this interpreter (whose prefix is
/// `prefix`). pytest applies `request` itself; the built-in engine is handed
/// files instead.
pub fn load(
    py: Python<'_>,
    choice: EngineChoice,
    prefix: &str,
    request: &Request<'_>,
) -> Result<Box<dyn Engine>> {
    let pytest_args = request.pytest_args;
    let version = match choice {
        EngineChoice::Builtin => None,
        EngineChoice::Auto | EngineChoice::Pytest => pytest::pytest_version(py)?,
    };
    match (choice, version) {
        (EngineChoice::Pytest, None) => Err(anyhow::Error::new(UsageError(format!(
            "--engine pytest: pytest cannot be imported in the Python at {prefix}; \
             install it there (python -m pip install pytest) or use --engine builtin"
        )))),
        (_, Some(version)) => {
            let mut extra: Vec<String> = request
                .ignore
                .iter()
                .map(|path| format!("--ignore={}", path.display()))
                .collect();
            extra.extend(pytest_args.iter().cloned());
            let mut engine =
                pytest::PytestEngine::load(py, version, request.paths, request.keyword, &extra)?;
            if !request.keep_coverage {
                engine.turn_coverage_off(py)?;
            }
            Ok(Box::new(engine))
        }
        (_, None) if !pytest_args.is_empty() => Err(anyhow::Error::new(UsageError(format!(
            "arguments after -- go to pytest, but the builtin engine runs this session \
             (pytest is not importable in {prefix}, or --engine builtin): install pytest or drop them"
        )))),
        (_, None) => Ok(Box::new(builtin::BuiltinEngine::load(py)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(phase: &str, outcome: &str, xfail: Option<&str>, interrupted: bool) -> PhaseReport {
        PhaseReport {
            phase: phase.to_string(),
            outcome: outcome.to_string(),
            exception: "ValueError".to_string(),
            message: "boom".to_string(),
            traceback: "Traceback ...".to_string(),
            captured: String::new(),
            xfail: xfail.map(str::to_string),
            interrupted,
        }
    }

    fn outcome(phase: &str, word: &str, xfail: Option<&str>, interrupted: bool) -> ProblemKind {
        RunProblem::from_report(report(phase, word, xfail, interrupted)).outcome
    }

    #[test]
    fn an_exception_fails_the_call_and_errors_the_setup_and_teardown() {
        assert_eq!(outcome("call", "failed", None, false), ProblemKind::Failed);
        assert_eq!(outcome("setup", "failed", None, false), ProblemKind::Error);
        assert_eq!(
            outcome("teardown", "failed", None, false),
            ProblemKind::Error
        );
        // A strict xfail that passed is a failure pytest reports as such.
        assert_eq!(
            outcome("call", "failed", Some("flaky"), false),
            ProblemKind::Failed
        );
    }

    #[test]
    fn skips_xfails_and_interrupts() {
        assert_eq!(
            outcome("setup", "skipped", None, false),
            ProblemKind::Skipped
        );
        assert_eq!(
            outcome("call", "skipped", None, false),
            ProblemKind::Skipped
        );
        assert_eq!(
            outcome("call", "skipped", Some("why"), false),
            ProblemKind::XFailed
        );
        assert_eq!(
            outcome("call", "passed", Some("why"), false),
            ProblemKind::XPassed
        );
        for phase in ["setup", "call", "teardown"] {
            assert_eq!(
                outcome(phase, "failed", None, true),
                ProblemKind::Interrupted
            );
        }
    }

    #[test]
    fn an_xfail_reads_as_its_marks_reason() {
        let problem = RunProblem::from_report(report("call", "skipped", Some("known bug"), false));
        assert_eq!(
            (problem.kind.as_str(), problem.message.as_str()),
            ("", "known bug")
        );
        let problem = RunProblem::from_report(report("call", "failed", None, false));
        assert_eq!(
            (problem.kind.as_str(), problem.message.as_str()),
            ("ValueError", "boom")
        );
        assert_eq!(problem.phase, "call");
        assert_eq!(problem.traceback, "Traceback ...");
    }
}
