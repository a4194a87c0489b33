//! Ctrl-C and SIGTERM as the session sees them: events on the supervisor's
//! channel, sent by a thread that waits for the signals (signal-hook's
//! self-pipe), so that the supervisor blocks on one receive for everything.
//!
//! Signals that arrive together are one interruption: GNU `timeout` sends
//! SIGTERM to leakhunt and then to its whole process group (leakhunt again),
//! and CI runners cancel a job with SIGINT followed by SIGTERM. Only a signal
//! that comes later than `TOGETHER` after the first one is a second
//! interruption, which stops the running tests at once (the reports are
//! still written).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

/// Signals this close to the first one are the same interruption.
pub const TOGETHER: Duration = Duration::from_secs(1);

/// What a signal asks of the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interruption {
    /// Stop scheduling, let the running tests end their run.
    Stop,
    /// A second interruption: stop the running tests now.
    Force,
}

/// Tells the signals of one interruption from those of a second one.
#[derive(Debug, Default)]
pub struct Interruptions {
    first: Option<Instant>,
}

impl Interruptions {
    /// What a signal that arrived `at` means; None when it belongs to the
    /// first interruption.
    pub fn on_signal(&mut self, at: Instant) -> Option<Interruption> {
        match self.first {
            None => {
                self.first = Some(at);
                Some(Interruption::Stop)
            }
            Some(first) if at.saturating_duration_since(first) > TOGETHER => {
                Some(Interruption::Force)
            }
            Some(_) => None,
        }
    }
}

/// Catches SIGINT and SIGTERM while it lives; dropping it lets the thread
/// end. The signals stay caught (and ignored) afterwards, as they were
/// once the session had its report to write: signal-hook does not restore
/// the default action.
pub struct SignalWatch {
    handle: Handle,
}

impl SignalWatch {
    /// Catches SIGINT and SIGTERM from now on and hands each interruption to
    /// `deliver`, which returns false once nobody listens.
    pub fn start(deliver: impl Fn(Interruption) -> bool + Send + 'static) -> Result<SignalWatch> {
        let mut signals =
            Signals::new([SIGINT, SIGTERM]).context("cannot install the Ctrl-C handler")?;
        let handle = signals.handle();
        std::thread::Builder::new()
            .name("leakhunt-signals".to_string())
            .spawn(move || {
                let mut interruptions = Interruptions::default();
                for _ in signals.forever() {
                    // Stamped here, as it arrives: the supervisor may be busy
                    // (stopping a hung worker) when it reads the event.
                    if let Some(interruption) = interruptions.on_signal(Instant::now()) {
                        if !deliver(interruption) {
                            return;
                        }
                    }
                }
            })
            .context("cannot start the thread that waits for Ctrl-C")?;
        Ok(SignalWatch { handle })
    }
}

impl Drop for SignalWatch {
    fn drop(&mut self) {
        self.handle.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_within_a_second_are_one_interruption() {
        let first = Instant::now();
        let mut interruptions = Interruptions::default();
        assert_eq!(interruptions.on_signal(first), Some(Interruption::Stop));
        assert_eq!(interruptions.on_signal(first), None);
        let soon = first + Duration::from_micros(40);
        assert_eq!(interruptions.on_signal(soon), None);
        let just_within = first + Duration::from_millis(999);
        assert_eq!(interruptions.on_signal(just_within), None);
        assert_eq!(interruptions.on_signal(first + TOGETHER), None);
        let later = first + Duration::from_nanos(1_000_000_001);
        assert_eq!(interruptions.on_signal(later), Some(Interruption::Force));
        let much_later = first + Duration::from_millis(7_500);
        assert_eq!(
            interruptions.on_signal(much_later),
            Some(Interruption::Force)
        );
    }

    #[test]
    fn signals_arrive_as_events() {
        let (sender, events) = std::sync::mpsc::channel();
        let watch = SignalWatch::start(move |i| sender.send(i).is_ok()).unwrap();
        // Caught: the test process goes on. Back to back, as a CI runner
        // sends them: one interruption.
        signal_hook::low_level::raise(SIGINT).unwrap();
        signal_hook::low_level::raise(SIGTERM).unwrap();
        let wait = Duration::from_secs(10);
        assert_eq!(events.recv_timeout(wait), Ok(Interruption::Stop));
        assert!(events.recv_timeout(Duration::from_millis(300)).is_err());
        drop(watch);
    }
}
