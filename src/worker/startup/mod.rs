//! Starting CPython in the worker. What differs between the two front ends
//! on the worker's side (`session::launch` is the supervisor's):
//!
//! - The binary embeds libpython and initialises CPython itself.
//! - The wheel is an extension module: CPython already runs; only the
//!   allocator settings the binary makes before starting it are left to make.

#[cfg(not(feature = "wheel"))]
mod embedded;
#[cfg(not(feature = "wheel"))]
pub use embedded::*;

#[cfg(feature = "wheel")]
mod extension;
#[cfg(feature = "wheel")]
pub use extension::*;
