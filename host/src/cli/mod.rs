//! The command line: `cronhost [--home DIR] COMMAND`.

mod providers;
mod run;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use cronhost::home::Home;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: the command ran and failed.
pub const EXIT_FAILURE: i32 = 1;
/// Exit code: bad usage, config or home; nothing was done.
pub const EXIT_USAGE: i32 = 2;

/// cronhost: a cron host whose trigger is a plug-in.
#[derive(Debug, Parser)]
#[command(
    version,
    about,
    after_help = "Exit codes: 0 success, 1 the command failed, 2 bad usage, config or home."
)]
struct Cli {
    /// The home directory (config, jobs, state, plugins.d); created when missing.
    #[arg(long, global = true, env = "CRONHOST_HOME", value_name = "DIR")]
    home: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List installed providers, which one is selected, and rejected files with reasons.
    Providers {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run the host: resolve the provider and fire jobs until SIGINT or SIGTERM.
    Run,
}

/// Parse the arguments, run the command, return the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let home = match Home::resolve(cli.home.as_deref()) {
        Ok(home) => home,
        Err(e) => {
            eprintln!("cronhost: {e}");
            return EXIT_USAGE;
        }
    };
    match cli.command {
        Command::Providers { json } => providers::run(&home, json),
        Command::Run => run::run(&home),
    }
}
