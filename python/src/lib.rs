//! `leakhunt._native`: the wheel's front end. The Python that runs the
//! console script (or a worker's bootstrap) calls `main(argv)`, which runs
//! leakhunt and ends the process with its exit code, as the binary does.

use pyo3::prelude::*;

#[pymodule]
mod _native {
    use std::ffi::OsString;
    use std::path::PathBuf;

    use pyo3::prelude::*;

    /// Runs leakhunt with `argv` and exits the process with its exit code:
    /// no Python finalisation, which would wait for threads a test left
    /// running and call a test's atexit hooks.
    #[pyfunction]
    fn main(py: Python<'_>, argv: Vec<OsString>) -> PyResult<()> {
        // The virtualenv's path, which the process's own executable (the
        // base interpreter) is not: workers start from it.
        let executable: Option<PathBuf> = py.import("sys")?.getattr("executable")?.extract()?;
        leakhunt::session::launch::set_own_python(executable);
        let code = py.detach(|| leakhunt::run(argv));
        std::process::exit(code)
    }
}
