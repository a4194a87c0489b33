//! Everything leakhunt writes about a session.

pub mod annotations;
pub mod atomic;
pub mod explain;
pub mod format;
pub mod html;
pub mod json;
pub mod junit;
pub mod sanitize;
pub mod terminal;
