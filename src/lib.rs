//! leakhunt: finds Python tests that leak by running each one many times in an
//! embedded CPython and judging what stays alive between runs.

pub mod cli;
pub mod discovery;
pub mod engine;
pub mod environment;
pub mod exit;
pub mod interpreter;
pub mod keyword;
pub mod outcome;
pub mod report;
pub mod runner;
pub mod sampler;
pub mod selection;
pub mod signal;
pub mod verdict;
