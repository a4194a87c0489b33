//! Which run of which test a worker is in, and when each run began, on a
//! page of memory the worker and the supervisor both map: the worker writes
//! it at the start of every run, the supervisor reads it only when it needs
//! to (a run's time limit, a dead worker's last run, the progress line).
//!
//! A message per run cost the worker a write to its pipe and the supervisor
//! two wake-ups (its reader thread, then its loop), 20–30 µs of CPU a run
//! between them on a machine of two cores; a store here costs nanoseconds,
//! and the clock is CLOCK_MONOTONIC, the same in both processes.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use anyhow::{Context, Result};

/// The test being run, as its index plus one (0: none yet).
const TEST: usize = 0;
/// Its current run (1-based, warm-ups included; 0 before the first).
const RUN: usize = 1;
/// When the current run began, in nanoseconds of CLOCK_MONOTONIC.
const CURRENT_START: usize = 2;
/// When each of its first runs began (run 1 first).
const STARTS: usize = 3;
const SLOTS: usize = 4096;
/// The runs whose start is kept. A test that needs more keeps counting and
/// timing its current run; its run times are those of its first runs.
pub const RUNS_KEPT: usize = SLOTS - STARTS;

/// Where the board of the worker whose output goes to `capture_path` is.
pub fn board_path(capture_path: &Path) -> PathBuf {
    capture_path.with_extension("runs")
}

/// What the board said when it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runs {
    /// The test's collection index.
    pub index: usize,
    /// Its current run (0: none started).
    pub run: usize,
    /// When the current run began (CLOCK_MONOTONIC nanoseconds).
    pub current_start: u64,
    /// When each of its first runs began, up to the current one.
    pub starts: Vec<u64>,
}

impl Runs {
    /// How long each run that ended took (of the runs whose start is kept).
    pub fn run_times(&self) -> Vec<Duration> {
        self.starts
            .windows(2)
            .map(|pair| Duration::from_nanos(pair[1].saturating_sub(pair[0])))
            .collect()
    }
}

pub struct RunBoard {
    slots: NonNull<AtomicU64>,
}

// SAFETY: the mapping is only ever accessed through atomics.
unsafe impl Send for RunBoard {}
// SAFETY: as above.
unsafe impl Sync for RunBoard {}

impl RunBoard {
    /// Makes a new, empty board at `path` (the supervisor, before it starts
    /// the worker).
    pub fn create(path: &Path) -> Result<RunBoard> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        file.set_len((SLOTS * 8) as u64)
            .with_context(|| format!("cannot size {}", path.display()))?;
        RunBoard::map(&file, path)
    }

    /// Maps the board the supervisor made at `path` (the worker). Its
    /// descriptor is closed at once: a test sees no extra open file.
    pub fn open(path: &Path) -> Result<RunBoard> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        RunBoard::map(&file, path)
    }

    fn map(file: &File, path: &Path) -> Result<RunBoard> {
        // SAFETY: a new shared mapping of a file of SLOTS * 8 bytes, which
        // nothing truncates while it is mapped.
        let address = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                SLOTS * 8,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if address == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("cannot map {}", path.display()));
        }
        let slots = NonNull::new(address.cast::<AtomicU64>())
            .with_context(|| format!("cannot map {}", path.display()))?;
        Ok(RunBoard { slots })
    }

    fn slot(&self, at: usize) -> &AtomicU64 {
        debug_assert!(at < SLOTS);
        // SAFETY: `at` is within the mapping, which lives as long as self,
        // and page-aligned memory holds aligned u64s.
        unsafe { &*self.slots.as_ptr().add(at) }
    }

    /// Test `index` begins (no run of it yet).
    pub fn begin_test(&self, index: usize) {
        self.slot(RUN).store(0, SeqCst);
        self.slot(TEST).store(index as u64 + 1, SeqCst);
    }

    /// Run `run` of the current test begins now.
    pub fn begin_run(&self, run: usize) {
        let now = monotonic_ns();
        if (1..=RUNS_KEPT).contains(&run) {
            self.slot(STARTS + run - 1).store(now, SeqCst);
        }
        self.slot(CURRENT_START).store(now, SeqCst);
        self.slot(RUN).store(run as u64, SeqCst);
    }

    /// What the board says now; None before the first test, or when the
    /// worker moved on to another test while it was read.
    pub fn read(&self) -> Option<Runs> {
        let test = self.slot(TEST).load(SeqCst);
        if test == 0 {
            return None;
        }
        // The run before its start: the start read is then this run's or a
        // later one's, never an earlier test's.
        let run = usize::try_from(self.slot(RUN).load(SeqCst)).ok()?;
        let current_start = self.slot(CURRENT_START).load(SeqCst);
        let starts = (0..run.min(RUNS_KEPT))
            .map(|i| self.slot(STARTS + i).load(SeqCst))
            .collect();
        if self.slot(TEST).load(SeqCst) != test {
            return None;
        }
        Some(Runs {
            index: usize::try_from(test - 1).ok()?,
            run,
            current_start,
            starts,
        })
    }
}

impl Drop for RunBoard {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, unmapped once.
        unsafe {
            libc::munmap(self.slots.as_ptr().cast(), SLOTS * 8);
        }
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock `Instant` reads on Linux, and
/// the same in every process.
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// One of the kernel's clocks in nanoseconds (0 if it cannot be read).
pub fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe {
        libc::clock_gettime(clock, &mut now);
    }
    u64::try_from(now.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(now.tv_nsec).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_worker_writes_the_supervisor_reads_through_the_file() {
        let folder = tempfile::tempdir().unwrap();
        let path = board_path(&folder.path().join("worker-0.out"));
        assert_eq!(path, folder.path().join("worker-0.runs"));
        let supervisor = RunBoard::create(&path).unwrap();
        let worker = RunBoard::open(&path).unwrap();
        assert_eq!(supervisor.read(), None, "no test yet");
        worker.begin_test(4);
        let before = supervisor.read().unwrap();
        assert_eq!((before.index, before.run, before.starts.len()), (4, 0, 0));
        worker.begin_run(1);
        worker.begin_run(2);
        let seen = supervisor.read().unwrap();
        assert_eq!((seen.index, seen.run), (4, 2));
        assert_eq!(seen.starts.len(), 2);
        assert_eq!(seen.current_start, seen.starts[1]);
        assert!(seen.starts[0] <= seen.starts[1]);
        assert_eq!(seen.run_times().len(), 1);
        // The next test starts from run 0, whatever the last one reached.
        worker.begin_test(5);
        let next = supervisor.read().unwrap();
        assert_eq!((next.index, next.run, next.starts.len()), (5, 0, 0));
    }

    #[test]
    fn runs_past_the_kept_ones_are_counted_and_timed_but_not_kept() {
        let folder = tempfile::tempdir().unwrap();
        let board = RunBoard::create(&folder.path().join("b.runs")).unwrap();
        board.begin_test(0);
        for run in 1..=RUNS_KEPT + 2 {
            board.begin_run(run);
        }
        let seen = board.read().unwrap();
        assert_eq!(seen.run, RUNS_KEPT + 2);
        assert_eq!(seen.starts.len(), RUNS_KEPT);
        assert!(seen.current_start >= seen.starts[RUNS_KEPT - 1]);
    }

    #[test]
    fn run_times_are_the_gaps_between_starts() {
        let runs = Runs {
            index: 0,
            run: 3,
            current_start: 600,
            starts: vec![100, 250, 600],
        };
        assert_eq!(
            runs.run_times(),
            [Duration::from_nanos(150), Duration::from_nanos(350)]
        );
    }
}
