//! What the supervisor knows of the tests' interpreter, and the one error
//! that means "stop".

/// The interpreter actually in use, for the header of every run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpreterInfo {
    pub version: String,
    pub prefix: String,
}

/// Ctrl-C reached Python code run by leakhunt itself (not a test).
#[derive(Debug)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}
