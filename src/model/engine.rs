//! Which engine collects and runs the tests, as the user chose it and as the
//! worker reports its own selection.

/// `--engine`: which engine collects and runs the tests.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum EngineChoice {
    /// pytest when it can be imported in the tests' Python, else built-in.
    Auto,
    Builtin,
    Pytest,
}

/// What an engine that selects by itself reports about its selection.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EngineSelection {
    pub deselected: usize,
    pub rootdir: std::path::PathBuf,
}
