//! What differs between the two front ends, and nothing else.
//!
//! - The binary (`cargo install`) embeds libpython: it initialises CPython
//!   itself, its own Python is the one it was built against, and a worker is
//!   the same binary started again.
//! - The wheel (`pip install`) is an extension module loaded by the Python
//!   that runs the `leakhunt` console script: CPython already runs, its own
//!   Python is that interpreter, and a worker is the tests' Python loading
//!   the same extension module.
//!
//! Both provide `initialize`, `own_python`, `check_version` and
//! `worker_command`; the rest of leakhunt cannot tell them apart.

#[cfg(not(feature = "wheel"))]
mod embedded;
#[cfg(not(feature = "wheel"))]
pub use embedded::*;

#[cfg(feature = "wheel")]
mod extension;
#[cfg(feature = "wheel")]
pub use extension::*;
