//! The built-in engine: collects and runs pytest-style tests without pytest,
//! through the embedded `builtin_engine.py` harness.

use std::path::{Path, PathBuf};

use anyhow::Result;
use pyo3::prelude::*;
use pyo3::types::PyModule;

use super::{Collection, Engine, RunProblem};
use crate::model::outcome::relative_path;
use crate::model::outcome::{CollectionError, TestItem};
use crate::worker::harness::{self, BuiltinCollected, BuiltinTest, PhaseReport};

const HARNESS: &str = include_str!("../python/builtin_engine.py");

pub struct BuiltinEngine {
    harness: Py<PyModule>,
    /// Harness-side index of each collected test, in collection order.
    handles: Vec<usize>,
    /// For each collected test, what every run of it reports without
    /// running it, when the engine cannot run it.
    not_run: Vec<Option<RunProblem>>,
    /// For each collected test, Hypothesis's examples per call of a `@given` test.
    examples: Vec<Option<u64>>,
}

impl BuiltinEngine {
    pub fn load(py: Python<'_>) -> Result<BuiltinEngine> {
        let harness = harness::load(py, HARNESS, "_leakhunt_builtin")?.unbind();
        Ok(BuiltinEngine {
            harness,
            handles: Vec::new(),
            not_run: Vec::new(),
            examples: Vec::new(),
        })
    }

    fn call<'py>(
        &self,
        py: Python<'py>,
        function: &str,
        args: impl IntoPyObject<'py, Target = pyo3::types::PyTuple, Error: Into<PyErr>>,
    ) -> Result<Bound<'py, PyAny>> {
        harness::call(self.harness.bind(py), "harness", function, args)
    }
}

impl Engine for BuiltinEngine {
    fn describe(&self) -> String {
        "builtin".to_string()
    }

    fn collect(&mut self, py: Python<'_>, rootdir: &Path, files: &[PathBuf]) -> Result<Collection> {
        let mut collection = Collection::default();
        for file in files {
            let relative = relative_path(rootdir, file);
            // As a path: pyo3 gives Python the bytes of an undecodable name
            // as os.fsdecode does, so the file can still be imported.
            let collected: BuiltinCollected = self.call(py, "collect", (file,))?.extract()?;
            if let Some(message) = collected.error {
                collection.errors.push(CollectionError {
                    path: relative,
                    message,
                });
                continue;
            }
            for test in collected.tests {
                collection
                    .tests
                    .push(test_item(rootdir, &relative, &test.name, test.line));
                self.handles.push(test.index);
                self.not_run.push(not_run(&test));
                self.examples.push(test.hypothesis_examples);
            }
        }
        Ok(collection)
    }

    fn enter(&mut self, py: Python<'_>, index: usize) -> Result<Option<RunProblem>> {
        let value = self.call(py, "enter", (self.handles[index],))?;
        RunProblem::from_harness(value)
    }

    fn run_once(&mut self, py: Python<'_>, index: usize) -> Result<Option<RunProblem>> {
        if let Some(problem) = &self.not_run[index] {
            return Ok(Some(problem.clone()));
        }
        let value = self.call(py, "run", (self.handles[index],))?;
        RunProblem::from_harness(value)
    }

    fn hypothesis_examples(&self, index: usize) -> Option<u64> {
        self.examples.get(index).copied().flatten()
    }

    fn limit_examples(&mut self, py: Python<'_>, index: usize, examples: u64) -> Result<()> {
        self.call(py, "limit_examples", (self.handles[index], examples))
            .map(drop)
    }

    fn leave(&mut self, py: Python<'_>, next: Option<usize>) -> Result<Option<RunProblem>> {
        let next = next.map(|i| self.handles[i]);
        let value = self.call(py, "leave", (next,))?;
        RunProblem::from_harness(value)
    }
}

/// What a test the built-in engine does not run reports instead, in its
/// setup: a file skipped whole at import, an `async def` test (skipped, as
/// pytest without an async plugin does) and a test that needs pytest's
/// fixtures (an error). None: the test runs.
fn not_run(test: &BuiltinTest) -> Option<RunProblem> {
    let (outcome, message) = if let Some(reason) = &test.skipped_file {
        ("skipped", reason.clone())
    } else if test.unittest {
        return None;
    } else if test.coroutine {
        (
            "skipped",
            "async def functions are not natively supported".to_string(),
        )
    } else if !test.arguments.is_empty() {
        (
            "failed",
            format!(
                "test takes arguments ({}): these are pytest fixtures, and the \
                 built-in engine cannot provide them; this test needs pytest",
                test.arguments.join(", ")
            ),
        )
    } else {
        return None;
    };
    Some(RunProblem::from_report(PhaseReport {
        phase: "setup".to_string(),
        outcome: outcome.to_string(),
        exception: String::new(),
        message,
        traceback: String::new(),
        captured: String::new(),
        xfail: None,
        interrupted: false,
    }))
}

/// Builds the pytest-style description of one test from its file and the
/// `Class::name` qualified name the harness found.
pub fn test_item(rootdir: &Path, relative: &str, qualname: &str, line: u32) -> TestItem {
    if qualname.is_empty() {
        return TestItem::skipped_file(relative, line);
    }
    let parts: Vec<&str> = qualname.split("::").collect();
    let name = parts.last().copied().unwrap_or(qualname).to_string();
    let classes = &parts[..parts.len().saturating_sub(1)];
    let module_path = relative
        .strip_suffix(".py")
        .unwrap_or(relative)
        .replace('/', ".");
    let classname = std::iter::once(module_path.as_str())
        .chain(classes.iter().copied())
        .collect::<Vec<_>>()
        .join(".");
    // -k matches the names of every node from the rootdir down, as pytest does.
    let mut keywords: Vec<String> = Vec::new();
    if let Some(root) = rootdir.file_name() {
        keywords.push(root.to_string_lossy().to_string());
    }
    keywords.extend(relative.split('/').map(str::to_string));
    keywords.extend(classes.iter().map(|c| c.to_string()));
    keywords.push(name.clone());
    TestItem {
        nodeid: format!("{relative}::{qualname}"),
        path: relative.to_string(),
        line,
        name,
        classname,
        keywords,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::engine::ProblemKind;

    fn test(unittest: bool, coroutine: bool, arguments: &[&str]) -> BuiltinTest {
        BuiltinTest {
            name: "test_x".to_string(),
            line: 3,
            index: 0,
            skipped_file: None,
            unittest,
            coroutine,
            arguments: arguments.iter().map(|a| a.to_string()).collect(),
            hypothesis_examples: None,
        }
    }

    #[test]
    fn tests_the_engine_cannot_run_are_skipped_or_errors() {
        assert!(not_run(&test(false, false, &[])).is_none());
        let skipped = not_run(&test(false, true, &["tmp_path"])).unwrap();
        assert_eq!(skipped.outcome, ProblemKind::Skipped);
        assert_eq!(
            skipped.message,
            "async def functions are not natively supported"
        );
        let error = not_run(&test(false, false, &["tmp_path", "capsys"])).unwrap();
        assert_eq!(
            (error.outcome, error.phase.as_str()),
            (ProblemKind::Error, "setup")
        );
        assert_eq!(
            error.message,
            "test takes arguments (tmp_path, capsys): these are pytest fixtures, and the \
             built-in engine cannot provide them; this test needs pytest"
        );
        // unittest calls its own methods (an async one included).
        assert!(not_run(&test(true, true, &["x"])).is_none());
        let file = BuiltinTest {
            skipped_file: Some("no numpy".to_string()),
            ..test(false, false, &[])
        };
        let skipped = not_run(&file).unwrap();
        assert_eq!(
            (skipped.outcome, skipped.message.as_str()),
            (ProblemKind::Skipped, "no numpy")
        );
    }
}
