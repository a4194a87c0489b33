//! The options a configuration file can set, in one table: each line names
//! the key, the field (of [`Cli`], [`FileConfig`] and [`Options`]), the type
//! it is given as, the type of its effective value, the default, and whether
//! the command line can give it and whether a file's relative paths are
//! resolved. From the table come the file's schema ([`FileConfig`]), the
//! merge (the command line beats the file, the file beats the default) and
//! `--show-config`.

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use crate::model::allow::AllowEntry;
use crate::model::engine::EngineChoice;
use crate::settings::cli::Cli;
use crate::settings::file::Loaded;
use crate::settings::values::{
    ColorChoice, Given, Relative, Show, Source, Thresholds, Tracked, Workers,
};

macro_rules! options {
    (@given cli, $cli:ident, $field:ident, $given:ty) => {
        Given::<$given>::given($cli.$field.clone())
    };
    (@given file_only, $cli:ident, $field:ident, $given:ty) => {
        None::<$given>
    };
    (@on_command_line cli) => { true };
    (@on_command_line file_only) => { false };
    (@resolve [relative] $value:expr, $dir:expr) => { Relative::relative_to($value, $dir) };
    (@resolve [] $value:expr, $dir:expr) => { $value };

    ($( $key:literal $field:ident: $given:ty => $value:ty = $default:expr, $from:ident $($relative:ident)?; )*) => {
        /// The `[tool.leakhunt]` table or leakhunt.toml, as written. Unknown
        /// keys and wrong types are errors naming the key, file and line.
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct FileConfig {
            $( #[serde(rename = $key)] pub $field: Option<Spanned<$given>>, )*
        }

        /// Every option's effective value and where it came from.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Options {
            $( pub $field: Tracked<$value>, )*
        }

        impl Options {
            /// The command line beats the file, the file beats the default.
            pub fn merge(cli: &Cli, file: Option<&Loaded<FileConfig>>) -> Options {
                Options {$(
                    $field: pick(
                        options!(@given $from, cli, $field, $given),
                        file.and_then(|f| {
                            let written = f.config.$field.as_ref()?;
                            let value = written.get_ref().clone();
                            Some((options!(@resolve [$($relative)?] value, f.dir()), f.source(written.span())))
                        }),
                        || $default,
                    ),
                )*}
            }

            /// `--show-config`'s lines: key, value, source, and whether the
            /// command line can give it.
            fn lines(&self) -> Vec<(&'static str, String, &Source, bool)> {
                vec![$(
                    ($key, self.$field.value.show(), &self.$field.source, options!(@on_command_line $from)),
                )*]
            }
        }
    };
}

options! {
    // key               field               given as         => effective value  = default                     from
    "paths"              paths:              Vec<String>      => Vec<String>      = Vec::new(),                 cli relative;
    "keyword"            keyword:            String           => Option<String>   = None,                       cli;
    "exitfirst"          exitfirst:          bool             => bool             = false,                      cli;
    "warmup"             warmup:             usize            => usize            = 2,                          cli;
    "iterations"         iterations:         usize            => usize            = 10,                         cli;
    "max-iterations"     max_iterations:     usize            => usize            = 60,                         cli;
    "thresholds"         thresholds:         Thresholds       => Thresholds       = Thresholds::default(),      cli;
    "workers"            workers:            Workers          => Workers          = Workers::ONE,               cli;
    "timeout"            timeout:            f64              => f64              = 300.0,                      cli;
    "junitxml"           junitxml:           PathBuf          => Option<PathBuf>  = None,                       cli relative;
    "ignore"             ignore:             Vec<String>      => Vec<String>      = Vec::new(),                 cli relative;
    "allow"              allow:              Vec<AllowEntry>  => Vec<AllowEntry>  = Vec::new(),                 file_only;
    "baseline"           baseline:           PathBuf          => Option<PathBuf>  = None,                       cli relative;
    "baseline-tolerance" baseline_tolerance: f64              => f64              = 0.5,                        cli;
    "color"              color:              ColorChoice      => ColorChoice      = ColorChoice::Auto,          cli;
    "engine"             engine:             EngineChoice     => EngineChoice     = EngineChoice::Auto,         cli;
    "python"             python:             PathBuf          => Option<PathBuf>  = None,                       cli relative;
    "json"               json:               PathBuf          => Option<PathBuf>  = None,                       cli relative;
    "html"               html:               PathBuf          => Option<PathBuf>  = None,                       cli relative;
    "strict-resources"   strict_resources:   bool             => bool             = false,                      cli;
    "keep-coverage"      keep_coverage:      bool             => bool             = false,                      cli;
}

/// The command line's value, else the file's, else the default.
fn pick<G, V: From<G>>(
    given: Option<G>,
    written: Option<(G, Source)>,
    default: impl FnOnce() -> V,
) -> Tracked<V> {
    match (given, written) {
        (Some(value), _) => Tracked {
            value: value.into(),
            source: Source::CommandLine,
        },
        (None, Some((value, source))) => Tracked {
            value: value.into(),
            source,
        },
        (None, None) => Tracked {
            value: default(),
            source: Source::Default,
        },
    }
}

/// The `--show-config` text: `key = value  # source`, the options the
/// command line can give first, in the table's order.
pub fn render(options: &Options, file: Option<&Loaded<FileConfig>>) -> String {
    let mut out = match file {
        Some(f) => format!("# configuration file: {}\n", f.path.display()),
        None => "# no configuration file (leakhunt.toml or [tool.leakhunt] in pyproject.toml)\n"
            .to_string(),
    };
    let mut lines = options.lines();
    lines.sort_by_key(|&(_, _, _, on_command_line)| !on_command_line);
    for (key, value, source, _) in lines {
        let assignment = format!("{key} = {value}");
        out.push_str(&format!("{assignment:<40} # {source}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::{CommandFactory, Parser};

    use super::*;
    use crate::model::signal::Signal;
    use crate::settings::file;
    use crate::settings::values::{Number, Threshold};

    const FILE: &str = "\
warmup = 2
iterations = 12
thresholds = { rss = 131072, fds = 1 }
junitxml = \"out/j.xml\"
python = \"/usr/bin/python3\"
allow = [{ test = \"t::*\", reason = \"kept\" }]
color = \"no\"
";

    fn loaded() -> Loaded<FileConfig> {
        file::parse(Path::new("/proj/leakhunt.toml"), FILE.to_string()).unwrap()
    }

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("leakhunt").chain(args.iter().copied())).unwrap()
    }

    fn at(line: usize) -> Source {
        Source::File {
            name: "leakhunt.toml".into(),
            line,
        }
    }

    fn tracked<T>(value: T, source: Source) -> Tracked<T> {
        Tracked { value, source }
    }

    #[test]
    fn each_value_knows_where_it_came_from() {
        let options = Options::merge(
            &cli(&["--iterations", "15", "-x", "--color", "yes", "tests"]),
            Some(&loaded()),
        );
        assert_eq!(
            options.paths,
            tracked(vec!["tests".to_string()], Source::CommandLine)
        );
        assert_eq!(options.keyword, tracked(None, Source::Default));
        assert_eq!(options.exitfirst, tracked(true, Source::CommandLine));
        assert_eq!(options.warmup, tracked(2, at(1)));
        assert_eq!(options.iterations, tracked(15, Source::CommandLine));
        assert_eq!(options.max_iterations, tracked(60, Source::Default));
        assert_eq!(
            options.thresholds,
            tracked(
                Thresholds(vec![
                    Threshold {
                        signal: Signal::Fds,
                        per_run: Number::Integer(1)
                    },
                    Threshold {
                        signal: Signal::Rss,
                        per_run: Number::Integer(131072)
                    },
                ]),
                at(3)
            )
        );
        assert_eq!(options.workers, tracked(Workers::ONE, Source::Default));
        assert_eq!(options.timeout, tracked(300.0, Source::Default));
        // Relative paths in the file are relative to its folder.
        assert_eq!(
            options.junitxml,
            tracked(Some(PathBuf::from("/proj/out/j.xml")), at(4))
        );
        assert_eq!(
            options.python,
            tracked(Some(PathBuf::from("/usr/bin/python3")), at(5))
        );
        assert_eq!(options.allow.value.len(), 1);
        assert_eq!(options.allow.source, at(6));
        assert_eq!(
            options.color,
            tracked(ColorChoice::Yes, Source::CommandLine)
        );
        assert_eq!(options.engine, tracked(EngineChoice::Auto, Source::Default));
        assert_eq!(options.strict_resources, tracked(false, Source::Default));
    }

    #[test]
    fn show_config_is_rendered_from_the_values() {
        let file = loaded();
        let options = Options::merge(
            &cli(&[
                "--threshold",
                "objects=0.5",
                "--threshold",
                "rss=2.0",
                "-n",
                "3",
            ]),
            Some(&file),
        );
        assert_eq!(
            render(&options, Some(&file)),
            "\
# configuration file: /proj/leakhunt.toml
paths = []                               # default
keyword = \"\"                             # default
exitfirst = false                        # default
warmup = 2                               # leakhunt.toml:1
iterations = 12                          # leakhunt.toml:2
max-iterations = 60                      # default
thresholds = [\"objects=0.5\", \"rss=2.0\"]  # command line
workers = 3                              # command line
timeout = 300                            # default
junitxml = \"/proj/out/j.xml\"             # leakhunt.toml:4
ignore = []                              # default
baseline = \"\"                            # default
baseline-tolerance = 0.5                 # default
color = no                               # leakhunt.toml:7
engine = auto                            # default
python = \"/usr/bin/python3\"              # leakhunt.toml:5
json = \"\"                                # default
html = \"\"                                # default
strict-resources = false                 # default
keep-coverage = false                    # default
allow = 1 entries                        # leakhunt.toml:6
"
        );
        let defaults = Options::merge(&cli(&[]), None);
        let text = render(&defaults, None);
        assert!(text.starts_with(
            "# no configuration file (leakhunt.toml or [tool.leakhunt] in pyproject.toml)\n\
             paths = []                               # default\n"
        ));
        assert!(text.ends_with("allow = 0 entries                        # default\n"));
    }

    /// The help writes the defaults out; they are the table's.
    #[test]
    fn the_help_names_the_defaults_of_the_table() {
        let defaults = Options::merge(&cli(&[]), None);
        let lines = defaults.lines();
        let mut named = Vec::new();
        let command = Cli::command();
        for arg in command.get_arguments() {
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let Some(at) = help.find("[default: ") else {
                continue;
            };
            let long = arg.get_long().unwrap();
            let (_, value, source, _) = lines.iter().find(|(key, ..)| *key == long).unwrap();
            assert_eq!(**source, Source::Default);
            assert_eq!(help[at..], format!("[default: {value}]"), "--{long}");
            named.push(long);
        }
        assert_eq!(
            named,
            [
                "warmup",
                "iterations",
                "max-iterations",
                "workers",
                "timeout",
                "baseline-tolerance",
                "engine",
                "color"
            ]
        );
    }
}
