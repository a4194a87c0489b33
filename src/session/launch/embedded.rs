//! How the standalone binary, which embeds the libpython it was built
//! against, starts a worker: itself again, in worker mode.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::model::protocol::WORKER_ARG;

/// The Python leakhunt links against (`3.11`), recorded by build.rs.
pub const BUILD_VERSION: &str = env!("LEAKHUNT_BUILD_PYTHON_VERSION");

/// The executable of that Python, recorded by build.rs (may be empty).
const BUILD_EXECUTABLE: &str = env!("LEAKHUNT_BUILD_PYTHON");

/// Runs this binary again when its file was replaced since (a rebuild, an
/// upgrade): the path would then name another version, or nothing.
const PROC_SELF_EXE: &str = "/proc/self/exe";

/// The Python to run tests in when the user names none: the one leakhunt
/// was built against (None: let CPython find its own prefix).
pub fn own_python() -> Result<Option<PathBuf>> {
    let built = Path::new(BUILD_EXECUTABLE);
    Ok((!BUILD_EXECUTABLE.is_empty() && built.is_file()).then(|| built.to_path_buf()))
}

/// The embedded libpython is the build's: a virtualenv of another minor
/// version cannot work. `base` is the interpreter to build one for it with.
pub fn check_version(described: &str, version: &str, base: &Path) -> Result<()> {
    if version != BUILD_VERSION {
        bail!(
            "{described} is Python {version}, but this leakhunt embeds Python {BUILD_VERSION}: \
             build one for {version} with `PYO3_PYTHON={} cargo install --path .`, \
             or use a Python {BUILD_VERSION} virtualenv",
            base.display()
        );
    }
    Ok(())
}

/// A worker: this binary again, in worker mode; it starts the tests' Python
/// itself (`initialize`).
pub fn worker_command(_python: Option<&Path>) -> Result<Command> {
    let exe = if Path::new(PROC_SELF_EXE).exists() {
        PathBuf::from(PROC_SELF_EXE)
    } else {
        std::env::current_exe().context("cannot find leakhunt's own binary")?
    };
    let mut command = Command::new(exe);
    command.arg(WORKER_ARG);
    Ok(command)
}
