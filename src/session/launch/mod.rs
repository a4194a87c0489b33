//! How the supervisor starts a worker. This is what differs between the two
//! front ends on the supervisor's side (`worker::startup` is the worker's):
//!
//! - The binary (`cargo install`) embeds libpython: its own Python is the one
//!   it was built against, and a worker is the same binary started again.
//! - The wheel (`pip install`) is an extension module loaded by the Python
//!   that runs the `leakhunt` console script: its own Python is that
//!   interpreter, and a worker is the tests' Python loading the same
//!   extension module.
//!
//! Both provide `own_python`, `check_version` and `worker_command`.

#[cfg(not(feature = "wheel"))]
mod embedded;
#[cfg(not(feature = "wheel"))]
pub use embedded::*;

#[cfg(feature = "wheel")]
mod extension;
#[cfg(feature = "wheel")]
pub use extension::*;

use crate::model::protocol::NO_TCACHE;

/// The `GLIBC_TUNABLES` a worker is started with. glibc keeps up to 7 freed
/// chunks of each size per thread in a cache that `mallinfo2` counts as in
/// use, so the heap bytes would move by a few hundred bytes whenever leakhunt
/// itself freed a buffer between two samples. Only read when a process
/// starts, hence set for the worker by the supervisor.
pub fn worker_tunables() -> (&'static str, String) {
    let value = match std::env::var("GLIBC_TUNABLES") {
        Ok(user) if !user.is_empty() => format!("{user}:{NO_TCACHE}"),
        _ => NO_TCACHE.to_string(),
    };
    ("GLIBC_TUNABLES", value)
}

/// The `PYTHONHASHSEED` every worker of this session is started with, unless
/// the user set one: each process would otherwise draw its own, and a suite
/// that builds test ids from a set (packaging's parametrize over sets of
/// versions) would collect its tests in another order in each worker, which
/// leakhunt refuses. One seed per session keeps hashing random from session
/// to session, as under pytest.
pub fn shared_hash_seed() -> Option<(&'static str, String)> {
    static SEED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let seed = SEED.get_or_init(|| {
        if std::env::var_os("PYTHONHASHSEED").is_some() {
            return None;
        }
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        // 1..=u32::MAX: 0 would turn hash randomization off.
        let seed = (clock ^ std::process::id().rotate_left(16)).max(1);
        Some(seed.to_string())
    });
    seed.clone().map(|seed| ("PYTHONHASHSEED", seed))
}
