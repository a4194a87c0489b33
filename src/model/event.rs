//! What a running session tells its observer (the reports) as it goes.

use std::time::Duration;

use crate::model::outcome::TestReport;

/// What the session tells its observer as it goes.
pub enum Event<'a> {
    /// A final report, as its test finishes (in collection order with one
    /// worker); the observer may amend it (allow-lists, baseline) before it
    /// is kept.
    Report(&'a mut TestReport),
    /// Now and then: where the session is.
    Progress(&'a Progress),
}

/// Where the session is, for a live progress line.
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub leaked: usize,
    pub elapsed: Duration,
    /// Node id and current run of each test running now.
    pub running: Vec<(String, usize)>,
}
