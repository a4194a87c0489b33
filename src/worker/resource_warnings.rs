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

use crate::model::resource_warning::ResourceWarning;
use crate::worker::engine::{Collection, Engine, RunProblem};
use crate::worker::harness::{self, Warned};
use crate::worker::locations::user_location;

const WATCHER: &str = include_str!("python/resource_warnings.py");

static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn call<'py>(py: Python<'py>, function: &str) -> Result<Bound<'py, PyAny>> {
    let module = MODULE.get_or_try_init(py, || {
        harness::load(py, WATCHER, "_leakhunt_resource_warnings").map(Bound::unbind)
    })?;
    harness::call(module.bind(py), "resource warnings", function, ())
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

    /// What the runs so far raised, one entry per place (per kind of
    /// message where the place is unknown).
    pub fn into_warnings(self) -> Vec<ResourceWarning> {
        self.warnings
    }

    fn record(&mut self, py: Python<'_>, found: Vec<Warned>) -> Result<()> {
        for warned in found {
            // Where the resource was made: for a socket, where the audit hook
            // saw it made (tracemalloc names the test's caller); else where
            // tracemalloc saw it allocated; else where the warning was raised.
            let frames = warned.socket.unwrap_or(warned.allocated);
            let frames = if frames.is_empty() {
                vec![warned.warned]
            } else {
                frames
            };
            let message = warned.message;
            let opened = user_location(py, self.rootdir, &frames)?;
            // One entry per place: a message may change from run to run (a
            // socket's fd, a file in a new tmp_path), and an entry per
            // message would grow the heap the runs are judged by.
            let same = |w: &ResourceWarning| match &opened {
                Some(_) => w.opened == opened,
                None => w.opened.is_none() && kind_of(&w.message) == kind_of(&message),
            };
            match self.warnings.iter_mut().find(|w| same(w)) {
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

/// What a message says before the repr of the resource (`unclosed file `
/// of `unclosed file <_io.TextIOWrapper name=...>`), or all of it.
fn kind_of(message: &str) -> &str {
    message.split('<').next().unwrap_or(message)
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
        let found: Vec<Warned> = call(py, "end")?.extract()?;
        self.record(py, found)?;
        outcome
    }

    fn leave(&mut self, py: Python<'_>, next: Option<usize>) -> Result<Option<RunProblem>> {
        self.inner.leave(py, next)
    }

    fn hypothesis_examples(&self, index: usize) -> Option<u64> {
        self.inner.hypothesis_examples(index)
    }

    fn limit_examples(&mut self, py: Python<'_>, index: usize, examples: u64) -> Result<()> {
        self.inner.limit_examples(py, index, examples)
    }
}
