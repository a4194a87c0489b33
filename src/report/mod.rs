//! Everything leakhunt writes about a session.

pub mod annotations;
pub mod atomic;
pub mod format;
pub mod html;
pub mod junit;
pub mod sanitize;
pub mod terminal;
