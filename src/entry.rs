//! The whole program as one function, `run(argv) -> exit code`: the binary's
//! `main` and the wheel's console script are thin front ends over it.

use std::ffi::OsString;
use std::io::Write;

use clap::{CommandFactory, FromArgMatches};

use crate::model::exit::ExitCode;
use crate::settings::cli::{self, Cli, UsageError};
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
    if argv
        .get(1)
        .is_some_and(|a| a == crate::model::protocol::WORKER_ARG)
    {
        return worker::main();
    }
    let parsed = Cli::command()
        .try_get_matches_from(&argv)
        .and_then(|matches| Cli::from_arg_matches(&matches).map(|cli| (cli, matches)));
    let code = match parsed {
        Err(error) => {
            let usage = error.use_stderr();
            let _ = error.print();
            if usage {
                ExitCode::Usage
            } else {
                ExitCode::Clean
            }
        }
        Ok((cli, matches)) => match cli::run(cli, &matches) {
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
