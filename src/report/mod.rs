//! Everything leakhunt writes about a session.

pub mod annotations;
pub mod atomic;
pub mod baseline;
pub mod explain;
pub mod format;
pub mod html;
pub mod json;
pub mod junit;
pub mod terminal;
