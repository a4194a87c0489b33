//! The supervisor: starts worker processes, hands them tests, turns crashes,
//! hangs and interruptions into results, tells its observer about each test
//! as it finishes, and returns the reports in collection order whatever the
//! number of workers. It never runs test code.
//!
//! - `process`: one worker process: spawning, commands, signals, reaping;
//! - `dispatch`: every decision (which test goes where, timeouts, `-x`,
//!   Ctrl-C, which reports are final), a state machine without processes;
//! - `crash`: the report of a test whose worker died or was stopped.
//!
//! `Pool` joins them: everything that happens (a worker's message, its
//! end, a signal) arrives on one channel, and the loop waits on it until the
//! next deadline.

mod crash;
mod dispatch;
mod process;

use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

use crate::model::allow::AllowEntry;
use crate::model::engine::EngineSelection;
use crate::model::event::Event;
use crate::model::exit::UsageError;
use crate::model::interpreter::Interrupted;
use crate::model::outcome::{CollectionError, PytestWarning, SessionReport, TestItem};
use crate::model::protocol::{Command, Message, WorkerSetup};
use crate::model::run_board::monotonic_ns;
use crate::plan::schedule::{Schedule, Unit};
use crate::session::interrupt::{Interruption, SignalWatch};
use crate::session::supervisor::crash::describe_exit;
pub use crate::session::supervisor::crash::signal_name;
use crate::session::supervisor::dispatch::{
    Action, Dispatcher, Input, Leftovers, Limits, RunsSeen, WorkerId,
};
use crate::session::supervisor::process::WorkerProcess;

/// How often the observer hears about progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Messages already waiting that are handled in a row before the finished
/// reports are printed: a bound, so that a busy session still prints.
const WAITING_FIRST: usize = 16;

/// What the first worker found.
pub struct Collected {
    pub python_version: String,
    pub python_prefix: String,
    pub engine: String,
    pub tests: Vec<TestItem>,
    pub errors: Vec<CollectionError>,
    /// Set when the engine applied node ids and `-k` itself (pytest).
    pub selected_by_engine: Option<EngineSelection>,
    /// Allow-list entries the tests declare (pytest markers).
    pub allow: Vec<AllowEntry>,
    /// Which tests share module or class scopes (`Collection::pins`).
    pub pins: Vec<Option<String>>,
    /// Warnings of pytest's configuration and collection.
    pub warnings: Vec<PytestWarning>,
}

/// How the session went; `internal_error` is set when leakhunt itself failed
/// (the results gathered until then are kept).
pub struct Finished {
    pub session: SessionReport,
    pub internal_error: Option<anyhow::Error>,
}

/// What arrives on the supervisor's channel.
enum Incoming {
    /// From a worker's pipe reader.
    Message(WorkerId, Message),
    /// The worker's pipe closed: it ended.
    Closed(WorkerId),
    /// From the signal thread.
    Interrupted(Interruption),
}

pub struct Pool {
    setup: WorkerSetup,
    /// The workers' capture files (and stacks).
    scratch: tempfile::TempDir,
    workers: Vec<WorkerProcess>,
    incoming: Receiver<Incoming>,
    sender: Sender<Incoming>,
    /// Keeps SIGINT and SIGTERM coming as `Incoming::Interrupted`.
    _signals: SignalWatch,
    tests: Vec<TestItem>,
    /// The worker whose collection `collect` returned.
    collector: Option<WorkerId>,
}

impl Pool {
    /// Starts `workers` processes, which collect side by side; Ctrl-C and
    /// SIGTERM are caught from here on so that the session can end with a
    /// report.
    pub fn start(setup: WorkerSetup, workers: usize) -> Result<Pool> {
        let (sender, incoming) = channel();
        let to_supervisor = sender.clone();
        let signals = SignalWatch::start(move |interruption| {
            to_supervisor
                .send(Incoming::Interrupted(interruption))
                .is_ok()
        })?;
        let scratch = tempfile::Builder::new()
            .prefix("leakhunt-")
            .tempdir()
            .context("cannot create a folder for worker output")?;
        let mut pool = Pool {
            setup,
            scratch,
            workers: Vec::new(),
            incoming,
            sender,
            _signals: signals,
            tests: Vec::new(),
            collector: None,
        };
        for _ in 0..workers.max(1) {
            pool.spawn()?;
        }
        Ok(pool)
    }

    fn spawn(&mut self) -> Result<WorkerId> {
        let id = self.workers.len();
        let capture_path = self.scratch.path().join(format!("worker-{id}.out"));
        let process = WorkerProcess::spawn(id, &self.setup, capture_path, self.sender.clone())?;
        self.workers.push(process);
        Ok(id)
    }

    /// Waits for the first collection to arrive (the other workers' are
    /// checked against it as they come).
    pub fn collect(&mut self) -> Result<Collected> {
        let mut hello = None;
        loop {
            let incoming = self
                .incoming
                .recv()
                .map_err(|_| anyhow!("no worker left"))?;
            match incoming {
                Incoming::Interrupted(_) => {
                    self.kill_all();
                    return Err(anyhow::Error::new(Interrupted));
                }
                Incoming::Message(
                    _,
                    Message::Hello {
                        python_version,
                        python_prefix,
                        engine,
                    },
                ) => hello = Some((python_version, python_prefix, engine)),
                Incoming::Message(
                    id,
                    Message::Collected {
                        tests,
                        errors,
                        selected_by_engine,
                        allow,
                        pins,
                        warnings,
                    },
                ) => {
                    let (python_version, python_prefix, engine) = hello
                        .take()
                        .ok_or_else(|| anyhow!("worker collected before hello"))?;
                    self.collector = Some(id);
                    self.tests = tests.clone();
                    return Ok(Collected {
                        python_version,
                        python_prefix,
                        engine,
                        tests,
                        errors,
                        selected_by_engine,
                        allow,
                        pins,
                        warnings,
                    });
                }
                Incoming::Message(_, Message::InternalError(text)) => return Err(anyhow!(text)),
                Incoming::Message(_, Message::UsageError(text)) => {
                    self.kill_all();
                    return Err(anyhow::Error::new(UsageError(text)));
                }
                Incoming::Message(_, _) => {}
                Incoming::Closed(id) => {
                    let worker = &mut self.workers[id];
                    let status = worker.reap();
                    let output = worker.output_since(0);
                    return Err(anyhow!(
                        "the worker collecting tests {}{}",
                        describe_exit(status),
                        if output.trim().is_empty() {
                            String::new()
                        } else {
                            format!("; its output:\n{}", output.trim_end())
                        }
                    ));
                }
            }
        }
    }

    /// Tells every worker to exit (after collect-only, or on error).
    pub fn shutdown(mut self) {
        for worker in &mut self.workers {
            worker.exit();
        }
    }

    fn kill_all(&mut self) {
        for worker in &mut self.workers {
            worker.kill();
        }
    }

    /// Runs `units` (each a list of test indices, in collection order), in
    /// that order, on up to `workers` processes. `observe` gets each final
    /// report as its test finishes, and progress now and then; the session's
    /// reports are in collection order.
    pub fn run(
        mut self,
        units: Vec<Unit>,
        schedule: Schedule,
        workers: usize,
        timeout: Option<Duration>,
        exitfirst: bool,
        observe: &mut dyn FnMut(Event<'_>),
    ) -> Finished {
        let started = Instant::now();
        let limits = Limits {
            workers,
            timeout,
            exitfirst,
        };
        let tests = std::mem::take(&mut self.tests);
        let mut dispatcher = Dispatcher::new(tests, units, schedule, limits);
        for id in 0..self.workers.len() {
            dispatcher.adopt(Some(id) == self.collector);
        }
        let mut actions = dispatcher.start(Instant::now());
        let mut next_progress = started + PROGRESS_EVERY;
        let mut waiting_handled = 0;
        loop {
            self.carry_out(actions, &mut dispatcher);
            // A message already waiting is handled before the reports are
            // printed: a worker's Ready comes in the same write as its test's
            // Report, and the worker waits for its next command.
            if waiting_handled < WAITING_FIRST && !dispatcher.is_over() {
                if let Ok(incoming) = self.incoming.try_recv() {
                    waiting_handled += 1;
                    let input = self.input(incoming, &mut dispatcher);
                    actions = dispatcher.handle(input, Instant::now());
                    continue;
                }
            }
            waiting_handled = 0;
            dispatcher.emit_finished(observe);
            let now = Instant::now();
            if now >= next_progress {
                next_progress = now + PROGRESS_EVERY;
                self.read_boards(&mut dispatcher);
                observe(Event::Progress(&dispatcher.progress(started.elapsed())));
            }
            if dispatcher.is_over() {
                break;
            }
            // Blocks until something happens or something is due: a run's
            // time limit, the end of the grace after Ctrl-C, the progress line.
            let due = dispatcher
                .next_deadline()
                .map_or(next_progress, |deadline| deadline.min(next_progress));
            let input = match self
                .incoming
                .recv_timeout(due.saturating_duration_since(Instant::now()))
            {
                Ok(incoming) => self.input(incoming, &mut dispatcher),
                Err(RecvTimeoutError::Timeout) => {
                    // A run's limit may be due: when did the runs begin?
                    self.read_boards(&mut dispatcher);
                    Input::Tick
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            actions = dispatcher.handle(input, Instant::now());
        }
        let outcome = dispatcher.finish(observe);
        Finished {
            session: SessionReport {
                tests: outcome.tests,
                collection_errors: Vec::new(),
                collection_warnings: Vec::new(),
                duration: started.elapsed(),
                interrupted: outcome.interrupted,
            },
            internal_error: outcome.internal_error,
        }
    }

    /// What the dispatcher is told of something that came in.
    fn input(&mut self, incoming: Incoming, dispatcher: &mut Dispatcher) -> Input {
        match incoming {
            Incoming::Message(id, message) => Input::Message(id, message),
            Incoming::Closed(id) => {
                // Its last run, for its crash report.
                self.read_board(id, dispatcher);
                Input::Exited(id, self.leftovers(id, dispatcher))
            }
            Incoming::Interrupted(interruption) => Input::Interrupted(interruption),
        }
    }

    /// Does what the dispatcher decided, in order; a worker it asked for is
    /// started at once and the dispatcher told, which may decide more.
    fn carry_out(&mut self, actions: Vec<Action>, dispatcher: &mut Dispatcher) {
        let mut pending = std::collections::VecDeque::from(actions);
        while let Some(action) = pending.pop_front() {
            match action {
                Action::Run(id, index) => self.workers[id].tell(&Command::Run(index)),
                Action::Exit(id) => self.workers[id].tell(&Command::Exit),
                Action::Spawn => {
                    let input = match self.spawn() {
                        Ok(id) => Input::Spawned(id),
                        Err(error) => Input::SpawnFailed(error),
                    };
                    pending.extend(dispatcher.handle(input, Instant::now()));
                }
                Action::Interrupt(id) => self.workers[id].interrupt(),
                Action::StopHung(id) => self.workers[id].stop_hung(),
                Action::Kill(id) => self.workers[id].kill(),
                Action::Warn(text) => eprintln!("{text}"),
            }
        }
    }

    fn read_boards(&self, dispatcher: &mut Dispatcher) {
        for id in 0..self.workers.len() {
            self.read_board(id, dispatcher);
        }
    }

    /// Tells the dispatcher what worker `id`'s run board says, its clock
    /// (CLOCK_MONOTONIC) turned into the supervisor's `Instant`s.
    fn read_board(&self, id: WorkerId, dispatcher: &mut Dispatcher) {
        let Some(runs) = self.workers[id].runs() else {
            return;
        };
        let now = Instant::now();
        let ago = Duration::from_nanos(monotonic_ns().saturating_sub(runs.current_start));
        let seen = RunsSeen {
            index: runs.index,
            run: runs.run,
            run_started: now.checked_sub(ago).unwrap_or(now),
            run_times: runs.run_times(),
        };
        dispatcher.saw_runs(id, seen);
    }

    /// What worker `id` left as it ended: how, what its running test wrote,
    /// its stack if it was stopped for hanging.
    fn leftovers(&mut self, id: WorkerId, dispatcher: &Dispatcher) -> Leftovers {
        let worker = &mut self.workers[id];
        Leftovers {
            status: worker.reap(),
            captured: dispatcher
                .capture_offset(id)
                .map(|offset| worker.output_since(offset))
                .unwrap_or_default(),
            stack: worker.take_stack(),
        }
    }
}
