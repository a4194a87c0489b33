//! The iteration policy: warm-ups, judged runs, more runs while the verdict
//! engine asks for them, and what each test's result is.

use std::time::{Duration, Instant};

use anyhow::Result;
use pyo3::Python;

use crate::engine::{Engine, ProblemKind, RunProblem};
use crate::interpreter::Interrupted;
use crate::outcome::{Failure, SessionReport, TestItem, TestReport, Verdict};
use crate::sampler::Sampler;
use crate::signal::Sample;
use crate::verdict::{judge, Judgement, Policy};

#[derive(Debug, Clone, Copy)]
pub struct RunConfig {
    pub warmup: usize,
    pub policy: Policy,
    /// Stop after the first failure, error or leak.
    pub exitfirst: bool,
}

/// How one test ended, before it becomes a report.
enum Ending {
    Judged(Judgement),
    Problem(RunProblem, usize),
}

/// Runs the `selected` tests (indices into `tests`) in order and calls
/// `on_report` as each one finishes. An internal error stops the session but
/// keeps what was gathered: it comes back beside the partial report.
pub fn run_session(
    py: Python<'_>,
    engine: &mut dyn Engine,
    sampler: &Sampler,
    tests: &[TestItem],
    selected: &[usize],
    config: &RunConfig,
    on_report: &mut dyn FnMut(&TestReport),
) -> (SessionReport, Option<anyhow::Error>) {
    let started = Instant::now();
    let mut session = SessionReport::default();
    let mut internal_error = None;
    for (position, &index) in selected.iter().enumerate() {
        let next = selected.get(position + 1).copied();
        let report = match run_test(py, engine, sampler, &tests[index], index, next, config) {
            Ok(report) => report,
            Err(e) => {
                session.interrupted = true;
                if !e.is::<Interrupted>() {
                    internal_error = Some(e);
                }
                break;
            }
        };
        on_report(&report);
        let stop = config.exitfirst && report.verdict.is_bad();
        session.tests.push(report);
        if stop {
            session.interrupted = position + 1 < selected.len();
            break;
        }
    }
    if session.interrupted {
        // Scopes still set up get their teardown; its outcome no longer matters.
        let _ = engine.leave(py, None);
    }
    session.duration = started.elapsed();
    (session, internal_error)
}

fn run_test(
    py: Python<'_>,
    engine: &mut dyn Engine,
    sampler: &Sampler,
    item: &TestItem,
    index: usize,
    next: Option<usize>,
    config: &RunConfig,
) -> Result<TestReport> {
    let started = Instant::now();
    sampler.restore(py)?;
    let mut series = Vec::new();
    let mut runs = 0;
    let ending = match engine.enter(py, index)? {
        Some(problem) => Ending::Problem(problem, 0),
        None => repeat(py, engine, sampler, index, config, &mut series, &mut runs)?,
    };
    let teardown = engine.leave(py, next)?;
    let mut report = TestReport {
        item: item.clone(),
        verdict: Verdict::Passed,
        runs,
        warmup: config.warmup.min(runs),
        duration: Duration::ZERO,
        failure: None,
        skip_reason: None,
        growth: Vec::new(),
        series,
        captured: String::new(),
    };
    match ending {
        Ending::Judged(Judgement::Leak(growth)) => {
            report.verdict = Verdict::Leaked;
            report.growth = growth;
        }
        Ending::Judged(Judgement::Inconclusive(growth)) => {
            report.verdict = Verdict::Inconclusive;
            report.growth = growth;
        }
        Ending::Judged(_) => {}
        Ending::Problem(problem, run) => apply_problem(&mut report, problem, run)?,
    }
    if let Some(problem) = teardown {
        if matches!(report.verdict, Verdict::Passed | Verdict::Inconclusive) {
            apply_problem(&mut report, problem, runs)?;
        }
    }
    report.duration = started.elapsed();
    Ok(report)
}

/// Warm-ups, then judged runs until the verdict engine decides.
fn repeat(
    py: Python<'_>,
    engine: &mut dyn Engine,
    sampler: &Sampler,
    index: usize,
    config: &RunConfig,
    series: &mut Vec<Sample>,
    runs: &mut usize,
) -> Result<Ending> {
    for _ in 0..config.warmup {
        *runs += 1;
        if let Some(problem) = engine.run_once(py, index)? {
            return Ok(Ending::Problem(problem, *runs));
        }
    }
    sampler.freeze(py)?;
    let ending = judged_runs(py, engine, sampler, index, config, series, runs);
    sampler.test_done(py)?;
    ending
}

fn judged_runs(
    py: Python<'_>,
    engine: &mut dyn Engine,
    sampler: &Sampler,
    index: usize,
    config: &RunConfig,
    series: &mut Vec<Sample>,
    runs: &mut usize,
) -> Result<Ending> {
    let policy = &config.policy;
    series.push(sampler.sample(py, None)?);
    loop {
        *runs += 1;
        if let Some(problem) = engine.run_once(py, index)? {
            return Ok(Ending::Problem(problem, *runs));
        }
        let sample = sampler.sample(py, series.last())?;
        series.push(sample);
        let judged = series.len() - 1;
        let checkpoint = judged >= policy.min_runs
            && ((judged - policy.min_runs).is_multiple_of(policy.min_runs.max(1))
                || judged >= policy.max_runs);
        if checkpoint {
            match judge(series, policy) {
                Judgement::NeedMore => {}
                judgement => return Ok(Ending::Judged(judgement)),
            }
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
