//! Ctrl-C and SIGTERM as the session sees them. Signals that arrive together
//! are one interruption: GNU `timeout` sends SIGTERM to leakhunt and then to
//! its whole process group (leakhunt again), and CI runners cancel a job with
//! SIGINT followed by SIGTERM. Only a signal that comes later than
//! `TOGETHER` after the first one is a second interruption, which stops the
//! running tests at once (the reports are still written).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

/// Signals this close to the first one are the same interruption.
pub const TOGETHER: Duration = Duration::from_secs(1);

/// Where the session stands with respect to signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interruption {
    /// No signal so far.
    None,
    /// Stop scheduling, let the running tests end their run.
    Stop,
    /// A second interruption: stop the running tests now.
    Force,
}

/// Caught SIGINT and SIGTERM, read by the session's loop.
#[derive(Clone)]
pub struct Interruptions {
    /// CLOCK_MONOTONIC nanoseconds of the first signal; 0 before it.
    first: Arc<AtomicU64>,
    forced: Arc<AtomicBool>,
}

impl Interruptions {
    /// Catches SIGINT and SIGTERM from now on.
    pub fn install() -> Result<Interruptions> {
        let interruptions = Interruptions {
            first: Arc::new(AtomicU64::new(0)),
            forced: Arc::new(AtomicBool::new(false)),
        };
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let caught = interruptions.clone();
            // SAFETY: the handler reads the monotonic clock and touches
            // atomics only, which are async-signal-safe.
            unsafe { signal_hook::low_level::register(signal, move || caught.on_signal()) }
                .context("cannot install the Ctrl-C handler")?;
        }
        Ok(interruptions)
    }

    fn on_signal(&self) {
        let now = monotonic_nanos().max(1);
        if let Err(first) = self
            .first
            .compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst)
        {
            if is_second(first, now) {
                self.forced.store(true, Ordering::SeqCst);
            }
        }
    }

    pub fn state(&self) -> Interruption {
        if self.forced.load(Ordering::SeqCst) {
            Interruption::Force
        } else if self.first.load(Ordering::SeqCst) != 0 {
            Interruption::Stop
        } else {
            Interruption::None
        }
    }
}

/// Whether a signal at `now` is another interruption than the first, at `first`.
fn is_second(first: u64, now: u64) -> bool {
    let apart = now.saturating_sub(first);
    u128::from(apart) > TOGETHER.as_nanos()
}

/// clock_gettime is async-signal-safe (POSIX), unlike `Instant::now` as far
/// as std promises.
fn monotonic_nanos() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    let seconds = u64::try_from(now.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(now.tv_nsec).unwrap_or(0);
    seconds.saturating_mul(1_000_000_000).saturating_add(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_within_a_second_are_one_interruption() {
        let first = 5_000_000_000;
        assert!(!is_second(first, first));
        assert!(!is_second(first, first + 40_000));
        assert!(!is_second(first, first + 999_000_000));
        assert!(is_second(first, first + 1_000_000_001));
        assert!(is_second(first, first + 7_500_000_000));
    }

    #[test]
    fn the_clock_moves_forward() {
        let a = monotonic_nanos();
        let b = monotonic_nanos();
        assert!(a > 0 && b >= a);
    }
}
