//! The nicksock binary: parse the command line, run the command, turn failure into one line
//! on stderr and the exit code of DESIGN.md §3.

use std::process::ExitCode;

use clap::Parser;
use nicksock::{cli::Cli, cmd, error};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A usage error found after parsing prints as clap's own do: the message and
            // the subcommand's usage line.
            if let Some(usage) = err.downcast_ref::<clap::Error>() {
                let _ = usage.print();
                return ExitCode::from(error::Kind::Usage.code());
            }
            let code = error::exit_code(&err);
            if code != 0 && code != error::Kind::Interrupted.code() {
                eprintln!("nicksock: error: {err:#}");
            }
            ExitCode::from(code)
        }
    }
}
