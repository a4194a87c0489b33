//! Starting the embedded CPython and talking to it.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyModule;

/// The interpreter actually in use, for the header of every run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpreterInfo {
    pub version: String,
    pub prefix: String,
}

/// Starts CPython once for the process, as `executable` would start (its
/// virtualenv's `sys.prefix`, `sys.executable` and site-packages), with its
/// signal handlers installed so that Ctrl-C raises KeyboardInterrupt inside
/// the test that is running and the session can still write what it gathered.
pub fn start(executable: Option<&Path>) -> Result<InterpreterInfo> {
    // SAFETY: called from the main thread before any other Python API; the
    // config is initialised by CPython before use and cleared after.
    unsafe {
        if ffi::Py_IsInitialized() == 0 {
            crate::sampler::steady_malloc();
            // The allocators PYTHONMALLOC asks for are set by the
            // pre-initialisation; the byte counter wraps them before any
            // block of theirs exists.
            let mut preconfig = std::mem::MaybeUninit::<ffi::PyPreConfig>::zeroed();
            ffi::PyPreConfig_InitPythonConfig(preconfig.as_mut_ptr());
            check(
                ffi::Py_PreInitialize(preconfig.as_ptr()),
                "pre-initialising Python",
            )?;
            crate::allocator::install();
            let mut config = std::mem::MaybeUninit::<ffi::PyConfig>::zeroed();
            let config = config.as_mut_ptr();
            ffi::PyConfig_InitPythonConfig(config);
            let status = configure(config, executable);
            let status = match status {
                Ok(()) => ffi::Py_InitializeFromConfig(config),
                Err(error) => {
                    ffi::PyConfig_Clear(config);
                    return Err(error);
                }
            };
            ffi::PyConfig_Clear(config);
            check(status, "initialising Python")?;
            // pyo3 attaches per call; release the GIL the initialisation took.
            ffi::PyEval_SaveThread();
        }
    }
    Python::attach(|py| {
        let sys = py.import("sys")?;
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

/// Sets what `PyConfig_InitPythonConfig` cannot guess for an embedded
/// interpreter: `executable` and `program_name` (CPython derives `sys.prefix`
/// from them, finding a virtualenv's pyvenv.cfg), and the signal handlers.
unsafe fn configure(config: *mut ffi::PyConfig, executable: Option<&Path>) -> Result<()> {
    unsafe {
        (*config).install_signal_handlers = 1;
        if let Some(executable) = executable {
            let bytes = CString::new(executable.as_os_str().as_bytes())
                .context("the python path holds a NUL byte")?;
            for field in [
                std::ptr::addr_of_mut!((*config).executable),
                std::ptr::addr_of_mut!((*config).program_name),
            ] {
                let status = ffi::PyConfig_SetBytesString(config, field, bytes.as_ptr());
                check(status, "setting the python executable")?;
            }
        }
    }
    Ok(())
}

fn check(status: ffi::PyStatus, what: &str) -> Result<()> {
    // SAFETY: PyStatus_Exception only reads the status.
    if unsafe { ffi::PyStatus_Exception(status) } == 0 {
        return Ok(());
    }
    let message = if status.err_msg.is_null() {
        "unknown error".to_string()
    } else {
        // SAFETY: CPython's error messages are static NUL-terminated strings.
        unsafe { std::ffi::CStr::from_ptr(status.err_msg) }
            .to_string_lossy()
            .to_string()
    };
    Err(anyhow!(
        "cannot start the embedded Python ({what}): {message}"
    ))
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
        let parts: Vec<String> = lines.extract()?;
        Ok(parts.concat())
    })();
    formatted.unwrap_or_else(|_| error.to_string())
}

/// Did the user press Ctrl-C while Python code ran?
pub fn is_interrupt(py: Python<'_>, error: &PyErr) -> bool {
    error.is_instance_of::<PyKeyboardInterrupt>(py)
}

/// Ctrl-C reached Python code run by leakhunt itself (not a test).
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Turns an error raised by leakhunt's own Python code into an error that
/// names what failed, keeping Ctrl-C recognisable.
pub fn harness_error(py: Python<'_>, error: &PyErr, what: &str) -> anyhow::Error {
    if is_interrupt(py, error) {
        return anyhow::Error::new(Interrupted);
    }
    anyhow!("leakhunt's {what} failed: {}", format_error(py, error))
}
