//! Starting the embedded CPython and talking to it.

use std::ffi::CString;
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::types::PyModule;

pub use crate::model::interpreter::{InterpreterInfo, Interrupted};

/// Makes CPython run in this process as `executable` would start (see
/// `startup::initialize`), then reads what it is.
pub fn start(executable: Option<&Path>) -> Result<InterpreterInfo> {
    crate::worker::startup::initialize(executable)?;
    Python::attach(|py| {
        let sys = py.import("sys")?;
        // CPython 3.10 gives a function its opcode cache (two allocated
        // blocks) at its 1024th call: a test's helpers reach it in some run
        // after the warm-up, which looked like growth. 3.10's own refleak
        // hunter turns it off the same way; 3.11 has no such cache.
        if sys.hasattr("_deactivate_opcache")? {
            sys.call_method0("_deactivate_opcache")?;
        }
        let version: String = sys
            .getattr("version")?
            .extract::<String>()?
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        let prefix: String = sys.getattr("prefix")?.extract()?;
        Ok(InterpreterInfo { version, prefix })
    })
    .map_err(|e: PyErr| anyhow!("cannot start the embedded Python: {e}"))
}

/// Loads one of the harness's embedded `.py` files as a module.
pub fn load_module<'py>(py: Python<'py>, source: &str, name: &str) -> Result<Bound<'py, PyModule>> {
    let code = CString::new(source).context("harness source holds a NUL byte")?;
    let file = CString::new(format!("<leakhunt {name}>"))?;
    let module = CString::new(name)?;
    PyModule::from_code(py, &code, &file, &module)
        .map_err(|e| anyhow!("cannot load leakhunt's {name}: {}", format_error(py, &e)))
}

/// The Python traceback of an error, formatted by `traceback` (never
/// `PyErr::print`, which exits the process on SystemExit).
pub fn format_error(py: Python<'_>, error: &PyErr) -> String {
    let formatted = (|| -> PyResult<String> {
        let traceback = py.import("traceback")?;
        let lines = traceback.call_method1(
            "format_exception",
            (error.get_type(py), error.value(py), error.traceback(py)),
        )?;
        let parts: Vec<String> = crate::worker::python_text::crossable(lines)?.extract()?;
        Ok(parts.concat())
    })();
    formatted.unwrap_or_else(|_| error.to_string())
}

/// Did the user press Ctrl-C while Python code ran?
pub fn is_interrupt(py: Python<'_>, error: &PyErr) -> bool {
    error.is_instance_of::<PyKeyboardInterrupt>(py)
}

/// Turns an error raised by leakhunt's own Python code into an error that
/// names what failed, keeping Ctrl-C recognisable.
pub fn harness_error(py: Python<'_>, error: &PyErr, what: &str) -> anyhow::Error {
    if is_interrupt(py, error) {
        return anyhow::Error::new(Interrupted);
    }
    anyhow!("leakhunt's {what} failed: {}", format_error(py, error))
}
