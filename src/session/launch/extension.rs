//! How the wheel starts a worker: the tests' Python, loading the same
//! extension module through the worker's start-up script.

use std::ffi::CStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{bail, Context, Result};

use crate::model::protocol::WORKER_ARG;

/// The worker's start-up script, beside the extension module in the wheel.
const WORKER_SCRIPT: &str = "_worker.py";

/// The Python that runs the console script: its `sys.executable` keeps the
/// virtualenv's path (the process's own executable is the base interpreter).
/// The wheel's front end sets it (see [`set_own_python`]).
pub fn own_python() -> Result<Option<PathBuf>> {
    Ok(OWN_PYTHON.get().cloned().flatten())
}

static OWN_PYTHON: OnceLock<Option<PathBuf>> = OnceLock::new();

/// Called by the wheel's front end, which runs inside that Python, before
/// [`crate::run`]: `sys.executable` (None when it is empty).
pub fn set_own_python(executable: Option<PathBuf>) {
    let _ = OWN_PYTHON.set(executable.filter(|e| !e.as_os_str().is_empty()));
}

/// The extension module is abi3: every CPython from 3.10 can load it.
pub fn check_version(_described: &str, _version: &str, _base: &Path) -> Result<()> {
    Ok(())
}

/// A worker: the tests' Python, loading this same extension module.
pub fn worker_command(python: Option<&Path>) -> Result<Command> {
    let python = match python {
        Some(python) => python.to_path_buf(),
        None => own_python()?.context("this Python has no sys.executable to start workers with")?,
    };
    let extension = extension_file()?;
    let script = extension.with_file_name(WORKER_SCRIPT);
    let mut command = Command::new(python);
    command.arg(script).arg(extension).arg(WORKER_ARG);
    Ok(command)
}

/// The file this code was loaded from: the extension module itself.
fn extension_file() -> Result<PathBuf> {
    let mut info = std::mem::MaybeUninit::<libc::Dl_info>::zeroed();
    let address = extension_file as *const () as *const libc::c_void;
    // SAFETY: dladdr only reads the loader's tables and fills `info`.
    let found = unsafe { libc::dladdr(address, info.as_mut_ptr()) };
    // SAFETY: dladdr filled `info` when it returned non-zero.
    let info = unsafe { info.assume_init() };
    if found == 0 || info.dli_fname.is_null() {
        bail!("cannot find the file of leakhunt's extension module");
    }
    // SAFETY: dli_fname is a NUL-terminated path owned by the loader.
    let name = unsafe { CStr::from_ptr(info.dli_fname) };
    let path = PathBuf::from(std::ffi::OsStr::from_bytes(name.to_bytes()));
    std::path::absolute(&path).context("cannot make the extension module's path absolute")
}
