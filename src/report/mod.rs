//! Everything leakhunt writes about a session. [`reporter::Reporter`] is
//! the session's one observer and fans each result out to the writers.

pub mod annotations;
pub mod atomic;
pub mod baseline;
pub mod bounds;
pub mod explain;
pub mod format;
pub mod gate;
pub mod html;
pub mod json;
pub mod junit;
pub mod reporter;
pub mod terminal;
