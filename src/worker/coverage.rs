//! Coverage measurement is off during a leak check, unless `--keep-coverage`.
//!
//! A coverage tracer slows every line of every run, holds references that the
//! diagnosis then blames on the test, and under `-n` several workers' sessions
//! write the same data file at once. pytest-cov is told `--no-cov` by the
//! pytest engine; this module turns off what starts coverage through the
//! environment, and says on the header line what was turned off.

/// Variables that make coverage start when Python starts: coverage's own
/// (`process_startup()` from its .pth file; coverage sets the second one
/// itself, for every process started after it, under `patch = subprocess`),
/// and the ones pytest-cov before 7.0 set for its subprocesses.
const STARTERS: &[&str] = &[
    "COVERAGE_PROCESS_START",
    "COVERAGE_PROCESS_CONFIG",
    "COV_CORE_SOURCE",
    "COV_CORE_CONFIG",
    "COV_CORE_DATAFILE",
];

/// Removes the starters from this (worker) process's environment, before the
/// interpreter starts; returns the first one that was set, to be named.
pub fn environment_off() -> Vec<&'static str> {
    let mut found = Vec::new();
    for name in STARTERS {
        if std::env::var_os(name).is_some() {
            // The worker is single-threaded here: nothing else reads the
            // environment while it changes.
            std::env::remove_var(name);
            found.push(*name);
        }
    }
    // One name says it: COV_CORE_* come together.
    found.truncate(1);
    found
}

/// The engine's description for the header, with what was turned off:
/// `pytest 9.2.0, coverage off (pytest-cov; --keep-coverage leaves it on)`.
pub fn described(engine: &str, off: &[&str]) -> String {
    if off.is_empty() {
        return engine.to_string();
    }
    format!(
        "{engine}, coverage off ({}; --keep-coverage leaves it on)",
        off.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_names_what_was_turned_off() {
        assert_eq!(described("builtin", &[]), "builtin");
        assert_eq!(
            described("pytest 9.2.0", &["COVERAGE_PROCESS_START", "pytest-cov"]),
            "pytest 9.2.0, coverage off (COVERAGE_PROCESS_START, pytest-cov; --keep-coverage leaves it on)"
        );
    }
}
