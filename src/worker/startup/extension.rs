//! Start-up of the wheel: leakhunt is an extension module (abi3) loaded by
//! the Python that runs the `leakhunt` console script.

use std::path::Path;

use anyhow::{anyhow, Result};
use pyo3::prelude::*;

/// CPython already runs (this process is a Python); only the allocator
/// settings the binary makes before starting it are left to make.
pub fn initialize(_executable: Option<&Path>) -> Result<()> {
    crate::worker::sampler::steady_malloc();
    // steady_malloc gives the tests back the user's GLIBC_TUNABLES in the C
    // environment; os.environ was copied from it when Python started.
    Python::attach(|py| -> PyResult<()> {
        let environ = py.import("os")?.getattr("environ")?;
        match std::env::var_os("GLIBC_TUNABLES") {
            Some(value) => environ.set_item("GLIBC_TUNABLES", value)?,
            None => {
                environ.call_method1("pop", ("GLIBC_TUNABLES", py.None()))?;
            }
        }
        Ok(())
    })
    .map_err(|e| anyhow!("cannot restore GLIBC_TUNABLES in os.environ: {e}"))
}
