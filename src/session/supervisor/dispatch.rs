//! The supervisor's decisions, as a state machine without processes: which
//! test goes to which worker (a file at a time, then half of a busy worker's
//! file as `schedule` allows), when a worker is started or told to exit,
//! which run has gone on too long, what an interruption stops, and which
//! reports are final. It is fed what happens ([`Input`], with the time it
//! is handled) and answers with what to do ([`Action`]); `Pool` does it.
//!
//! A report is final once its scopes are torn down: when its worker starts
//! the next test or ends (a module teardown can still turn a pass into an
//! error). Final reports go to the observer as they come, and the session's
//! reports are in collection order whatever the number of workers.

use std::collections::{HashMap, VecDeque};
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::model::event::{Event, Progress};
use crate::model::outcome::{apply_teardown, Failure, TestItem, TestReport, Verdict};
use crate::model::protocol::Message;
use crate::plan::schedule::{Schedule, Unit};
use crate::session::interrupt::Interruption;
use crate::session::supervisor::crash::{after_last_run, describe_exit, Cause, Crash};

/// A worker, by the order it was started in (from 0).
pub type WorkerId = usize;

/// How long running tests get to finish their current run after Ctrl-C.
pub const INTERRUPT_GRACE: Duration = Duration::from_secs(3);

/// How long a diagnosis may go before its worker is stopped. It bounds itself
/// (`diagnosis::BUDGET_SECONDS`, 20 s): this only catches a run that hangs.
/// `--timeout` does not apply to it.
pub const DIAGNOSIS_LIMIT: Duration = Duration::from_secs(60);

/// What a second interruption prints as it kills the workers.
pub const FORCED: &str = "interrupted again: stopping the running tests now";

/// How the session runs its tests.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// How many workers to keep busy.
    pub workers: usize,
    /// `--timeout`: how long one run of a test may take.
    pub timeout: Option<Duration>,
    /// `-x`: no new test after the first bad verdict.
    pub exitfirst: bool,
}

/// What happened, as the supervisor tells it.
#[derive(Debug)]
pub enum Input {
    Message(WorkerId, Message),
    /// The worker's pipe closed: it ended.
    Exited(WorkerId, Leftovers),
    Interrupted(Interruption),
    /// The worker asked for with [`Action::Spawn`] started.
    Spawned(WorkerId),
    /// ... or could not be started.
    SpawnFailed(anyhow::Error),
    /// Nothing arrived before a deadline ([`Dispatcher::next_deadline`]).
    Tick,
}

/// What a worker's run board said (`model::run_board`), on the supervisor's
/// clock. The supervisor reads the boards when it needs them: when a run's
/// limit is due, when a worker ends, for the progress line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunsSeen {
    pub index: usize,
    /// Its current run (0: none started).
    pub run: usize,
    /// When its current run began.
    pub run_started: Instant,
    /// How long each run that ended took.
    pub run_times: Vec<Duration>,
}

/// What a worker left when it ended, gathered by the supervisor.
#[derive(Debug, Default)]
pub struct Leftovers {
    /// How it ended, if it could be reaped.
    pub status: Option<ExitStatus>,
    /// Its output since its running test started ([`Dispatcher::capture_offset`]).
    pub captured: String,
    /// The Python stack it wrote when it was stopped for hanging.
    pub stack: String,
}

/// What the supervisor is to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Tell the worker to run the test at this collection index.
    Run(WorkerId, usize),
    /// Tell the worker to finish its last test's teardown and exit.
    Exit(WorkerId),
    /// Start another worker, then say [`Input::Spawned`] or
    /// [`Input::SpawnFailed`].
    Spawn,
    /// Pass Ctrl-C on to the worker: its test stops at the end of its run.
    Interrupt(WorkerId),
    /// Its run went past the limit: get its stack, then kill it (its end
    /// comes as [`Input::Exited`]).
    StopHung(WorkerId),
    /// Kill it now and reap it; its end is not waited for.
    Kill(WorkerId),
    /// Print this on stderr.
    Warn(&'static str),
}

/// How the session ended.
#[derive(Debug)]
pub struct Outcome {
    /// Final reports, in collection order.
    pub tests: Vec<TestReport>,
    /// Not every test ran: Ctrl-C, or `-x` stopped it.
    pub interrupted: bool,
    /// leakhunt itself failed (what was gathered until then is kept).
    pub internal_error: Option<anyhow::Error>,
}

/// The test a worker is running.
#[derive(Debug)]
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

impl Current {
    /// How long its current run may take.
    fn limit(&self, timeout: Duration) -> Duration {
        if self.judged.is_some() {
            DIAGNOSIS_LIMIT
        } else {
            timeout
        }
    }
}

/// What a worker was told and has not begun yet: before the next test
/// starts, it tears down the scopes of the one before (its module's,
/// class's or session's fixtures); before it exits, those of its last one,
/// then pytest's sessionfinish and the atexit callbacks run.
#[derive(Debug)]
struct Told {
    /// The test it is to run next; None: it is to exit.
    next: Option<usize>,
    /// Since when it ends what came before, if anything: `--timeout`
    /// bounds that as it bounds a run.
    ending_since: Option<Instant>,
}

/// A worker as the dispatcher sees it.
#[derive(Debug)]
struct Worker {
    /// It collected the same tests as the first worker: it may run them.
    collected: bool,
    /// Tests of its current file still to run, in order.
    queue: VecDeque<usize>,
    /// The test it was last told to run (its scopes may still be set up).
    last: Option<usize>,
    current: Option<Current>,
    told: Option<Told>,
    /// A reported test whose scopes are not torn down yet.
    provisional: Option<usize>,
    /// Set when it was stopped for running too long: the limit it passed.
    timed_out: Option<Duration>,
    live: bool,
}

impl Worker {
    /// What it is doing that `--timeout` bounds: since when, and how long
    /// it may take.
    fn deadline(&self, timeout: Duration) -> Option<(Instant, Duration)> {
        if let Some(current) = &self.current {
            return Some((current.run_started, current.limit(timeout)));
        }
        let since = self.told.as_ref()?.ending_since?;
        Some((since, timeout))
    }

    fn new(collected: bool) -> Worker {
        Worker {
            collected,
            queue: VecDeque::new(),
            last: None,
            current: None,
            told: None,
            provisional: None,
            timed_out: None,
            live: true,
        }
    }
}

pub struct Dispatcher {
    tests: Vec<TestItem>,
    schedule: Schedule,
    limits: Limits,
    workers: Vec<Worker>,
    /// Files no worker has taken yet (and the rest of a dead worker's).
    queue: VecDeque<Unit>,
    /// Tests from a long one on (`Schedule::head_start`), or the rest of a
    /// dead worker's that came after every queued file: for a worker that
    /// has run nothing while another works from the front, else for the
    /// first one the queue leaves idle.
    head_start: Option<Unit>,
    /// A worker took a file from the queue.
    front_taken: bool,
    /// Asked for a worker, not told yet whether it started.
    spawning: bool,
    /// The selected tests, in collection order.
    order: Vec<usize>,
    /// Reports whose scopes may still be torn down, by test.
    reports: HashMap<usize, TestReport>,
    /// Final reports, by test.
    final_: HashMap<usize, TestReport>,
    /// Final reports not passed on yet, in the order they became final.
    finished: Vec<usize>,
    /// No new test starts: interrupted, `-x`, or an internal error.
    stopping: bool,
    interrupted: bool,
    /// After an interruption: when the running tests are killed.
    grace_until: Option<Instant>,
    internal_error: Option<anyhow::Error>,
    /// Reports passed on so far, and the leaks among them.
    emitted: usize,
    leaked: usize,
}

impl Dispatcher {
    /// `tests` is the collection; `units` the selected tests by file, in the
    /// order they are to start.
    pub fn new(
        tests: Vec<TestItem>,
        units: Vec<Unit>,
        schedule: Schedule,
        limits: Limits,
    ) -> Dispatcher {
        let mut order: Vec<usize> = units.iter().flatten().copied().collect();
        order.sort_unstable();
        let (units, head_start) = schedule.head_start(units, limits.workers);
        Dispatcher {
            tests,
            schedule,
            limits,
            workers: Vec::new(),
            queue: units.into_iter().filter(|u| !u.is_empty()).collect(),
            head_start,
            front_taken: false,
            spawning: false,
            order,
            reports: HashMap::new(),
            final_: HashMap::new(),
            finished: Vec::new(),
            stopping: false,
            interrupted: false,
            grace_until: None,
            internal_error: None,
            emitted: 0,
            leaked: 0,
        }
    }

    /// A worker started before the run (it collects while the plan is
    /// made); `collected` when its collection has arrived already.
    pub fn adopt(&mut self, collected: bool) -> WorkerId {
        self.workers.push(Worker::new(collected));
        self.workers.len() - 1
    }

    /// The first decisions: a file for each worker that has collected.
    pub fn start(&mut self, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        for id in 0..self.workers.len() {
            self.assign(id, now, &mut actions);
        }
        self.review(now, &mut actions);
        actions
    }

    /// Takes in what happened at `now`; answers what to do.
    pub fn handle(&mut self, input: Input, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        match input {
            Input::Message(id, message) => self.on_message(id, message, now, &mut actions),
            Input::Exited(id, leftovers) => self.on_exit(id, leftovers, now),
            Input::Interrupted(interruption) => {
                self.on_interruption(interruption, now, &mut actions)
            }
            Input::Spawned(id) => {
                self.spawning = false;
                debug_assert_eq!(id, self.workers.len(), "workers are numbered as started");
                self.workers.push(Worker::new(false));
            }
            Input::SpawnFailed(error) => {
                self.spawning = false;
                self.fail(error);
            }
            Input::Tick => {}
        }
        self.review(now, &mut actions);
        actions
    }

    /// Takes in what worker `id`'s run board said. Decides nothing: the
    /// supervisor reads every board before it asks what is due, so that
    /// no run is judged on a board not read yet.
    pub fn saw_runs(&mut self, id: WorkerId, seen: RunsSeen) {
        let Some(current) = self.workers.get_mut(id).and_then(|w| w.current.as_mut()) else {
            return;
        };
        // A board still showing the test before (its report not handled
        // yet), or a test whose first run has not begun.
        if current.index != seen.index || seen.run == 0 {
            return;
        }
        current.run = seen.run;
        current.run_times = seen.run_times;
        // A diagnosis's runs are timed as one, from its start.
        if current.judged.is_none() {
            current.run_started = seen.run_started;
        }
    }

    /// Every worker has ended (or was killed): the session is over.
    pub fn is_over(&self) -> bool {
        !self.spawning && self.workers.iter().all(|w| !w.live)
    }

    /// When something is due even if nothing arrives: a run's time limit, or
    /// the end of the grace after Ctrl-C.
    pub fn next_deadline(&self) -> Option<Instant> {
        let hung = self.limits.timeout.and_then(|timeout| {
            self.workers
                .iter()
                .filter(|w| w.live && w.timed_out.is_none())
                .filter_map(|w| w.deadline(timeout))
                .map(|(since, limit)| since + limit)
                .min()
        });
        [hung, self.grace_until].into_iter().flatten().min()
    }

    /// Where the output of the test running on `worker` starts in its
    /// capture file (for its crash report).
    pub fn capture_offset(&self, worker: WorkerId) -> Option<u64> {
        self.workers
            .get(worker)?
            .current
            .as_ref()
            .map(|c| c.capture_offset)
    }

    /// Passes on the reports that became final since the last call; the
    /// observer may amend them before they are kept.
    pub fn emit_finished(&mut self, observe: &mut dyn FnMut(Event<'_>)) {
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

    pub fn progress(&self, elapsed: Duration) -> Progress {
        Progress {
            done: self.emitted,
            total: self.order.len(),
            leaked: self.leaked,
            elapsed,
            running: self
                .workers
                .iter()
                .filter(|w| w.live)
                .filter_map(|w| w.current.as_ref())
                .map(|c| (self.tests[c.index].nodeid.clone(), c.run))
                .collect(),
        }
    }

    /// Ends the session: the reports still waiting for a teardown are final
    /// now (their workers are gone), and go to the observer.
    pub fn finish(mut self, observe: &mut dyn FnMut(Event<'_>)) -> Outcome {
        for id in 0..self.workers.len() {
            let provisional = self.workers[id].provisional.take();
            self.finalize(provisional);
        }
        self.emit_finished(observe);
        let tests: Vec<TestReport> = self
            .order
            .iter()
            .filter_map(|index| self.final_.remove(index))
            .collect();
        let interrupted = self.interrupted || (self.stopping && tests.len() < self.order.len());
        Outcome {
            tests,
            interrupted,
            internal_error: self.internal_error,
        }
    }

    fn on_message(
        &mut self,
        id: WorkerId,
        message: Message,
        now: Instant,
        actions: &mut Vec<Action>,
    ) {
        match message {
            Message::Hello { .. } | Message::Interrupted => {}
            Message::UsageError(text) => self.fail(anyhow!(text)),
            Message::Collected { tests, .. } => {
                let same = tests.len() == self.tests.len()
                    && tests
                        .iter()
                        .zip(&self.tests)
                        .all(|(a, b)| a.nodeid == b.nodeid);
                if !same {
                    self.fail(anyhow!(
                        "worker {id} collected other tests than the first worker: \
                         collection must not depend on the process (random test names?)"
                    ));
                }
                self.workers[id].collected = true;
                self.assign(id, now, actions);
            }
            Message::Started {
                index,
                capture_offset,
            } => {
                let provisional = self.workers[id].provisional.take();
                self.finalize(provisional);
                self.workers[id].told = None;
                self.workers[id].current = Some(Current {
                    index,
                    started: now,
                    run_started: now,
                    run: 0,
                    run_times: Vec::new(),
                    capture_offset,
                    judged: None,
                });
            }
            Message::Diagnosing(report) => {
                if let Some(current) = &mut self.workers[id].current {
                    current.judged = Some(*report);
                    current.run_started = now;
                }
            }
            Message::Report(report) => {
                let index = self.workers[id]
                    .current
                    .take()
                    .map(|c| c.index)
                    .unwrap_or(usize::MAX);
                if self.limits.exitfirst && report.verdict.is_bad() {
                    self.stopping = true;
                }
                self.reports.insert(index, *report);
                self.workers[id].provisional = Some(index);
            }
            Message::Teardown {
                index,
                kind,
                message,
                traceback,
            } => {
                if let Some(report) = self.reports.get_mut(&index) {
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
            Message::Ready => self.assign(id, now, actions),
            Message::InternalError(text) => self.fail(anyhow!(text)),
        }
    }

    /// A worker ended: the test it ran gets a crash report (unless Ctrl-C
    /// ended it), and the rest of its file goes back to the front of the
    /// queue.
    fn on_exit(&mut self, id: WorkerId, leftovers: Leftovers, now: Instant) {
        self.workers[id].live = false;
        let provisional = self.workers[id].provisional.take();
        if let Some(told) = self.workers[id].told.take() {
            self.ended_while_told(id, &told, provisional, &leftovers);
            // Told, never begun: it runs in the next worker, first.
            if let Some(next) = told.next {
                self.workers[id].queue.push_front(next);
            }
        }
        self.finalize(provisional);
        if let Some(current) = self.workers[id].current.take() {
            if !self.interrupted {
                let cause = Cause::of(
                    self.workers[id].timed_out,
                    leftovers.status,
                    &leftovers.stack,
                );
                let crash = Crash {
                    item: self.tests[current.index].clone(),
                    run: current.run,
                    run_times: current.run_times,
                    duration: now - current.started,
                    judged: current.judged,
                    cause,
                    captured: leftovers.captured,
                };
                self.reports.insert(current.index, crash.into_report());
                self.finalize(Some(current.index));
            }
        }
        let worker = &mut self.workers[id];
        if !worker.queue.is_empty() {
            let rest: Unit = worker.queue.drain(..).collect();
            let last_queued = self.queue.iter().flatten().max();
            if self.head_start.is_none() && last_queued.is_none_or(|&last| last < rest[0]) {
                self.head_start = Some(rest);
            } else {
                self.queue.push_front(rest);
            }
        }
        if !worker.collected && !self.interrupted {
            self.fail(anyhow!(
                "a worker {} before it finished collecting",
                describe_exit(leftovers.status)
            ));
        }
    }

    /// A worker that went away while ending what came before its next test
    /// or its exit, other than by exiting when told: the test whose scopes
    /// it was tearing down gets the crash or the timeout as its teardown's
    /// failure.
    fn ended_while_told(
        &mut self,
        id: WorkerId,
        told: &Told,
        provisional: Option<usize>,
        leftovers: &Leftovers,
    ) {
        let exited_when_told =
            told.next.is_none() && leftovers.status.is_some_and(|status| status.success());
        let timed_out = self.workers[id].timed_out;
        if self.interrupted || (exited_when_told && timed_out.is_none()) {
            return;
        }
        let Some(report) = provisional.and_then(|index| self.reports.get_mut(&index)) else {
            return;
        };
        let cause = Cause::of(timed_out, leftovers.status, &leftovers.stack);
        let failure = after_last_run(
            &cause,
            &report.item.nodeid,
            report.runs,
            told.next.is_none(),
        );
        apply_teardown(report, failure);
    }

    /// The first interruption stops scheduling and passes Ctrl-C on to the
    /// running tests; a second one kills them.
    fn on_interruption(
        &mut self,
        interruption: Interruption,
        now: Instant,
        actions: &mut Vec<Action>,
    ) {
        if !self.interrupted {
            self.interrupted = true;
            self.stopping = true;
            self.grace_until = Some(now + INTERRUPT_GRACE);
            for id in self.live() {
                actions.push(Action::Interrupt(id));
            }
        }
        if interruption == Interruption::Force && !self.live().is_empty() {
            // The session still ends through the reports: what has finished
            // is kept, the tests that were running are not reported.
            actions.push(Action::Warn(FORCED));
            self.kill_all(actions);
        }
    }

    /// What is due whatever happened: runs past their limit, the end of the
    /// grace, replacements for dead workers and helpers for a long queue.
    fn review(&mut self, now: Instant, actions: &mut Vec<Action>) {
        if let Some(timeout) = self.limits.timeout {
            for (id, worker) in self.workers.iter_mut().enumerate() {
                if !worker.live || worker.timed_out.is_some() {
                    continue;
                }
                let Some((since, limit)) = worker.deadline(timeout) else {
                    continue;
                };
                if now.saturating_duration_since(since) >= limit {
                    worker.timed_out = Some(limit);
                    actions.push(Action::StopHung(id));
                }
            }
        }
        if self.grace_until.is_some_and(|t| now > t) {
            self.kill_all(actions);
        }
        // One at a time: the next is decided once this one has started.
        let live = self.live().len();
        if !self.stopping
            && !self.spawning
            && live < self.limits.workers.max(1)
            && self.queue.len() + usize::from(self.head_start.is_some()) > self.busy_collecting()
        {
            self.spawning = true;
            actions.push(Action::Spawn);
        }
    }

    /// Gives a ready worker its next test, or tells it to exit.
    fn assign(&mut self, id: WorkerId, now: Instant, actions: &mut Vec<Action>) {
        if !self.workers[id].live || !self.workers[id].collected {
            return;
        }
        if !self.stopping && self.workers[id].queue.is_empty() {
            let fresh = self.workers[id].last.is_none() && self.front_taken;
            let more = self
                .head_start
                .take_if(|_| fresh)
                .or_else(|| self.take_front())
                .or_else(|| self.head_start.take())
                .or_else(|| self.steal(id));
            if let Some(tests) = more {
                self.workers[id].queue = tests.into();
            }
        }
        let worker = &mut self.workers[id];
        let next = if self.stopping {
            None
        } else {
            worker.queue.pop_front()
        };
        let ends_something = worker.last.is_some() || next.is_none();
        worker.told = Some(Told {
            next,
            ending_since: ends_something.then_some(now),
        });
        worker.last = next.or(worker.last);
        actions.push(match next {
            Some(index) => Action::Run(id, index),
            None => Action::Exit(id),
        });
    }

    /// The next file from the front of the queue.
    fn take_front(&mut self) -> Option<Unit> {
        let unit = self.queue.pop_front()?;
        self.front_taken = true;
        Some(unit)
    }

    /// For an idle worker: about half of what the busiest other worker has
    /// left to start in its file, where the schedule lets it be split.
    fn steal(&mut self, thief: WorkerId) -> Option<Unit> {
        let mut victims: Vec<WorkerId> = (0..self.workers.len())
            .filter(|&id| {
                id != thief && self.workers[id].live && !self.workers[id].queue.is_empty()
            })
            .collect();
        victims.sort_by_key(|&id| std::cmp::Reverse(self.workers[id].queue.len()));
        victims.into_iter().find_map(|id| {
            let victim = &mut self.workers[id];
            self.schedule.split(victim.last, &mut victim.queue)
        })
    }

    fn kill_all(&mut self, actions: &mut Vec<Action>) {
        for id in self.live() {
            self.workers[id].live = false;
            actions.push(Action::Kill(id));
        }
    }

    fn live(&self) -> Vec<WorkerId> {
        (0..self.workers.len())
            .filter(|&id| self.workers[id].live)
            .collect()
    }

    /// Workers started but still collecting: they will take a file each.
    fn busy_collecting(&self) -> usize {
        self.workers
            .iter()
            .filter(|w| w.live && !w.collected)
            .count()
    }

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
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    fn item(path: &str, name: &str) -> TestItem {
        TestItem::example(path, name)
    }

    /// a.py: t0 t1; b.py: t2 .. t7.
    fn suite() -> Vec<TestItem> {
        let mut tests = vec![item("a.py", "t0"), item("a.py", "t1")];
        tests.extend((2..8).map(|i| item("b.py", &format!("t{i}"))));
        tests
    }

    fn report(tests: &[TestItem], index: usize, verdict: Verdict) -> TestReport {
        TestReport {
            runs: 8,
            warmup: 3,
            duration: Duration::from_millis(10),
            ..TestReport::new(tests[index].clone(), verdict)
        }
    }

    fn limits(workers: usize) -> Limits {
        Limits {
            workers,
            timeout: None,
            exitfirst: false,
        }
    }

    /// One worker, each run stopped after `seconds`.
    fn timing_out_after(seconds: u64) -> Limits {
        Limits {
            timeout: Some(Duration::from_secs(seconds)),
            ..limits(1)
        }
    }

    fn exited(status: i32) -> Leftovers {
        Leftovers {
            status: Some(ExitStatus::from_raw(status)),
            ..Leftovers::default()
        }
    }

    /// A dispatcher fed by hand, on a clock that moves only when told, with
    /// the reports it passes on recorded as "node id Verdict".
    struct Harness {
        dispatcher: Dispatcher,
        tests: Vec<TestItem>,
        zero: Instant,
        now: Instant,
        emitted: Vec<String>,
        /// Each worker's test and when its runs began, as its board has them.
        starts: HashMap<WorkerId, (usize, Vec<Instant>)>,
    }

    impl Harness {
        /// Workers already started: `collected[i]` when worker i has
        /// collected. Returns the first decisions too.
        fn start(units: Vec<Unit>, limits: Limits, collected: &[bool]) -> (Harness, Vec<Action>) {
            Harness::costing(units, limits, collected, vec![1.0; suite().len()])
        }

        /// The same, with what each test took last time.
        fn costing(
            units: Vec<Unit>,
            limits: Limits,
            collected: &[bool],
            costs: Vec<f64>,
        ) -> (Harness, Vec<Action>) {
            let tests = suite();
            let schedule = Schedule::new(&tests, costs, &[]);
            let mut dispatcher = Dispatcher::new(tests.clone(), units, schedule, limits);
            for &c in collected {
                dispatcher.adopt(c);
            }
            let zero = Instant::now();
            let actions = dispatcher.start(zero);
            let harness = Harness {
                dispatcher,
                tests,
                zero,
                now: zero,
                emitted: Vec::new(),
                starts: HashMap::new(),
            };
            (harness, actions)
        }

        /// Moves the clock to `seconds` after the start.
        fn at(&mut self, seconds: f64) -> &mut Harness {
            self.now = self.zero + Duration::from_secs_f64(seconds);
            self
        }

        fn feed(&mut self, input: Input) -> Vec<Action> {
            let actions = self.dispatcher.handle(input, self.now);
            let emitted = &mut self.emitted;
            self.dispatcher.emit_finished(&mut |event| {
                if let Event::Report(report) = event {
                    emitted.push(format!("{} {:?}", report.item.nodeid, report.verdict));
                }
            });
            actions
        }

        fn say(&mut self, worker: WorkerId, message: Message) -> Vec<Action> {
            self.feed(Input::Message(worker, message))
        }

        fn collected(&mut self, worker: WorkerId) -> Vec<Action> {
            self.say(
                worker,
                Message::Collected {
                    tests: self.tests.clone(),
                    errors: Vec::new(),
                    selected_by_engine: None,
                    allow: Vec::new(),
                    pins: Vec::new(),
                    warnings: Vec::new(),
                },
            )
        }

        fn started(&mut self, worker: WorkerId, index: usize) -> Vec<Action> {
            self.say(
                worker,
                Message::Started {
                    index,
                    capture_offset: 0,
                },
            )
        }

        /// Run `run` of test `index` begins now on `worker`, as its run
        /// board says; then the supervisor's clock ticks (it reads the
        /// boards when a deadline or the progress line is due).
        fn run(&mut self, worker: WorkerId, index: usize, run: usize) -> Vec<Action> {
            let starts = self.starts.entry(worker).or_default();
            if starts.0 != index {
                *starts = (index, Vec::new());
            }
            starts.1.push(self.now);
            let run_times = starts.1.windows(2).map(|pair| pair[1] - pair[0]).collect();
            let seen = RunsSeen {
                index,
                run,
                run_started: self.now,
                run_times,
            };
            self.dispatcher.saw_runs(worker, seen);
            self.feed(Input::Tick)
        }

        fn reported(&mut self, worker: WorkerId, index: usize, verdict: Verdict) -> Vec<Action> {
            let report = report(&self.tests, index, verdict);
            self.say(worker, Message::Report(Box::new(report)))
        }

        /// A whole test on `worker`: started, one run, reported; the answer
        /// to its Ready.
        fn runs(&mut self, worker: WorkerId, index: usize, verdict: Verdict) -> Vec<Action> {
            assert_eq!(self.started(worker, index), []);
            assert_eq!(self.run(worker, index, 1), []);
            assert_eq!(self.reported(worker, index, verdict), []);
            self.say(worker, Message::Ready)
        }

        fn finish(self) -> (Outcome, Vec<String>) {
            let mut emitted = self.emitted;
            let outcome = self.dispatcher.finish(&mut |event| {
                if let Event::Report(report) = event {
                    emitted.push(format!("{} {:?}", report.item.nodeid, report.verdict));
                }
            });
            (outcome, emitted)
        }
    }

    fn verdicts(outcome: &Outcome) -> Vec<String> {
        outcome
            .tests
            .iter()
            .map(|r| format!("{} {:?}", r.item.nodeid, r.verdict))
            .collect()
    }

    #[test]
    fn one_worker_passes_reports_on_in_order_once_torn_down() {
        let (mut h, first) = Harness::start(vec![vec![0, 1], vec![2, 3]], limits(1), &[true]);
        assert_eq!(first, [Action::Run(0, 0)]);
        assert_eq!(h.started(0, 0), []);
        assert_eq!(h.reported(0, 0, Verdict::Passed), []);
        // Its module teardown may still fail: not final yet.
        assert!(h.emitted.is_empty());
        let teardown = Message::Teardown {
            index: 0,
            kind: "RuntimeError".to_string(),
            message: "teardown broke".to_string(),
            traceback: String::new(),
        };
        assert_eq!(h.say(0, teardown), []);
        assert_eq!(h.say(0, Message::Ready), [Action::Run(0, 1)]);
        assert_eq!(h.started(0, 1), []);
        assert_eq!(h.emitted, ["a.py::t0 Error"]);
        // The end of a file: the next one.
        assert_eq!(h.runs(0, 1, Verdict::Leaked), [Action::Run(0, 2)]);
        assert_eq!(h.runs(0, 2, Verdict::Passed), [Action::Run(0, 3)]);
        assert_eq!(h.runs(0, 3, Verdict::Failed), [Action::Exit(0)]);
        assert_eq!(
            h.emitted,
            ["a.py::t0 Error", "a.py::t1 Leaked", "b.py::t2 Passed"]
        );
        assert!(!h.dispatcher.is_over());
        assert_eq!(h.feed(Input::Exited(0, exited(0))), []);
        assert!(h.dispatcher.is_over());
        let (outcome, emitted) = h.finish();
        assert_eq!(
            emitted,
            [
                "a.py::t0 Error",
                "a.py::t1 Leaked",
                "b.py::t2 Passed",
                "b.py::t3 Failed"
            ]
        );
        assert_eq!(verdicts(&outcome), emitted);
        assert!(!outcome.interrupted);
        assert!(outcome.internal_error.is_none());
    }

    #[test]
    fn two_workers_take_a_file_each_then_half_of_what_is_left() {
        // The big file first, as `Schedule::units` orders them for -n 2.
        let units = vec![vec![2, 3, 4, 5, 6, 7], vec![0, 1]];
        // Worker 1 is still collecting when the run starts.
        let (mut h, first) = Harness::start(units, limits(2), &[true, false]);
        assert_eq!(first, [Action::Run(0, 2)]);
        assert_eq!(h.collected(1), [Action::Run(1, 0)]);
        assert_eq!(h.started(0, 2), []);
        assert_eq!(h.runs(1, 0, Verdict::Passed), [Action::Run(1, 1)]);
        // No file left: worker 1 takes half of the work worker 0 has left
        // (t2 running, t3..t7 to start): t5..t7.
        assert_eq!(h.runs(1, 1, Verdict::Passed), [Action::Run(1, 5)]);
        assert_eq!(h.started(1, 5), []);
        assert_eq!(h.run(0, 2, 1), []);
        assert_eq!(h.reported(0, 2, Verdict::Passed), []);
        assert_eq!(h.say(0, Message::Ready), [Action::Run(0, 3)]);
        assert_eq!(h.runs(0, 3, Verdict::Failed), [Action::Run(0, 4)]);
        // Worker 0 is done with its part while worker 1 runs t5 with t6, t7
        // to go: it takes t7, the half that is best cut off; then t6.
        assert_eq!(h.runs(0, 4, Verdict::Passed), [Action::Run(0, 7)]);
        assert_eq!(h.runs(0, 7, Verdict::Passed), [Action::Run(0, 6)]);
        assert_eq!(h.runs(0, 6, Verdict::Passed), [Action::Exit(0)]);
        assert_eq!(h.run(1, 5, 1), []);
        assert_eq!(h.reported(1, 5, Verdict::Leaked), []);
        assert_eq!(h.say(1, Message::Ready), [Action::Exit(1)]);
        assert_eq!(h.feed(Input::Exited(0, exited(0))), []);
        assert_eq!(h.feed(Input::Exited(1, exited(0))), []);
        assert!(h.dispatcher.is_over());
        let (outcome, emitted) = h.finish();
        // Passed on as they finish...
        assert_eq!(
            emitted,
            [
                "a.py::t0 Passed",
                "a.py::t1 Passed",
                "b.py::t2 Passed",
                "b.py::t3 Failed",
                "b.py::t4 Passed",
                "b.py::t7 Passed",
                "b.py::t6 Passed",
                "b.py::t5 Leaked",
            ]
        );
        // ... kept in collection order.
        assert_eq!(
            verdicts(&outcome),
            [
                "a.py::t0 Passed",
                "a.py::t1 Passed",
                "b.py::t2 Passed",
                "b.py::t3 Failed",
                "b.py::t4 Passed",
                "b.py::t5 Leaked",
                "b.py::t6 Passed",
                "b.py::t7 Passed",
            ]
        );
        assert!(!outcome.interrupted);
    }

    /// t6 took 10 s last time, every other test 1 s.
    fn one_long_test() -> Vec<f64> {
        let mut costs = vec![1.0; suite().len()];
        costs[6] = 10.0;
        costs
    }

    #[test]
    fn a_long_test_late_in_the_order_starts_at_once_in_the_second_worker() {
        let units = vec![vec![0, 1], vec![2, 3, 4, 5, 6, 7]];
        let (mut h, first) = Harness::costing(units, limits(2), &[true, false], one_long_test());
        assert_eq!(first, [Action::Run(0, 0)]);
        // The second worker starts at t6, to go on forward from there.
        assert_eq!(h.collected(1), [Action::Run(1, 6)]);
        assert_eq!(h.started(1, 6), []);
        for test in 0..5 {
            assert_eq!(h.runs(0, test, Verdict::Passed), [Action::Run(0, test + 1)]);
        }
        // Done with the tests before t6: the first takes what the second
        // has not started.
        assert_eq!(h.runs(0, 5, Verdict::Passed), [Action::Run(0, 7)]);
        assert_eq!(h.runs(0, 7, Verdict::Passed), [Action::Exit(0)]);
        assert_eq!(h.run(1, 6, 1), []);
        assert_eq!(h.reported(1, 6, Verdict::Leaked), []);
        assert_eq!(h.say(1, Message::Ready), [Action::Exit(1)]);
        assert_eq!(h.feed(Input::Exited(0, exited(0))), []);
        assert_eq!(h.feed(Input::Exited(1, exited(0))), []);
        let (outcome, _) = h.finish();
        assert_eq!(
            verdicts(&outcome),
            [
                "a.py::t0 Passed",
                "a.py::t1 Passed",
                "b.py::t2 Passed",
                "b.py::t3 Passed",
                "b.py::t4 Passed",
                "b.py::t5 Passed",
                "b.py::t6 Leaked",
                "b.py::t7 Passed",
            ]
        );
    }

    #[test]
    fn a_head_start_no_second_worker_took_follows_the_front() {
        let units = vec![vec![0, 1], vec![2, 3, 4, 5, 6, 7]];
        let (mut h, first) = Harness::costing(units, limits(2), &[true], one_long_test());
        assert_eq!(first, [Action::Run(0, 0), Action::Spawn]);
        assert_eq!(h.feed(Input::Spawned(1)), []);
        // The second worker is still collecting: the first goes on in order.
        for test in 0..6 {
            assert_eq!(h.runs(0, test, Verdict::Passed), [Action::Run(0, test + 1)]);
        }
        assert_eq!(h.started(0, 6), []);
        // What is left when the second one is ready: half, from the back.
        assert_eq!(h.collected(1), [Action::Run(1, 7)]);
    }

    #[test]
    fn a_crash_fails_its_test_and_a_new_worker_runs_the_rest_of_the_file() {
        let (mut h, first) = Harness::start(vec![vec![2, 3, 4, 5]], limits(1), &[true]);
        assert_eq!(first, [Action::Run(0, 2)]);
        assert_eq!(h.runs(0, 2, Verdict::Passed), [Action::Run(0, 3)]);
        h.at(1.0);
        let started = Message::Started {
            index: 3,
            capture_offset: 120,
        };
        assert_eq!(h.say(0, started), []);
        assert_eq!(h.run(0, 3, 1), []);
        h.at(1.5);
        assert_eq!(h.run(0, 3, 2), []);
        // What the supervisor reads from the capture file starts there.
        assert_eq!(h.dispatcher.capture_offset(0), Some(120));
        h.at(2.25);
        let leftovers = Leftovers {
            status: Some(ExitStatus::from_raw(libc::SIGSEGV)),
            captured: "last words\n".to_string(),
            stack: String::new(),
        };
        // No worker left, a file to run: a new one.
        assert_eq!(h.feed(Input::Exited(0, leftovers)), [Action::Spawn]);
        assert_eq!(h.emitted, ["b.py::t2 Passed", "b.py::t3 Failed"]);
        assert!(!h.dispatcher.is_over(), "a worker is on its way");
        assert_eq!(h.feed(Input::Spawned(1)), []);
        // The rest of the file, where it stopped.
        assert_eq!(h.collected(1), [Action::Run(1, 4)]);
        assert_eq!(h.runs(1, 4, Verdict::Passed), [Action::Run(1, 5)]);
        assert_eq!(h.runs(1, 5, Verdict::Passed), [Action::Exit(1)]);
        assert_eq!(h.feed(Input::Exited(1, exited(0))), []);
        let (outcome, _) = h.finish();
        assert_eq!(
            verdicts(&outcome),
            [
                "b.py::t2 Passed",
                "b.py::t3 Failed",
                "b.py::t4 Passed",
                "b.py::t5 Passed"
            ]
        );
        let crashed = &outcome.tests[1];
        let failure = crashed.failure.as_ref().unwrap();
        assert_eq!(failure.kind, "WorkerCrash");
        assert_eq!(
            failure.message,
            "worker died with SIGSEGV during run 2 of b.py::t3"
        );
        assert_eq!(crashed.captured, "last words\n");
        assert_eq!(crashed.runs, 2);
        assert_eq!(crashed.duration, Duration::from_millis(1250));
        assert!(!outcome.interrupted);
        assert!(outcome.internal_error.is_none());
    }

    #[test]
    fn with_two_workers_the_other_one_may_take_a_crashed_workers_file() {
        let (mut h, first) = Harness::start(vec![vec![2, 3, 4], vec![0]], limits(2), &[true, true]);
        assert_eq!(first, [Action::Run(0, 2), Action::Run(1, 0)]);
        assert_eq!(h.started(0, 2), []);
        assert_eq!(h.feed(Input::Exited(0, exited(3 << 8))), [Action::Spawn]);
        assert_eq!(h.feed(Input::Spawned(2)), []);
        // Worker 1 is ready before the new worker has collected.
        assert_eq!(h.runs(1, 0, Verdict::Passed), [Action::Run(1, 3)]);
        assert_eq!(h.started(1, 3), []);
        // The new worker takes what worker 1 has not started.
        assert_eq!(h.collected(2), [Action::Run(2, 4)]);
        assert_eq!(h.run(1, 3, 1), []);
        assert_eq!(h.reported(1, 3, Verdict::Passed), []);
        assert_eq!(h.say(1, Message::Ready), [Action::Exit(1)]);
        assert_eq!(h.runs(2, 4, Verdict::Passed), [Action::Exit(2)]);
        assert_eq!(h.feed(Input::Exited(1, exited(0))), []);
        assert_eq!(h.feed(Input::Exited(2, exited(0))), []);
        let (outcome, _) = h.finish();
        assert_eq!(
            verdicts(&outcome),
            [
                "a.py::t0 Passed",
                "b.py::t2 Failed",
                "b.py::t3 Passed",
                "b.py::t4 Passed"
            ]
        );
        assert_eq!(
            outcome.tests[1].failure.as_ref().unwrap().message,
            "worker exited with code 3 during run 0 of b.py::t2"
        );
    }

    #[test]
    fn a_run_past_the_timeout_is_stopped_once_and_reported_with_its_stack() {
        let limits = timing_out_after(2);
        let (mut h, first) = Harness::start(vec![vec![0, 1]], limits, &[true]);
        assert_eq!(first, [Action::Run(0, 0)]);
        assert_eq!(h.dispatcher.next_deadline(), None, "no test runs yet");
        assert_eq!(h.started(0, 0), []);
        assert_eq!(h.run(0, 0, 1), []);
        h.at(1.5);
        // The timeout is per run: a new run, a new deadline.
        assert_eq!(h.run(0, 0, 2), []);
        assert_eq!(
            h.dispatcher.next_deadline(),
            Some(h.zero + Duration::from_millis(3500))
        );
        assert_eq!(h.at(3.4).feed(Input::Tick), []);
        assert_eq!(h.at(3.5).feed(Input::Tick), [Action::StopHung(0)]);
        assert_eq!(h.dispatcher.next_deadline(), None);
        assert_eq!(h.at(3.6).feed(Input::Tick), [], "stopped once");
        let leftovers = Leftovers {
            status: Some(ExitStatus::from_raw(libc::SIGKILL)),
            captured: String::new(),
            stack: "  File \"a.py\", line 3 in t0\n".to_string(),
        };
        assert_eq!(h.at(3.9).feed(Input::Exited(0, leftovers)), [Action::Spawn]);
        assert_eq!(h.feed(Input::Spawned(1)), []);
        assert_eq!(h.collected(1), [Action::Run(1, 1)]);
        assert_eq!(h.runs(1, 1, Verdict::Passed), [Action::Exit(1)]);
        assert_eq!(h.feed(Input::Exited(1, exited(0))), []);
        let (outcome, _) = h.finish();
        assert_eq!(verdicts(&outcome), ["a.py::t0 Failed", "a.py::t1 Passed"]);
        let failure = outcome.tests[0].failure.as_ref().unwrap();
        assert_eq!(failure.kind, "Timeout");
        assert_eq!(
            failure.message,
            "timed out after 2s during run 2 of a.py::t0"
        );
        assert_eq!(
            failure.traceback,
            "Python stack when it was stopped:\n  File \"a.py\", line 3 in t0\n"
        );
        assert!(!outcome.interrupted);
    }

    /// The failure of a test's teardown, as the short summary puts it.
    fn teardown_failure(outcome: &Outcome, index: usize) -> (String, String, String) {
        let failure = outcome.tests[index].failure.as_ref().unwrap();
        assert_eq!(failure.phase, "teardown");
        (
            failure.kind.clone(),
            failure.message.clone(),
            failure.traceback.clone(),
        )
    }

    #[test]
    fn a_crash_tearing_down_before_the_next_file_fails_that_test_and_the_next_one_still_runs() {
        let (mut h, first) = Harness::start(vec![vec![0, 1], vec![2]], limits(1), &[true]);
        assert_eq!(first, [Action::Run(0, 0)]);
        assert_eq!(h.runs(0, 0, Verdict::Passed), [Action::Run(0, 1)]);
        assert_eq!(h.runs(0, 1, Verdict::Passed), [Action::Run(0, 2)]);
        // Told to run t2, it tore down a.py's module and died there.
        assert_eq!(
            h.feed(Input::Exited(0, exited(libc::SIGABRT))),
            [Action::Spawn]
        );
        assert_eq!(h.emitted, ["a.py::t0 Passed", "a.py::t1 Error"]);
        assert_eq!(h.feed(Input::Spawned(1)), []);
        assert_eq!(h.collected(1), [Action::Run(1, 2)]);
        assert_eq!(h.runs(1, 2, Verdict::Passed), [Action::Exit(1)]);
        assert_eq!(h.feed(Input::Exited(1, exited(0))), []);
        let (outcome, _) = h.finish();
        assert_eq!(
            verdicts(&outcome),
            ["a.py::t0 Passed", "a.py::t1 Error", "b.py::t2 Passed"]
        );
        assert_eq!(
            teardown_failure(&outcome, 1),
            (
                "WorkerCrash".to_string(),
                "worker died with SIGABRT in the teardown after run 8 of a.py::t1".to_string(),
                String::new()
            )
        );
        assert!(!outcome.interrupted);
    }

    #[test]
    fn a_teardown_past_the_timeout_is_stopped_and_fails_its_test() {
        let limits = timing_out_after(2);
        let (mut h, first) = Harness::start(vec![vec![0], vec![2]], limits, &[true]);
        assert_eq!(first, [Action::Run(0, 0)]);
        assert_eq!(h.dispatcher.next_deadline(), None, "nothing to end yet");
        h.at(1.0);
        assert_eq!(h.runs(0, 0, Verdict::Passed), [Action::Run(0, 2)]);
        assert_eq!(
            h.dispatcher.next_deadline(),
            Some(h.zero + Duration::from_secs(3))
        );
        assert_eq!(h.at(2.9).feed(Input::Tick), []);
        assert_eq!(h.at(3.0).feed(Input::Tick), [Action::StopHung(0)]);
        assert_eq!(h.dispatcher.next_deadline(), None);
        let leftovers = Leftovers {
            status: Some(ExitStatus::from_raw(libc::SIGKILL)),
            captured: String::new(),
            stack: "  File \"conftest.py\", line 5 in forever\n".to_string(),
        };
        assert_eq!(h.feed(Input::Exited(0, leftovers)), [Action::Spawn]);
        assert_eq!(h.feed(Input::Spawned(1)), []);
        assert_eq!(h.collected(1), [Action::Run(1, 2)]);
        assert_eq!(h.runs(1, 2, Verdict::Passed), [Action::Exit(1)]);
        assert_eq!(h.feed(Input::Exited(1, exited(0))), []);
        let (outcome, _) = h.finish();
        assert_eq!(verdicts(&outcome), ["a.py::t0 Error", "b.py::t2 Passed"]);
        assert_eq!(
            teardown_failure(&outcome, 0),
            (
                "Timeout".to_string(),
                "timed out after 2s in the teardown after run 8 of a.py::t0".to_string(),
                "Python stack when it was stopped:\n  File \"conftest.py\", line 5 in forever\n"
                    .to_string()
            )
        );
    }

    #[test]
    fn the_session_end_is_bounded_by_the_timeout_and_fails_the_last_test() {
        let limits = timing_out_after(2);
        let (mut h, _) = Harness::start(vec![vec![0]], limits, &[true]);
        h.at(1.0);
        assert_eq!(h.runs(0, 0, Verdict::Passed), [Action::Exit(0)]);
        assert_eq!(h.at(3.0).feed(Input::Tick), [Action::StopHung(0)]);
        assert_eq!(h.feed(Input::Exited(0, exited(libc::SIGKILL))), []);
        assert!(h.dispatcher.is_over());
        let (outcome, _) = h.finish();
        assert_eq!(verdicts(&outcome), ["a.py::t0 Error"]);
        assert_eq!(
            teardown_failure(&outcome, 0).1,
            "timed out after 2s at the session's end, after run 8 of a.py::t0"
        );
    }

    #[test]
    fn a_worker_that_exits_when_told_leaves_its_last_test_as_it_was() {
        let limits = timing_out_after(2);
        let (mut h, _) = Harness::start(vec![vec![0]], limits, &[true]);
        assert_eq!(h.runs(0, 0, Verdict::Passed), [Action::Exit(0)]);
        assert_eq!(h.at(1.9).feed(Input::Exited(0, exited(0))), []);
        let (outcome, _) = h.finish();
        assert_eq!(verdicts(&outcome), ["a.py::t0 Passed"]);
    }

    #[test]
    fn a_crash_at_the_session_end_fails_the_last_test() {
        let (mut h, _) = Harness::start(vec![vec![0]], limits(1), &[true]);
        assert_eq!(h.runs(0, 0, Verdict::Passed), [Action::Exit(0)]);
        // os._exit(3) in an atexit callback: exit(3) is status 3 << 8.
        assert_eq!(h.feed(Input::Exited(0, exited(3 << 8))), []);
        let (outcome, _) = h.finish();
        assert_eq!(verdicts(&outcome), ["a.py::t0 Error"]);
        assert_eq!(
            teardown_failure(&outcome, 0).1,
            "worker exited with code 3 at the session's end, after run 8 of a.py::t0"
        );
    }

    #[test]
    fn a_run_is_timed_from_when_its_board_says_it_began_not_from_when_it_was_read() {
        let limits = timing_out_after(2);
        let (mut h, _) = Harness::start(vec![vec![0, 1]], limits, &[true]);
        assert_eq!(h.started(0, 0), []);
        // Read at 1.9 s (a tick), the board says run 3 began at 1.2 s.
        h.at(1.9);
        let seen = RunsSeen {
            index: 0,
            run: 3,
            run_started: h.zero + Duration::from_millis(1200),
            run_times: vec![Duration::from_millis(500), Duration::from_millis(700)],
        };
        h.dispatcher.saw_runs(0, seen);
        assert_eq!(h.feed(Input::Tick), []);
        assert_eq!(
            h.dispatcher.next_deadline(),
            Some(h.zero + Duration::from_millis(3200))
        );
        assert_eq!(h.at(3.2).feed(Input::Tick), [Action::StopHung(0)]);
        assert_eq!(
            h.feed(Input::Exited(0, exited(libc::SIGKILL))),
            [Action::Spawn]
        );
        let (outcome, _) = h.finish();
        let failure = outcome.tests[0].failure.as_ref().unwrap();
        assert_eq!(
            failure.message,
            "timed out after 2s during run 3 of a.py::t0"
        );
    }

    #[test]
    fn a_board_still_showing_the_test_before_changes_nothing() {
        let limits = timing_out_after(2);
        let (mut h, _) = Harness::start(vec![vec![0, 1]], limits, &[true]);
        assert_eq!(h.runs(0, 0, Verdict::Passed), [Action::Run(0, 1)]);
        h.at(1.0);
        assert_eq!(h.started(0, 1), []);
        // Read before the worker began t1's first run: it still shows t0.
        let stale = RunsSeen {
            index: 0,
            run: 7,
            run_started: h.zero,
            run_times: Vec::new(),
        };
        h.dispatcher.saw_runs(0, stale);
        assert_eq!(h.feed(Input::Tick), []);
        // t1 is timed from its start, and is in no run yet.
        assert_eq!(
            h.dispatcher.next_deadline(),
            Some(h.zero + Duration::from_secs(3))
        );
        let progress = h.dispatcher.progress(Duration::from_secs(1));
        assert_eq!(progress.running, [("a.py::t1".to_string(), 0)]);
    }

    #[test]
    fn a_diagnosis_has_its_own_limit_and_its_leak_stands_when_stopped() {
        let limits = timing_out_after(2);
        let (mut h, _) = Harness::start(vec![vec![0]], limits, &[true]);
        assert_eq!(h.started(0, 0), []);
        assert_eq!(h.run(0, 0, 8), []);
        h.at(1.0);
        let judged = report(&h.tests, 0, Verdict::Leaked);
        assert_eq!(h.say(0, Message::Diagnosing(Box::new(judged))), []);
        // Its runs do not restart the clock: the diagnosis is timed as one.
        h.at(30.0);
        assert_eq!(h.run(0, 0, 9), []);
        assert_eq!(
            h.dispatcher.next_deadline(),
            Some(h.zero + Duration::from_secs(61))
        );
        assert_eq!(h.at(60.9).feed(Input::Tick), []);
        assert_eq!(h.at(61.0).feed(Input::Tick), [Action::StopHung(0)]);
        assert_eq!(h.feed(Input::Exited(0, exited(libc::SIGKILL))), []);
        assert!(h.dispatcher.is_over());
        let (outcome, _) = h.finish();
        assert_eq!(verdicts(&outcome), ["a.py::t0 Leaked"]);
        assert_eq!(
            outcome.tests[0].diagnosis.as_ref().unwrap().note.as_deref(),
            Some(
                "the diagnosis did not finish (it was stopped after 60 s, during run 9); \
                 the leak stands on its judged runs"
            )
        );
    }

    #[test]
    fn without_a_timeout_nothing_is_due() {
        let (mut h, _) = Harness::start(vec![vec![0]], limits(1), &[true]);
        assert_eq!(h.started(0, 0), []);
        assert_eq!(h.run(0, 0, 1), []);
        assert_eq!(h.dispatcher.next_deadline(), None);
        assert_eq!(h.at(3600.0).feed(Input::Tick), []);
    }

    #[test]
    fn exitfirst_hands_out_no_test_after_the_first_bad_verdict() {
        let limits = Limits {
            exitfirst: true,
            ..limits(2)
        };
        let (mut h, first) = Harness::start(vec![vec![2, 3, 4], vec![0, 1]], limits, &[true, true]);
        assert_eq!(first, [Action::Run(0, 2), Action::Run(1, 0)]);
        // A pass changes nothing.
        assert_eq!(h.runs(1, 0, Verdict::Passed), [Action::Run(1, 1)]);
        assert_eq!(h.started(1, 1), []);
        assert_eq!(h.runs(0, 2, Verdict::Failed), [Action::Exit(0)]);
        // The running test finishes and is reported; nothing else starts.
        assert_eq!(h.run(1, 1, 1), []);
        assert_eq!(h.reported(1, 1, Verdict::Passed), []);
        assert_eq!(h.say(1, Message::Ready), [Action::Exit(1)]);
        // Its worker gone, no new one for the rest of the file.
        assert_eq!(h.feed(Input::Exited(0, exited(0))), []);
        assert_eq!(h.feed(Input::Exited(1, exited(0))), []);
        assert!(h.dispatcher.is_over());
        let (outcome, _) = h.finish();
        assert_eq!(
            verdicts(&outcome),
            ["a.py::t0 Passed", "a.py::t1 Passed", "b.py::t2 Failed"]
        );
        // Not every test ran.
        assert!(outcome.interrupted);
    }

    #[test]
    fn exitfirst_on_the_last_test_is_no_interruption() {
        let limits = Limits {
            exitfirst: true,
            ..limits(1)
        };
        let (mut h, _) = Harness::start(vec![vec![0]], limits, &[true]);
        assert_eq!(h.runs(0, 0, Verdict::Failed), [Action::Exit(0)]);
        assert_eq!(h.feed(Input::Exited(0, exited(0))), []);
        let (outcome, _) = h.finish();
        assert_eq!(verdicts(&outcome), ["a.py::t0 Failed"]);
        assert!(!outcome.interrupted);
    }

    #[test]
    fn an_interruption_lets_the_running_tests_end_and_reports_only_finished_ones() {
        let (mut h, first) = Harness::start(vec![vec![2, 3], vec![0, 1]], limits(2), &[true, true]);
        assert_eq!(first, [Action::Run(0, 2), Action::Run(1, 0)]);
        assert_eq!(h.runs(1, 0, Verdict::Passed), [Action::Run(1, 1)]);
        assert_eq!(h.started(1, 1), []);
        assert_eq!(h.started(0, 2), []);
        h.at(5.0);
        assert_eq!(
            h.feed(Input::Interrupted(Interruption::Stop)),
            [Action::Interrupt(0), Action::Interrupt(1)]
        );
        // The grace the running tests get.
        assert_eq!(
            h.dispatcher.next_deadline(),
            Some(h.zero + Duration::from_secs(8))
        );
        // Worker 1's test ends its run and is reported; it gets no more.
        assert_eq!(h.reported(1, 1, Verdict::Passed), []);
        assert_eq!(h.say(1, Message::Ready), [Action::Exit(1)]);
        // Worker 0's test stops on Ctrl-C: no report, not a crash.
        assert_eq!(h.say(0, Message::Interrupted), []);
        assert_eq!(h.feed(Input::Exited(0, exited(1 << 8))), []);
        assert_eq!(h.feed(Input::Exited(1, exited(0))), []);
        assert!(h.dispatcher.is_over());
        let (outcome, emitted) = h.finish();
        assert_eq!(emitted, ["a.py::t0 Passed", "a.py::t1 Passed"]);
        assert_eq!(verdicts(&outcome), emitted);
        assert!(outcome.interrupted);
        assert!(outcome.internal_error.is_none());
    }

    #[test]
    fn tests_still_running_when_the_grace_ends_are_killed() {
        let (mut h, _) = Harness::start(vec![vec![0, 1]], limits(1), &[true]);
        assert_eq!(h.runs(0, 0, Verdict::Passed), [Action::Run(0, 1)]);
        assert_eq!(h.started(0, 1), []);
        h.at(5.0);
        assert_eq!(
            h.feed(Input::Interrupted(Interruption::Stop)),
            [Action::Interrupt(0)]
        );
        assert_eq!(h.at(8.0).feed(Input::Tick), []);
        assert_eq!(h.at(8.001).feed(Input::Tick), [Action::Kill(0)]);
        assert!(h.dispatcher.is_over());
        let (outcome, emitted) = h.finish();
        assert_eq!(emitted, ["a.py::t0 Passed"]);
        assert!(outcome.interrupted);
    }

    #[test]
    fn a_second_interruption_kills_the_running_tests_and_keeps_the_finished() {
        let (mut h, _) = Harness::start(vec![vec![0, 1, 2]], limits(1), &[true]);
        assert_eq!(h.runs(0, 0, Verdict::Passed), [Action::Run(0, 1)]);
        assert_eq!(h.started(0, 1), []);
        assert_eq!(h.reported(0, 1, Verdict::Passed), []);
        h.at(5.0);
        assert_eq!(
            h.feed(Input::Interrupted(Interruption::Stop)),
            [Action::Interrupt(0)]
        );
        h.at(6.5);
        assert_eq!(
            h.feed(Input::Interrupted(Interruption::Force)),
            [Action::Warn(FORCED), Action::Kill(0)]
        );
        assert_eq!(FORCED, "interrupted again: stopping the running tests now");
        assert!(h.dispatcher.is_over());
        // Said once: nothing is left to stop.
        assert_eq!(h.feed(Input::Interrupted(Interruption::Force)), []);
        let (outcome, emitted) = h.finish();
        // t1 was reported, its teardown never came: it stands as reported.
        assert_eq!(emitted, ["a.py::t0 Passed", "a.py::t1 Passed"]);
        assert_eq!(verdicts(&outcome), emitted);
        assert!(outcome.interrupted);
    }

    #[test]
    fn a_forced_interruption_first_still_passes_ctrl_c_on() {
        let (mut h, _) = Harness::start(vec![vec![0]], limits(1), &[true]);
        assert_eq!(h.started(0, 0), []);
        assert_eq!(
            h.feed(Input::Interrupted(Interruption::Force)),
            [Action::Interrupt(0), Action::Warn(FORCED), Action::Kill(0)]
        );
        let (outcome, emitted) = h.finish();
        assert!(emitted.is_empty());
        assert!(outcome.tests.is_empty());
        assert!(outcome.interrupted);
    }

    #[test]
    fn more_workers_start_while_files_wait_one_at_a_time() {
        let units = vec![vec![2, 3], vec![4, 5], vec![0, 1]];
        let (mut h, first) = Harness::start(units, limits(3), &[true]);
        assert_eq!(first, [Action::Run(0, 2), Action::Spawn]);
        assert!(!h.dispatcher.is_over());
        // Two files wait, one worker collects: one more.
        assert_eq!(h.feed(Input::Spawned(1)), [Action::Spawn]);
        assert_eq!(h.feed(Input::Spawned(2)), []);
        assert_eq!(h.collected(2), [Action::Run(2, 4)]);
        assert_eq!(h.collected(1), [Action::Run(1, 0)]);
        // Fewer files than workers: none started.
        let (_, first) = Harness::start(vec![vec![0, 1]], limits(3), &[true]);
        assert_eq!(first, [Action::Run(0, 0)]);
    }

    #[test]
    fn a_worker_that_cannot_start_ends_the_session_with_an_internal_error() {
        let (mut h, first) = Harness::start(vec![vec![2, 3], vec![0, 1]], limits(2), &[true]);
        assert_eq!(first, [Action::Run(0, 2), Action::Spawn]);
        let error = anyhow!("cannot start a worker process");
        assert_eq!(h.feed(Input::SpawnFailed(error)), []);
        assert_eq!(h.runs(0, 2, Verdict::Passed), [Action::Exit(0)]);
        assert_eq!(h.feed(Input::Exited(0, exited(0))), []);
        let (outcome, _) = h.finish();
        assert_eq!(verdicts(&outcome), ["b.py::t2 Passed"]);
        assert!(outcome.interrupted);
        assert_eq!(
            outcome.internal_error.unwrap().to_string(),
            "cannot start a worker process"
        );
    }

    #[test]
    fn a_worker_that_dies_or_differs_while_collecting_is_an_internal_error() {
        let (mut h, _) = Harness::start(vec![vec![2, 3], vec![0, 1]], limits(2), &[true, false]);
        assert_eq!(h.feed(Input::Exited(1, exited(1 << 8))), []);
        let (outcome, _) = h.finish();
        assert_eq!(
            outcome.internal_error.unwrap().to_string(),
            "a worker exited with code 1 before it finished collecting"
        );

        let (mut h, _) = Harness::start(vec![vec![2, 3], vec![0, 1]], limits(2), &[true, false]);
        let other = Message::Collected {
            tests: vec![item("a.py", "t_random_17")],
            errors: Vec::new(),
            selected_by_engine: None,
            allow: Vec::new(),
            pins: Vec::new(),
            warnings: Vec::new(),
        };
        assert_eq!(h.say(1, other), [Action::Exit(1)]);
        let (outcome, _) = h.finish();
        assert_eq!(
            outcome.internal_error.unwrap().to_string(),
            "worker 1 collected other tests than the first worker: \
             collection must not depend on the process (random test names?)"
        );
    }

    #[test]
    fn progress_counts_what_was_passed_on_and_names_what_runs() {
        let (mut h, _) = Harness::start(vec![vec![0, 1], vec![2]], limits(1), &[true]);
        assert_eq!(h.runs(0, 0, Verdict::Leaked), [Action::Run(0, 1)]);
        assert_eq!(h.started(0, 1), []);
        assert_eq!(h.run(0, 1, 4), []);
        let progress = h.dispatcher.progress(Duration::from_secs(7));
        assert_eq!(progress.done, 1);
        assert_eq!(progress.total, 3);
        assert_eq!(progress.leaked, 1);
        assert_eq!(progress.elapsed, Duration::from_secs(7));
        assert_eq!(progress.running, [("a.py::t1".to_string(), 4)]);
    }
}
