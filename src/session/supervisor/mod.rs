//! The supervisor: starts worker processes, hands them tests (a file at a
//! time, splitting the last ones between idle workers as `schedule` allows),
//! turns crashes, hangs and interruptions into results, tells its observer
//! about each test as it finishes, and returns the reports in collection
//! order whatever the number of workers. It never runs test code.
//!
//! `crash`: the report of a test whose worker died or was stopped.

mod crash;

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::BufReader;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};

use crate::model::allow::AllowEntry;
use crate::model::capture::read_since;
use crate::model::capture::stack_path;
use crate::model::engine::EngineSelection;
use crate::model::event::{Event, Progress};
use crate::model::exit::UsageError;
use crate::model::outcome::apply_teardown;
use crate::model::outcome::{
    CollectionError, Failure, SessionReport, TestItem, TestReport, Verdict,
};
use crate::model::protocol::{
    receive, send, Command, Message, WorkerSetup, COMMAND_FD, MESSAGE_FD,
};
use crate::session::interrupt::{Interruption, Interruptions};
use crate::session::schedule::{Schedule, Unit};
pub use crate::session::supervisor::crash::signal_name;
use crate::session::supervisor::crash::{describe_exit, Cause, Crash};

/// How long running tests get to finish their current run after Ctrl-C.
const INTERRUPT_GRACE: Duration = Duration::from_secs(3);
/// How long a hung worker gets to write its stack before it is killed.
const STACK_DUMP_WAIT: Duration = Duration::from_millis(300);

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
}

/// How often the observer hears about progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// How the session went; `internal_error` is set when leakhunt itself failed
/// (the results gathered until then are kept).
pub struct Finished {
    pub session: SessionReport,
    pub internal_error: Option<anyhow::Error>,
}

/// What the pipe readers hear from the workers.
enum WorkerEvent {
    Message(usize, Message),
    Closed(usize),
}

struct Current {
    index: usize,
    started: Instant,
    /// When the current run began: `--timeout` is per run.
    run_started: Instant,
    run: usize,
    /// How long each run that ended took, to tell a test that slows down.
    run_times: Vec<Duration>,
    capture_offset: u64,
    /// Set once the test is judged LEAKED and its diagnosis runs: the judged
    /// report, which stands if the worker has to be stopped.
    judged: Option<TestReport>,
}

/// How long a diagnosis may go before its worker is stopped. It bounds itself
/// (`diagnosis::BUDGET_SECONDS`, 20 s): this only catches a run that hangs.
/// `--timeout` does not apply to it.
const DIAGNOSIS_LIMIT: Duration = Duration::from_secs(60);

struct Worker {
    child: Child,
    commands: File,
    capture_path: PathBuf,
    collected: bool,
    /// Tests of its current file still to run, in order.
    queue: VecDeque<usize>,
    /// The test it was last told to run (its scopes may still be set up).
    last: Option<usize>,
    current: Option<Current>,
    /// A reported test whose scopes are not torn down yet.
    provisional: Option<usize>,
    /// Set when it was killed for running too long: (limit, stack).
    timed_out: Option<(Duration, String)>,
    live: bool,
}

pub struct Pool {
    setup: WorkerSetup,
    scratch: tempfile::TempDir,
    workers: Vec<Worker>,
    events: Receiver<WorkerEvent>,
    sender: Sender<WorkerEvent>,
    interrupts: Interruptions,
    tests: Vec<TestItem>,
}

impl Pool {
    /// Starts `workers` processes, which collect side by side; Ctrl-C and
    /// SIGTERM are caught from here on so that the session can end with a
    /// report.
    pub fn start(setup: WorkerSetup, workers: usize) -> Result<Pool> {
        let interrupts = Interruptions::install()?;
        let (sender, events) = channel();
        let scratch = tempfile::Builder::new()
            .prefix("leakhunt-")
            .tempdir()
            .context("cannot create a folder for worker output")?;
        let mut pool = Pool {
            setup,
            scratch,
            workers: Vec::new(),
            events,
            sender,
            interrupts,
            tests: Vec::new(),
        };
        for _ in 0..workers.max(1) {
            pool.spawn()?;
        }
        Ok(pool)
    }

    fn spawn(&mut self) -> Result<usize> {
        let id = self.workers.len();
        let capture_path = self.scratch.path().join(format!("worker-{id}.out"));
        let (command_read, command_write) = std::io::pipe().context("cannot create a pipe")?;
        let (message_read, message_write) = std::io::pipe().context("cannot create a pipe")?;
        // The binary starts itself again; the wheel starts the tests' Python.
        let mut process = crate::session::launch::worker_command(self.setup.python.as_deref())?;
        let (tunables, value) = crate::session::launch::worker_tunables();
        process
            .env(tunables, value)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let (command_fd, message_fd) = (command_read.as_raw_fd(), message_write.as_raw_fd());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            process.pre_exec(move || {
                let command = libc::fcntl(command_fd, libc::F_DUPFD, 10);
                let message = libc::fcntl(message_fd, libc::F_DUPFD, 10);
                if command < 0
                    || message < 0
                    || libc::dup2(command, COMMAND_FD) < 0
                    || libc::dup2(message, MESSAGE_FD) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(command);
                libc::close(message);
                // Its own process group: the terminal's Ctrl-C reaches the
                // supervisor only, which decides what the workers get.
                libc::setpgid(0, 0);
                // A worker never outlives its supervisor.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = process.spawn().context("cannot start a worker process")?;
        drop(command_read);
        drop(message_write);
        let sender = self.sender.clone();
        std::thread::spawn(move || {
            let mut input = BufReader::new(message_read);
            while let Ok(Some(message)) = receive::<Message>(&mut input) {
                if sender.send(WorkerEvent::Message(id, message)).is_err() {
                    return;
                }
            }
            let _ = sender.send(WorkerEvent::Closed(id));
        });
        let mut setup = self.setup.clone();
        setup.capture_path = capture_path.clone();
        let mut commands = File::from(std::os::fd::OwnedFd::from(command_write));
        send(&mut commands, &Command::Setup(Box::new(setup)))?;
        self.workers.push(Worker {
            child,
            commands,
            capture_path,
            collected: false,
            queue: VecDeque::new(),
            last: None,
            current: None,
            provisional: None,
            timed_out: None,
            live: true,
        });
        Ok(id)
    }

    /// Waits for the first collection to arrive (the other workers' are
    /// checked against it as they come).
    pub fn collect(&mut self) -> Result<Collected> {
        let mut hello = None;
        loop {
            if self.interrupts.state() != Interruption::None {
                self.kill_all();
                return Err(anyhow::Error::new(crate::model::interpreter::Interrupted));
            }
            let event = match self.events.recv_timeout(Duration::from_millis(50)) {
                Ok(event) => event,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Err(anyhow!("no worker left")),
            };
            match event {
                WorkerEvent::Message(
                    _,
                    Message::Hello {
                        python_version,
                        python_prefix,
                        engine,
                    },
                ) => hello = Some((python_version, python_prefix, engine)),
                WorkerEvent::Message(
                    id,
                    Message::Collected {
                        tests,
                        errors,
                        selected_by_engine,
                        allow,
                        pins,
                    },
                ) => {
                    let (python_version, python_prefix, engine) = hello
                        .take()
                        .ok_or_else(|| anyhow!("worker collected before hello"))?;
                    self.workers[id].collected = true;
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
                    });
                }
                WorkerEvent::Message(_, Message::InternalError(text)) => return Err(anyhow!(text)),
                WorkerEvent::Message(_, Message::UsageError(text)) => {
                    self.kill_all();
                    return Err(anyhow::Error::new(UsageError(text)));
                }
                WorkerEvent::Message(_, _) => {}
                WorkerEvent::Closed(id) => {
                    let status = self.workers[id].child.wait().ok();
                    let output = read_since(&self.workers[id].capture_path, 0);
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
            let _ = send(&mut worker.commands, &Command::Exit);
            let _ = worker.child.wait();
        }
    }

    fn kill_all(&mut self) {
        for worker in self.workers.iter_mut().filter(|w| w.live) {
            let _ = worker.child.kill();
            let _ = worker.child.wait();
            worker.live = false;
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
        let mut order: Vec<usize> = units.iter().flatten().copied().collect();
        order.sort_unstable();
        let mut state = RunState {
            queue: units.into_iter().filter(|f| !f.is_empty()).collect(),
            schedule,
            finished: Vec::new(),
            reports: HashMap::new(),
            final_: HashMap::new(),
            stopping: false,
            interrupted: false,
            internal_error: None,
            emitted: 0,
            leaked: 0,
            order,
            grace_until: None,
        };
        let started = Instant::now();
        let mut last_progress = Instant::now();
        let desired = workers.max(1);
        for id in 0..self.workers.len() {
            self.assign(id, &mut state);
        }
        loop {
            self.handle_interrupts(&mut state);
            if !state.stopping {
                while self.workers.iter().filter(|w| w.live).count() < desired
                    && state.queue.len() > self.busy_collecting()
                {
                    if let Err(e) = self.spawn() {
                        state.fail(e);
                        break;
                    }
                }
            }
            if self.workers.iter().all(|w| !w.live) {
                break;
            }
            match self.events.recv_timeout(Duration::from_millis(50)) {
                Ok(WorkerEvent::Message(id, message)) => {
                    self.on_message(id, message, &mut state, exitfirst)
                }
                Ok(WorkerEvent::Closed(id)) => self.on_exit(id, &mut state),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if let Some(limit) = timeout {
                self.enforce_timeout(limit);
            }
            state.emit_finished(observe);
            if last_progress.elapsed() >= PROGRESS_EVERY {
                last_progress = Instant::now();
                observe(Event::Progress(&self.progress(&state, started)));
            }
        }
        for worker in &mut self.workers {
            state.finalize(worker.provisional.take());
        }
        state.emit_finished(observe);
        let tests: Vec<TestReport> = state
            .order
            .iter()
            .filter_map(|index| state.final_.remove(index))
            .collect();
        let interrupted = state.interrupted || (state.stopping && tests.len() < state.order.len());
        Finished {
            session: SessionReport {
                tests,
                collection_errors: Vec::new(),
                duration: started.elapsed(),
                interrupted,
            },
            internal_error: state.internal_error,
        }
    }

    fn progress(&self, state: &RunState, started: Instant) -> Progress {
        Progress {
            done: state.emitted,
            total: state.order.len(),
            leaked: state.leaked,
            elapsed: started.elapsed(),
            running: self
                .workers
                .iter()
                .filter(|w| w.live)
                .filter_map(|w| w.current.as_ref())
                .map(|c| (self.tests[c.index].nodeid.clone(), c.run))
                .collect(),
        }
    }

    /// Workers started but still collecting: they will take a file each.
    fn busy_collecting(&self) -> usize {
        self.workers
            .iter()
            .filter(|w| w.live && !w.collected)
            .count()
    }

    fn on_message(&mut self, id: usize, message: Message, state: &mut RunState, exitfirst: bool) {
        match message {
            Message::Hello { .. } | Message::Interrupted => {}
            Message::UsageError(text) => state.fail(anyhow!(text)),
            Message::Collected { tests, .. } => {
                let same = tests.len() == self.tests.len()
                    && tests
                        .iter()
                        .zip(&self.tests)
                        .all(|(a, b)| a.nodeid == b.nodeid);
                if !same {
                    state.fail(anyhow!(
                        "worker {id} collected other tests than the first worker: \
                         collection must not depend on the process (random test names?)"
                    ));
                }
                self.workers[id].collected = true;
                self.assign(id, state);
            }
            Message::Started {
                index,
                capture_offset,
            } => {
                state.finalize(self.workers[id].provisional.take());
                self.workers[id].current = Some(Current {
                    index,
                    started: Instant::now(),
                    run_started: Instant::now(),
                    run: 0,
                    run_times: Vec::new(),
                    capture_offset,
                    judged: None,
                });
            }
            Message::Run { run, .. } => {
                if let Some(current) = &mut self.workers[id].current {
                    if current.run > 0 {
                        current.run_times.push(current.run_started.elapsed());
                    }
                    current.run = run;
                    if current.judged.is_none() {
                        current.run_started = Instant::now();
                    }
                }
            }
            Message::Diagnosing(report) => {
                if let Some(current) = &mut self.workers[id].current {
                    current.judged = Some(*report);
                    current.run_started = Instant::now();
                }
            }
            Message::Report(report) => {
                let index = self.workers[id]
                    .current
                    .take()
                    .map(|c| c.index)
                    .unwrap_or(usize::MAX);
                if exitfirst && report.verdict.is_bad() {
                    state.stopping = true;
                }
                state.reports.insert(index, *report);
                self.workers[id].provisional = Some(index);
            }
            Message::Teardown {
                index,
                kind,
                message,
                traceback,
            } => {
                if let Some(report) = state.reports.get_mut(&index) {
                    let run = report.runs;
                    apply_teardown(
                        report,
                        Failure {
                            kind,
                            message,
                            traceback,
                            run,
                            phase: "teardown".to_string(),
                        },
                    );
                }
            }
            Message::Ready => self.assign(id, state),
            Message::InternalError(text) => state.fail(anyhow!(text)),
        }
    }

    /// Gives a ready worker its next test, or tells it to exit.
    fn assign(&mut self, id: usize, state: &mut RunState) {
        if !self.workers[id].live || !self.workers[id].collected {
            return;
        }
        if !state.stopping && self.workers[id].queue.is_empty() {
            let more = match state.queue.pop_front() {
                Some(file) => Some(file),
                None => self.steal(id, &state.schedule),
            };
            if let Some(tests) = more {
                self.workers[id].queue = tests.into();
            }
        }
        let worker = &mut self.workers[id];
        let next = if state.stopping {
            None
        } else {
            worker.queue.pop_front()
        };
        worker.last = next.or(worker.last);
        let command = next.map_or(Command::Exit, Command::Run);
        // A worker that cannot be told anything is dead: its exit is handled
        // when its pipe closes.
        let _ = send(&mut worker.commands, &command);
    }

    /// For an idle worker: about half of what the busiest other worker has
    /// left to start in its file, where the schedule lets it be split.
    fn steal(&mut self, thief: usize, schedule: &Schedule) -> Option<Unit> {
        let mut victims: Vec<usize> = (0..self.workers.len())
            .filter(|&id| {
                id != thief && self.workers[id].live && !self.workers[id].queue.is_empty()
            })
            .collect();
        victims.sort_by_key(|&id| std::cmp::Reverse(self.workers[id].queue.len()));
        victims.into_iter().find_map(|id| {
            let victim = &mut self.workers[id];
            schedule.split(victim.last, &mut victim.queue)
        })
    }

    fn on_exit(&mut self, id: usize, state: &mut RunState) {
        let worker = &mut self.workers[id];
        let status = worker.child.wait().ok();
        worker.live = false;
        state.finalize(worker.provisional.take());
        if let Some(current) = worker.current.take() {
            if !state.interrupted {
                let cause = match worker.timed_out.take() {
                    Some((limit, stack)) => Cause::TimedOut { limit, stack },
                    None => Cause::Exited(status),
                };
                let crash = Crash {
                    item: self.tests[current.index].clone(),
                    run: current.run,
                    run_times: current.run_times,
                    duration: current.started.elapsed(),
                    judged: current.judged,
                    cause,
                    captured: read_since(&worker.capture_path, current.capture_offset),
                };
                state.reports.insert(current.index, crash.into_report());
                state.finalize(Some(current.index));
            }
        }
        if !worker.queue.is_empty() {
            let rest: Vec<usize> = worker.queue.drain(..).collect();
            state.queue.push_front(rest);
        }
        if !worker.collected && !state.interrupted {
            state.fail(anyhow!(
                "a worker {} before it finished collecting",
                describe_exit(status)
            ));
        }
    }

    fn handle_interrupts(&mut self, state: &mut RunState) {
        let interruption = self.interrupts.state();
        if interruption != Interruption::None && !state.interrupted {
            state.interrupted = true;
            state.stopping = true;
            state.grace_until = Some(Instant::now() + INTERRUPT_GRACE);
            for worker in self.workers.iter().filter(|w| w.live) {
                // Ctrl-C inside the test: it stops at the end of its current run.
                signal(&worker.child, libc::SIGINT);
            }
        }
        if interruption == Interruption::Force && self.workers.iter().any(|w| w.live) {
            // The session still ends through the reports: what has finished
            // is kept, the tests that were running are not reported.
            eprintln!("interrupted again: stopping the running tests now");
            self.kill_all();
        }
        if state.grace_until.is_some_and(|t| Instant::now() > t) {
            self.kill_all();
        }
    }

    fn enforce_timeout(&mut self, limit: Duration) {
        for worker in self.workers.iter_mut().filter(|w| w.live) {
            let Some(current) = &worker.current else {
                continue;
            };
            let limit = if current.judged.is_some() {
                DIAGNOSIS_LIMIT
            } else {
                limit
            };
            if worker.timed_out.is_some() || current.run_started.elapsed() < limit {
                continue;
            }
            signal(&worker.child, libc::SIGUSR1);
            std::thread::sleep(STACK_DUMP_WAIT);
            let stack =
                std::fs::read_to_string(stack_path(&worker.capture_path)).unwrap_or_default();
            worker.timed_out = Some((limit, stack));
            let _ = worker.child.kill();
        }
    }
}

/// Results as they arrive, and which of them are final.
struct RunState {
    queue: VecDeque<Unit>,
    schedule: Schedule,
    /// Final reports not passed on yet, in the order they became final.
    finished: Vec<usize>,
    reports: HashMap<usize, TestReport>,
    final_: HashMap<usize, TestReport>,
    stopping: bool,
    interrupted: bool,
    internal_error: Option<anyhow::Error>,
    order: Vec<usize>,
    emitted: usize,
    /// Leaks among the reports passed on so far.
    leaked: usize,
    grace_until: Option<Instant>,
}

impl RunState {
    fn finalize(&mut self, index: Option<usize>) {
        if let Some(index) = index {
            if let Some(report) = self.reports.remove(&index) {
                self.final_.insert(index, report);
                self.finished.push(index);
            }
        }
    }

    fn fail(&mut self, error: anyhow::Error) {
        self.stopping = true;
        self.internal_error.get_or_insert(error);
    }

    /// Passes on the reports that became final since the last call.
    fn emit_finished(&mut self, observe: &mut dyn FnMut(Event<'_>)) {
        for index in std::mem::take(&mut self.finished) {
            if let Some(report) = self.final_.get_mut(&index) {
                observe(Event::Report(report));
                if report.verdict == Verdict::Leaked {
                    self.leaked += 1;
                }
                self.emitted += 1;
            }
        }
    }
}

fn signal(child: &Child, signal: i32) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}
