//! Worker mode: the same binary, started by the supervisor, embeds CPython,
//! collects the tests and runs the ones it is told to, streaming what happens
//! over a dedicated pipe. A test that crashes takes down this process only.

pub mod allocator;
pub mod cache_fill;
pub mod coverage;
pub mod diagnosis;
pub mod engine;
pub mod harness;
pub mod interpreter;
pub mod locations;
pub mod proc_self;
pub mod python_text;
pub mod resource_warnings;
pub mod runner;
pub mod sampler;
pub mod startup;
pub mod test_run;

use std::fs::File;
use std::io::BufReader;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use pyo3::types::PyAnyMethods;
use pyo3::Python;

use crate::model::capture::{read_since, stack_path};
use crate::model::diagnosis::cause::KnownCauses;
use crate::model::exit::UsageError;
use crate::model::outcome::TestReport;
use crate::model::protocol::{
    receive, send, send_together, Command, Message, COMMAND_FD, MESSAGE_FD,
};
use crate::model::repeatability::NotRepeatable;
use crate::model::run_board::{board_path, RunBoard};
use crate::worker::interpreter::Interrupted;
use crate::worker::runner::run_test;
use crate::worker::sampler::Sampler;
use crate::worker::test_run::{DiagnosisOptions, Progress, RunConfig, TestRun};

/// Runs the worker until the supervisor says exit; returns the exit status.
pub fn main() -> i32 {
    // SAFETY: the supervisor opened these two descriptors for this process.
    let (commands, messages) =
        unsafe { (File::from_raw_fd(COMMAND_FD), File::from_raw_fd(MESSAGE_FD)) };
    let mut messages = messages;
    match serve(BufReader::new(commands), &mut messages) {
        Ok(()) => 0,
        Err(error) if error.is::<Interrupted>() => {
            let _ = send(&mut messages, &Message::Interrupted);
            2
        }
        Err(error) if error.is::<UsageError>() => {
            let _ = send(&mut messages, &Message::UsageError(error.to_string()));
            4
        }
        Err(error) => {
            let _ = send(&mut messages, &Message::InternalError(format!("{error:#}")));
            3
        }
    }
}

fn serve(mut commands: BufReader<File>, messages: &mut File) -> Result<()> {
    // Programs the tests start must not inherit leakhunt's pipes.
    set_cloexec(COMMAND_FD)?;
    set_cloexec(MESSAGE_FD)?;
    let Some(Command::Setup(setup)) = receive::<Command>(&mut commands)? else {
        return Err(anyhow!("the supervisor sent no setup"));
    };
    let capture = capture_output(&setup.capture_path)?;
    let board = RunBoard::open(&board_path(&setup.capture_path))?;
    // Before the interpreter starts: coverage's .pth file reads it at startup.
    let mut coverage_off = if setup.keep_coverage {
        Vec::new()
    } else {
        coverage::environment_off()
    };
    let info = interpreter::start(setup.python.as_deref())?;
    Python::attach(|py| -> Result<()> {
        let request = engine::Request {
            paths: &setup.paths,
            keyword: setup.keyword.as_deref(),
            pytest_args: &setup.pytest_args,
            ignore: &setup.ignore,
            keep_coverage: setup.keep_coverage,
        };
        let mut engine = engine::load(py, setup.engine, &info.prefix, &request)?;
        coverage_off.extend(engine.coverage_off());
        send(
            messages,
            &Message::Hello {
                python_version: info.version.clone(),
                python_prefix: info.prefix.clone(),
                engine: coverage::described(&engine.describe(), &coverage_off),
            },
        )?;
        let mut collection = engine.collect(py, &setup.rootdir, &setup.files)?;
        // Test paths are relative to the engine's rootdir (pytest's own).
        let tests_root = collection
            .selected_by_engine
            .as_ref()
            .map_or(&setup.rootdir, |selection| &selection.rootdir);
        let test_files = locations::absolute_files(tests_root, &collection.tests);
        // The sampler is loaded after collection: what imports allocate is not measured.
        let sampler = Sampler::start(py)?;
        sampler.remember(py)?;
        sampler.dump_stack_on(py, libc::SIGUSR1, &stack_path(&setup.capture_path))?;
        send(
            messages,
            &Message::Collected {
                tests: collection.tests.clone(),
                errors: std::mem::take(&mut collection.errors),
                selected_by_engine: collection.selected_by_engine.take(),
                allow: std::mem::take(&mut collection.allow),
                pins: std::mem::take(&mut collection.pins),
                warnings: std::mem::take(&mut collection.warnings),
            },
        )?;
        let config = RunConfig {
            warmup: setup.warmup,
            policy: setup.policy,
            diagnosis: DiagnosisOptions {
                rootdir: setup.rootdir.clone(),
                strict_resources: setup.strict_resources,
                test_files,
            },
        };
        // Causes diagnosed in full in this worker: a later leak of one may
        // need only a check.
        let mut known = KnownCauses::default();
        let mut previous: Option<usize> = None;
        let mut failed = false;
        loop {
            let next = match receive::<Command>(&mut commands)? {
                Some(Command::Run(index)) => Some(index),
                Some(Command::Exit) | None => None,
                Some(Command::Setup(_)) => return Err(anyhow!("setup sent twice")),
            };
            if let Some(done) = previous {
                if let Some(problem) = engine.leave(py, next)? {
                    failed = true;
                    send(
                        messages,
                        &Message::Teardown {
                            index: done,
                            kind: problem.kind,
                            message: problem.message,
                            traceback: problem.traceback,
                        },
                    )?;
                }
            }
            let Some(index) = next else {
                sampler.stop(py)?;
                let finished = engine.finish(py, failed);
                run_atexit_callbacks(py)?;
                sampler.flush_output(py)?;
                return finished;
            };
            let item = collection
                .tests
                .get(index)
                .ok_or_else(|| anyhow!("no test at index {index}"))?;
            capture.reattach()?;
            let capture_offset = capture.offset();
            board.begin_test(index);
            send(
                messages,
                &Message::Started {
                    index,
                    capture_offset,
                },
            )?;
            let mut send_error = None;
            let mut on_progress = |progress: Progress<'_>| {
                let told = match progress {
                    // Every run starts with stdout and stderr captured, whatever
                    // the previous run did to them.
                    Progress::Run(run) => capture.reattach().map(|()| board.begin_run(run)),
                    Progress::Diagnosing(judged) => {
                        send(messages, &Message::Diagnosing(Box::new(judged.clone())))
                    }
                };
                if let Err(e) = told {
                    send_error.get_or_insert(e);
                }
            };
            let run = TestRun::new(
                py,
                engine.as_mut(),
                &sampler,
                &config,
                index,
                &mut on_progress,
            );
            let mut report = run_test(run, item, &mut known)?;
            if let Some(error) = send_error {
                return Err(error);
            }
            attach_output(
                py,
                &sampler,
                &mut report,
                &setup.capture_path,
                capture_offset,
            )?;
            failed |= report.verdict.is_bad();
            // Before the scopes' teardown, which may fail after the last run.
            report.not_repeatable = report
                .failure
                .as_ref()
                .and_then(|failure| NotRepeatable::of_failed_run(failure.run));
            let first_run = engine.first_run(py, index)?;
            report.pytest_counts = first_run.counts;
            report.pytest_warnings = first_run.warnings;
            send_together(
                messages,
                &[&Message::Report(Box::new(report)), &Message::Ready],
            )?;
            previous = Some(index);
        }
    })
}

/// A failing test's report carries what it wrote.
fn attach_output(
    py: Python<'_>,
    sampler: &Sampler,
    report: &mut TestReport,
    capture_path: &Path,
    offset: u64,
) -> Result<()> {
    if report.verdict.is_bad() && report.captured.is_empty() {
        sampler.flush_output(py)?;
        report.captured = read_since(capture_path, offset);
    }
    Ok(())
}

/// The capture file, with fds 1 and 2 pointing at it.
struct Capture {
    /// A copy kept out of the tests' way, to point fds 1 and 2 back at it.
    saved: File,
}

fn capture_output(path: &Path) -> Result<Capture> {
    let file = File::create(path)
        .with_context(|| format!("cannot create the capture file {}", path.display()))?;
    // SAFETY: fcntl on a descriptor this function owns.
    let saved = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10) };
    if saved < 0 {
        return Err(std::io::Error::last_os_error()).context("cannot keep the capture file");
    }
    // SAFETY: `saved` is a new descriptor owned by nobody else.
    let capture = Capture {
        saved: unsafe { File::from_raw_fd(saved) },
    };
    capture.reattach()?;
    Ok(capture)
}

impl Capture {
    /// Points fds 1 and 2 at the capture file again: an earlier test may have
    /// closed or redirected them.
    fn reattach(&self) -> Result<()> {
        for fd in [1, 2] {
            // SAFETY: dup2 onto the standard descriptors of this process.
            if unsafe { libc::dup2(self.saved.as_raw_fd(), fd) } < 0 {
                return Err(std::io::Error::last_os_error())
                    .context("cannot point stdout/stderr at the capture file");
            }
        }
        Ok(())
    }

    fn offset(&self) -> u64 {
        self.saved.metadata().map(|m| m.len()).unwrap_or(0)
    }
}

/// The worker ends without finalizing the interpreter (a C extension's
/// teardown could hang or crash once every report is in), so what the suite
/// registered with atexit runs here, as when a plain pytest exits: coverage
/// started by COVERAGE_PROCESS_START saves its data there, tempfile removes
/// its folders. Threads the tests left running are not waited for first, as
/// the interpreter would: one that never ends would hang the session.
fn run_atexit_callbacks(py: Python<'_>) -> Result<()> {
    py.import("atexit")
        .and_then(|atexit| atexit.call_method0("_run_exitfuncs"))
        .map(drop)
        .map_err(|error| anyhow!("cannot run the atexit callbacks: {error}"))
}

fn set_cloexec(fd: RawFd) -> Result<()> {
    // SAFETY: fcntl on a descriptor this process owns.
    let done = unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    if done < 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("descriptor {fd} from the supervisor is not open"));
    }
    Ok(())
}
