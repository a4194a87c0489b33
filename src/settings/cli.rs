//! Command-line options, and the session they describe from start to exit code.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{ArgMatches, Parser, ValueEnum};

use crate::model::allow::AllowList;
use crate::model::engine::EngineChoice;
use crate::model::event::Event;
use crate::model::exit::ExitCode;
pub use crate::model::exit::UsageError;
use crate::model::interpreter::{InterpreterInfo, Interrupted};
use crate::model::protocol::WorkerSetup;
use crate::model::signal::Signal;
use crate::model::verdict::Policy;
use crate::plan::changed;
use crate::plan::discovery::{config_start, find_rootdir, find_test_files, parse_targets};
use crate::plan::keyword::KeywordExpr;
use crate::plan::selection::{select, Selection};
use crate::plan::shard::Shard;
use crate::report::annotations;
use crate::report::baseline::{self, Baseline};
use crate::report::html::write_html;
use crate::report::json::write_json;
use crate::report::junit::write_junit;
use crate::report::terminal::{Header, Terminal, Verbosity};
use crate::session::durations::Durations;
use crate::session::environment;
use crate::session::schedule::Schedule;
use crate::session::supervisor::Pool;
use crate::settings;

/// Runs each pytest-style test many times in an embedded CPython and flags the
/// tests whose live objects, memory, file descriptors or threads keep growing.
#[derive(Debug, Parser)]
#[command(name = "leakhunt", version)]
pub struct Cli {
    /// Folders, files or node ids (`tests/test_x.py::TestC::test_y`); default `.`.
    pub paths: Vec<String>,

    /// Only run tests matching the expression (pytest's -k: and, or, not, parentheses).
    #[arg(short = 'k', value_name = "EXPR")]
    pub keyword: Option<String>,

    /// Stop after the first failure, error or leak.
    #[arg(short = 'x', long = "exitfirst")]
    pub exitfirst: bool,

    /// Less output (-q).
    #[arg(short = 'q', long = "quiet", action = clap::ArgAction::Count)]
    pub quiet: u8,

    /// More output: -v one line per test, -vv also every test's series.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// List the tests that would run, run nothing.
    #[arg(long = "collect-only")]
    pub collect_only: bool,

    /// Write a JUnit XML report to this path.
    #[arg(long = "junitxml", value_name = "PATH")]
    pub junitxml: Option<PathBuf>,

    /// Write a self-contained HTML report (table of tests, charts of leaks) to this path.
    #[arg(long = "html", value_name = "PATH")]
    pub html: Option<PathBuf>,

    /// Runs of each test whose samples are not judged.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub warmup: usize,

    /// Judged runs of each test before the first verdict (at least 3).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = at_least_three)]
    pub iterations: usize,

    /// Judged runs at most, when a series stays ambiguous.
    #[arg(long = "max-iterations", value_name = "N", default_value_t = 60)]
    pub max_iterations: usize,

    /// Worker processes running tests side by side (a number, or `auto` for one per CPU).
    #[arg(short = 'n', long = "workers", value_name = "N", default_value = "1", value_parser = parse_workers)]
    pub workers: usize,

    /// Seconds one run of a test may take before the test is stopped and failed; 0 disables.
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0)]
    pub timeout: f64,

    /// Run only the K-th of N deterministic slices of the tests (by file), for CI matrices.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,

    /// Only test files changed since REF (default: the merge-base with
    /// origin/main, else HEAD), committed or not: `--changed` or `--changed=REF`.
    #[arg(long, value_name = "REF", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub changed: Option<String>,

    /// Skip this file or folder while collecting (repeatable).
    #[arg(long, value_name = "PATH")]
    pub ignore: Vec<String>,

    /// Smallest growth per run that counts for a signal, e.g. `rss=131072` (repeatable).
    #[arg(long, value_name = "SIGNAL=N")]
    pub threshold: Vec<String>,

    /// Fail only on leaks not in this baseline file (or grown beyond the tolerance).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// How much a known leak may grow over its baseline rate before it fails (0.5 = 50 %).
    #[arg(
        long = "baseline-tolerance",
        value_name = "FRACTION",
        default_value_t = 0.5
    )]
    pub baseline_tolerance: f64,

    /// Record the leaks seen in this baseline file (sorted, stable).
    #[arg(long = "write-baseline", value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,

    /// Merge these baselines (e.g. of --shard jobs) into --write-baseline FILE; runs no tests.
    #[arg(long = "merge-baselines", value_name = "FILE", num_args = 1.., requires = "write_baseline")]
    pub merge_baselines: Vec<PathBuf>,

    /// Read the configuration from this file instead of looking for
    /// leakhunt.toml or pyproject.toml's [tool.leakhunt] upwards from here.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print the effective configuration and where each value came from.
    #[arg(long = "show-config")]
    pub show_config: bool,

    /// Write a JSON report (every outcome, series and diagnosis) to this path.
    #[arg(long = "json", value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// Fail tests that drop a file, socket or event loop without closing it.
    #[arg(long = "strict-resources")]
    pub strict_resources: bool,

    /// Leave coverage measurement on (pytest-cov's --cov, coverage started by
    /// COVERAGE_PROCESS_START): off by default, as it slows every line and
    /// its tracer holds references that look like leaks.
    #[arg(long = "keep-coverage")]
    pub keep_coverage: bool,

    /// Which engine collects and runs the tests: pytest if importable (auto),
    /// the built-in one, or pytest.
    #[arg(long, value_enum, default_value_t = EngineChoice::Auto)]
    pub engine: EngineChoice,

    /// The Python (a virtualenv folder or a python executable) to run the tests
    /// in; default $VIRTUAL_ENV, else ./.venv, else the one leakhunt was built with.
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,

    /// Arguments after `--` go to pytest as they are (pytest engine only).
    #[arg(last = true, value_name = "PYTEST_ARGS")]
    pub pytest_args: Vec<String>,

    /// Colour the output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Yes,
    No,
}

pub fn parse_workers(text: &str) -> Result<usize, String> {
    if text == "auto" {
        return Ok(std::thread::available_parallelism().map_or(1, |n| n.get()));
    }
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "'{text}' is not a number of workers (1 or more, or auto)"
        )),
    }
}

fn at_least_three(text: &str) -> Result<usize, String> {
    let n: usize = text
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number"))?;
    if n < 3 {
        return Err("needs at least 3 judged runs to see a trend".to_string());
    }
    Ok(n)
}

impl Cli {
    fn verbosity(&self) -> Verbosity {
        match (self.quiet, self.verbose) {
            (q, _) if q > 0 => Verbosity::Quiet,
            (_, 0) => Verbosity::Normal,
            (_, 1) => Verbosity::Verbose,
            _ => Verbosity::Series,
        }
    }

    fn color(&self) -> bool {
        match self.color {
            ColorChoice::Yes => true,
            ColorChoice::No => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        }
    }
}

fn usage(error: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(UsageError(format!("{error:#}")))
}

/// The whole session: returns the exit code, or an error whose kind says which.
/// `matches` tells which options the command line gave (they beat the file).
pub fn run(mut cli: Cli, matches: &ArgMatches) -> Result<ExitCode> {
    let loaded = match &cli.config {
        Some(path) => Some(settings::read(path).map_err(usage)?),
        None => {
            let cwd = std::env::current_dir()?;
            settings::find(&config_start(&cli.paths, &cwd)).map_err(usage)?
        }
    };
    let (effective, allow) = settings::merge(&mut cli, matches, loaded.as_ref()).map_err(usage)?;
    if cli.show_config {
        print!("{}", settings::render(&effective, loaded.as_ref()));
        return Ok(ExitCode::Clean);
    }
    if !cli.merge_baselines.is_empty() {
        return merge_baselines(&cli);
    }
    let keyword = cli
        .keyword
        .as_deref()
        .map(|k| {
            KeywordExpr::parse(k)
                .map_err(|e| UsageError(format!("Wrong expression passed to '-k': {k}: {e}")))
        })
        .transpose()?;
    if !(cli.timeout >= 0.0 && cli.timeout.is_finite()) {
        return Err(UsageError(format!(
            "--timeout {}: give seconds, 0 or more",
            cli.timeout
        ))
        .into());
    }
    let targets = parse_targets(&cli.paths).map_err(usage)?;
    let rootdir = find_rootdir(&targets);
    let mut files = find_test_files(&targets)?;
    let ignored = ignored_paths(&cli.ignore)?;
    files.retain(|file| !ignored.iter().any(|i| file.starts_with(i)));

    // What pytest gets when it selects: the same paths, narrowed the same way.
    let mut pytest_paths = cli.paths.clone();
    if let Some(reference) = &cli.changed {
        let here = std::env::current_dir()?;
        let base = changed::base(&here, Some(reference));
        let changed = changed::changed_test_files(&here, &base).map_err(usage)?;
        files.retain(|file| changed.contains(file));
        if files.is_empty() {
            println!("no test files changed since {base}: nothing to check");
            return Ok(ExitCode::Clean);
        }
        pytest_paths = files.iter().map(|f| f.display().to_string()).collect();
    }
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let python = environment::resolve(cli.python.as_deref(), &cwd).map_err(usage)?;
    let mut policy = Policy::new(cli.iterations, cli.max_iterations);
    for threshold in &cli.threshold {
        let (signal, value) = parse_threshold(threshold).map_err(UsageError)?;
        policy.min_per_run[signal.index()] = value;
    }
    let baseline = cli
        .baseline
        .as_ref()
        .map(|path| Baseline::read(path).map_err(usage))
        .transpose()?;
    let live = std::io::stdout().is_terminal() && cli.verbosity() != Verbosity::Quiet;
    let mut terminal = Terminal::new(
        Box::new(std::io::stdout()),
        cli.verbosity(),
        cli.color(),
        live,
    );

    // Workers collect side by side; --collect-only needs one.
    let workers = if cli.collect_only { 1 } else { cli.workers };
    let mut pool = Pool::start(
        WorkerSetup {
            python: python.executable.clone(),
            engine: cli.engine,
            rootdir: rootdir.clone(),
            files,
            paths: pytest_paths,
            keyword: cli.keyword.clone(),
            pytest_args: cli.pytest_args.clone(),
            ignore: ignored,
            warmup: cli.warmup,
            policy,
            strict_resources: cli.strict_resources,
            keep_coverage: cli.keep_coverage,
            capture_path: PathBuf::new(),
        },
        workers,
    )?;
    let collected = match pool.collect() {
        Ok(collected) => collected,
        Err(error) if error.is::<Interrupted>() => return Ok(ExitCode::Interrupted),
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
        None => (
            select(&collected.tests, &targets, &rootdir, keyword.as_ref()).map_err(usage)?,
            rootdir,
        ),
    };
    let mut selected = selection.selected.clone();
    if let Some(shard) = cli.shard {
        selected.retain(|&i| shard.owns(&collected.tests[i].path));
        if selected.is_empty() && !selection.selected.is_empty() && !cli.collect_only {
            // A small suite in a CI matrix: the other shards have its tests.
            pool.shutdown();
            println!(
                "shard {shard} has none of the {} selected tests' files: nothing to check here",
                selection.selected.len()
            );
            return Ok(ExitCode::Clean);
        }
    }
    let deselected = selection.deselected_before + selection.collected.len() - selected.len();
    let interpreter = InterpreterInfo {
        version: collected.python_version.clone(),
        prefix: collected.python_prefix.clone(),
    };
    terminal.header(&Header {
        interpreter: &interpreter,
        rootdir: &rootdir.to_string_lossy(),
        engine: &collected.engine,
        warmup: cli.warmup,
        iterations: policy.min_runs,
        max_iterations: policy.max_runs,
    });
    let skipped_files = selected
        .iter()
        .filter(|&&i| collected.tests[i].is_skipped_file())
        .count();
    terminal.collected(
        selection.deselected_before + selection.collected.len() - skipped_files,
        selected.len() - skipped_files,
        collected.errors.len(),
        skipped_files,
    );
    if cli.collect_only {
        pool.shutdown();
        for &index in &selected {
            println!("{}", collected.tests[index].nodeid);
        }
        for error in &collected.errors {
            println!(
                "ERROR collecting {}\n{}",
                error.path,
                error.message.trim_end()
            );
        }
        return Ok(if !collected.errors.is_empty() {
            ExitCode::Failures
        } else if selected.is_empty() {
            ExitCode::NoTests
        } else {
            ExitCode::Clean
        });
    }
    let timeout = (cli.timeout > 0.0).then(|| Duration::from_secs_f64(cli.timeout));
    let allow: Vec<_> = allow
        .into_iter()
        .chain(collected.allow.iter().cloned())
        .collect();
    let allow_list = AllowList::new(&allow);
    let baseline_label = cli
        .baseline
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let mut recorded = Vec::new();
    let mut notes = Vec::new();
    let mut durations = Durations::load(&rootdir);
    let schedule = Schedule::new(
        &collected.tests,
        durations.estimate(&collected.tests),
        &collected.pins,
    );
    let units = schedule.units(&collected.tests, &selected, cli.workers);
    if cli.workers > 1 {
        // Tests show as they finish, as pytest-xdist shows them.
        terminal.in_completion_order();
    }
    let finished = pool.run(
        units,
        schedule,
        cli.workers,
        timeout,
        cli.exitfirst,
        &mut |event| {
            let report = match event {
                Event::Report(report) => report,
                Event::Progress(progress) => return terminal.progress(progress),
            };
            durations.record(&report.item.nodeid, report.duration.as_secs_f64());
            allow_list.apply(report);
            recorded.extend(baseline::leaks_of(report));
            if let Some(baseline) = &baseline {
                let fixed =
                    baseline::apply(report, baseline, cli.baseline_tolerance, &baseline_label);
                notes.extend(fixed.into_iter().map(|f| {
                    let note = format!(
                        "FIXED {} - no longer leaks {}: re-write the baseline with --write-baseline {baseline_label}",
                        f.test, f.signal
                    );
                    (report.item.nodeid.clone(), note)
                }));
            }
            terminal.test_done(report);
        },
    );
    let mut session = finished.session;
    session.collection_errors = collected.errors;
    // Only speed depends on it: a memory that cannot be written is no error.
    let _ = durations.save();
    // Tests finish in any order with several workers; notes follow the collection.
    let position: std::collections::HashMap<&str, usize> = session
        .tests
        .iter()
        .enumerate()
        .map(|(at, t)| (t.item.nodeid.as_str(), at))
        .collect();
    notes.sort_by_key(|(nodeid, _)| position.get(nodeid.as_str()).copied());
    let notes: Vec<String> = notes.into_iter().map(|(_, note)| note).collect();
    if let Some(path) = &cli.write_baseline {
        Baseline::from_entries(recorded).write(path)?;
    }
    terminal.finish(&session, deselected, &notes);
    // Workflow commands must start a line: after the report, never inside it.
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        let workspace = std::env::var_os("GITHUB_WORKSPACE")
            .map(PathBuf::from)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default();
        for line in annotations::github(&session, &rootdir, &workspace) {
            println!("{line}");
        }
    }
    if let Some(path) = &cli.junitxml {
        write_junit(&session, path)
            .with_context(|| format!("cannot write the JUnit report {}", path.display()))?;
    }
    if let Some(path) = &cli.json {
        write_json(&session, path)
            .with_context(|| format!("cannot write the JSON report {}", path.display()))?;
    }
    if let Some(path) = &cli.html {
        write_html(&session, path)
            .with_context(|| format!("cannot write the HTML report {}", path.display()))?;
    }
    if let Some(error) = finished.internal_error {
        return Err(error);
    }
    Ok(if session.interrupted && !cli.exitfirst {
        ExitCode::Interrupted
    } else if session.tests.iter().any(|t| t.verdict.is_bad())
        || !session.collection_errors.is_empty()
    {
        ExitCode::Failures
    } else if session.tests.is_empty() {
        ExitCode::NoTests
    } else {
        ExitCode::Clean
    })
}

/// `--merge-baselines A B --write-baseline OUT`: one baseline from several.
fn merge_baselines(cli: &Cli) -> Result<ExitCode> {
    let parts = cli
        .merge_baselines
        .iter()
        .map(|path| Baseline::read(path).map_err(usage))
        .collect::<Result<Vec<_>>>()?;
    let merged = Baseline::merge(parts);
    if let Some(out) = &cli.write_baseline {
        merged.write(out)?;
        println!(
            "merged {} baselines: {} leaks in {}",
            cli.merge_baselines.len(),
            merged.leaks.len(),
            out.display()
        );
    }
    Ok(ExitCode::Clean)
}

/// `rss=131072` -> (Rss, 131072.0)
fn parse_threshold(text: &str) -> std::result::Result<(Signal, f64), String> {
    let usage = || {
        format!(
            "threshold {text:?}: write SIGNAL=N with SIGNAL one of objects, blocks, bytes, fds, threads, rss"
        )
    };
    let (name, value) = text.split_once('=').ok_or_else(usage)?;
    let signal = Signal::ALL
        .into_iter()
        .find(|s| s.name() == name.trim())
        .ok_or_else(usage)?;
    let value: f64 = value.trim().parse().map_err(|_| usage())?;
    if !(value >= 0.0 && value.is_finite()) {
        return Err(usage());
    }
    Ok((signal, value))
}

fn ignored_paths(ignore: &[String]) -> Result<Vec<PathBuf>> {
    ignore
        .iter()
        .map(|path| {
            std::fs::canonicalize(path)
                .map_err(|_| UsageError(format!("--ignore {path}: no such file or folder")).into())
        })
        .collect()
}
