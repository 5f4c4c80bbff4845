//! One module per subcommand; each turns its command-line arguments into a validated Config
//! and runs it.

pub mod serve_gpio;

use anyhow::Result;

use crate::cli::{Cli, Command};

/// Runs the command the user asked for.
pub fn run(cli: Cli) -> Result<()> {
    let _ = cli.verbose;
    match cli.command {
        Command::Completions(args) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut cmd, "nicksock", &mut std::io::stdout());
            Ok(())
        }
        _ => anyhow::bail!("not built yet"),
    }
}
