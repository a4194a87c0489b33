//! Everything leakhunt writes about a session.

pub mod format;
pub mod junit;
pub mod sanitize;
pub mod terminal;
