//! What the supervisor and its workers say to each other: one JSON object per
//! line, over two pipes that are not the worker's stdin, stdout or stderr
//! (test code may read, write, redirect or close those).

use std::io::{BufRead, Write};
use std::os::fd::RawFd;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::model::allow::AllowEntry;
use crate::model::engine::{EngineChoice, EngineSelection};
use crate::model::outcome::{CollectionError, PytestWarning, TestItem, TestReport};
use crate::model::verdict::Policy;

/// glibc's tunable that turns off the per-thread cache of freed chunks.
pub const NO_TCACHE: &str = "glibc.malloc.tcache_count=0";

/// The argument that starts worker mode (hidden from `--help`).
pub const WORKER_ARG: &str = "__leakhunt_worker";

/// The worker reads commands from this descriptor...
pub const COMMAND_FD: RawFd = 3;
/// ...and writes messages to this one.
pub const MESSAGE_FD: RawFd = 4;

/// Everything a worker needs to collect and run tests.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSetup {
    /// The Python to run the tests in (a virtualenv's); None: the build's.
    pub python: Option<PathBuf>,
    pub engine: EngineChoice,
    /// For the built-in engine: the rootdir and the test files (absolute),
    /// as bytes: a file name need not be UTF-8.
    #[serde(with = "path_bytes")]
    pub rootdir: PathBuf,
    #[serde(with = "path_list_bytes")]
    pub files: Vec<PathBuf>,
    /// For the pytest engine, which selects by itself: the paths and node
    /// ids, `-k`, and the arguments after `--`, as the user gave them.
    pub paths: Vec<String>,
    pub keyword: Option<String>,
    pub pytest_args: Vec<String>,
    /// Files and folders not to collect (`--ignore`), absolute.
    #[serde(with = "path_list_bytes")]
    pub ignore: Vec<PathBuf>,
    pub warmup: usize,
    pub policy: Policy,
    /// ResourceWarnings fail the test.
    pub strict_resources: bool,
    /// Leave coverage measurement on (`--keep-coverage`).
    #[serde(default)]
    pub keep_coverage: bool,
    /// Where the worker sends fds 1 and 2, so test output can be shown later
    /// (also by the supervisor, when the worker died).
    pub capture_path: PathBuf,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    Setup(Box<WorkerSetup>),
    /// Run the test at this index of the collection.
    Run(usize),
    /// Finish the last test's teardown and exit.
    Exit,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    /// The interpreter is up.
    Hello {
        python_version: String,
        python_prefix: String,
        engine: String,
    },
    Collected {
        tests: Vec<TestItem>,
        errors: Vec<CollectionError>,
        /// Set when the engine applied node ids and `-k` itself (pytest).
        selected_by_engine: Option<EngineSelection>,
        /// Allow-list entries the tests declare (pytest markers).
        allow: Vec<AllowEntry>,
        /// Which tests share module or class scopes (`Collection::pins`).
        #[serde(default)]
        pins: Vec<Option<String>>,
        /// Warnings of pytest's configuration and collection.
        #[serde(default)]
        warnings: Vec<PytestWarning>,
    },
    /// The user asked for something that cannot be (pytest's usage errors,
    /// an engine that cannot be loaded).
    UsageError(String),
    /// A test begins; its output starts at this offset of the capture file.
    /// Its runs are told on the worker's run board (`model::run_board`).
    Started { index: usize, capture_offset: u64 },
    /// The test is judged LEAKED and its diagnosis begins: the report as
    /// judged, which stands if the worker is stopped before the diagnosis ends.
    Diagnosing(Box<TestReport>),
    /// The test's runs are done; its scopes may still be torn down, which can
    /// turn a pass into an error (sent as `Teardown`).
    Report(Box<TestReport>),
    /// A module or class teardown after test `index` failed.
    Teardown {
        index: usize,
        kind: String,
        message: String,
        traceback: String,
    },
    /// Ready for the next command.
    Ready,
    /// Ctrl-C reached the test: the worker stops.
    Interrupted,
    /// leakhunt itself failed inside the worker.
    InternalError(String),
}

/// A path as the bytes of its name (JSON strings hold only UTF-8).
mod path_bytes {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(path: &Path, out: S) -> Result<S::Ok, S::Error> {
        out.serialize_bytes(path.as_os_str().as_bytes())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<PathBuf, D::Error> {
        Vec::<u8>::deserialize(input)
            .map(|bytes| PathBuf::from(std::ffi::OsString::from_vec(bytes)))
    }
}

/// [`path_bytes`] for a list of paths.
mod path_list_bytes {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::path::PathBuf;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(paths: &[PathBuf], out: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<&[u8]> = paths.iter().map(|p| p.as_os_str().as_bytes()).collect();
        bytes.serialize(out)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(input: D) -> Result<Vec<PathBuf>, D::Error> {
        let lists = Vec::<Vec<u8>>::deserialize(input)?;
        Ok(lists
            .into_iter()
            .map(|bytes| PathBuf::from(std::ffi::OsString::from_vec(bytes)))
            .collect())
    }
}

/// Writes one value as a JSON line and flushes it.
pub fn send<T: Serialize>(out: &mut impl Write, value: &T) -> Result<()> {
    send_together(out, &[value])
}

/// Writes values as JSON lines in one write. Each write to a pipe wakes its
/// reader, which costs the writer 5–10 µs on this machine's 2 cores: values
/// that always follow each other go together.
pub fn send_together<T: Serialize>(out: &mut impl Write, values: &[&T]) -> Result<()> {
    let mut lines = Vec::new();
    for value in values {
        serde_json::to_writer(&mut lines, value).context("encoding a message")?;
        lines.push(b'\n');
    }
    out.write_all(&lines)
        .and_then(|()| out.flush())
        .context("writing to the other process")
}

/// Reads one JSON line; None at the end of the stream.
pub fn receive<T: for<'de> Deserialize<'de>>(input: &mut impl BufRead) -> Result<Option<T>> {
    let mut line = String::new();
    if input
        .read_line(&mut line)
        .context("reading from the other process")?
        == 0
    {
        return Ok(None);
    }
    let value = serde_json::from_str(&line)
        .with_context(|| format!("unreadable message: {}", line.trim_end()))?;
    Ok(Some(value))
}
