//! The iteration policy: warm-ups, judged runs, more runs while the verdict
//! engine asks for them, and what each test's result is.

use std::time::{Duration, Instant};

use anyhow::Result;
use pyo3::Python;

use crate::model::outcome::fail_on_resource_warnings;
use crate::model::outcome::{Failure, TestItem, TestReport, Verdict};
use crate::model::signal::Sample;
use crate::model::verdict::{is_flat, judge, Judgement, Policy};
use crate::worker::diagnosis::{diagnose, DiagnosisOptions};
use crate::worker::engine::{Engine, ProblemKind, RunProblem};
use crate::worker::interpreter::Interrupted;
use crate::worker::resource_warnings::Watched;
use crate::worker::sampler::{release_free_heap, Sampler};

#[derive(Debug, Clone)]
pub struct RunConfig {
    pub warmup: usize,
    pub policy: Policy,
    pub diagnosis: DiagnosisOptions,
}

/// What the runner tells its caller as a test goes on.
pub enum Progress<'a> {
    /// Run number N (warm-ups and diagnosis runs included) begins.
    Run(usize),
    /// The test is judged LEAKED and its diagnosis begins: the report as
    /// judged, which stands if the diagnosis never ends. `--timeout` does not
    /// apply to a diagnosis, which bounds itself.
    Diagnosing(&'a TestReport),
}

/// How one test ended, before it becomes a report.
enum Ending {
    Judged(Judgement),
    Problem(RunProblem, usize),
}

/// Runs one test: scope setup, warm-ups, judged runs until the verdict engine
/// decides. `on_run` hears the number of each run as it starts, and when a
/// diagnosis begins. The test's
/// scopes stay set up: the caller tears them down with `Engine::leave` once it
/// knows the next test (and applies a failure with `apply_teardown`).
pub fn run_test(
    py: Python<'_>,
    engine: &mut dyn Engine,
    sampler: &Sampler,
    item: &TestItem,
    index: usize,
    config: &RunConfig,
    on_run: &mut dyn FnMut(Progress<'_>),
) -> Result<TestReport> {
    let started = Instant::now();
    sampler.restore(py)?;
    // Room for every sample up front: growing the series mid-test would show
    // in the heap bytes it measures.
    let mut series = Vec::with_capacity(config.policy.max_runs + 2);
    let mut runs = Runs { count: 0, on_run };
    let mut watched = Watched::new(engine, &config.diagnosis.rootdir);
    let ending = match watched.enter(py, index)? {
        Some(problem) => Ending::Problem(problem, 0),
        None => repeat(
            py,
            &mut watched,
            sampler,
            index,
            config,
            &mut series,
            &mut runs,
        )?,
    };
    let judged_runs = runs.count;
    let mut report = TestReport {
        item: item.clone(),
        verdict: Verdict::Passed,
        runs: judged_runs,
        warmup: config.warmup.min(judged_runs),
        duration: Duration::ZERO,
        failure: None,
        skip_reason: None,
        growth: Vec::new(),
        series,
        captured: String::new(),
        allowed: None,
        diagnosis: None,
        resource_warnings: Vec::new(),
        not_repeatable: None,
        pytest_counts: Vec::new(),
    };
    // A second, deeper pass, only for a leak, while its scopes are still set up.
    if let Ending::Judged(Judgement::Leak(growth)) = &ending {
        report.verdict = Verdict::Leaked;
        report.growth = growth.clone();
        report.duration = started.elapsed();
        (runs.on_run)(Progress::Diagnosing(&report));
        report.diagnosis = Some(diagnose(
            py,
            &mut watched,
            sampler,
            index,
            growth,
            &config.diagnosis,
            &mut || {
                runs.next();
            },
        )?);
    }
    report.resource_warnings = watched.into_warnings();
    match ending {
        Ending::Judged(Judgement::Inconclusive(growth)) => {
            report.verdict = Verdict::Inconclusive;
            report.growth = growth;
        }
        Ending::Judged(_) => {}
        Ending::Problem(problem, run) => apply_problem(&mut report, problem, run)?,
    }
    if config.diagnosis.strict_resources {
        fail_on_resource_warnings(&mut report);
    }
    report.duration = started.elapsed();
    Ok(report)
}

/// Counts runs and tells the caller as each one starts.
struct Runs<'a> {
    count: usize,
    on_run: &'a mut dyn FnMut(Progress<'_>),
}

impl Runs<'_> {
    fn next(&mut self) -> usize {
        self.count += 1;
        (self.on_run)(Progress::Run(self.count));
        self.count
    }
}

/// Warm-ups, then judged runs until the verdict engine decides.
fn repeat(
    py: Python<'_>,
    engine: &mut dyn Engine,
    sampler: &Sampler,
    index: usize,
    config: &RunConfig,
    series: &mut Vec<Sample>,
    runs: &mut Runs<'_>,
) -> Result<Ending> {
    for warmup in 0..config.warmup {
        if warmup + 1 == config.warmup {
            release_free_heap();
        }
        let run = runs.next();
        if let Some(problem) = engine.run_once(py, index)? {
            return Ok(Ending::Problem(problem, run));
        }
    }
    if config.warmup == 0 {
        release_free_heap();
    }
    sampler.freeze(py)?;
    let ending = judged_runs(py, engine, sampler, index, config, series, runs);
    sampler.test_done(py)?;
    ending
}

/// Judged runs of a test whose runs take longer than this in all are decided
/// at the next point the verdict engine can decide, with the runs they had:
/// a test of seconds a run gets a time budget, not a count.
const TIME_BUDGET: Duration = Duration::from_secs(60);

/// Judged runs until the verdict engine decides. The caches are cleared
/// only when something moved: each run's first sample leaves them as the
/// test left them, and when nothing changed since the run before (caches
/// included), the state with them cleared has not changed either. A test
/// that reuses its caches (a regex-heavy one) then refills them once, not in
/// every run, and a flat test never pays for the clearing.
fn judged_runs(
    py: Python<'_>,
    engine: &mut dyn Engine,
    sampler: &Sampler,
    index: usize,
    config: &RunConfig,
    series: &mut Vec<Sample>,
    runs: &mut Runs<'_>,
) -> Result<Ending> {
    let policy = &config.policy;
    let baseline = sampler.sample(py, None)?;
    series.push(baseline);
    let mut as_left = baseline;
    let started = Instant::now();
    loop {
        let run = runs.next();
        if let Some(problem) = engine.run_once(py, index)? {
            return Ok(Ending::Problem(problem, run));
        }
        let previous = *series.last().unwrap_or(&baseline);
        let now = sampler.sample_uncleared(py, Some(&previous))?;
        let sample = if now == as_left {
            previous
        } else {
            as_left = now;
            sampler.sample(py, Some(&previous))?
        };
        series.push(sample);
        let judged = series.len() - 1;
        if is_flat(series, policy) {
            return Ok(Ending::Judged(Judgement::Clean));
        }
        let checkpoint = judged >= policy.min_runs
            && ((judged - policy.min_runs).is_multiple_of(policy.min_runs.max(1))
                || judged >= policy.max_runs);
        if !checkpoint {
            continue;
        }
        let judgement = if started.elapsed() >= TIME_BUDGET {
            judge(series, &policy.capped_at(judged))
        } else {
            judge(series, policy)
        };
        if judgement != Judgement::NeedMore {
            return Ok(Ending::Judged(judgement));
        }
    }
}

fn apply_problem(report: &mut TestReport, problem: RunProblem, run: usize) -> Result<()> {
    report.captured = problem.captured;
    match problem.outcome {
        ProblemKind::Interrupted => return Err(anyhow::Error::new(Interrupted)),
        ProblemKind::Skipped => {
            report.verdict = Verdict::Skipped;
            report.skip_reason = Some(problem.message);
            return Ok(());
        }
        // A test marked xfail is not measured: its outcome is pytest's.
        ProblemKind::XFailed | ProblemKind::XPassed => {
            report.verdict = if problem.outcome == ProblemKind::XFailed {
                Verdict::XFailed
            } else {
                Verdict::XPassed
            };
            report.skip_reason = Some(problem.message);
            return Ok(());
        }
        ProblemKind::Failed => report.verdict = Verdict::Failed,
        ProblemKind::Error => report.verdict = Verdict::Error,
    }
    report.growth.clear();
    report.failure = Some(Failure {
        kind: problem.kind,
        message: problem.message,
        traceback: problem.traceback,
        run,
        phase: problem.phase,
    });
    Ok(())
}
