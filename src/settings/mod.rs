//! The command line and the configuration file, made once into one checked
//! [`Settings`] value: every check of what the user asked for happens here,
//! so the layers below take the values as they are.
//!
//! The shape (nextest's: `Option`s on the command line, typed configuration,
//! values that know where they came from), a module per step:
//! - [`values`]: the typed values (workers, thresholds, colour, …), each
//!   parsed the same way by clap (`FromStr`, `ValueEnum`) and by serde
//!   (`Deserialize`), and [`values::Tracked`]: a value and its
//!   [`values::Source`] (default, command line, or file:line).
//! - [`cli`]: the command line. An option a configuration file can also set
//!   is an `Option` with no clap default (a flag: `bool`, given when set),
//!   so "given on the command line" is `Some`.
//! - [`file`](mod@file): finds and reads `leakhunt.toml` or pyproject.toml's
//!   `[tool.leakhunt]`; a wrong key or type is a one-line error naming the
//!   file and the line.
//! - [`options`]: one table, a line per option (key, field, types, default,
//!   command line or file only, paths relative to the file), makes the
//!   file's schema, the merge into [`options::Options`] (command line, else
//!   file, else default; every value tracked) and `--show-config`, rendered
//!   from the tracked values.
//! - [`Settings::new`] (here): checks each effective value once, naming it as
//!   the user wrote it and where (`--timeout -1: …`, `leakhunt.toml:3:
//!   iterations = 2: …`), and builds the [`Settings`] the session takes.
//!
//! Adding an option: a field of [`cli::Cli`] (its flag and help) and a line
//! of the table in [`options`]; then its check, if any, and its use in
//! [`Settings`]. A new type of value implements `FromStr` (or `ValueEnum`),
//! `Deserialize` and [`values::Show`] in [`values`].

pub mod cli;
pub mod file;
pub mod options;
pub mod values;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::model::allow::AllowEntry;
use crate::model::engine::EngineChoice;
use crate::model::exit::UsageError;
use crate::model::verdict::Policy;
use crate::plan::discovery::config_start;
use crate::plan::keyword::KeywordExpr;
use crate::plan::shard::Shard;
use crate::settings::cli::Cli;
use crate::settings::file::Loaded;
use crate::settings::options::{FileConfig, Options};
use crate::settings::values::{ColorChoice, Source, Tracked};

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
    /// The settings of this command line and the configuration file it
    /// names or the one found. Errors are usage errors.
    pub fn new(cli: Cli) -> Result<Settings> {
        Settings::made(cli).map_err(|e| match e.downcast::<UsageError>() {
            Ok(usage) => anyhow::Error::new(usage),
            Err(other) => UsageError::wrap(other),
        })
    }

    fn made(cli: Cli) -> Result<Settings> {
        let file: Option<Loaded<FileConfig>> = match &cli.config {
            Some(path) => Some(file::read(path)?),
            None => {
                let cwd = std::env::current_dir().context("cannot read the current folder")?;
                let paths = cli.paths.as_deref().unwrap_or_default();
                file::find(&config_start(paths, &cwd))?
            }
        };
        let options = Options::merge(&cli, file.as_ref());
        let mode = if cli.show_config {
            Mode::ShowConfig(options::render(&options, file.as_ref()))
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
        let checked = checked(&options).map_err(UsageError)?;
        Ok(Settings {
            mode,
            paths: options.paths.value,
            keyword: checked.keyword,
            exitfirst: options.exitfirst.value,
            verbosity: verbosity(cli.quiet, cli.verbose),
            color: color(options.color.value),
            workers: options.workers.value.count(),
            warmup: options.warmup.value,
            policy: checked.policy,
            timeout: checked.timeout,
            shard: cli.shard,
            changed: cli.changed,
            ignore: checked.ignore,
            baseline: options.baseline.value,
            baseline_tolerance: options.baseline_tolerance.value,
            write_baseline: cli.write_baseline,
            junitxml: options.junitxml.value,
            json: options.json.value,
            html: options.html.value,
            strict_resources: options.strict_resources.value,
            keep_coverage: options.keep_coverage.value,
            engine: options.engine.value,
            python: options.python.value,
            pytest_args: cli.pytest_args,
            allow: options.allow.value,
        })
    }
}

/// The values made of checked options.
#[derive(Debug)]
struct Checked {
    keyword: Option<Keyword>,
    policy: Policy,
    timeout: Option<Duration>,
    ignore: Vec<PathBuf>,
}

/// Every check of a value the user gave, once, whichever way it came.
fn checked(options: &Options) -> std::result::Result<Checked, String> {
    let keyword = match &options.keyword.value {
        None => None,
        Some(text) => Some(Keyword {
            text: text.clone(),
            expr: KeywordExpr::parse(text).map_err(|e| match &options.keyword.source {
                Source::File { .. } => {
                    options
                        .keyword
                        .refused("keyword", &format!("{text:?}"), &e.to_string())
                }
                // pytest's words for its -k.
                _ => format!("Wrong expression passed to '-k': {text}: {e}"),
            })?,
        }),
    };
    let iterations = &options.iterations;
    if iterations.value < 3 {
        let written = iterations.value.to_string();
        return Err(iterations.refused("iterations", &written, "needs at least 3 judged runs"));
    }
    let timeout = &options.timeout;
    if !(timeout.value >= 0.0 && timeout.value.is_finite()) {
        let written = timeout.value.to_string();
        return Err(timeout.refused("timeout", &written, "give seconds, 0 or more"));
    }
    let mut policy = Policy::new(iterations.value, options.max_iterations.value);
    for threshold in &options.thresholds.value.0 {
        let per_run = threshold.per_run.get();
        if !(per_run >= 0.0 && per_run.is_finite()) {
            let (option, written) = match options.thresholds.source {
                Source::File { .. } => (
                    format!("thresholds.{}", threshold.signal),
                    threshold.per_run.to_string(),
                ),
                _ => ("threshold".to_string(), threshold.to_string()),
            };
            return Err(options.thresholds.refused(
                &option,
                &written,
                "give a growth per run, 0 or more",
            ));
        }
        policy.min_per_run[threshold.signal.index()] = per_run;
    }
    Ok(Checked {
        keyword,
        policy,
        timeout: (timeout.value > 0.0).then(|| Duration::from_secs_f64(timeout.value)),
        ignore: ignored_paths(&options.ignore)?,
    })
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

/// `--ignore`: each path must exist.
fn ignored_paths(ignore: &Tracked<Vec<String>>) -> std::result::Result<Vec<PathBuf>, String> {
    ignore
        .value
        .iter()
        .map(|path| {
            std::fs::canonicalize(path)
                .map_err(|_| ignore.refused("ignore", path, "no such file or folder"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::Parser;

    use super::*;
    use crate::model::signal::Signal;

    fn options(args: &[&str], file: &str) -> Options {
        let cli =
            Cli::try_parse_from(std::iter::once("leakhunt").chain(args.iter().copied())).unwrap();
        let loaded: Loaded<FileConfig> =
            file::parse(Path::new("/proj/leakhunt.toml"), file.to_string()).unwrap();
        Options::merge(&cli, Some(&loaded))
    }

    fn refusal(args: &[&str], file: &str) -> String {
        checked(&options(args, file)).unwrap_err()
    }

    #[test]
    fn each_check_names_the_value_as_written_and_where() {
        assert_eq!(
            refusal(&["--iterations", "2"], ""),
            "--iterations 2: needs at least 3 judged runs"
        );
        assert_eq!(
            refusal(&[], "warmup = 1\niterations = 2\n"),
            "leakhunt.toml:2: iterations = 2: needs at least 3 judged runs"
        );
        // The command line wins, and only the effective value is checked.
        assert!(checked(&options(&["--iterations", "3"], "iterations = 2\n")).is_ok());
        assert_eq!(
            refusal(&["--timeout", "inf"], ""),
            "--timeout inf: give seconds, 0 or more"
        );
        assert_eq!(
            refusal(&[], "timeout = -1\n"),
            "leakhunt.toml:1: timeout = -1: give seconds, 0 or more"
        );
        assert_eq!(
            refusal(&["--threshold", "rss=-1"], ""),
            "--threshold rss=-1: give a growth per run, 0 or more"
        );
        assert_eq!(
            refusal(&[], "thresholds = { fds = -2 }\n"),
            "leakhunt.toml:1: thresholds.fds = -2: give a growth per run, 0 or more"
        );
        assert_eq!(
            refusal(&["-k", "a and"], ""),
            "Wrong expression passed to '-k': a and: at column 6: expected not OR left parenthesis OR identifier; got end of input"
        );
        assert_eq!(
            refusal(&[], "keyword = \"a and\"\n"),
            "leakhunt.toml:1: keyword = \"a and\": at column 6: expected not OR left parenthesis OR identifier; got end of input"
        );
        assert_eq!(
            refusal(&[], "ignore = [\"no/such\"]\n"),
            "leakhunt.toml:1: ignore = /proj/no/such: no such file or folder"
        );
    }

    #[test]
    fn checked_values_make_the_policy_and_timeout() {
        let checked = checked(&options(
            &["--threshold", "rss=65536", "--threshold", "rss=131072"],
            "iterations = 5\nmax-iterations = 20\ntimeout = 2.5\nthresholds = { objects = 3 }\n",
        ))
        .unwrap();
        // The command line's thresholds replace the file's; the last wins.
        assert_eq!(checked.policy.min_per_run[Signal::Rss.index()], 131072.0);
        assert_eq!(
            checked.policy.min_per_run[Signal::Objects.index()],
            Policy::new(5, 20).min_per_run[Signal::Objects.index()]
        );
        assert_eq!(checked.timeout, Some(Duration::from_millis(2500)));
        let no_limit = super::checked(&options(&["--timeout", "0"], "")).unwrap();
        assert_eq!(no_limit.timeout, None);
    }
}
