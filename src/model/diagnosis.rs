//! What a leak is made of, as the worker's diagnosis found it: what grows,
//! where it was allocated, what keeps it alive, and which descriptors and
//! threads were left behind. Plain data; the worker gathers it
//! (`worker::diagnosis`), the reports show it.

pub mod cause;

use serde::{Deserialize, Serialize};

/// `path:line` and the source line there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub path: String,
    pub line: u32,
    pub source: String,
}

impl Location {
    pub fn at(&self) -> String {
        format!("{}:{}", self.path, self.line)
    }
}

/// One type whose live objects grew during the pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeGrowth {
    /// Module-qualified, builtins bare: `test_orders.Order`, `str`.
    pub name: String,
    pub count_per_run: f64,
    pub bytes_per_run: f64,
    /// Does the gc track objects of this type (`len(gc.get_objects())` sees them)?
    pub tracked: bool,
    /// The chain of referrers from a root to one of them, when searched.
    pub held_by: Option<String>,
}

/// An existing container that grew in place (no new object for the growth).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InPlace {
    pub name: String,
    pub bytes_per_run: f64,
    /// Growth of its `len()`.
    pub items_per_run: f64,
    pub held_by: Option<String>,
}

/// Where memory that stayed alive was allocated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    /// The user's own frame (the innermost frame outside the standard
    /// library, leakhunt and site-packages), else the innermost frame.
    pub location: Location,
    /// The user's frames that called it, innermost first.
    pub via: Vec<Location>,
    pub bytes_per_run: f64,
    pub blocks_per_run: f64,
    /// Grew in at least two runs and never shrank.
    pub steady: bool,
    /// For a native leak: the C functions its line calls through ctypes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub c_functions: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeakedFd {
    pub fd: i64,
    /// What /proc/self/fd/N points to: a path, `socket:[…]`, `pipe:[…]`.
    pub target: String,
    /// The Python object that owns it, if any, and where it was created.
    pub owner: Option<String>,
    pub created: Option<Location>,
    /// What keeps its owner alive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeakedThread {
    pub name: String,
    pub target: String,
    pub started: Option<Location>,
}

/// The whole diagnosis of one leaking test.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Diagnosis {
    pub runs: usize,
    pub types: Vec<TypeGrowth>,
    pub in_place: Vec<InPlace>,
    pub sites: Vec<Site>,
    pub fds: Vec<LeakedFd>,
    pub threads: Vec<LeakedThread>,
    /// No new objects or blocks, yet malloc's bytes or resident memory grew:
    /// the leak is in native code (see [`native_commands`]).
    pub native: bool,
    /// Callbacks `atexit.register` gained per run of the pass: atexit keeps
    /// them, and their arguments, in C, where no container refers to them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub atexit_per_run: f64,
    /// Set when the pass could not finish (the test failed during it).
    pub note: Option<String>,
    pub seconds: f64,
    /// The test of this worker whose full diagnosis found the same cause:
    /// this leak got only the check that it matches (its first runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_cause_as: Option<String>,
}

fn is_zero(value: &f64) -> bool {
    *value == 0.0
}

impl Diagnosis {
    /// The line a CI annotation should point at: the top allocation site, else
    /// where a leaked descriptor or thread was created.
    pub fn culprit(&self) -> Option<&Location> {
        self.sites
            .first()
            .map(|s| &s.location)
            .or_else(|| self.fds.iter().find_map(|f| f.created.as_ref()))
            .or_else(|| self.threads.iter().find_map(|t| t.started.as_ref()))
    }

    /// Nothing found that holds what its lines allocated: no type, grown
    /// container, descriptor or thread, and not native memory.
    pub fn holds_nothing(&self) -> bool {
        self.types.is_empty()
            && self.in_place.is_empty()
            && self.fds.is_empty()
            && self.threads.is_empty()
            && !self.native
    }

    /// Nothing to show under the series: nothing held, and no site.
    pub fn shows_nothing(&self) -> bool {
        self.holds_nothing() && self.sites.is_empty()
    }
}

/// The commands that show a native leak, for the test's node id.
pub fn native_commands(nodeid: &str) -> Vec<String> {
    vec![
        format!(
            "PYTHONMALLOC=malloc python -m memray run --native -o leak.bin -m pytest {nodeid} && python -m memray flamegraph --leaks leak.bin"
        ),
        format!("PYTHONMALLOC=malloc valgrind --leak-check=full --show-leak-kinds=definite python -m pytest {nodeid}"),
    ]
}
