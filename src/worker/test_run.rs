//! One test as it is run: the interpreter, the engine, the sampler, the
//! session's settings and which test it is, in one value that the runner and
//! the diagnosis pass hand on instead of a parameter list.

use std::path::PathBuf;

use anyhow::Result;
use pyo3::Python;

use crate::model::hypothesis::examples_per_run;
use crate::model::outcome::TestReport;
use crate::model::resource_warning::ResourceWarning;
use crate::model::verdict::Policy;
use crate::worker::engine::{Engine, RunProblem};
use crate::worker::resource_warnings::Watched;
use crate::worker::sampler::Sampler;

/// How every test of the session is run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub warmup: usize,
    pub policy: Policy,
    pub diagnosis: DiagnosisOptions,
}

/// What the session tells the diagnosis (and the ResourceWarning check).
#[derive(Debug, Clone, Default)]
pub struct DiagnosisOptions {
    /// Paths under it are shown relative to it, like node ids.
    pub rootdir: PathBuf,
    /// ResourceWarnings fail the test.
    pub strict_resources: bool,
    /// The collected test files, absolute: the user's even where the
    /// library lives (a package's tests run from site-packages).
    pub test_files: Vec<String>,
}

/// What the runner tells its caller as a test goes on.
pub enum Progress<'a> {
    /// Run number N (warm-ups and diagnosis runs included) begins.
    Run(usize),
    /// The test is judged LEAKED and its diagnosis begins: the report as
    /// judged, which stands if the diagnosis never ends. `--timeout` does not
    /// apply to a diagnosis, which bounds itself.
    Diagnosing(&'a TestReport),
}

/// Test `index` of the collection, being run.
pub struct TestRun<'a, 'py> {
    pub py: Python<'py>,
    /// The engine, with every run's ResourceWarnings recorded.
    engine: Watched<'a>,
    pub sampler: &'a Sampler,
    pub config: &'a RunConfig,
    pub index: usize,
    /// Runs started so far.
    runs: usize,
    on_progress: &'a mut dyn FnMut(Progress<'_>),
}

impl<'a, 'py> TestRun<'a, 'py> {
    /// `on_progress` hears the number of each run as it starts, and when a
    /// diagnosis begins.
    pub fn new(
        py: Python<'py>,
        engine: &'a mut dyn Engine,
        sampler: &'a Sampler,
        config: &'a RunConfig,
        index: usize,
        on_progress: &'a mut dyn FnMut(Progress<'_>),
    ) -> TestRun<'a, 'py> {
        TestRun {
            py,
            engine: Watched::new(engine, &config.diagnosis.rootdir),
            sampler,
            config,
            index,
            runs: 0,
            on_progress,
        }
    }

    /// Sets up what the test needs once (module and class scopes).
    pub fn enter(&mut self) -> Result<Option<RunProblem>> {
        self.engine.enter(self.py, self.index)
    }

    /// One run (setup, call, teardown), counted and announced first.
    pub fn run_once(&mut self) -> Result<Option<RunProblem>> {
        self.runs += 1;
        (self.on_progress)(Progress::Run(self.runs));
        self.engine.run_once(self.py, self.index)
    }

    /// When the test is a Hypothesis `@given` test, makes each of its runs
    /// run the same few examples (`model::hypothesis`): all the runs of a
    /// test in which nothing moves cost about one call of it. Returns the
    /// examples each run gets.
    pub fn limit_examples(&mut self) -> Result<Option<u64>> {
        let Some(budget) = self.engine.hypothesis_examples(self.index) else {
            return Ok(None);
        };
        let fewest_runs = self.config.warmup + self.config.policy.flat_runs;
        let examples = examples_per_run(budget, fewest_runs);
        self.engine.limit_examples(self.py, self.index, examples)?;
        Ok(Some(examples))
    }

    /// Runs started so far (warm-ups and diagnosis runs included).
    pub fn runs(&self) -> usize {
        self.runs
    }

    pub fn tell(&mut self, progress: Progress<'_>) {
        (self.on_progress)(progress)
    }

    /// What the runs raised, one entry per place (per kind of message where
    /// the place is unknown).
    pub fn into_warnings(self) -> Vec<ResourceWarning> {
        self.engine.into_warnings()
    }
}
