//! Start-up of the standalone binary, which embeds the libpython it was
//! built against.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use pyo3::ffi;

/// Starts CPython once for the process, as `executable` would start (its
/// virtualenv's `sys.prefix`, `sys.executable` and site-packages), with its
/// signal handlers installed so that Ctrl-C raises KeyboardInterrupt inside
/// the test that is running and the session can still write what it gathered.
pub fn initialize(executable: Option<&Path>) -> Result<()> {
    // SAFETY: called from the main thread before any other Python API; the
    // config is initialised by CPython before use and cleared after.
    unsafe {
        if ffi::Py_IsInitialized() == 0 {
            crate::worker::sampler::steady_malloc();
            // The allocators PYTHONMALLOC asks for are set by the
            // pre-initialisation; the byte counter wraps them before any
            // block of theirs exists.
            let mut preconfig = std::mem::MaybeUninit::<ffi::PyPreConfig>::zeroed();
            ffi::PyPreConfig_InitPythonConfig(preconfig.as_mut_ptr());
            check(
                ffi::Py_PreInitialize(preconfig.as_ptr()),
                "pre-initialising Python",
            )?;
            crate::worker::allocator::install();
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
    Ok(())
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
