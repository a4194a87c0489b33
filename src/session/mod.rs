//! The supervisor's side of a session: it finds the tests' Python, starts
//! workers, has them collect, plans which tests run, runs them and hands
//! every result to the [`Reporter`]. What each step decides lives in its own
//! layer (`plan`, `report`); this file only puts them in order.

pub mod durations;
pub mod environment;
pub mod interrupt;
pub mod launch;
pub mod supervisor;

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::model::event::Event;
use crate::model::exit::{ExitCode, UsageError};
use crate::model::interpreter::{InterpreterInfo, Interrupted};
use crate::model::protocol::WorkerSetup;
use crate::plan::changed;
use crate::plan::discovery::{find_rootdir, find_test_files, parse_targets};
use crate::plan::schedule::Schedule;
use crate::plan::selection::{select, Selection};
use crate::plan::TestPlan;
use crate::report::reporter::Reporter;
use crate::report::terminal::Header;
use crate::session::durations::Durations;
use crate::session::supervisor::{Collected, Pool};
use crate::settings::Settings;

/// `--collect-only`: the tests that would run, one node id a line.
pub fn collect_only(settings: &Settings) -> Result<ExitCode> {
    let ready = match Ready::start(settings, 1)? {
        Start::Ready(ready) => ready,
        Start::Done(code) => return Ok(code),
    };
    let Ready {
        pool,
        collected,
        plan,
        ..
    } = *ready;
    pool.shutdown();
    for &index in &plan.selected {
        println!("{}", collected.tests[index].nodeid);
    }
    for error in &collected.errors {
        println!(
            "ERROR collecting {}\n{}",
            error.path,
            error.message.trim_end()
        );
    }
    Ok(if !collected.errors.is_empty() {
        ExitCode::Failures
    } else if plan.selected.is_empty() {
        ExitCode::NoTests
    } else {
        ExitCode::Clean
    })
}

/// Runs and judges the selected tests; the reports are written whatever
/// happened, with what finished.
pub fn run(settings: &Settings) -> Result<ExitCode> {
    let ready = match Ready::start(settings, settings.workers)? {
        Start::Ready(ready) => ready,
        Start::Done(code) => return Ok(code),
    };
    let Ready {
        pool,
        collected,
        plan,
        rootdir,
        mut reporter,
    } = *ready;
    reporter.allow_also(&collected.allow);
    let mut durations = Durations::load(&rootdir);
    let schedule = Schedule::new(
        &collected.tests,
        durations.estimate(&collected.tests),
        &collected.pins,
    );
    let units = Schedule::units(&collected.tests, &plan.selected);
    let finished = pool.run(
        units,
        schedule,
        settings.workers,
        settings.timeout,
        settings.exitfirst,
        &mut |event| {
            if let Event::Report(report) = &event {
                durations.record(&report.item.nodeid, report.duration.as_secs_f64());
            }
            reporter.on_event(event);
        },
    );
    let mut session = finished.session;
    session.collection_errors = collected.errors;
    session.collection_warnings = collected.warnings;
    // Only speed depends on it: a memory that cannot be written is no error.
    let _ = durations.save();
    reporter.finish(&session, plan.deselected, &rootdir)?;
    if let Some(error) = finished.internal_error {
        return Err(error);
    }
    Ok(ExitCode::of(&session, settings.exitfirst))
}

/// How far [`Ready::start`] got.
enum Start {
    /// Workers collected; the plan is made and announced.
    Ready(Box<Ready>),
    /// Nothing to run (nothing changed, an empty shard) or interrupted.
    Done(ExitCode),
}

/// Workers that collected, and the plan of what they run.
struct Ready {
    pool: Pool,
    collected: Collected,
    plan: TestPlan,
    /// The engine's rootdir when it selects by itself (pytest), else ours.
    rootdir: PathBuf,
    reporter: Reporter,
}

impl Ready {
    fn start(settings: &Settings, workers: usize) -> Result<Start> {
        let usage = UsageError::wrap;
        let targets = parse_targets(&settings.paths).map_err(usage)?;
        let rootdir = find_rootdir(&targets);
        let mut files = find_test_files(&targets)?;
        files.retain(|file| !settings.ignore.iter().any(|i| file.starts_with(i)));

        // What pytest gets when it selects: the same paths, narrowed the same way.
        let mut pytest_paths = settings.paths.clone();
        if let Some(reference) = &settings.changed {
            let here = std::env::current_dir()?;
            let base = changed::base(&here, Some(reference));
            let changed = changed::changed_test_files(&here, &base).map_err(usage)?;
            files.retain(|file| changed.contains(file));
            if files.is_empty() {
                println!("no test files changed since {base}: nothing to check");
                return Ok(Start::Done(ExitCode::Clean));
            }
            pytest_paths = files.iter().map(|f| f.display().to_string()).collect();
        }
        let cwd = std::env::current_dir().context("cannot read the current folder")?;
        let python = environment::resolve(settings.python.as_deref(), &cwd).map_err(usage)?;
        let mut reporter = Reporter::new(settings).map_err(usage)?;

        let mut pool = Pool::start(
            WorkerSetup {
                python: python.executable.clone(),
                engine: settings.engine,
                rootdir: rootdir.clone(),
                files,
                paths: pytest_paths,
                keyword: settings.keyword.as_ref().map(|k| k.text.clone()),
                pytest_args: settings.pytest_args.clone(),
                ignore: settings.ignore.clone(),
                warmup: settings.warmup,
                policy: settings.policy,
                strict_resources: settings.strict_resources,
                keep_coverage: settings.keep_coverage,
                capture_path: PathBuf::new(),
            },
            workers,
        )?;
        let collected = match pool.collect() {
            Ok(collected) => collected,
            Err(error) if error.is::<Interrupted>() => {
                return Ok(Start::Done(ExitCode::Interrupted))
            }
            Err(error) => return Err(error),
        };
        let (selection, rootdir) = match &collected.selected_by_engine {
            // pytest applied the paths, node ids and -k itself, from its rootdir.
            Some(by_engine) => {
                let all: Vec<usize> = (0..collected.tests.len()).collect();
                let selection = Selection {
                    collected: all.clone(),
                    selected: all,
                    deselected_before: by_engine.deselected,
                };
                (selection, by_engine.rootdir.clone())
            }
            None => {
                let keyword = settings.keyword.as_ref().map(|k| &k.expr);
                let selection =
                    select(&collected.tests, &targets, &rootdir, keyword).map_err(usage)?;
                (selection, rootdir)
            }
        };
        let plan = TestPlan::new(
            &collected.tests,
            collected.errors.len(),
            &selection,
            settings.shard,
        );
        if plan.nothing_in_shard && settings.mode != crate::settings::Mode::CollectOnly {
            // A small suite in a CI matrix: the other shards have its tests.
            pool.shutdown();
            if let Some(shard) = settings.shard {
                println!(
                    "shard {shard} has none of the {} selected tests' files: nothing to check here",
                    selection.selected.len()
                );
            }
            return Ok(Start::Done(ExitCode::Clean));
        }
        let interpreter = InterpreterInfo {
            version: collected.python_version.clone(),
            prefix: collected.python_prefix.clone(),
        };
        reporter.header(
            &Header {
                interpreter: &interpreter,
                rootdir: &rootdir.to_string_lossy(),
                engine: &collected.engine,
                warmup: settings.warmup,
                iterations: settings.policy.min_runs,
                flat_iterations: settings.policy.flat_runs,
                max_iterations: settings.policy.max_runs,
            },
            plan.counts,
        );
        Ok(Start::Ready(Box::new(Ready {
            pool,
            collected,
            plan,
            rootdir,
            reporter,
        })))
    }
}
