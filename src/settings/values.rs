//! The typed values of the options, each parsed the same way from the
//! command line (`FromStr`, `ValueEnum`) and from the configuration file
//! (`Deserialize`), and where each effective value came from.

use std::fmt;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::de::{self, Deserializer, MapAccess, Unexpected, Visitor};
use serde::Deserialize;

use crate::model::allow::AllowEntry;
use crate::model::engine::EngineChoice;
use crate::model::signal::Signal;

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    CommandLine,
    /// The file's name (not its folder) and the line of the key.
    File {
        name: String,
        line: usize,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::CommandLine => f.write_str("command line"),
            Source::File { name, line } => write!(f, "{name}:{line}"),
        }
    }
}

/// An effective value and where it came from (nextest's `TrackDefault`,
/// with the file's line as well).
#[derive(Debug, Clone, PartialEq)]
pub struct Tracked<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Tracked<T> {
    /// The value refused, named as the user wrote it: `--timeout -1: why` from
    /// the command line, `leakhunt.toml:3: timeout = -1: why` from a file.
    pub fn refused(&self, option: &str, written: &str, why: &str) -> String {
        match &self.source {
            Source::File { .. } => format!("{}: {option} = {written}: {why}", self.source),
            _ => format!("--{option} {written}: {why}"),
        }
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorChoice {
    Auto,
    Yes,
    No,
}

/// `--workers`: a number of workers, 1 or more, or `auto` for one per CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workers {
    Auto,
    Count(NonZeroUsize),
}

impl Workers {
    pub const ONE: Workers = Workers::Count(NonZeroUsize::MIN);

    /// How many workers: `auto` is one per CPU.
    pub fn count(self) -> usize {
        match self {
            Workers::Auto => std::thread::available_parallelism().map_or(1, |n| n.get()),
            Workers::Count(n) => n.get(),
        }
    }
}

const WORKERS: &str = "a number of workers (1 or more, or auto)";

impl FromStr for Workers {
    type Err = String;

    fn from_str(text: &str) -> Result<Workers, String> {
        if text == "auto" {
            return Ok(Workers::Auto);
        }
        text.parse::<NonZeroUsize>()
            .map(Workers::Count)
            .map_err(|_| format!("'{text}' is not {WORKERS}"))
    }
}

impl<'de> Deserialize<'de> for Workers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Workers, D::Error> {
        struct Expect;
        impl Visitor<'_> for Expect {
            type Value = Workers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(WORKERS)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Workers, E> {
                match text {
                    "auto" => Ok(Workers::Auto),
                    _ => Err(E::invalid_value(Unexpected::Str(text), &self)),
                }
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Workers, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::invalid_value(Unexpected::Signed(n), &self)),
                }
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Workers, E> {
                usize::try_from(n)
                    .ok()
                    .and_then(NonZeroUsize::new)
                    .map(Workers::Count)
                    .ok_or_else(|| E::invalid_value(Unexpected::Unsigned(n), &self))
            }
        }
        deserializer.deserialize_any(Expect)
    }
}

/// A number as written: an integer or a float, shown as written
/// (`131072`, `2.0`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Integer(i64),
    Float(f64),
}

impl Number {
    pub fn get(self) -> f64 {
        match self {
            Number::Integer(n) => n as f64,
            Number::Float(x) => x,
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Integer(n) => write!(f, "{n}"),
            Number::Float(x) => {
                let text = x.to_string();
                if text.contains(['.', 'e', 'i', 'N']) {
                    f.write_str(&text)
                } else {
                    write!(f, "{text}.0")
                }
            }
        }
    }
}

impl FromStr for Number {
    type Err = ();

    fn from_str(text: &str) -> Result<Number, ()> {
        match text.parse::<i64>() {
            Ok(n) => Ok(Number::Integer(n)),
            Err(_) => text.parse::<f64>().map(Number::Float).map_err(|_| ()),
        }
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Number, D::Error> {
        struct Expect;
        impl Visitor<'_> for Expect {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Number, E> {
                Ok(Number::Integer(n))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Number, E> {
                i64::try_from(n)
                    .map(Number::Integer)
                    .or(Ok(Number::Float(n as f64)))
            }
            fn visit_f64<E: de::Error>(self, x: f64) -> Result<Number, E> {
                Ok(Number::Float(x))
            }
        }
        deserializer.deserialize_any(Expect)
    }
}

/// `--threshold rss=131072`: the smallest growth per run that counts for a
/// signal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    pub signal: Signal,
    pub per_run: Number,
}

impl FromStr for Threshold {
    type Err = String;

    fn from_str(text: &str) -> Result<Threshold, String> {
        let usage = || {
            "write SIGNAL=N with SIGNAL one of objects, blocks, bytes, fds, threads, rss"
                .to_string()
        };
        let (name, value) = text.split_once('=').ok_or_else(usage)?;
        let signal = Signal::ALL
            .into_iter()
            .find(|s| s.name() == name.trim())
            .ok_or_else(usage)?;
        let per_run = value.trim().parse().map_err(|()| usage())?;
        Ok(Threshold { signal, per_run })
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.signal, self.per_run)
    }
}

/// The thresholds, in order (a later one for the same signal wins): as
/// given on the command line, or by signal name from the file's table
/// (`thresholds = { rss = 131072 }`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Thresholds(pub Vec<Threshold>);

impl<'de> Deserialize<'de> for Thresholds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Thresholds, D::Error> {
        struct Table;
        impl<'de> Visitor<'de> for Table {
            type Value = Thresholds;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of signal = growth per run")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Thresholds, M::Error> {
                let mut all = Vec::new();
                while let Some((signal, per_run)) = map.next_entry::<Signal, Number>()? {
                    all.push(Threshold { signal, per_run });
                }
                all.sort_by_key(|t| t.signal.name());
                Ok(Thresholds(all))
            }
        }
        deserializer.deserialize_map(Table)
    }
}

/// What the command line gave for an option: `Some` when given. A flag is
/// given when set: the command line cannot unset it.
pub trait Given<T> {
    fn given(self) -> Option<T>;
}

impl<T> Given<T> for Option<T> {
    fn given(self) -> Option<T> {
        self
    }
}

impl Given<bool> for bool {
    fn given(self) -> Option<bool> {
        self.then_some(true)
    }
}

impl Given<Thresholds> for Option<Vec<Threshold>> {
    fn given(self) -> Option<Thresholds> {
        self.map(Thresholds)
    }
}

/// Paths in a configuration file are relative to its folder.
pub trait Relative {
    fn relative_to(self, dir: &Path) -> Self;
}

impl Relative for PathBuf {
    fn relative_to(self, dir: &Path) -> PathBuf {
        if self.is_relative() {
            dir.join(self)
        } else {
            self
        }
    }
}

impl Relative for Vec<String> {
    fn relative_to(self, dir: &Path) -> Vec<String> {
        self.into_iter()
            .map(|p| {
                PathBuf::from(p)
                    .relative_to(dir)
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }
}

/// How `--show-config` writes a value.
pub trait Show {
    fn show(&self) -> String;
}

macro_rules! show_as_displayed {
    ($($t:ty),*) => {$(
        impl Show for $t {
            fn show(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
show_as_displayed!(bool, usize, f64);

impl Show for Vec<String> {
    fn show(&self) -> String {
        format!("{self:?}")
    }
}

/// Unset is shown as `""`.
impl Show for Option<String> {
    fn show(&self) -> String {
        format!("{:?}", self.as_deref().unwrap_or_default())
    }
}

/// Unset is shown as `""`.
impl Show for Option<PathBuf> {
    fn show(&self) -> String {
        format!("{:?}", self.clone().unwrap_or_default())
    }
}

impl Show for Workers {
    fn show(&self) -> String {
        self.count().to_string()
    }
}

impl Show for Thresholds {
    fn show(&self) -> String {
        let written: Vec<String> = self.0.iter().map(Threshold::to_string).collect();
        written.show()
    }
}

impl Show for ColorChoice {
    fn show(&self) -> String {
        format!("{self:?}").to_lowercase()
    }
}

impl Show for EngineChoice {
    fn show(&self) -> String {
        format!("{self:?}").to_lowercase()
    }
}

impl Show for Vec<AllowEntry> {
    fn show(&self) -> String {
        format!("{} entries", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct File {
        thresholds: Thresholds,
        workers: Option<Workers>,
    }

    fn threshold(signal: Signal, per_run: Number) -> Threshold {
        Threshold { signal, per_run }
    }

    #[test]
    fn thresholds_are_a_typed_table_in_signal_name_order() {
        let file: File = toml::from_str(
            "thresholds = { rss = 131072, objects = 0.5, blocks = 2.0 }\nworkers = \"auto\"\n",
        )
        .unwrap();
        assert_eq!(
            file.thresholds,
            Thresholds(vec![
                threshold(Signal::Blocks, Number::Float(2.0)),
                threshold(Signal::Objects, Number::Float(0.5)),
                threshold(Signal::Rss, Number::Integer(131072)),
            ])
        );
        // As written: `2.0` stays `2.0`.
        assert_eq!(
            file.thresholds.show(),
            r#"["blocks=2.0", "objects=0.5", "rss=131072"]"#
        );
        assert_eq!(file.workers, Some(Workers::Auto));
    }

    #[test]
    fn thresholds_on_the_command_line() {
        assert_eq!(
            "rss=131072".parse::<Threshold>(),
            Ok(threshold(Signal::Rss, Number::Integer(131072)))
        );
        assert_eq!(
            " fds = 0.5".parse::<Threshold>(),
            Ok(threshold(Signal::Fds, Number::Float(0.5)))
        );
        let usage = "write SIGNAL=N with SIGNAL one of objects, blocks, bytes, fds, threads, rss";
        assert_eq!("memory=1".parse::<Threshold>(), Err(usage.to_string()));
        assert_eq!("rss".parse::<Threshold>(), Err(usage.to_string()));
        assert_eq!("rss=lots".parse::<Threshold>(), Err(usage.to_string()));
    }

    #[test]
    fn workers_are_a_number_or_auto() {
        assert_eq!("auto".parse::<Workers>(), Ok(Workers::Auto));
        assert_eq!("3".parse::<Workers>().map(Workers::count), Ok(3));
        assert_eq!(
            "0".parse::<Workers>(),
            Err("'0' is not a number of workers (1 or more, or auto)".to_string())
        );
        assert_eq!(Workers::ONE.show(), "1");
        let wrong = toml::from_str::<File>("thresholds = {}\nworkers = 1.5\n").unwrap_err();
        assert_eq!(
            wrong.message(),
            "invalid type: floating point `1.5`, expected a number of workers (1 or more, or auto)"
        );
    }

    #[test]
    fn refusals_name_the_value_as_written_and_where() {
        let from_file = Tracked {
            value: -1.0,
            source: Source::File {
                name: "pyproject.toml".into(),
                line: 9,
            },
        };
        assert_eq!(
            from_file.refused("timeout", "-1", "give seconds, 0 or more"),
            "pyproject.toml:9: timeout = -1: give seconds, 0 or more"
        );
        let given = Tracked {
            value: -1.0,
            source: Source::CommandLine,
        };
        assert_eq!(
            given.refused("timeout", "-1", "give seconds, 0 or more"),
            "--timeout -1: give seconds, 0 or more"
        );
    }

    #[test]
    fn paths_in_a_file_are_relative_to_its_folder() {
        let dir = Path::new("/proj");
        assert_eq!(
            vec!["tests".to_string(), "/abs".to_string()].relative_to(dir),
            ["/proj/tests", "/abs"]
        );
        assert_eq!(
            PathBuf::from("out/r.xml").relative_to(dir),
            Path::new("/proj/out/r.xml")
        );
    }
}
