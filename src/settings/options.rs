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
    "warmup"             warmup:             usize            => usize            = 3,                          cli;
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
