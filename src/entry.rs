//! The whole program as one function, `run(argv) -> exit code`: the binary's
//! `main` and the wheel's console script are thin front ends over it. It
//! makes the settings once and dispatches on what they ask for.

use std::ffi::OsString;
use std::io::Write;

use anyhow::Result;
use clap::Parser;

use crate::model::exit::{ExitCode, UsageError};
use crate::model::protocol::WORKER_ARG;
use crate::report::baseline;
use crate::session;
use crate::settings::cli::Cli;
use crate::settings::{Mode, Settings};
use crate::worker;

/// Runs leakhunt with these arguments (`argv[0]` is the program name) and
/// returns the exit code; worker mode when the supervisor started this
/// process as a worker.
pub fn run<I, T>(argv: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    if argv.get(1).is_some_and(|a| a == WORKER_ARG) {
        return worker::main();
    }
    let code = match Cli::try_parse_from(&argv) {
        Err(error) => {
            let usage = error.use_stderr();
            let _ = error.print();
            if usage {
                ExitCode::Usage
            } else {
                ExitCode::Clean
            }
        }
        Ok(cli) => match Settings::new(cli).and_then(|s| dispatch(&s)) {
            Ok(code) => code,
            Err(error) if error.is::<UsageError>() => {
                eprintln!("ERROR: {error}");
                ExitCode::Usage
            }
            Err(error) => {
                eprintln!("INTERNALERROR: {error:#}");
                ExitCode::Internal
            }
        },
    };
    // A front end may go on running (a Python that returns from the call).
    let _ = std::io::stdout().flush();
    code as i32
}

fn dispatch(settings: &Settings) -> Result<ExitCode> {
    match &settings.mode {
        Mode::ShowConfig(text) => {
            print!("{text}");
            Ok(ExitCode::Clean)
        }
        Mode::MergeBaselines { inputs, output } => {
            baseline::merge_files(inputs, output)?;
            Ok(ExitCode::Clean)
        }
        Mode::CollectOnly => session::collect_only(settings),
        Mode::Run => session::run(settings),
    }
}
