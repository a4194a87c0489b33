//! The iteration policy: warm-ups, judged runs, more runs while the verdict
//! engine asks for them, and what each test's result is.

use std::time::{Duration, Instant};

use anyhow::Result;

use crate::model::diagnosis::cause::KnownCauses;
use crate::model::outcome::fail_on_resource_warnings;
use crate::model::outcome::{Failure, TestItem, TestReport, Verdict};
use crate::model::run_board::clock_ns;
use crate::model::signal::Sample;
use crate::model::verdict::{is_flat, judge, Judgement};
use crate::worker::cache_fill::{fill, Filled};
use crate::worker::diagnosis::{diagnose, forget_caches};
use crate::worker::engine::{ProblemKind, RunProblem};
use crate::worker::interpreter::Interrupted;
use crate::worker::sampler::release_free_heap;
use crate::worker::test_run::{Progress, TestRun};

/// CPU time the process has used (all its threads).
fn cpu_time() -> Duration {
    Duration::from_nanos(clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID))
}

/// How one test ended, before it becomes a report.
enum Ending {
    /// With the time budget, when the verdict came on it.
    Judged(Judgement, Option<Duration>),
    Problem(RunProblem, usize),
}

/// Runs one test (`item`): scope setup, warm-ups, judged runs until the
/// verdict engine decides, and for a leak, its diagnosis. The test's scopes
/// stay set up: the caller tears them down with `Engine::leave` once it
/// knows the next test. `known`: the causes this worker diagnosed in full,
/// which a later leak's diagnosis may only need to check.
pub fn run_test(
    mut run: TestRun<'_, '_>,
    item: &TestItem,
    known: &mut KnownCauses,
) -> Result<TestReport> {
    let started = Instant::now();
    let cpu_started = cpu_time();
    let config = run.config;
    run.sampler.restore(run.py)?;
    // Room for every sample up front: growing the series mid-test would show
    // in the heap bytes it measures.
    let mut series = Vec::with_capacity(config.policy.max_runs + 2);
    let mut ending = match run.enter()? {
        Some(problem) => Ending::Problem(problem, 0),
        None => repeat(&mut run, &mut series, Heap::Frozen)?,
    };
    let judged_runs = run.runs();
    let mut report = TestReport {
        runs: judged_runs,
        warmup: config.warmup.min(judged_runs),
        series,
        ..TestReport::new(item.clone(), Verdict::Passed)
    };
    // A second, deeper pass, only for a leak, while its scopes are still set up.
    // Before the diagnosis: the judged report it sends stands if the worker
    // dies there.
    if let Ending::Judged(_, out_of_time) = &ending {
        report.out_of_time = *out_of_time;
    }
    if let Ending::Judged(Judgement::Leak(growth), _) = &ending {
        report.verdict = Verdict::Leaked;
        report.growth = growth.clone();
        report.duration = started.elapsed();
        run.tell(Progress::Diagnosing(&report));
        let run_cpu = cpu_time().saturating_sub(cpu_started) / judged_runs.max(1) as u32;
        report.diagnosis = Some(diagnose(&mut run, growth, known, &item.nodeid, run_cpu)?);
        // Untraced: the diagnosis leaves tracemalloc on.
        run.sampler.restore(run.py)?;
        match fill(&mut run)? {
            None => {}
            Some(Filled::Problem(problem, number)) => {
                report.diagnosis = None;
                ending = Ending::Problem(problem, number);
            }
            Some(Filled::Done(filled)) => {
                let full = filled.full;
                report.filled = Some(filled);
                if full {
                    ending = judge_again(&mut run, &mut report, known, run_cpu)?;
                }
            }
        }
    }
    // Not before the diagnosis: its pass freezes the heap itself, and a heap
    // handed back to the gc just before made that freeze collect it all,
    // unaccounted, so the sampler measured a cheap collection and handed it
    // back after nearly every leak (click's tests/test_options.py, 511 leaks:
    // diagnosis median 0.57 -> 0.39 s).
    run.sampler.test_done(run.py)?;
    report.resource_warnings = run.into_warnings();
    match ending {
        Ending::Judged(Judgement::Inconclusive(growth), _) => {
            report.verdict = Verdict::Inconclusive;
            report.growth = growth;
        }
        Ending::Judged(..) => {}
        Ending::Problem(problem, number) => apply_problem(&mut report, problem, number)?,
    }
    if config.diagnosis.strict_resources {
        fail_on_resource_warnings(&mut report);
    }
    report.duration = started.elapsed();
    Ok(report)
}

/// Judges a leaking test again on fresh runs, once the bounded caches that
/// held what grew are full (`cache_fill`): warm-ups, judged runs, and a
/// diagnosis of a leak that still grows. The report's runs, series and
/// verdict become this judgement's; every run before it counts as warm-up.
fn judge_again(
    run: &mut TestRun<'_, '_>,
    report: &mut TestReport,
    known: &mut KnownCauses,
    run_cpu: Duration,
) -> Result<Ending> {
    report.series.clear();
    report.growth.clear();
    report.diagnosis = None;
    report.verdict = Verdict::Passed;
    let ending = repeat(run, &mut report.series, Heap::Whole)?;
    report.runs = run.runs();
    report.warmup = report.runs - (report.series.len().saturating_sub(1)).min(report.runs);
    report.out_of_time = match &ending {
        Ending::Judged(_, out_of_time) => *out_of_time,
        Ending::Problem(..) => None,
    };
    if let Ending::Judged(Judgement::Leak(growth), _) = &ending {
        report.verdict = Verdict::Leaked;
        report.growth = growth.clone();
        let nodeid = report.item.nodeid.clone();
        report.diagnosis = Some(diagnose(run, growth, known, &nodeid, run_cpu)?);
        forget_caches(run.py)?;
    }
    Ok(ending)
}

/// Warm-ups, then judged runs until the verdict engine decides.
///
/// The heap is frozen before the last warm-up, not after it: pytest replaces
/// a handful of objects in every run (its log handler's stream and record
/// lists). Frozen after the last warm-up, the ones that run made went
/// uncounted and their replacements in the first judged run counted: a
/// one-off step that cost every pytest test a sixth judged run and a sample
/// with the caches cleared. The last warm-up makes its own, and the baseline
/// counts them.
fn repeat(run: &mut TestRun<'_, '_>, series: &mut Vec<Sample>, heap: Heap) -> Result<Ending> {
    let warmup = run.config.warmup;
    let threads_before = run.sampler.threads();
    run.limit_examples()?;
    if warmup == 0 {
        freeze(run, heap)?;
    }
    for done in 0..warmup {
        if done + 1 == warmup {
            freeze(run, heap)?;
        }
        if let Some(problem) = run.run_once()? {
            return Ok(Ending::Problem(problem, run.runs()));
        }
    }
    judged_runs(run, series, threads_before)
}

/// Returns malloc's free pages and freezes the heap; the run that follows
/// faults back in the pages the test and the sampler need.
fn freeze(run: &mut TestRun<'_, '_>, heap: Heap) -> Result<()> {
    release_free_heap();
    match heap {
        Heap::Frozen => run.sampler.freeze(run.py),
        Heap::Whole => run.sampler.thaw(run.py),
    }
}

/// What the samples of the judged runs count.
#[derive(Clone, Copy)]
enum Heap {
    /// What the runs made since the heap was frozen (`Sampler::freeze`).
    Frozen,
    /// Everything the gc tracks (`Sampler::thaw`).
    Whole,
}

/// Judged runs of a test whose runs take longer than this in all are decided
/// at the next point the verdict engine can decide, with the runs they had:
/// a test of seconds a run gets a time budget, not a count. A test of 1.4 s
/// a run (idna's thread-pool test, whose heap bytes move by ±512 as its
/// threads come and go) then gets 30 judged runs, not up to 60: it took
/// 44 s (32 runs) in one run of idna's suite and 76 s (52 runs) in the next.
/// Not less: a list that grows in place rises once in about eight runs, and
/// 20 runs were too few for it to rise in each third of the window
/// (`fixtures/not_repeatable`'s test that sleeps longer every run was then
/// INCONCLUSIVE, not LEAKED).
const TIME_BUDGET: Duration = Duration::from_secs(30);

/// Judged runs until the verdict engine decides. The caches are cleared
/// only when something moved: each run's first sample leaves them as the
/// test left them, and when nothing changed since the run before (caches
/// included), the state with them cleared has not changed either. A test
/// that reuses its caches (a regex-heavy one) then refills them once, not in
/// every run, and a flat test never pays for the clearing.
fn judged_runs(
    run: &mut TestRun<'_, '_>,
    series: &mut Vec<Sample>,
    threads_before: i64,
) -> Result<Ending> {
    let (py, sampler, config) = (run.py, run.sampler, run.config);
    let policy = &config.policy;
    let baseline = sampler.baseline(py, threads_before)?;
    series.push(baseline);
    let mut as_left = baseline;
    let started = Instant::now();
    loop {
        if let Some(problem) = run.run_once()? {
            return Ok(Ending::Problem(problem, run.runs()));
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
            return Ok(Ending::Judged(Judgement::Clean, None));
        }
        if !policy.is_checkpoint(judged) {
            continue;
        }
        let out_of_time = (started.elapsed() >= TIME_BUDGET).then_some(TIME_BUDGET);
        let judgement = match out_of_time {
            Some(_) => judge(series, &policy.capped_at(judged)),
            None => judge(series, policy),
        };
        if judgement != Judgement::NeedMore {
            return Ok(Ending::Judged(judgement, out_of_time));
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
