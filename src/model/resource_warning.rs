//! ResourceWarnings: a file, socket or event loop a test dropped without
//! closing it (the `with` that was forgotten). Not a leak — the object is gone —
//! but the descriptor stayed open until the gc got to it. The worker records
//! them (`worker::resource_warnings`).

use serde::{Deserialize, Serialize};

use crate::model::diagnosis::Location;

/// One kind of ResourceWarning a test raised, and on how many runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceWarning {
    /// `unclosed file <_io.TextIOWrapper name='…' mode='r' encoding='UTF-8'>`
    pub message: String,
    /// Where the resource was opened (the user's frame), when tracemalloc knew.
    pub opened: Option<Location>,
    pub runs: usize,
}

impl ResourceWarning {
    /// `path:line: ResourceWarning: unclosed file <…>` (or without the place).
    pub fn line(&self) -> String {
        match &self.opened {
            Some(at) => format!("{}: ResourceWarning: {}", at.at(), self.message),
            None => format!("ResourceWarning: {}", self.message),
        }
    }
}
