//! Command-line options, and the session they describe from start to exit code.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use clap::{Parser, ValueEnum};
use pyo3::Python;

use crate::discovery::{find_rootdir, find_test_files, parse_targets};
use crate::engine::builtin::BuiltinEngine;
use crate::engine::pytest::{pytest_version, PytestEngine, PytestUsageError};
use crate::engine::{Collection, Engine};
use crate::environment;
use crate::exit::ExitCode;
use crate::interpreter::{self, InterpreterInfo};
use crate::keyword::KeywordExpr;
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

    /// Colour the output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineChoice {
    Auto,
    Builtin,
    Pytest,
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
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let python = environment::resolve(cli.python.as_deref(), &cwd).map_err(usage)?;
    let policy = Policy::new(cli.iterations, cli.max_iterations);
    let interpreter = interpreter::start(python.executable.as_deref())?;
    let mut terminal = Terminal::new(Box::new(std::io::stdout()), cli.verbosity(), cli.color());

    Python::attach(|py| -> Result<ExitCode> {
        let mut engine = load_engine(py, &cli, &interpreter)?;
        let plan = plan(py, engine.as_mut(), &cli)?;
        // Tracing starts after collection: imports under tracemalloc take
        // several times longer, and what they allocate is not measured anyway.
        let sampler = Sampler::start(py)?;
        let collection = plan.collection;
        let selected = &plan.selected;
        let deselected = plan.collected - selected.len();
        terminal.header(&Header {
            interpreter: &interpreter,
            rootdir: &plan.rootdir.to_string_lossy(),
            engine: &engine.describe(),
            warmup: cli.warmup,
            iterations: policy.min_runs,
            max_iterations: policy.max_runs,
        });
        terminal.collected(plan.collected, selected.len(), collection.errors.len());
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
            sampler.stop(py)?;
            engine.finish(py)?;
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
        };
        let (mut session, internal_error) = run_session(
            py,
            engine.as_mut(),
            &sampler,
            &collection.tests,
            selected,
            &config,
            &mut |report| terminal.test_done(report),
        );
        session.collection_errors = collection.errors;
        let finished = sampler.stop(py).and_then(|()| engine.finish(py));
        terminal.finish(&session, deselected);
        if let Some(path) = &cli.junitxml {
            write_junit(&session, path)
                .with_context(|| format!("cannot write the JUnit report {}", path.display()))?;
        }
        if let Some(error) = internal_error {
            return Err(error);
        }
        finished?;
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

/// The engine `--engine` asks for: pytest when it can be imported (auto).
fn load_engine(
    py: Python<'_>,
    cli: &Cli,
    interpreter: &InterpreterInfo,
) -> Result<Box<dyn Engine>> {
    let version = match cli.engine {
        EngineChoice::Builtin => None,
        EngineChoice::Auto | EngineChoice::Pytest => pytest_version(py)?,
    };
    match (cli.engine, version) {
        (EngineChoice::Pytest, None) => Err(anyhow::Error::new(UsageError(format!(
            "--engine pytest: pytest cannot be imported in the Python at {}; \
             install it there (python -m pip install pytest) or use --engine builtin",
            interpreter.prefix
        )))),
        (_, Some(version)) => Ok(Box::new(PytestEngine::load(
            py,
            version,
            &cli.paths,
            cli.keyword.as_deref(),
            &cli.pytest_args,
        )?)),
        (_, None) if !cli.pytest_args.is_empty() => Err(anyhow::Error::new(UsageError(format!(
            "arguments after -- go to pytest, but the builtin engine runs this session \
             (pytest is not importable in {}, or --engine builtin): install pytest or drop them",
            interpreter.prefix
        )))),
        (_, None) => Ok(Box::new(BuiltinEngine::load(py)?)),
    }
}

/// What runs: the engine's collection, and which of its tests are selected.
struct Plan {
    collection: Collection,
    rootdir: PathBuf,
    /// Tests the paths and node ids name, before `-k`.
    collected: usize,
    selected: Vec<usize>,
}

/// Collects. The built-in engine gets the files and leakhunt applies node ids
/// and `-k`; pytest does all of that itself, exactly as it would alone.
fn plan(py: Python<'_>, engine: &mut dyn Engine, cli: &Cli) -> Result<Plan> {
    if engine.selects_tests() {
        // pytest finds its files and rootdir from the arguments it was loaded with.
        let mut collection = match engine.collect(py, Path::new("."), &[]) {
            Err(error) if error.is::<PytestUsageError>() => return Err(usage(error)),
            result => result?,
        };
        let by_engine = collection
            .selected_by_engine
            .take()
            .context("the pytest engine did not report its selection")?;
        let selected: Vec<usize> = (0..collection.tests.len()).collect();
        return Ok(Plan {
            collected: selected.len() + by_engine.deselected,
            rootdir: by_engine.rootdir,
            selected,
            collection,
        });
    }
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
    let collection = engine.collect(py, &rootdir, &files)?;
    let selection =
        select(&collection.tests, &targets, &rootdir, keyword.as_ref()).map_err(usage)?;
    Ok(Plan {
        collected: selection.collected.len(),
        selected: selection.selected,
        collection,
        rootdir,
    })
}
