//! ResourceWarnings: a file, socket or event loop a test dropped without
//! closing it (the `with` that was forgotten). Not a leak — the object is gone —
//! but the descriptor stayed open until the gc got to it.
//!
//! [`Watched`] wraps an engine so that every run is bracketed by
//! `resource_warnings.py`, whatever the engine is.

use std::path::Path;

use anyhow::Result;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;
use serde::{Deserialize, Serialize};

use crate::diagnosis::sites::Frames;
use crate::diagnosis::{user_location, Location};
use crate::engine::{Collection, Engine, RunProblem};
use crate::interpreter::{harness_error, load_module};
use crate::outcome::{Failure, TestReport, Verdict};

const WATCHER: &str = include_str!("python/resource_warnings.py");

/// One kind of ResourceWarning a test raised, and on how many runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceWarning {
    /// `unclosed file <_io.TextIOWrapper name='…' mode='r' encoding='UTF-8'>`
    pub message: String,
    /// Where the resource was opened (the user's frame), when tracemalloc knew.
    pub opened: Option<Location>,
    pub runs: usize,
}

static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn call<'py>(py: Python<'py>, function: &str) -> Result<Bound<'py, PyAny>> {
    let module = MODULE.get_or_try_init(py, || {
        load_module(py, WATCHER, "_leakhunt_resource_warnings").map(Bound::unbind)
    })?;
    module
        .bind(py)
        .call_method0(function)
        .and_then(crate::python_text::crossable)
        .map_err(|e| harness_error(py, &e, &format!("resource warnings ({function})")))
}

/// An engine whose runs record ResourceWarnings.
pub struct Watched<'a> {
    inner: &'a mut dyn Engine,
    rootdir: &'a Path,
    warnings: Vec<ResourceWarning>,
}

impl<'a> Watched<'a> {
    pub fn new(inner: &'a mut dyn Engine, rootdir: &'a Path) -> Watched<'a> {
        Watched {
            inner,
            rootdir,
            warnings: Vec::new(),
        }
    }

    /// What the runs so far raised, one entry per message and place.
    pub fn into_warnings(self) -> Vec<ResourceWarning> {
        self.warnings
    }

    fn record(&mut self, py: Python<'_>, found: Vec<(String, Frames)>) -> Result<()> {
        for (message, frames) in found {
            let opened = user_location(py, self.rootdir, &frames)?;
            // The repr of a socket names its fd, which changes from run to run.
            let kind = message.split(" fd=").next().unwrap_or(&message).to_string();
            match self
                .warnings
                .iter_mut()
                .find(|w| w.opened == opened && w.message.starts_with(&kind))
            {
                Some(existing) => existing.runs += 1,
                None => self.warnings.push(ResourceWarning {
                    message,
                    opened,
                    runs: 1,
                }),
            }
        }
        Ok(())
    }
}

impl Engine for Watched<'_> {
    fn describe(&self) -> String {
        self.inner.describe()
    }

    fn collect(
        &mut self,
        py: Python<'_>,
        rootdir: &Path,
        files: &[std::path::PathBuf],
    ) -> Result<Collection> {
        self.inner.collect(py, rootdir, files)
    }

    fn enter(&mut self, py: Python<'_>, index: usize) -> Result<Option<RunProblem>> {
        self.inner.enter(py, index)
    }

    fn run_once(&mut self, py: Python<'_>, index: usize) -> Result<Option<RunProblem>> {
        call(py, "begin")?;
        let outcome = self.inner.run_once(py, index);
        let found: Vec<(String, Frames)> = call(py, "end")?.extract()?;
        self.record(py, found)?;
        outcome
    }

    fn leave(&mut self, py: Python<'_>, next: Option<usize>) -> Result<Option<RunProblem>> {
        self.inner.leave(py, next)
    }
}

impl ResourceWarning {
    /// `path:line: ResourceWarning: unclosed file <…>` (or without the place).
    pub fn line(&self) -> String {
        match &self.opened {
            Some(at) => format!("{}: ResourceWarning: {}", at.at(), self.message),
            None => format!("ResourceWarning: {}", self.message),
        }
    }
}

/// `--strict-resources`: a test that passed but dropped a resource unclosed fails.
pub fn fail_on_resource_warnings(report: &mut TestReport) {
    let Some(first) = report.resource_warnings.first() else {
        return;
    };
    if !matches!(report.verdict, Verdict::Passed | Verdict::Inconclusive) {
        return;
    }
    let mut traceback = String::new();
    for warning in &report.resource_warnings {
        traceback.push_str(&warning.line());
        traceback.push('\n');
        if let Some(source) = warning.opened.as_ref().map(|o| &o.source) {
            traceback.push_str(&format!("    {source}\n"));
        }
    }
    report.verdict = Verdict::Failed;
    report.growth.clear();
    report.failure = Some(Failure {
        kind: "ResourceWarning".to_string(),
        message: first.message.clone(),
        traceback,
        run: 0,
        phase: "call".to_string(),
    });
}
