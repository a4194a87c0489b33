//! The quantities sampled between runs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One quantity sampled between runs of a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    /// gc-tracked objects (`len(gc.get_objects())`).
    Objects,
    /// `sys.getallocatedblocks()`.
    Blocks,
    /// bytes in use on the heap: pymalloc's blocks and malloc's chunks.
    Bytes,
    /// open file descriptors.
    Fds,
    /// OS threads of the process.
    Threads,
    /// resident set size in bytes.
    Rss,
}

impl Signal {
    pub const ALL: [Signal; 6] = [
        Signal::Objects,
        Signal::Blocks,
        Signal::Bytes,
        Signal::Fds,
        Signal::Threads,
        Signal::Rss,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Signal::Objects => "objects",
            Signal::Blocks => "blocks",
            Signal::Bytes => "bytes",
            Signal::Fds => "fds",
            Signal::Threads => "threads",
            Signal::Rss => "rss",
        }
    }

    /// The unit a per-run rate of this signal is written in.
    pub fn unit(self) -> &'static str {
        match self {
            Signal::Objects => "objects",
            Signal::Blocks => "blocks",
            Signal::Bytes | Signal::Rss => "B",
            Signal::Fds => "fds",
            Signal::Threads => "threads",
        }
    }

    /// Resource counters leak on one rise that lasts; the others must keep growing.
    pub fn is_resource(self) -> bool {
        matches!(self, Signal::Fds | Signal::Threads)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One sample: every signal's value at one point between runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Sample(pub [i64; 6]);

impl Sample {
    pub fn get(&self, signal: Signal) -> i64 {
        self.0[signal.index()]
    }
}
