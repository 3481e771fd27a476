//! Logging to stderr: how much each command says by default, `-v`/`-q`, and `RUST_LOG` over both.
//!
//! The daemon (`cronhost run`) logs at INFO: what fired, what ended, what the trigger does.
//! Every other command logs only warnings and errors, so `cronhost tick` under system cron
//! mails nothing while all is well. `-v` asks for INFO, `-vv` for DEBUG, `-vvv` for TRACE,
//! `-q` for errors only. `RUST_LOG`, when set, replaces all of that (env_logger's syntax).

use clap::Args;
use log::LevelFilter;

/// The verbosity flags every command takes.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct Verbosity {
    /// More log lines on stderr: -v info, -vv debug, -vvv trace (RUST_LOG, when set, wins).
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,
    /// Errors only on stderr (RUST_LOG, when set, wins).
    #[arg(short, long, global = true)]
    quiet: bool,
}

impl Verbosity {
    /// The level asked for on the command line; `daemon_default` when none was.
    fn level(self, daemon_default: bool) -> LevelFilter {
        match (self.quiet, self.verbose) {
            (true, _) => LevelFilter::Error,
            (false, 0) if daemon_default => LevelFilter::Info,
            (false, 0) => LevelFilter::Warn,
            (false, 1) => LevelFilter::Info,
            (false, 2) => LevelFilter::Debug,
            (false, _) => LevelFilter::Trace,
        }
    }
}

/// Install the logger: at `verbosity`'s level, or the daemon's default (INFO) for `cronhost
/// run`, unless `RUST_LOG` says otherwise.
pub fn init(verbosity: Verbosity, daemon: bool) {
    let level = verbosity.level(daemon);
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level.as_str()))
        .format_target(false)
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemon_says_more_than_the_short_commands_and_the_flags_move_both() {
        let flags = |verbose, quiet| Verbosity { verbose, quiet };
        assert_eq!(flags(0, false).level(true), LevelFilter::Info);
        assert_eq!(flags(0, false).level(false), LevelFilter::Warn);
        assert_eq!(flags(1, false).level(false), LevelFilter::Info);
        assert_eq!(flags(2, false).level(true), LevelFilter::Debug);
        assert_eq!(flags(5, false).level(false), LevelFilter::Trace);
        assert_eq!(flags(0, true).level(true), LevelFilter::Error);
    }
}
