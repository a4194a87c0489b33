//! Configuration from `[tool.leakhunt]` in pyproject.toml or from
//! leakhunt.toml: every command-line option can be set there; the command line
//! wins. `--show-config` prints each effective value and where it came from.

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use clap::parser::ValueSource;
use clap::ArgMatches;
use serde::Deserialize;
use toml::Spanned;

use crate::model::allow::AllowEntry;
use crate::model::engine::EngineChoice;
use crate::settings::cli::{Cli, ColorChoice};

/// The `[tool.leakhunt]` table. Unknown keys are errors naming the key, the
/// file and the line.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    pub paths: Option<Spanned<Vec<String>>>,
    pub keyword: Option<Spanned<String>>,
    pub exitfirst: Option<Spanned<bool>>,
    pub warmup: Option<Spanned<usize>>,
    pub iterations: Option<Spanned<usize>>,
    pub max_iterations: Option<Spanned<usize>>,
    /// Smallest growth per run that counts, per signal (`rss = 65536`).
    pub thresholds: Option<Spanned<toml::Table>>,
    pub workers: Option<Spanned<toml::Value>>,
    pub timeout: Option<Spanned<f64>>,
    pub junitxml: Option<Spanned<String>>,
    pub ignore: Option<Spanned<Vec<String>>>,
    pub allow: Option<Spanned<Vec<AllowEntry>>>,
    pub baseline: Option<Spanned<String>>,
    pub baseline_tolerance: Option<Spanned<f64>>,
    pub color: Option<Spanned<String>>,
    pub engine: Option<Spanned<String>>,
    pub python: Option<Spanned<String>>,
    pub json: Option<Spanned<String>>,
    pub html: Option<Spanned<String>>,
    pub strict_resources: Option<Spanned<bool>>,
    pub keep_coverage: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
struct PyProject {
    tool: Option<Tools>,
}

#[derive(Debug, Deserialize)]
struct Tools {
    leakhunt: Option<FileConfig>,
}

/// A configuration file that was found and read.
#[derive(Debug)]
pub struct Loaded {
    pub path: PathBuf,
    text: String,
    pub config: FileConfig,
}

impl Loaded {
    fn line_of(&self, span: &Range<usize>) -> usize {
        self.text[..span.start.min(self.text.len())]
            .matches('\n')
            .count()
            + 1
    }

    /// The folder relative paths in the file are resolved from.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

/// Finds the configuration: `leakhunt.toml`, or a pyproject.toml with a
/// `[tool.leakhunt]` table, in `start` (the folder of the paths given, else
/// the current one) or the nearest folder above it.
pub fn find(start: &Path) -> Result<Option<Loaded>> {
    for dir in start.ancestors() {
        let own = dir.join("leakhunt.toml");
        if own.is_file() {
            return read(&own).map(Some);
        }
        let pyproject = dir.join("pyproject.toml");
        if pyproject.is_file() {
            let text = std::fs::read_to_string(&pyproject)
                .with_context(|| format!("cannot read {}", pyproject.display()))?;
            if text
                .lines()
                .any(|l| l.trim_start().starts_with("[tool.leakhunt"))
            {
                return read(&pyproject).map(Some);
            }
        }
    }
    Ok(None)
}

/// Reads one configuration file (leakhunt.toml, or pyproject.toml's table).
pub fn read(path: &Path) -> Result<Loaded> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    let is_pyproject = path.file_name().is_some_and(|n| n == "pyproject.toml");
    let parsed = if is_pyproject {
        toml::from_str::<PyProject>(&text)
            .map(|p| p.tool.and_then(|t| t.leakhunt).unwrap_or_default())
    } else {
        toml::from_str::<FileConfig>(&text)
    };
    match parsed {
        Ok(config) => Ok(Loaded {
            path: path.to_path_buf(),
            text,
            config,
        }),
        Err(error) => {
            let line = error
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1);
            let table = if is_pyproject {
                " in [tool.leakhunt]"
            } else {
                ""
            };
            Err(anyhow!(
                "{}:{line}: {}{table}",
                path.display(),
                error.message().replace("unknown field", "unknown key")
            ))
        }
    }
}

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    CommandLine,
    File(String),
}

/// One line of `--show-config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    pub key: &'static str,
    pub value: String,
    pub source: Source,
}

/// Fills the options the command line left at their defaults from the file,
/// and lists every effective value with its source.
pub fn merge(
    cli: &mut Cli,
    matches: &ArgMatches,
    loaded: Option<&Loaded>,
) -> Result<(Vec<Effective>, Vec<AllowEntry>)> {
    let given = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    let mut effective = Vec::new();
    let config = loaded.map(|l| &l.config);
    let at = |span: Range<usize>| -> Source {
        match loaded {
            Some(l) => Source::File(format!(
                "{}:{}",
                l.path
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default(),
                l.line_of(&span)
            )),
            None => Source::Default,
        }
    };
    let relative = |value: &str| -> String {
        match loaded {
            Some(l) if Path::new(value).is_relative() => {
                l.dir().join(value).to_string_lossy().to_string()
            }
            _ => value.to_string(),
        }
    };

    macro_rules! setting {
        ($key:literal, $id:literal, $field:ident, $apply:expr, $show:expr) => {{
            let source = if given($id) {
                Source::CommandLine
            } else if let Some(value) = config.and_then(|c| c.$field.as_ref()) {
                let source = at(value.span());
                #[allow(clippy::redundant_closure_call)]
                ($apply)(cli, value.get_ref()).map_err(|e| match &source {
                    Source::File(place) => anyhow!("{place}: {e}"),
                    _ => e,
                })?;
                source
            } else {
                Source::Default
            };
            #[allow(clippy::redundant_closure_call)]
            let shown: String = ($show)(&*cli);
            effective.push(Effective {
                key: $key,
                value: shown,
                source,
            });
        }};
    }

    setting!(
        "paths",
        "paths",
        paths,
        |cli: &mut Cli, v: &Vec<String>| -> Result<()> {
            cli.paths = v.iter().map(|p| relative(p)).collect();
            Ok(())
        },
        |cli: &Cli| format!("{:?}", cli.paths)
    );
    setting!(
        "keyword",
        "keyword",
        keyword,
        |cli: &mut Cli, v: &String| -> Result<()> {
            cli.keyword = Some(v.clone());
            Ok(())
        },
        |cli: &Cli| format!("{:?}", cli.keyword.clone().unwrap_or_default())
    );
    setting!(
        "exitfirst",
        "exitfirst",
        exitfirst,
        |cli: &mut Cli, v: &bool| -> Result<()> {
            cli.exitfirst = *v;
            Ok(())
        },
        |cli: &Cli| cli.exitfirst.to_string()
    );
    setting!(
        "warmup",
        "warmup",
        warmup,
        |cli: &mut Cli, v: &usize| -> Result<()> {
            cli.warmup = *v;
            Ok(())
        },
        |cli: &Cli| cli.warmup.to_string()
    );
    setting!(
        "iterations",
        "iterations",
        iterations,
        |cli: &mut Cli, v: &usize| -> Result<()> {
            if *v < 3 {
                return Err(anyhow!("iterations = {v}: needs at least 3 judged runs"));
            }
            cli.iterations = *v;
            Ok(())
        },
        |cli: &Cli| cli.iterations.to_string()
    );
    setting!(
        "max-iterations",
        "max_iterations",
        max_iterations,
        |cli: &mut Cli, v: &usize| -> Result<()> {
            cli.max_iterations = *v;
            Ok(())
        },
        |cli: &Cli| cli.max_iterations.to_string()
    );
    setting!(
        "thresholds",
        "threshold",
        thresholds,
        |cli: &mut Cli, v: &toml::Table| -> Result<()> {
            cli.threshold = v
                .iter()
                .map(|(signal, value)| format!("{signal}={value}"))
                .collect();
            Ok(())
        },
        |cli: &Cli| format!("{:?}", cli.threshold)
    );
    setting!(
        "workers",
        "workers",
        workers,
        |cli: &mut Cli, v: &toml::Value| -> Result<()> {
            let text = match v {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            cli.workers =
                crate::settings::cli::parse_workers(&text).map_err(|e| anyhow!("workers: {e}"))?;
            Ok(())
        },
        |cli: &Cli| cli.workers.to_string()
    );
    setting!(
        "timeout",
        "timeout",
        timeout,
        |cli: &mut Cli, v: &f64| -> Result<()> {
            cli.timeout = *v;
            Ok(())
        },
        |cli: &Cli| cli.timeout.to_string()
    );
    setting!(
        "junitxml",
        "junitxml",
        junitxml,
        |cli: &mut Cli, v: &String| -> Result<()> {
            cli.junitxml = Some(PathBuf::from(relative(v)));
            Ok(())
        },
        |cli: &Cli| format!("{:?}", cli.junitxml.clone().unwrap_or_default())
    );
    setting!(
        "ignore",
        "ignore",
        ignore,
        |cli: &mut Cli, v: &Vec<String>| -> Result<()> {
            cli.ignore = v.iter().map(|p| relative(p)).collect();
            Ok(())
        },
        |cli: &Cli| format!("{:?}", cli.ignore)
    );
    setting!(
        "baseline",
        "baseline",
        baseline,
        |cli: &mut Cli, v: &String| -> Result<()> {
            cli.baseline = Some(PathBuf::from(relative(v)));
            Ok(())
        },
        |cli: &Cli| format!("{:?}", cli.baseline.clone().unwrap_or_default())
    );
    setting!(
        "baseline-tolerance",
        "baseline_tolerance",
        baseline_tolerance,
        |cli: &mut Cli, v: &f64| -> Result<()> {
            cli.baseline_tolerance = *v;
            Ok(())
        },
        |cli: &Cli| cli.baseline_tolerance.to_string()
    );
    setting!(
        "color",
        "color",
        color,
        |cli: &mut Cli, v: &String| -> Result<()> {
            cli.color = match v.as_str() {
                "auto" => ColorChoice::Auto,
                "yes" => ColorChoice::Yes,
                "no" => ColorChoice::No,
                other => {
                    return Err(anyhow!(
                        "color = {other:?}: use \"auto\", \"yes\" or \"no\""
                    ))
                }
            };
            Ok(())
        },
        |cli: &Cli| format!("{:?}", cli.color).to_lowercase()
    );
    setting!(
        "engine",
        "engine",
        engine,
        |cli: &mut Cli, v: &String| -> Result<()> {
            cli.engine = match v.as_str() {
                "auto" => EngineChoice::Auto,
                "builtin" => EngineChoice::Builtin,
                "pytest" => EngineChoice::Pytest,
                other => {
                    return Err(anyhow!(
                        "engine = {other:?}: use \"auto\", \"builtin\" or \"pytest\""
                    ))
                }
            };
            Ok(())
        },
        |cli: &Cli| format!("{:?}", cli.engine).to_lowercase()
    );
    setting!(
        "python",
        "python",
        python,
        |cli: &mut Cli, v: &String| -> Result<()> {
            cli.python = Some(PathBuf::from(relative(v)));
            Ok(())
        },
        |cli: &Cli| format!("{:?}", cli.python.clone().unwrap_or_default())
    );
    setting!(
        "json",
        "json",
        json,
        |cli: &mut Cli, v: &String| -> Result<()> {
            cli.json = Some(PathBuf::from(relative(v)));
            Ok(())
        },
        |cli: &Cli| format!("{:?}", cli.json.clone().unwrap_or_default())
    );
    setting!(
        "html",
        "html",
        html,
        |cli: &mut Cli, v: &String| -> Result<()> {
            cli.html = Some(PathBuf::from(relative(v)));
            Ok(())
        },
        |cli: &Cli| format!("{:?}", cli.html.clone().unwrap_or_default())
    );
    setting!(
        "strict-resources",
        "strict_resources",
        strict_resources,
        |cli: &mut Cli, v: &bool| -> Result<()> {
            cli.strict_resources = *v;
            Ok(())
        },
        |cli: &Cli| cli.strict_resources.to_string()
    );
    setting!(
        "keep-coverage",
        "keep_coverage",
        keep_coverage,
        |cli: &mut Cli, v: &bool| -> Result<()> {
            cli.keep_coverage = *v;
            Ok(())
        },
        |cli: &Cli| cli.keep_coverage.to_string()
    );
    let allow = config
        .and_then(|c| c.allow.as_ref())
        .map(|a| a.get_ref().clone())
        .unwrap_or_default();
    effective.push(Effective {
        key: "allow",
        value: format!("{} entries", allow.len()),
        source: match config.and_then(|c| c.allow.as_ref()) {
            Some(a) => at(a.span()),
            None => Source::Default,
        },
    });
    Ok((effective, allow))
}

/// The `--show-config` text: `key = value  # source`.
pub fn render(effective: &[Effective], loaded: Option<&Loaded>) -> String {
    let mut out = match loaded {
        Some(l) => format!("# configuration file: {}\n", l.path.display()),
        None => "# no configuration file (leakhunt.toml or [tool.leakhunt] in pyproject.toml)\n"
            .to_string(),
    };
    for line in effective {
        let source = match &line.source {
            Source::Default => "default".to_string(),
            Source::CommandLine => "command line".to_string(),
            Source::File(at) => at.clone(),
        };
        let assignment = format!("{} = {}", line.key, line.value);
        out.push_str(&format!("{assignment:<40} # {source}\n"));
    }
    out
}
