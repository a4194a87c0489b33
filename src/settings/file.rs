//! Where the configuration file is, and how it is read: `leakhunt.toml`, or
//! `[tool.leakhunt]` in pyproject.toml. What the file may hold is the table
//! of [`crate::settings::options`]; this module knows only the file.

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::settings::values::Source;

#[derive(Debug, Deserialize)]
struct PyProject<C> {
    tool: Option<Tools<C>>,
}

#[derive(Debug, Deserialize)]
struct Tools<C> {
    leakhunt: Option<C>,
}

/// A configuration file that was found and read into `C`.
#[derive(Debug)]
pub struct Loaded<C> {
    pub path: PathBuf,
    text: String,
    pub config: C,
}

impl<C> Loaded<C> {
    /// Where the key or value at `span` is: the file's name and the line.
    pub fn source(&self, span: Range<usize>) -> Source {
        Source::File {
            name: self
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            line: line_of(&self.text, span),
        }
    }

    /// The folder relative paths in the file are resolved from.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
}

fn line_of(text: &str, span: Range<usize>) -> usize {
    text[..span.start.min(text.len())].matches('\n').count() + 1
}

/// Finds the configuration: `leakhunt.toml`, or a pyproject.toml with a
/// `[tool.leakhunt]` table, in `start` (the folder of the paths given, else
/// the current one) or the nearest folder above it.
pub fn find<C: DeserializeOwned + Default>(start: &Path) -> Result<Option<Loaded<C>>> {
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
/// Unknown keys and wrong types are one-line errors naming the file and the
/// line.
pub fn read<C: DeserializeOwned + Default>(path: &Path) -> Result<Loaded<C>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    parse(path, text)
}

/// The configuration in `text`, read from `path`.
pub fn parse<C: DeserializeOwned + Default>(path: &Path, text: String) -> Result<Loaded<C>> {
    let is_pyproject = path.file_name().is_some_and(|n| n == "pyproject.toml");
    let parsed = if is_pyproject {
        toml::from_str::<PyProject<C>>(&text)
            .map(|p| p.tool.and_then(|t| t.leakhunt).unwrap_or_default())
    } else {
        toml::from_str::<C>(&text)
    };
    match parsed {
        Ok(config) => Ok(Loaded {
            path: path.to_path_buf(),
            text,
            config,
        }),
        Err(error) => {
            let line = error.span().map_or(1, |span| line_of(&text, span));
            let table = if is_pyproject {
                " in [tool.leakhunt]"
            } else {
                ""
            };
            Err(anyhow!(
                "{}:{line}: {}{table}",
                path.display(),
                plain_message(error.message(), &text, line)
            ))
        }
    }
}

/// TOML's and serde's words for a value of the wrong kind, said the way a
/// user writes the file: the key first, and "a whole number" rather than
/// Rust's `usize`.
fn plain_message(message: &str, text: &str, line: usize) -> String {
    let message = message
        .replace("unknown field", "unknown key")
        // Every enum of the file is a word in quotes (engine, color).
        .replace("wanted string or table", "expected a word in quotes");
    let message = regex::Regex::new(r"expected (usize|u64|u32|u16|u8|i64|i32)\b")
        .map(|whole| {
            whole
                .replace_all(&message, "expected a whole number")
                .replace("expected f64", "expected a number")
        })
        .unwrap_or(message);
    let is_about_a_value = ["invalid type", "invalid value", "expected a word"]
        .iter()
        .any(|start| message.starts_with(start));
    let key = text
        .lines()
        .nth(line.saturating_sub(1))
        .and_then(|l| l.split_once('='))
        .map(|(key, _)| key.trim())
        .filter(|key| !key.is_empty());
    match key {
        Some(key) if is_about_a_value => format!("{key}: {message}"),
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::options::FileConfig;

    fn error(path: &str, text: &str) -> String {
        parse::<FileConfig>(Path::new(path), text.to_string())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn wrong_types_name_the_file_and_line() {
        assert_eq!(
            error("/p/leakhunt.toml", "workers = 2\ntimeout = \"soon\"\n"),
            "/p/leakhunt.toml:2: timeout: invalid type: string \"soon\", expected a number"
        );
        assert_eq!(
            error("/p/leakhunt.toml", "warmup = 2\nworkers = 0\n"),
            "/p/leakhunt.toml:2: workers: invalid value: integer `0`, expected a number of workers (1 or more, or auto)"
        );
        assert_eq!(
            error("/p/leakhunt.toml", "\nthresholds = { rss = \"x\" }\n"),
            "/p/leakhunt.toml:2: thresholds: invalid type: string \"x\", expected a number"
        );
        assert_eq!(
            error("/p/leakhunt.toml", "thresholds = { memory = 1 }\n"),
            "/p/leakhunt.toml:1: unknown variant `memory`, expected one of `objects`, `blocks`, `bytes`, `fds`, `threads`, `rss`"
        );
        assert_eq!(
            error("/p/leakhunt.toml", "color = \"red\"\n"),
            "/p/leakhunt.toml:1: unknown variant `red`, expected one of `auto`, `yes`, `no`"
        );
        assert_eq!(
            error("/p/leakhunt.toml", "engine = 3\n"),
            "/p/leakhunt.toml:1: engine: expected a word in quotes"
        );
        assert_eq!(
            error("/p/leakhunt.toml", "warmup = 1\niterations = \"ten\"\n"),
            "/p/leakhunt.toml:2: iterations: invalid type: string \"ten\", expected a whole number"
        );
    }

    #[test]
    fn unknown_keys_list_the_known_ones_in_the_tables_order() {
        assert_eq!(
            error("/p/pyproject.toml", "[project]\nname = \"x\"\n[tool.leakhunt]\nwarmpu = 3\n"),
            "/p/pyproject.toml:4: unknown key `warmpu`, expected one of `paths`, `keyword`, \
             `exitfirst`, `warmup`, `iterations`, `max-iterations`, `thresholds`, `workers`, \
             `timeout`, `junitxml`, `ignore`, `allow`, `baseline`, `baseline-tolerance`, `color`, \
             `engine`, `python`, `json`, `html`, `strict-resources`, `keep-coverage` in [tool.leakhunt]"
        );
    }

    #[test]
    fn a_pyproject_without_the_table_is_an_empty_configuration() {
        let loaded: Loaded<FileConfig> = parse(
            Path::new("/p/pyproject.toml"),
            "[project]\nname = \"x\"\n".into(),
        )
        .unwrap();
        assert!(loaded.config.warmup.is_none());
        assert_eq!(loaded.dir(), Path::new("/p"));
        assert_eq!(
            loaded.source(14..20),
            Source::File {
                name: "pyproject.toml".into(),
                line: 2
            }
        );
    }
}
