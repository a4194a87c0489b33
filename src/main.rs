use clap::{CommandFactory, FromArgMatches};

use leakhunt::cli::{run, Cli, UsageError};
use leakhunt::exit::ExitCode;

fn main() {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == leakhunt::worker::WORKER_ARG)
    {
        std::process::exit(leakhunt::worker::main());
    }
    let parsed = Cli::command()
        .try_get_matches()
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
        Ok((cli, matches)) => match run(cli, &matches) {
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
    std::process::exit(code as i32);
}
