//! Exit codes, as pytest uses them (plus leaks, which count as failures).

use crate::model::outcome::{SessionReport, SessionStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Every test passed (or was skipped or inconclusive).
    Clean = 0,
    /// A test failed, errored or leaked, or a file could not be collected.
    Failures = 1,
    /// Ctrl-C or SIGTERM stopped the session.
    Interrupted = 2,
    /// leakhunt itself failed.
    Internal = 3,
    /// The command line was wrong.
    Usage = 4,
    /// No tests were collected.
    NoTests = 5,
}

impl ExitCode {
    /// The exit code of a session that ran. `-x` stops the session on
    /// purpose: that is no interruption.
    pub fn of(session: &SessionReport, exitfirst: bool) -> ExitCode {
        if session.interrupted && !exitfirst {
            ExitCode::Interrupted
        } else if session.status() == SessionStatus::Bad {
            ExitCode::Failures
        } else if session.tests.is_empty() {
            ExitCode::NoTests
        } else {
            ExitCode::Clean
        }
    }
}

/// A problem with what the user asked for (an option, a path, a config value,
/// pytest's own usage errors): one line, exit code 4.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

impl UsageError {
    /// `error`, with its whole context chain in one line, as a usage error.
    pub fn wrap(error: anyhow::Error) -> anyhow::Error {
        anyhow::Error::new(UsageError(format!("{error:#}")))
    }
}
