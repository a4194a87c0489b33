//! The command line and the configuration file, made once into one checked
//! [`Settings`] value: every check of what the user asked for happens here,
//! so the layers below take the values as they are.

pub mod cli;
pub mod file;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::ArgMatches;

use crate::model::allow::AllowEntry;
use crate::model::engine::EngineChoice;
use crate::model::exit::UsageError;
use crate::model::signal::Signal;
use crate::model::verdict::Policy;
use crate::plan::discovery::config_start;
use crate::plan::keyword::KeywordExpr;
use crate::plan::shard::Shard;
use crate::settings::cli::{Cli, ColorChoice};

/// What this invocation does.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Collect, run and judge the tests.
    Run,
    /// `--collect-only`: list the tests that would run.
    CollectOnly,
    /// `--show-config`: this text, every effective value and its source.
    ShowConfig(String),
    /// `--merge-baselines A B --write-baseline OUT`.
    MergeBaselines {
        inputs: Vec<PathBuf>,
        output: PathBuf,
    },
}

/// How much the terminal shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
    /// Also prints every test's series.
    Series,
}

/// `-k`: the expression as given (pytest applies it itself) and parsed.
#[derive(Debug, Clone)]
pub struct Keyword {
    pub text: String,
    pub expr: KeywordExpr,
}

/// Everything the session needs to know of what the user asked for, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: Mode,
    /// Folders, files or node ids as given (pytest gets them as they are).
    pub paths: Vec<String>,
    pub keyword: Option<Keyword>,
    pub exitfirst: bool,
    pub verbosity: Verbosity,
    /// Colour is on: asked for, or `auto` on a terminal without NO_COLOR.
    pub color: bool,
    pub workers: usize,
    pub warmup: usize,
    /// Runs and thresholds of the verdict.
    pub policy: Policy,
    /// How long one run may take; None: no limit.
    pub timeout: Option<Duration>,
    pub shard: Option<Shard>,
    /// `--changed[=REF]`: Some("") for the default reference.
    pub changed: Option<String>,
    /// `--ignore`, as absolute paths that exist.
    pub ignore: Vec<PathBuf>,
    pub baseline: Option<PathBuf>,
    pub baseline_tolerance: f64,
    pub write_baseline: Option<PathBuf>,
    pub junitxml: Option<PathBuf>,
    pub json: Option<PathBuf>,
    pub html: Option<PathBuf>,
    pub strict_resources: bool,
    pub keep_coverage: bool,
    pub engine: EngineChoice,
    pub python: Option<PathBuf>,
    /// Given after `--`.
    pub pytest_args: Vec<String>,
    /// The configuration file's allow-list.
    pub allow: Vec<AllowEntry>,
}

impl Settings {
    /// The settings of this command line (`matches` tells which options it
    /// gave: they beat the configuration file). Errors are usage errors.
    pub fn new(cli: Cli, matches: &ArgMatches) -> Result<Settings> {
        Settings::made(cli, matches).map_err(|e| match e.downcast::<UsageError>() {
            Ok(usage) => anyhow::Error::new(usage),
            Err(other) => anyhow::Error::new(UsageError(format!("{other:#}"))),
        })
    }

    fn made(mut cli: Cli, matches: &ArgMatches) -> Result<Settings> {
        let loaded = match &cli.config {
            Some(path) => Some(file::read(path)?),
            None => {
                let cwd = std::env::current_dir().context("cannot read the current folder")?;
                file::find(&config_start(&cli.paths, &cwd))?
            }
        };
        let (effective, allow) = file::merge(&mut cli, matches, loaded.as_ref())?;
        let mode = if cli.show_config {
            Mode::ShowConfig(file::render(&effective, loaded.as_ref()))
        } else if !cli.merge_baselines.is_empty() {
            Mode::MergeBaselines {
                inputs: cli.merge_baselines.clone(),
                // clap requires --write-baseline with --merge-baselines.
                output: cli.write_baseline.clone().unwrap_or_default(),
            }
        } else if cli.collect_only {
            Mode::CollectOnly
        } else {
            Mode::Run
        };
        let keyword = cli
            .keyword
            .as_deref()
            .map(|text| {
                KeywordExpr::parse(text)
                    .map(|expr| Keyword {
                        text: text.to_string(),
                        expr,
                    })
                    .map_err(|e| {
                        UsageError(format!("Wrong expression passed to '-k': {text}: {e}"))
                    })
            })
            .transpose()?;
        if !(cli.timeout >= 0.0 && cli.timeout.is_finite()) {
            return Err(UsageError(format!(
                "--timeout {}: give seconds, 0 or more",
                cli.timeout
            ))
            .into());
        }
        let mut policy = Policy::new(cli.iterations, cli.max_iterations);
        for threshold in &cli.threshold {
            let (signal, value) = parse_threshold(threshold).map_err(UsageError)?;
            policy.min_per_run[signal.index()] = value;
        }
        Ok(Settings {
            mode,
            keyword,
            exitfirst: cli.exitfirst,
            verbosity: verbosity(cli.quiet, cli.verbose),
            color: color(cli.color),
            workers: cli.workers,
            warmup: cli.warmup,
            policy,
            timeout: (cli.timeout > 0.0).then(|| Duration::from_secs_f64(cli.timeout)),
            shard: cli.shard,
            changed: cli.changed,
            ignore: ignored_paths(&cli.ignore)?,
            baseline: cli.baseline,
            baseline_tolerance: cli.baseline_tolerance,
            write_baseline: cli.write_baseline,
            junitxml: cli.junitxml,
            json: cli.json,
            html: cli.html,
            strict_resources: cli.strict_resources,
            keep_coverage: cli.keep_coverage,
            engine: cli.engine,
            python: cli.python,
            pytest_args: cli.pytest_args,
            paths: cli.paths,
            allow,
        })
    }
}

fn verbosity(quiet: u8, verbose: u8) -> Verbosity {
    match (quiet, verbose) {
        (q, _) if q > 0 => Verbosity::Quiet,
        (_, 0) => Verbosity::Normal,
        (_, 1) => Verbosity::Verbose,
        _ => Verbosity::Series,
    }
}

fn color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Yes => true,
        ColorChoice::No => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    }
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
