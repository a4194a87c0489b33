//! leakhunt: finds Python tests that leak by running each one many times in an
//! embedded CPython and judging what stays alive between runs.

pub mod allocator;
pub mod allow;
pub mod baseline;
pub mod capture;
pub mod changed;
pub mod cli;
pub mod coverage;
pub mod diagnosis;
pub mod discovery;
pub mod durations;
pub mod engine;
mod entry;
pub mod environment;
pub mod exit;
pub mod interpreter;
pub mod interrupt;
pub mod keyword;
pub mod outcome;
pub mod protocol;
pub mod python_text;
pub mod repeatability;
pub mod report;
pub mod resource_warnings;
pub mod runner;
pub mod sampler;
pub mod schedule;
pub mod selection;
pub mod settings;
pub mod shard;
pub mod signal;
pub mod startup;
pub mod supervisor;
pub mod verdict;
pub mod worker;

pub use entry::run;
