//! The pytest engine: pytest's own collection, fixtures, marks and plugins,
//! driven one run at a time through the embedded `pytest_engine.py`.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use pyo3::prelude::*;
use pyo3::types::PyModule;

use super::{Collection, Engine, EngineSelection, FirstRun, RunProblem};
use crate::model::allow::{AllowEntry, AllowedSignal};
use crate::model::exit::UsageError;
use crate::model::outcome::{CollectionError, PytestWarning, TestItem};
use crate::worker::harness::{self, LeakhuntMarker, PytestCollected, PytestFirstRun, PytestItem};
use crate::worker::interpreter::{format_error, harness_error, is_interrupt, Interrupted};

const HARNESS: &str = include_str!("../python/pytest_engine.py");
const HARNESS_NAME: &str = "pytest engine";

/// pytest plugins that only keep records of a session: off, so that nothing
/// they hold grows with the runs (`--lf` and `--nf` need the cache). The
/// terminal reporter stays, silenced by the harness: ini files pass its
/// options (`-ra`) in addopts.
const QUIET_PLUGINS: &[&str] = &["no:cacheprovider"];

pub struct PytestEngine {
    harness: Py<PyModule>,
    version: String,
    /// pytest-cov is installed and told not to measure (`--no-cov`).
    coverage_off: bool,
    /// pytest's command line: paths, `-k`, leakhunt's `-p`s, then the user's extras.
    args: Vec<String>,
    /// For each collected item, Hypothesis's examples per call of a `@given` test.
    examples: Vec<Option<u64>>,
}

/// pytest's version when it can be imported in this interpreter.
pub fn pytest_version(py: Python<'_>) -> Result<Option<String>> {
    let util = py.import("importlib.util")?;
    if util.call_method1("find_spec", ("pytest",))?.is_none() {
        return Ok(None);
    }
    let pytest = py
        .import("pytest")
        .map_err(|e| harness_error(py, &e, "import of pytest"))?;
    Ok(Some(pytest.getattr("__version__")?.extract()?))
}

impl PytestEngine {
    /// `paths` and `keyword` as leakhunt got them; `extra` came after `--`.
    pub fn load(
        py: Python<'_>,
        version: String,
        paths: &[String],
        keyword: Option<&str>,
        extra: &[String],
    ) -> Result<PytestEngine> {
        let harness = harness::load(py, HARNESS, "_leakhunt_pytest")?.unbind();
        let mut args: Vec<String> = paths.to_vec();
        if let Some(keyword) = keyword {
            args.extend(["-k".to_string(), keyword.to_string()]);
        }
        for plugin in QUIET_PLUGINS {
            args.extend(["-p".to_string(), plugin.to_string()]);
        }
        args.extend(extra.iter().cloned());
        Ok(PytestEngine {
            harness,
            version,
            coverage_off: false,
            args,
            examples: Vec::new(),
        })
    }

    /// Tells pytest-cov, when pytest will load it, not to measure: its
    /// `--no-cov` wins over any `--cov` in addopts or after `--`. Coverage
    /// slows every line, its tracer holds references the diagnosis would
    /// blame, and two workers' sessions write one data file at once.
    pub fn turn_coverage_off(&mut self, py: Python<'_>) -> Result<()> {
        // Without autoloading, pytest-cov (and its option) is not there.
        let autoload = std::env::var_os("PYTEST_DISABLE_PLUGIN_AUTOLOAD").is_none()
            && !self.args.iter().any(|a| a == "--disable-plugin-autoload");
        let util = py.import("importlib.util")?;
        let installed = !util.call_method1("find_spec", ("pytest_cov",))?.is_none();
        if autoload && installed {
            self.args.push("--no-cov".to_string());
            self.coverage_off = true;
        }
        Ok(())
    }
}

impl PytestEngine {
    fn call<'py>(
        &self,
        py: Python<'py>,
        function: &str,
        args: impl IntoPyObject<'py, Target = pyo3::types::PyTuple, Error: Into<PyErr>>,
    ) -> Result<Bound<'py, PyAny>> {
        harness::call(self.harness.bind(py), HARNESS_NAME, function, args)
    }
}

impl Engine for PytestEngine {
    fn describe(&self) -> String {
        format!("pytest {}", self.version)
    }

    fn selects_tests(&self) -> bool {
        true
    }

    fn first_run(&mut self, py: Python<'_>, index: usize) -> Result<FirstRun> {
        let told: PytestFirstRun = self
            .call(py, "first_run", (index,))?
            .extract()
            .map_err(|e| anyhow!("unexpected result from the pytest engine: {e}"))?;
        Ok(FirstRun {
            counts: told
                .counts
                .into_iter()
                .map(|c| (c.category, c.count))
                .collect(),
            warnings: told.warnings,
        })
    }

    fn coverage_off(&self) -> Vec<&'static str> {
        if self.coverage_off {
            vec!["pytest-cov"]
        } else {
            Vec::new()
        }
    }

    /// pytest finds the files and the rootdir itself, from the paths, `-k` and
    /// extra arguments given to `load`; `rootdir` and `files` are not used.
    fn collect(
        &mut self,
        py: Python<'_>,
        _rootdir: &Path,
        _files: &[PathBuf],
    ) -> Result<Collection> {
        let result = self
            .harness
            .bind(py)
            .call_method1("collect", (self.args.clone(),))
            .and_then(crate::worker::python_text::crossable);
        let value = match result {
            Ok(value) => value,
            Err(error) if is_interrupt(py, &error) => return Err(anyhow::Error::new(Interrupted)),
            Err(error) if error.get_type(py).name().is_ok_and(|n| n == "UsageError") => {
                let message = error.value(py).to_string();
                return Err(anyhow::Error::new(UsageError(message)));
            }
            Err(error) => {
                return Err(anyhow!(
                    "pytest could not start or collect: {}",
                    format_error(py, &error)
                ))
            }
        };
        let collected: PytestCollected = value
            .extract()
            .map_err(|e| anyhow!("unexpected result from the pytest engine: {e}"))?;
        let pins: Vec<Option<String>> = self
            .call(py, "pins", ())?
            .extract()
            .map_err(|e| anyhow!("unexpected pins from the pytest engine: {e}"))?;
        self.examples
            .extend(collected.items.iter().map(|item| item.hypothesis_examples));
        let mut allow = Vec::new();
        for item in &collected.items {
            if let Some(marker) = &item.marker {
                allow.push(marker_entry(&item.nodeid, marker)?);
            }
        }
        Ok(Collection {
            tests: collected.items.into_iter().map(pytest_item).collect(),
            allow,
            pins,
            warnings: collected
                .warnings
                .into_iter()
                .map(|w| PytestWarning {
                    location: w.location,
                    message: w.message,
                })
                .collect(),
            errors: collected
                .errors
                .into_iter()
                .map(|e| CollectionError {
                    path: e.path,
                    message: e.message,
                })
                .collect(),
            selected_by_engine: Some(EngineSelection {
                deselected: collected.deselected,
                rootdir: PathBuf::from(collected.rootdir),
            }),
        })
    }

    /// Nothing to do: pytest sets up the session, package, module and class
    /// scopes in the first run's setup, a warm-up, and keeps them until `leave`.
    fn enter(&mut self, _py: Python<'_>, _index: usize) -> Result<Option<RunProblem>> {
        Ok(None)
    }

    fn run_once(&mut self, py: Python<'_>, index: usize) -> Result<Option<RunProblem>> {
        RunProblem::from_harness(self.call(py, "run", (index,))?)
    }

    fn hypothesis_examples(&self, index: usize) -> Option<u64> {
        self.examples.get(index).copied().flatten()
    }

    fn limit_examples(&mut self, py: Python<'_>, index: usize, examples: u64) -> Result<()> {
        self.call(py, "limit_examples", (index, examples)).map(drop)
    }

    fn leave(&mut self, py: Python<'_>, next: Option<usize>) -> Result<Option<RunProblem>> {
        RunProblem::from_harness(self.call(py, "leave", (next,))?)
    }

    fn finish(&mut self, py: Python<'_>, failed: bool) -> Result<()> {
        // pytest's ExitCode: plugins that write results at sessionfinish read it.
        let exitstatus = if failed { 1 } else { 0 };
        self.call(py, "finish", (exitstatus,)).map(drop)
    }
}

/// `@pytest.mark.leakhunt(allow=[...], reason=...)` as an allow-list entry
/// for exactly that test; a wrong signal or a missing reason is a usage error
/// naming the test. A mark that names no signals allows them all.
fn marker_entry(nodeid: &str, marker: &LeakhuntMarker) -> Result<AllowEntry> {
    let fail = |why: String| {
        anyhow::Error::new(UsageError(format!("{nodeid}: @pytest.mark.leakhunt {why}")))
    };
    let reason = marker
        .reason
        .as_deref()
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| fail("needs reason=\"why this leak is accepted\"".to_string()))?;
    let all = ["all".to_string()];
    let signals = marker
        .allow
        .as_deref()
        .unwrap_or(&all)
        .iter()
        .map(|s| AllowedSignal::try_from(s.clone()).map_err(&fail))
        .collect::<Result<Vec<_>>>()?;
    Ok(AllowEntry {
        // The node id is the pattern: it always matches its own test (a `*`
        // or `?` in a parametrize id could also match a sibling's).
        test: nodeid.to_string(),
        signals,
        reason: reason.to_string(),
    })
}

/// A collected pytest item as leakhunt reports it; the JUnit classname is
/// made from the node id as pytest's junitxml makes it (`mangle_test_address`).
fn pytest_item(item: PytestItem) -> TestItem {
    let PytestItem {
        nodeid,
        path,
        line,
        name,
        ..
    } = item;
    // 1-based, 0 when unknown.
    let line = line.map_or(0, |line| line.saturating_add(1));
    if !nodeid.contains("::") {
        return TestItem::skipped_file(&path, line);
    }
    // pytest locates a test where its function is defined: for a method
    // inherited from another module (a mixin of tests, a Hypothesis state
    // machine's runTest) that is another file. The test belongs to the file
    // of its node id, as pytest's own progress lines have it: files are
    // scheduled, sharded and selected by it. The harness gives the line of
    // its class there; when the class is from elsewhere too, it is not known.
    let file = nodeid.split("::").next().unwrap_or_default();
    let (path, line) = if path == file {
        (path, line)
    } else {
        (file.to_string(), 0)
    };
    let address = nodeid.split_once('[').map_or(nodeid.as_str(), |(a, _)| a);
    let mut names: Vec<String> = address.split("::").map(str::to_string).collect();
    if let Some(first) = names.first_mut() {
        let dotted = first.replace('/', ".");
        *first = dotted.strip_suffix(".py").unwrap_or(&dotted).to_string();
    }
    names.pop();
    TestItem {
        classname: names.join("."),
        path,
        line,
        name,
        // pytest applied -k itself.
        keywords: Vec::new(),
        nodeid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(nodeid: &str, path: &str, line: Option<u32>, name: &str) -> TestItem {
        pytest_item(PytestItem {
            nodeid: nodeid.into(),
            path: path.into(),
            line,
            name: name.into(),
            marker: None,
            hypothesis_examples: None,
        })
    }

    #[test]
    fn junit_classname_follows_pytest() {
        let item = item(
            "tests/test_a.py::TestX::test_y[a::b-1]",
            "tests/test_a.py",
            Some(9),
            "test_y[a::b-1]",
        );
        assert_eq!(item.classname, "tests.test_a.TestX");
        assert_eq!(item.line, 10);
        let item = self::item("test_b.py::test_z", "test_b.py", None, "test_z");
        assert_eq!(item.classname, "test_b");
        assert_eq!(item.line, 0);
        let item = self::item(
            "tests/test_skipped_whole.py",
            "tests/test_skipped_whole.py",
            None,
            "tests/test_skipped_whole.py",
        );
        assert_eq!(
            (item.classname.as_str(), item.name.as_str()),
            ("", "tests.test_skipped_whole")
        );
    }

    #[test]
    fn a_test_defined_in_another_module_belongs_to_the_file_of_its_node_id() {
        let item = item(
            "tests/test_machine.py::TestMachine::runTest",
            "../venv/lib/python3.11/site-packages/hypothesis/stateful.py",
            Some(556),
            "runTest",
        );
        assert_eq!(
            (item.path.as_str(), item.line),
            ("tests/test_machine.py", 0)
        );
        assert_eq!(item.classname, "tests.test_machine.TestMachine");
    }
}
