//! Plain data shared by the supervisor and the workers. Nothing here calls
//! into Python.

pub mod allow;
pub mod capture;
pub mod diagnosis;
pub mod engine;
pub mod event;
pub mod exit;
pub mod hypothesis;
pub mod interpreter;
pub mod outcome;
pub mod protocol;
pub mod repeatability;
pub mod resource_warning;
pub mod run_board;
pub mod sanitize;
pub mod signal;
pub mod verdict;
