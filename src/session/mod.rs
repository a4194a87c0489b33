//! The supervisor: starts workers, hands them tests, gathers their results
//! and turns interruptions into an orderly end.

pub mod durations;
pub mod environment;
pub mod interrupt;
pub mod launch;
pub mod schedule;
pub mod supervisor;
