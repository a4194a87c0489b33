//! A test whose worker died or was stopped under it still gets a report: the
//! crash or the timeout becomes its failure, so that one hostile test costs
//! only itself. Plain data in, a report out: no processes here.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use crate::model::diagnosis::Diagnosis;
use crate::model::outcome::{Failure, TestItem, TestReport, Verdict};
use crate::model::repeatability::NotRepeatable;

/// Why the worker went away while the test ran.
#[derive(Debug, Clone)]
pub enum Cause {
    /// It ended by itself (a crash, `os._exit`): how, if it could be reaped.
    Exited(Option<ExitStatus>),
    /// The supervisor stopped it: its run went past `limit`. `stack` is what
    /// the worker wrote when asked for its Python stack (may be empty).
    TimedOut { limit: Duration, stack: String },
}

impl Cause {
    /// How a worker that went away ended: stopped for passing `timed_out`,
    /// with the stack it wrote, or by itself.
    pub fn of(timed_out: Option<Duration>, status: Option<ExitStatus>, stack: &str) -> Cause {
        match timed_out {
            Some(limit) => Cause::TimedOut {
                limit,
                stack: stack.to_string(),
            },
            None => Cause::Exited(status),
        }
    }

    /// The failure it gives a test, `when` saying when it came ("during run
    /// 3 of t.py::test_x"), in `phase`.
    fn failure(&self, when: &str, phase: &str) -> Failure {
        let (kind, message, traceback) = match self {
            Cause::TimedOut { limit, stack } => (
                "Timeout",
                format!("timed out after {}s {when}", limit.as_secs_f64()),
                if stack.trim().is_empty() {
                    String::new()
                } else {
                    format!("Python stack when it was stopped:\n{stack}")
                },
            ),
            Cause::Exited(status) => (
                "WorkerCrash",
                format!("worker {} {when}", describe_exit(*status)),
                String::new(),
            ),
        };
        Failure {
            kind: kind.to_string(),
            message,
            traceback,
            run: 0,
            phase: phase.to_string(),
        }
    }
}

/// What the supervisor knew of the test when its worker went away.
#[derive(Debug, Clone)]
pub struct Crash {
    pub item: TestItem,
    /// The run it was in (1-based, warm-ups included; 0 before the first).
    pub run: usize,
    /// How long each run that ended took.
    pub run_times: Vec<Duration>,
    /// Since the test started.
    pub duration: Duration,
    /// Set when the test was already judged LEAKED and its diagnosis ran.
    pub judged: Option<TestReport>,
    pub cause: Cause,
    /// What the test wrote before its worker went away.
    pub captured: String,
}

impl Crash {
    /// The test's report. A leak stays a leak when its worker went away
    /// during the diagnosis, with a note: the judged runs stand.
    pub fn into_report(self) -> TestReport {
        if let Some(mut report) = self.judged {
            let why = match &self.cause {
                Cause::TimedOut { limit, .. } => {
                    format!("it was stopped after {} s", limit.as_secs_f64())
                }
                Cause::Exited(status) => format!("its worker {}", describe_exit(*status)),
            };
            report.diagnosis = Some(Diagnosis {
                note: Some(format!(
                    "the diagnosis did not finish ({why}, during run {}); \
                     the leak stands on its judged runs",
                    self.run
                )),
                ..Default::default()
            });
            report.duration = self.duration;
            report.captured = self.captured;
            return report;
        }
        let when = format!("during run {} of {}", self.run, self.item.nodeid);
        let not_repeatable = match &self.cause {
            // A test that slows down every run is not a hang.
            Cause::TimedOut { limit, .. } => NotRepeatable::of_timeout(&self.run_times, *limit),
            Cause::Exited(_) => None,
        };
        TestReport {
            runs: self.run,
            duration: self.duration,
            failure: Some(self.cause.failure(&when, "call")),
            captured: self.captured,
            not_repeatable,
            ..TestReport::new(self.item, Verdict::Failed)
        }
    }
}

/// The failure of a test whose worker went away after its last run was
/// reported: tearing down the scopes it set up (its module's, class's or
/// session's fixtures) before the next test, or at the session's end, where
/// pytest's sessionfinish and the atexit callbacks run too.
pub fn after_last_run(cause: &Cause, nodeid: &str, runs: usize, session_end: bool) -> Failure {
    let when = if session_end {
        format!("at the session's end, after run {runs} of {nodeid}")
    } else {
        format!("in the teardown after run {runs} of {nodeid}")
    };
    cause.failure(&when, "teardown")
}

/// "died with SIGSEGV", "exited with code 3".
pub fn describe_exit(status: Option<ExitStatus>) -> String {
    match status {
        Some(status) => match (status.signal(), status.code()) {
            (Some(signal), _) => format!("died with {}", signal_name(signal)),
            (None, Some(code)) => format!("exited with code {code}"),
            (None, None) => "ended".to_string(),
        },
        None => "vanished".to_string(),
    }
}

pub fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGPIPE => "SIGPIPE",
        _ => return format!("signal {signal}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> TestItem {
        TestItem {
            nodeid: "t.py::test_x".to_string(),
            path: "t.py".to_string(),
            line: 1,
            name: "test_x".to_string(),
            classname: "t".to_string(),
            keywords: Vec::new(),
        }
    }

    fn crash(cause: Cause) -> Crash {
        Crash {
            item: item(),
            run: 2,
            run_times: vec![Duration::from_millis(100)],
            duration: Duration::from_secs(3),
            judged: None,
            cause,
            captured: "said something\n".to_string(),
        }
    }

    #[test]
    fn exits_are_described_by_signal_or_code() {
        assert_eq!(
            describe_exit(Some(ExitStatus::from_raw(libc::SIGSEGV))),
            "died with SIGSEGV"
        );
        assert_eq!(
            describe_exit(Some(ExitStatus::from_raw(3 << 8))),
            "exited with code 3"
        );
        assert_eq!(describe_exit(None), "vanished");
        assert_eq!(
            signal_name(libc::SIGUSR2),
            format!("signal {}", libc::SIGUSR2)
        );
    }

    #[test]
    fn a_crash_fails_the_test_with_its_output() {
        let report = crash(Cause::Exited(Some(ExitStatus::from_raw(libc::SIGABRT)))).into_report();
        assert_eq!(report.verdict, Verdict::Failed);
        assert_eq!(report.runs, 2);
        assert_eq!(report.duration, Duration::from_secs(3));
        assert_eq!(report.captured, "said something\n");
        let failure = report.failure.unwrap();
        assert_eq!(failure.kind, "WorkerCrash");
        assert_eq!(
            failure.message,
            "worker died with SIGABRT during run 2 of t.py::test_x"
        );
        assert_eq!(failure.traceback, "");
        assert_eq!(failure.phase, "call");
        assert_eq!(report.not_repeatable, None);
    }

    #[test]
    fn a_timeout_shows_the_stack_it_was_stopped_in() {
        let stack = "  File \"t.py\", line 3 in test_x\n".to_string();
        let report = crash(Cause::TimedOut {
            limit: Duration::from_millis(1500),
            stack: stack.clone(),
        })
        .into_report();
        let failure = report.failure.unwrap();
        assert_eq!(failure.kind, "Timeout");
        assert_eq!(
            failure.message,
            "timed out after 1.5s during run 2 of t.py::test_x"
        );
        assert_eq!(
            failure.traceback,
            format!("Python stack when it was stopped:\n{stack}")
        );
        let blank = crash(Cause::TimedOut {
            limit: Duration::from_secs(2),
            stack: " \n".to_string(),
        });
        assert_eq!(blank.into_report().failure.unwrap().traceback, "");
    }

    #[test]
    fn a_leak_whose_diagnosis_was_stopped_stays_a_leak() {
        let mut judged = crash(Cause::Exited(None)).into_report();
        judged.verdict = Verdict::Leaked;
        judged.failure = None;
        judged.runs = 8;
        let mut stopped = crash(Cause::TimedOut {
            limit: Duration::from_secs(60),
            stack: String::new(),
        });
        stopped.judged = Some(judged);
        stopped.run = 9;
        let report = stopped.into_report();
        assert_eq!(report.verdict, Verdict::Leaked);
        assert_eq!(report.runs, 8);
        assert_eq!(report.failure, None);
        assert_eq!(
            report.diagnosis.unwrap().note.unwrap(),
            "the diagnosis did not finish (it was stopped after 60 s, during run 9); \
             the leak stands on its judged runs"
        );
    }
}
