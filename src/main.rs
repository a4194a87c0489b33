use clap::Parser;

use leakhunt::cli::{run, Cli, UsageError};
use leakhunt::exit::ExitCode;

fn main() {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == leakhunt::worker::WORKER_ARG)
    {
        std::process::exit(leakhunt::worker::main());
    }
    let code = match Cli::try_parse() {
        Err(error) => {
            let usage = error.use_stderr();
            let _ = error.print();
            if usage {
                ExitCode::Usage
            } else {
                ExitCode::Clean
            }
        }
        Ok(cli) => match run(cli) {
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
