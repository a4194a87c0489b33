//! Engines collect tests and run one iteration of one test inside the
//! interpreter. The runner only talks to this trait, so the built-in engine and
//! a pytest-driven one are interchangeable.

pub mod builtin;

use std::path::Path;

use anyhow::Result;
use pyo3::Python;

use crate::outcome::{CollectionError, TestItem};

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
}

/// Tests found in the given files, in collection order.
#[derive(Debug, Default)]
pub struct Collection {
    pub tests: Vec<TestItem>,
    pub errors: Vec<CollectionError>,
}

pub trait Engine {
    /// Name and version for the header, e.g. `builtin`.
    fn describe(&self) -> String;

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
}
