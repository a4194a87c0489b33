//! Command-line options, and the session they describe from start to exit code.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};

use crate::discovery::{find_rootdir, find_test_files, parse_targets};
use crate::exit::ExitCode;
use crate::interpreter::{InterpreterInfo, Interrupted};
use crate::keyword::KeywordExpr;
use crate::outcome::TestItem;
use crate::protocol::WorkerSetup;
use crate::report::html::write_html;
use crate::report::junit::write_junit;
use crate::report::terminal::{Header, Terminal, Verbosity};
use crate::selection::select;
use crate::shard::Shard;
use crate::supervisor::Pool;
use crate::verdict::Policy;

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

    /// Seconds a test (all its runs) may take before it is stopped and failed; 0 disables.
    #[arg(long, value_name = "SECONDS", default_value_t = 300.0)]
    pub timeout: f64,

    /// Run only the K-th of N deterministic slices of the tests (by file), for CI matrices.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,

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

fn parse_workers(text: &str) -> Result<usize, String> {
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

/// A problem with what the user asked for: exit 4 with one line.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage(error: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(UsageError(format!("{error:#}")))
}

/// The whole session: returns the exit code, or an error whose kind says which.
pub fn run(cli: Cli) -> Result<ExitCode> {
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
    let files = find_test_files(&targets)?;
    let policy = Policy::new(cli.iterations, cli.max_iterations);
    let mut terminal = Terminal::new(Box::new(std::io::stdout()), cli.verbosity(), cli.color());

    let mut pool = Pool::start(WorkerSetup {
        rootdir: rootdir.clone(),
        files,
        warmup: cli.warmup,
        policy,
        capture_path: PathBuf::new(),
    })?;
    let collected = match pool.collect() {
        Ok(collected) => collected,
        Err(error) if error.is::<Interrupted>() => return Ok(ExitCode::Interrupted),
        Err(error) => return Err(error),
    };
    let selection =
        select(&collected.tests, &targets, &rootdir, keyword.as_ref()).map_err(usage)?;
    let mut selected = selection.selected.clone();
    if let Some(shard) = cli.shard {
        selected.retain(|&i| shard.owns(&collected.tests[i].path));
    }
    let deselected = selection.collected.len() - selected.len();
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
    terminal.collected(
        selection.collected.len(),
        selected.len(),
        collected.errors.len(),
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
    let finished = pool.run(
        by_file(&collected.tests, &selected),
        cli.workers,
        timeout,
        cli.exitfirst,
        &mut |report| terminal.test_done(report),
    );
    let mut session = finished.session;
    session.collection_errors = collected.errors;
    terminal.finish(&session, deselected);
    if let Some(path) = &cli.junitxml {
        write_junit(&session, path)
            .with_context(|| format!("cannot write the JUnit report {}", path.display()))?;
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

/// The selected tests grouped by file, files in collection order: a file is
/// the unit a worker takes, so module state behaves as under pytest.
fn by_file(tests: &[TestItem], selected: &[usize]) -> Vec<Vec<usize>> {
    let mut files: Vec<Vec<usize>> = Vec::new();
    for &index in selected {
        match files.last_mut() {
            Some(file) if tests[file[0]].path == tests[index].path => file.push(index),
            _ => files.push(vec![index]),
        }
    }
    files
}
