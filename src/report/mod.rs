//! Everything leakhunt writes about a session.

pub mod atomic;
pub mod explain;
pub mod format;
pub mod json;
pub mod junit;
pub mod sanitize;
pub mod terminal;
