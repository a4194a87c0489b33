//! leakhunt: finds Python tests that leak by running each one many times in an
//! embedded CPython and judging what stays alive between runs.
//!
//! Layers, by process (see README "Layout"):
//! - `entry`: the whole program as `run(argv)`, a short dispatch on a mode;
//! - `settings`: the command line and the config file, made once;
//! - `plan`: which tests run, where, and in which order (pure);
//! - `session`: the supervisor: workers, scheduling, interruptions;
//! - `report`: the terminal, JUnit, JSON, HTML, annotations, baselines;
//! - `worker`: the process that embeds CPython; the only layer that uses pyo3;
//! - `model`: the plain data every layer shares (outcomes, series, verdicts,
//!   diagnoses, protocol messages), and nothing of pyo3.

mod entry;
pub mod model;
pub mod plan;
pub mod report;
pub mod session;
pub mod settings;
pub mod worker;

pub use entry::run;
