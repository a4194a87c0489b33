//! Command-line options, and the session they describe from start to exit code.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use clap::{Parser, ValueEnum};
use pyo3::Python;

use crate::diagnosis::DiagnosisOptions;
use crate::discovery::{find_rootdir, find_test_files, parse_targets};
use crate::engine::builtin::BuiltinEngine;
use crate::engine::Engine;
use crate::exit::ExitCode;
use crate::interpreter;
use crate::keyword::KeywordExpr;
use crate::report::json::write_json;
use crate::report::junit::write_junit;
use crate::report::terminal::{Header, Terminal, Verbosity};
use crate::runner::{run_session, RunConfig};
use crate::sampler::Sampler;
use crate::selection::select;
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

    /// Runs of each test whose samples are not judged.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub warmup: usize,

    /// Judged runs of each test before the first verdict (at least 3).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = at_least_three)]
    pub iterations: usize,

    /// Judged runs at most, when a series stays ambiguous.
    #[arg(long = "max-iterations", value_name = "N", default_value_t = 60)]
    pub max_iterations: usize,

    /// Write a JSON report (every outcome, series and diagnosis) to this path.
    #[arg(long = "json", value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// Fail tests that drop a file, socket or event loop without closing it.
    #[arg(long = "strict-resources")]
    pub strict_resources: bool,

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
    let targets = parse_targets(&cli.paths).map_err(usage)?;
    let rootdir = find_rootdir(&targets);
    let files = find_test_files(&targets)?;
    let policy = Policy::new(cli.iterations, cli.max_iterations);
    let interpreter = interpreter::start()?;
    let mut terminal = Terminal::new(Box::new(std::io::stdout()), cli.verbosity(), cli.color());

    Python::attach(|py| -> Result<ExitCode> {
        let sampler = Sampler::start(py)?;
        let mut engine = BuiltinEngine::load(py)?;
        let collection = engine.collect(py, &rootdir, &files)?;
        let selection =
            select(&collection.tests, &targets, &rootdir, keyword.as_ref()).map_err(usage)?;
        let selected = &selection.selected;
        let deselected = selection.deselected();
        terminal.header(&Header {
            interpreter: &interpreter,
            rootdir: &rootdir.to_string_lossy(),
            engine: &engine.describe(),
            warmup: cli.warmup,
            iterations: policy.min_runs,
            max_iterations: policy.max_runs,
        });
        terminal.collected(
            selection.collected.len(),
            selected.len(),
            collection.errors.len(),
        );
        if cli.collect_only {
            for &index in selected {
                println!("{}", collection.tests[index].nodeid);
            }
            for error in &collection.errors {
                println!(
                    "ERROR collecting {}\n{}",
                    error.path,
                    error.message.trim_end()
                );
            }
            return Ok(if !collection.errors.is_empty() {
                ExitCode::Failures
            } else if selected.is_empty() {
                ExitCode::NoTests
            } else {
                ExitCode::Clean
            });
        }
        let config = RunConfig {
            warmup: cli.warmup,
            policy,
            exitfirst: cli.exitfirst,
            diagnosis: DiagnosisOptions {
                rootdir: rootdir.clone(),
                strict_resources: cli.strict_resources,
            },
        };
        let (mut session, internal_error) = run_session(
            py,
            &mut engine,
            &sampler,
            &collection.tests,
            selected,
            &config,
            &mut |report| terminal.test_done(report),
        );
        session.collection_errors = collection.errors;
        terminal.finish(&session, deselected);
        if let Some(path) = &cli.junitxml {
            write_junit(&session, path)
                .with_context(|| format!("cannot write the JUnit report {}", path.display()))?;
        }
        if let Some(path) = &cli.json {
            write_json(&session, path)
                .with_context(|| format!("cannot write the JSON report {}", path.display()))?;
        }
        if let Some(error) = internal_error {
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
    })
    .map_err(|e| anyhow!(e))
}
