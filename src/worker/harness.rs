//! The boundary with the in-interpreter harness (`python/*.py`): loading its
//! modules, and every record it returns, by name.
//!
//! The harness reports facts as dicts (read here with
//! `#[derive(FromPyObject)]`, one struct per kind of record); Rust decides
//! what they mean. Every result crosses [`crossable`] before it is read, so
//! that any string a test controls arrives whatever it holds. A frame stays
//! a `(filename, line)` pair, as tracemalloc writes it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use anyhow::Result;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyModule, PyString, PyTuple};
use pyo3::BoundObject;

use crate::worker::interpreter::{harness_error, load_module};
use crate::worker::python_text::crossable;

const COMMON: &str = include_str!("python/common.py");

/// Where code was, innermost frame first: (filename, line).
pub type Frames = Vec<(String, u32)>;

static COMMON_MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
/// `_leakhunt_common.call_in_main`.
static CALL_IN_MAIN: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Set in the child of a fork (pthread_atfork), watched from when the
/// harness is first loaded, before any test code runs. A flag rather than
/// comparing process ids: getpid is a system call (0.4 µs here), and every
/// run makes three harness calls.
static FORKED: AtomicBool = AtomicBool::new(false);
static FORK_WATCH: OnceLock<()> = OnceLock::new();

extern "C" fn note_fork_child() {
    FORKED.store(true, Ordering::Relaxed);
}

/// Loads one of the harness's modules as `name`, after `_leakhunt_common`,
/// which the others import.
pub fn load<'py>(py: Python<'py>, source: &str, name: &str) -> Result<Bound<'py, PyModule>> {
    FORK_WATCH.get_or_init(|| {
        // SAFETY: registers a handler that only stores to an atomic.
        unsafe {
            libc::pthread_atfork(None, None, Some(note_fork_child));
        }
    });
    COMMON_MODULE.get_or_try_init(py, || {
        load_module(py, COMMON, "_leakhunt_common").map(Bound::unbind)
    })?;
    load_module(py, source, name)
}

/// Calls `function` of the harness module `module` with `args`; the result
/// has crossed [`crossable`]. `what` names the module in the error, which
/// keeps Ctrl-C recognisable.
///
/// The name is interned: CPython's type attribute cache keeps a reference to
/// every name it is asked for, in a slot chosen by the name's address, so a
/// new name string per call stays alive until its slot is reused. The heap
/// counters then moved by a few blocks from run to run of a clean test, and
/// every such run paid for a sample with the caches cleared.
///
/// The call is made from a frame of `__main__` (`call_in_main`), as pytest's
/// own calls are: code a test runs may walk up the stack to it.
pub fn call<'py>(
    module: &Bound<'py, PyModule>,
    what: &str,
    function: &str,
    args: impl IntoPyObject<'py, Target = PyTuple, Error: Into<PyErr>>,
) -> Result<Bound<'py, PyAny>> {
    let py = module.py();
    let result = CALL_IN_MAIN
        .get_or_try_init(py, || {
            let common = COMMON_MODULE.get(py).ok_or_else(|| {
                PyRuntimeError::new_err("leakhunt's _leakhunt_common is not loaded")
            })?;
            common.bind(py).getattr("call_in_main").map(Bound::unbind)
        })
        .and_then(|caller| {
            let target = module.getattr(PyString::intern(py, function))?;
            let args = args.into_pyobject(py).map_err(Into::into)?.into_bound();
            caller.bind(py).call1((target, args))
        });
    end_if_forked_child(&result);
    result
        .and_then(crossable)
        .map_err(|e| harness_error(module.py(), &e, &format!("{what} ({function})")))
}

/// A test that forks, and whose child returns from the test instead of
/// calling `os._exit`, brings that child back here with a copy of the
/// worker: it would take the supervisor's commands and send results as a
/// second worker, and a parent that waits for it would wait for ever.
/// Under pytest such a child runs the rest of the session and exits; here
/// it exits at once, before it says anything: 0 when what it returned from
/// had nothing to report (a run that passed), else 1.
fn end_if_forked_child(result: &PyResult<Bound<'_, PyAny>>) {
    if !FORKED.load(Ordering::Relaxed) {
        return;
    }
    let status = match result {
        Ok(value) if value.is_none() => 0,
        _ => 1,
    };
    // SAFETY: _exit ends this process without running any handler; the
    // parent owns every resource the child shares with it.
    unsafe { libc::_exit(status) }
}

/// One phase of one run that did not simply pass (`common.phase_report`).
#[derive(Debug, Clone, FromPyObject)]
#[pyo3(from_item_all)]
pub struct PhaseReport {
    /// `setup`, `call` or `teardown`.
    pub phase: String,
    /// `failed` or `skipped` as pytest words it, or `passed` for a test
    /// marked xfail.
    pub outcome: String,
    /// Exception type name ("" when there was none).
    pub exception: String,
    pub message: String,
    pub traceback: String,
    /// What the test wrote during the run, when the engine captured it.
    pub captured: String,
    /// The reason of the test's xfail mark, when pytest applied it.
    pub xfail: Option<String>,
    /// Ctrl-C (or `pytest.exit`) arrived.
    pub interrupted: bool,
}

/// What the built-in engine's `collect` found in one file.
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct BuiltinCollected {
    pub tests: Vec<BuiltinTest>,
    /// The traceback of a file that cannot be imported.
    pub error: Option<String>,
}

/// One test the built-in engine collected.
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct BuiltinTest {
    /// `Class::name` or `name`; "" for a file skipped whole at import.
    pub name: String,
    pub line: u32,
    /// The harness's index of the test.
    pub index: usize,
    /// The skip reason of a file skipped whole at import.
    pub skipped_file: Option<String>,
    /// A method of a `unittest.TestCase` (not looked into: unittest calls it).
    pub unittest: bool,
    /// An `async def` function.
    pub coroutine: bool,
    /// The arguments a call needs (under pytest, fixtures).
    pub arguments: Vec<String>,
    /// A Hypothesis `@given` test: the examples each call runs (its settings'
    /// `max_examples`).
    pub hypothesis_examples: Option<u64>,
}

/// What pytest collected (`pytest_engine.collect`).
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct PytestCollected {
    pub items: Vec<PytestItem>,
    pub errors: Vec<CollectError>,
    pub deselected: usize,
    pub rootdir: String,
    /// The configuration's and collection's warnings.
    pub warnings: Vec<CollectedWarning>,
}

/// A warning of pytest's configuration or collection.
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct CollectedWarning {
    /// A node id, `path:line`, or empty.
    pub location: String,
    pub message: String,
}

/// One collected pytest item (or file skipped whole).
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct PytestItem {
    pub nodeid: String,
    /// The file, relative to the rootdir.
    pub path: String,
    /// 0-based line, when pytest knows it.
    pub line: Option<u32>,
    pub name: String,
    pub marker: Option<LeakhuntMarker>,
    /// A Hypothesis `@given` test: the examples each call runs (its settings'
    /// `max_examples`).
    pub hypothesis_examples: Option<u64>,
}

/// A test's `@pytest.mark.leakhunt(allow=[...], reason=...)`.
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct LeakhuntMarker {
    /// None when the mark names no signals.
    pub allow: Option<Vec<String>>,
    pub reason: Option<String>,
}

/// A file pytest could not collect.
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct CollectError {
    pub path: String,
    pub message: String,
}

/// What pytest tells of a test's first run besides its outcome.
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct PytestFirstRun {
    pub counts: Vec<Count>,
    /// Its warnings (but ResourceWarnings), as pytest's summary shows them.
    pub warnings: Vec<String>,
}

/// One of pytest's final-line counts (`subtests passed`).
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct Count {
    pub category: String,
    pub count: usize,
}

/// The sampler's counters.
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct Counters {
    /// gc-tracked objects.
    pub objects: i64,
    /// Allocated blocks (`sys.getallocatedblocks`, or 0 when the allocator
    /// hook counts them).
    pub blocks: i64,
}

/// One ResourceWarning a run raised.
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct Warned {
    pub message: String,
    /// Where tracemalloc saw the resource allocated, innermost first.
    pub allocated: Frames,
    /// Where the audit hook saw it made, when it is a socket.
    pub socket: Option<Frames>,
    /// Where the warning was raised.
    pub warned: (String, u32),
}

/// What the diagnosis pass gathered (`diagnosis.finish`).
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct Gathered {
    pub sites: Vec<TracedSite>,
    pub malloc: Vec<MallocLine>,
    pub census: Vec<CensusRow>,
    /// The runs the census's counts span: the pass's, or all but its
    /// first two when it counted from there.
    pub census_runs: usize,
    pub grown: Vec<GrownContainer>,
    pub threads: Vec<NewThread>,
    /// By descriptor.
    pub fds: std::collections::HashMap<i64, FdOwner>,
    /// A run stopped or restarted tracemalloc: no sites were kept.
    pub tracing_lost: bool,
    /// Callbacks `atexit.register` gained during the pass.
    pub atexit_added: usize,
}

/// A tracemalloc traceback, with its size and block count at each snapshot.
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct TracedSite {
    pub frames: Frames,
    pub sizes: Vec<i64>,
    pub counts: Vec<i64>,
}

/// A line after which malloc's in-use bytes grew.
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct MallocLine {
    pub frames: Frames,
    /// Grown in all runs.
    pub bytes: i64,
    /// The C functions the line calls through ctypes.
    pub c_functions: Vec<String>,
}

/// Objects of one type the runs made that are still alive.
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct CensusRow {
    #[pyo3(item("type"))]
    pub type_name: String,
    pub count: i64,
    pub bytes: i64,
    /// Tracked by the gc.
    pub tracked: bool,
    /// The handle of one of them, for `diagnosis.chains`.
    pub sample: usize,
}

/// A container alive before the runs that grew during them.
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct GrownContainer {
    #[pyo3(item("type"))]
    pub type_name: String,
    pub bytes_before: i64,
    pub len_before: i64,
    pub bytes_after: i64,
    pub len_after: i64,
    /// Its handle, for `diagnosis.chains`.
    pub sample: usize,
}

impl GrownContainer {
    pub fn bytes_grown(&self) -> i64 {
        self.bytes_after - self.bytes_before
    }

    pub fn len_grown(&self) -> i64 {
        self.len_after - self.len_before
    }
}

/// A thread the runs started that is still running.
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct NewThread {
    pub name: String,
    /// Its target callable's name.
    pub target: String,
    /// Where it was made.
    pub frames: Frames,
}

/// What owns a descriptor the runs left open.
#[derive(Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct FdOwner {
    /// The type of the object that owns it; None when no object does (then
    /// `frames` is where the audit hook saw it opened).
    pub owner: Option<String>,
    pub frames: Frames,
    /// The owner's index among the samples, for its chain.
    pub sample: Option<usize>,
}

/// The shortest chain of referrers from a sample to what holds it for good.
#[derive(Debug, Clone, FromPyObject)]
#[pyo3(from_item_all)]
pub struct Chain {
    pub root: String,
    /// From the root down.
    pub hops: Vec<Hop>,
    /// A root was found.
    pub reached: bool,
    /// The search stopped before it could tell.
    pub timed_out: bool,
    /// No root: how many objects refer to it, up to the last, all held by
    /// nothing the gc sees (0: nothing refers to it).
    pub island: usize,
}

#[derive(Debug, Clone, PartialEq, FromPyObject)]
#[pyo3(from_item_all)]
pub struct Hop {
    /// How the referrer refers to the next object ("" when it cannot say).
    pub label: String,
    #[pyo3(item("type"))]
    pub type_name: String,
}
