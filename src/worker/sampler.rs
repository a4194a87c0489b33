//! Takes one sample between runs: Python's own counters through the embedded
//! `sampler.py`, and the process's fds, threads and memory read from /proc in
//! Rust, where reading them allocates nothing in the interpreter.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use anyhow::Result;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyModule;

use crate::model::protocol::NO_TCACHE;
use crate::model::signal::{Sample, Signal};
use crate::worker::allocator::{heap_bytes, BLOCKS_COUNTED};
use crate::worker::harness::{self, Counters};
use crate::worker::interpreter::harness_error;
use crate::worker::proc_self::ProcSelf;

const SAMPLER: &str = include_str!("python/sampler.py");

/// How long a finished thread may take to leave /proc after `join()` returned.
const THREAD_SETTLE: Duration = Duration::from_millis(20);

/// Frozen objects are never collected, so cyclic garbage among them waits
/// for the next unfreeze, and the full collection after it walks the whole
/// heap (6 ms under the built-in engine, 50 ms under pytest with a few
/// hundred tests collected). The heap is handed back to the gc once this many
/// times the last full collection's cost has passed: full collections then
/// take at most 1/50 of the time, however big the heap or fast the tests.
const TIME_BETWEEN_FULL_COLLECTIONS: u32 = 50;

pub struct Sampler {
    module: Py<PyModule>,
    full_collections: Cell<FullCollections>,
    proc_self: RefCell<ProcSelf>,
}

#[derive(Clone, Copy)]
struct FullCollections {
    /// The heap was handed back to the gc: the next freeze walks it all.
    unfrozen: bool,
    last_cost: Duration,
    last: Instant,
}

impl Sampler {
    /// Loads the sampler.
    pub fn start(py: Python<'_>) -> Result<Sampler> {
        let module = harness::load(py, SAMPLER, "_leakhunt_sampler")?.unbind();
        let sampler = Sampler {
            module,
            full_collections: Cell::new(FullCollections {
                unfrozen: true,
                last_cost: Duration::ZERO,
                last: Instant::now(),
            }),
            proc_self: RefCell::new(ProcSelf::new()),
        };
        sampler.call(py, "start")?;
        Ok(sampler)
    }

    fn call<'py>(&self, py: Python<'py>, function: &str) -> Result<Bound<'py, PyAny>> {
        harness::call(self.module.bind(py), "sampler", function, ())
    }

    /// Before the last warm-up: everything alive so far stops being walked
    /// by the gc, so each later collection only looks at what the last
    /// warm-up and the judged runs create.
    ///
    /// The first sample after a freeze keeps 64 bytes for good: the
    /// sampler's Python half is called and its counts dropped here (the
    /// /proc readings and the heap's bytes allocate nothing in Python, and
    /// cost 30 µs a test), and the first cleared sample is the judged
    /// runs' baseline, which holds them. The caches are not cleared before
    /// freezing: the baseline clears them, and freeing frozen objects
    /// changes no count.
    pub fn freeze(&self, py: Python<'_>) -> Result<()> {
        let started = Instant::now();
        self.call(py, "freeze")?;
        let mut full = self.full_collections.get();
        if full.unfrozen {
            full = FullCollections {
                unfrozen: false,
                last_cost: started.elapsed(),
                last: Instant::now(),
            };
            self.full_collections.set(full);
        }
        self.counters(py, false).map(drop)
    }

    /// `freeze` that leaves the whole heap to the gc: each sample then walks
    /// it all (milliseconds under pytest), for the few tests judged again
    /// once their bounded caches are full (`cache_fill`).
    pub fn thaw(&self, py: Python<'_>) -> Result<()> {
        self.call(py, "thaw")?;
        let mut full = self.full_collections.get();
        full.unfrozen = true;
        self.full_collections.set(full);
        self.counters(py, false).map(drop)
    }

    /// After a test: now and then, hand the whole heap back to the gc.
    pub fn test_done(&self, py: Python<'_>) -> Result<()> {
        let mut full = self.full_collections.get();
        if full.last.elapsed() < full.last_cost * TIME_BETWEEN_FULL_COLLECTIONS {
            return Ok(());
        }
        full.unfrozen = true;
        self.full_collections.set(full);
        self.call(py, "unfreeze").map(drop)
    }

    /// Notes the working directory and sys.path each test starts from.
    pub fn remember(&self, py: Python<'_>) -> Result<()> {
        self.call(py, "remember").map(drop)
    }

    /// Pushes what Python buffered for stdout and stderr to the file descriptors.
    pub fn flush_output(&self, py: Python<'_>) -> Result<()> {
        self.call(py, "flush_output").map(drop)
    }

    /// Makes `signal` dump every thread's Python stack into `path`.
    pub fn dump_stack_on(&self, py: Python<'_>, signal: i32, path: &std::path::Path) -> Result<()> {
        let path = path.to_string_lossy().to_string();
        harness::call(
            self.module.bind(py),
            "sampler",
            "dump_stack_on",
            (signal, path),
        )
        .map(drop)
    }

    /// Unfreezes the heap when no test is left to measure.
    pub fn stop(&self, py: Python<'_>) -> Result<()> {
        self.call(py, "stop").map(drop)
    }

    /// Re-enables what a test may have switched off (the gc), and stops
    /// tracing that a test or the diagnosis started.
    pub fn restore(&self, py: Python<'_>) -> Result<()> {
        self.call(py, "restore").map(drop)
    }

    /// One sample after clearing the interpreter's caches. `previous` lets a
    /// thread that is ending leave first, so that what it frees on its way
    /// out is not counted either.
    pub fn sample(&self, py: Python<'_>, previous: Option<&Sample>) -> Result<Sample> {
        self.take(py, previous.map(|p| p.get(Signal::Threads)), true)
    }

    /// One sample with the caches as the test left them: clearing costs a
    /// few hundred microseconds, and the next run fills them again.
    pub fn sample_uncleared(&self, py: Python<'_>, previous: Option<&Sample>) -> Result<Sample> {
        self.take(py, previous.map(|p| p.get(Signal::Threads)), false)
    }

    /// The judged runs' baseline, cleared, once the threads the warm-ups
    /// joined have left: down to `threads_before` (the count before the
    /// test's first run), not the count found now. Taken as found, it
    /// counted the threads a pool had joined but the kernel had not yet
    /// reaped, and what they freed on their way out came off the heap in the
    /// judged runs: idna's thread-pool test read threads -1 to -3 and bytes
    /// -1,360 a thread, and ran 12 times (0.38 s each) where 5 would do.
    pub fn baseline(&self, py: Python<'_>, threads_before: i64) -> Result<Sample> {
        self.take(py, Some(threads_before), true)
    }

    /// The process's threads now.
    pub fn threads(&self) -> i64 {
        self.proc_self.borrow_mut().threads()
    }

    /// The gc-tracked objects and allocated blocks, after a full collection.
    fn counters(&self, py: Python<'_>, clear: bool) -> Result<Counters> {
        // Not through harness::call: its result is two ints, and the hot
        // path skips the check of what crosses (the name is interned all
        // the same, for the reason harness::call gives).
        let counters: Counters = self
            .module
            .bind(py)
            .call_method1(intern!(py, "sample"), (clear, !BLOCKS_COUNTED))
            .map_err(|e| harness_error(py, &e, "sampler (sample)"))?
            .extract()?;
        // After the collection, and once the result is freed.
        #[cfg(not(feature = "wheel"))]
        let counters = Counters {
            blocks: crate::worker::allocator::counted_blocks(),
            ..counters
        };
        Ok(counters)
    }

    /// `settle_to`: the thread count to wait down to, if any.
    fn take(&self, py: Python<'_>, settle_to: Option<i64>, clear: bool) -> Result<Sample> {
        let mut guard = self.proc_self.borrow_mut();
        let proc_self: &mut ProcSelf = &mut guard;
        let threads = proc_self.threads();
        // The same path every time (the first detach allocates for good).
        let limit = settle_to.unwrap_or(threads);
        let threads = py.detach(|| settle_threads(proc_self, threads, limit));
        let Counters { objects, blocks } = self.counters(py, clear)?;
        // Read once the sampler's own objects are gone.
        let bytes = heap_bytes();
        Ok(Sample([
            objects,
            blocks,
            bytes,
            proc_self.fds(),
            threads,
            proc_self.resident_bytes(),
        ]))
    }
}

/// Returns malloc's free pages to the system. Without it, a native leak is
/// served from pages an earlier test freed, already resident: RSS stays flat
/// while C code leaks (seen after the seed article's 300,000-object test).
/// Called before the last warm-up run, which faults back in the pages the
/// test and the sampler need, so that judged runs of a clean test stay flat.
pub fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim only returns free memory; it takes malloc's locks.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Makes glibc's malloc keep resident memory a faithful signal:
///
/// * Every thread allocates from the main arena. By default glibc gives
///   threads that contend for malloc arenas of their own, made lazily up to 8
///   per core, each holding a few hundred KiB resident for good: a test that
///   runs a thread pool then shows RSS rising in steps for dozens of runs with
///   nothing leaked (idna's concurrency test did).
/// * Blocks of 128 KiB and more always get their own mapping. By default the
///   threshold rises after such a block is freed, and later big blocks come
///   from heap pages already resident: a native leak then shows no growth
///   after a test that freed a lot (seen with the malloc fixture).
///
/// Called before the interpreter starts, so before any thread exists.
pub fn steady_malloc() {
    forget_worker_tunables();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        /// glibc's M_ARENA_MAX and M_MMAP_THRESHOLD.
        const M_ARENA_MAX: i32 = -8;
        const M_MMAP_THRESHOLD: i32 = -3;
        // SAFETY: mallopt only changes allocator settings; no thread runs yet.
        unsafe {
            mallopt(M_ARENA_MAX, 1);
            mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        }
    }
}

/// Gives the tests the `GLIBC_TUNABLES` the user had (the worker's own
/// malloc already read it).
fn forget_worker_tunables() {
    let Ok(value) = std::env::var("GLIBC_TUNABLES") else {
        return;
    };
    if value == NO_TCACHE {
        std::env::remove_var("GLIBC_TUNABLES");
    } else if let Some(user) = value.strip_suffix(&format!(":{NO_TCACHE}")) {
        std::env::set_var("GLIBC_TUNABLES", user);
    }
}

/// Waits (briefly, without the GIL so Python threads can finish) while there are
/// more threads than before.
fn settle_threads(proc_self: &mut ProcSelf, mut threads: i64, limit: i64) -> i64 {
    let deadline = std::time::Instant::now() + THREAD_SETTLE;
    while threads > limit && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
        threads = proc_self.threads();
    }
    threads
}
