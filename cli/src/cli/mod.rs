//! The command line: `cronhost [--home DIR] COMMAND`.

/// `println!` for the commands' output: a closed stdout pipe (`cronhost runs | head -1`) ends
/// the process quietly with exit 0, as command-line tools do, even where SIGPIPE is ignored
/// because the command talks to provider processes over pipes.
macro_rules! outln {
    () => {
        $crate::cli::out_line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::cli::out_line(format_args!($($arg)*))
    };
}

/// `outln!` for lines made of text from outside (file names, provider names and messages):
/// control characters in them are escaped.
macro_rules! outln_escaped {
    () => {
        outln!()
    };
    ($($arg:tt)*) => {
        outln!("{}", cronhost::text::lines_for_terminal(&format!($($arg)*)))
    };
}

mod apply;
mod complete;
mod jobs;
mod logging;
mod logs;
mod notify;
mod providers;
mod run;
mod runs;
mod status;
mod stream;
mod style;
mod table;
mod tick;
mod view;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use cronhost::engine::CronEngine;
use cronhost::store::StoreError;
use cronhost::text::lines_for_terminal;
use cronhost::Config;
use cronhost::Home;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: the command ran and failed (a job failed, a claim was lost, the store failed).
pub const EXIT_FAILURE: i32 = 1;
/// Exit code: bad usage, input, config or home; nothing was changed.
pub const EXIT_USAGE: i32 = 2;

/// A command failed: what to print and the exit code.
#[derive(Debug)]
pub struct CliError {
    /// The exit code.
    pub code: i32,
    /// The message, printed after `cronhost: `.
    pub message: String,
}

impl CliError {
    /// Bad input: exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    /// A failure: exit 1.
    pub fn failure(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_FAILURE,
            message: message.into(),
        }
    }
}

impl From<StoreError> for CliError {
    fn from(error: StoreError) -> Self {
        Self {
            code: exit_code(&error),
            message: error.to_string(),
        }
    }
}

/// The exit code a store error calls for: 2 for bad input, 1 when the store itself failed.
pub fn exit_code(error: &StoreError) -> i32 {
    match error {
        StoreError::NoSuchJob(_)
        | StoreError::Ambiguous { .. }
        | StoreError::NameTaken(_)
        | StoreError::Invalid(_)
        | StoreError::Schedule(_)
        | StoreError::Refused(_) => EXIT_USAGE,
        StoreError::Unusable { .. } | StoreError::TooNew { .. } => EXIT_USAGE,
        // A declared job (`apply`) refused for what it says, or because the store failed.
        StoreError::Declared { source, .. } => exit_code(source),
        // SQLite failed, or an error this CLI does not know yet: not the input's fault.
        _ => EXIT_FAILURE,
    }
}

/// What every command gets: the home and its config.
pub struct Context {
    /// The home.
    pub home: Home,
    /// Its config.
    pub config: Config,
    /// Whether the home passed the home policy; a listing on one that did not only reads.
    pub home_is_private: bool,
}

impl Context {
    /// Open the engine over the home's store.
    /// Runs left open by processes that died are settled first, so they neither hold an
    /// overlap slot nor count against `cron.max_parallel_jobs`.
    pub fn engine(&self) -> Result<CronEngine, CliError> {
        self.engine_with(self.config.cron.engine_settings())
    }

    /// [`Context::engine`] with settings other than the config's (`jobs run` streams the
    /// job's output to the terminal).
    pub fn engine_with(
        &self,
        settings: cronhost::engine::CronEngineSettings,
    ) -> Result<CronEngine, CliError> {
        let engine = self.home.open_engine(settings)?;
        if let Err(e) = engine.settle_orphaned_runs() {
            log::warn!("cannot settle runs left by dead processes: {e}");
        }
        Ok(engine)
    }

    /// The store, for a command that only reads it: through the engine (settling dead runs)
    /// where the home can be written and passes the policy, else opened read-only (a
    /// read-only mount or directory still answers `jobs list`, `runs` and `status`).
    pub fn reader(&self) -> Result<std::sync::Arc<cronhost::store::Store>, CliError> {
        let read_only = || {
            cronhost::store::Store::open_read_only(&self.home.store_file()).map(std::sync::Arc::new)
        };
        // In a home that breaks the policy (someone else's, say) a listing writes nothing.
        if !self.home_is_private {
            return read_only().map_err(CliError::from);
        }
        match self.engine() {
            Ok(engine) => Ok(std::sync::Arc::clone(engine.store())),
            Err(error) => match read_only() {
                Ok(store) => {
                    log::debug!("reading the store read-only: {}", error.message);
                    Ok(store)
                }
                Err(_) => Err(error),
            },
        }
    }
}

/// cronhost: a cron host whose trigger is a plug-in.
#[derive(Debug, Parser)]
#[command(
    name = "cronhost",
    version,
    about = "cronhost: a cron scheduler. Add jobs (`jobs add`), run the daemon that fires them (`run`), see what ran (`runs`) and whether it is healthy (`status`).",
    after_help = "Exit codes: 0 success; 1 the command ran and failed (a job failed, a claim was lost, the store failed); 2 bad usage, input, config or home (nothing was changed); 3 (`status` only) jobs fire but some fail."
)]
struct Cli {
    /// The home directory (config, job store, state, plugins.d); created when missing.
    #[arg(long, global = true, env = "CRONHOST_HOME", value_name = "DIR")]
    home: Option<PathBuf>,

    #[command(flatten)]
    verbosity: logging::Verbosity,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage jobs: add, list, show, edit, pause, resume, run, remove, preview, export, import
    /// (a `jobs export` file, or a crontab).
    #[command(subcommand)]
    Jobs(jobs::JobsCommand),
    /// Make the job set match a TOML job file (the way to keep jobs in git): adds, changes,
    /// and with `--prune` removes; prints the difference; `--dry-run` only prints it.
    Apply(apply::ApplyArgs),
    /// Show the run history, newest first.
    Runs(runs::RunsArgs),
    /// Print what a run of a job wrote (the newest run unless `--run`); `--follow` keeps
    /// printing as it and later runs write.
    Logs(logs::LogsArgs),
    /// Is the daemon running, alive, ticking, and are its jobs succeeding? Exit 0 healthy; 1 jobs
    /// will not fire (not running, stalled, ticks failing); 3 jobs fire but some fail or are
    /// overdue (named in the report).
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run one synchronous tick (for system cron or an external trigger): fire every due job and
    /// wait for those runs to finish. Prints nothing when all went well (`-v` says what it did).
    Tick,
    /// Claim and run JOB's due occurrence (the host's fire_due, for external schedulers); waits
    /// for the run.
    Fire {
        /// Job id or name.
        #[arg(add = complete::jobs())]
        job: String,
    },
    /// List installed providers, which one is selected, and rejected files with reasons;
    /// `providers check FILE` vets and loads one file.
    Providers {
        /// Print JSON instead of a table.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: Option<providers::ProvidersCommand>,
    },
    /// Run the host: resolve the provider and fire jobs until SIGINT or SIGTERM. Under systemd
    /// with `Type=notify` it reports readiness once the trigger runs.
    Run,
    /// Print the script that registers shell completion (commands, options, job names from the
    /// store, zones): `cronhost completions bash > /etc/bash_completion.d/cronhost`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

impl Command {
    /// Whether the command only reads the home (listings, status); everything else runs or
    /// records jobs and is held to the home policy.
    fn only_reads(&self) -> bool {
        match self {
            Command::Jobs(command) => command.only_reads(),
            Command::Runs(_)
            | Command::Logs(_)
            | Command::Status { .. }
            | Command::Completions { .. } => true,
            Command::Providers { command, .. } => {
                !matches!(command, Some(providers::ProvidersCommand::Clear { .. }))
            }
            Command::Tick | Command::Fire { .. } | Command::Run | Command::Apply(_) => false,
        }
    }
}

/// Parse the arguments, run the command, return the exit code.
pub fn main() -> i32 {
    // Asked by the shell for completions (`COMPLETE=bash cronhost -- ...`): answer and exit.
    clap_complete::CompleteEnv::with_factory(|| {
        use clap::CommandFactory;
        Cli::command()
    })
    .complete();
    let cli = Cli::parse();
    logging::init(cli.verbosity, matches!(cli.command, Command::Run));
    // Die quietly on a closed stdout pipe (`cronhost jobs list | head`), as command-line tools
    // do; but never where the process talks to provider processes over pipes (`run`,
    // `providers`, `status`): a provider process that died must not take the host with it.
    let talks_to_providers = matches!(
        cli.command,
        Command::Run | Command::Providers { .. } | Command::Status { .. } | Command::Runs(_)
    );
    #[cfg(unix)]
    if !talks_to_providers {
        // SAFETY: restoring the default disposition of SIGPIPE before any other thread exists.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    if let Command::Completions { shell } = cli.command {
        // Needs no home: print and leave.
        return match complete::print_registration(shell) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("cronhost: cannot print the completion script: {e}");
                EXIT_FAILURE
            }
        };
    }
    let home = match Home::resolve(cli.home.as_deref()) {
        Ok(home) => home,
        Err(e) => {
            eprintln!("cronhost: {}", lines_for_terminal(&e.to_string()));
            return EXIT_USAGE;
        }
    };
    // Commands that run or change jobs refuse a home other users could write (they would
    // choose what this user runs); commands that only read say so and go on.
    let policy = home.check_policy();
    let home_is_private = policy.is_ok();
    if let Err(e) = policy {
        let e = lines_for_terminal(&e.to_string());
        if cli.command.only_reads() {
            eprintln!("cronhost: warning: commands that run or change jobs refuse this home: {e}");
        } else {
            eprintln!("cronhost: {e}");
            return EXIT_USAGE;
        }
    }
    let config = match Config::load(&home) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("cronhost: {}", lines_for_terminal(&e.to_string()));
            return EXIT_USAGE;
        }
    };
    let context = Context {
        home,
        config,
        home_is_private,
    };
    let result = match cli.command {
        Command::Jobs(command) => jobs::run(&context, command),
        Command::Apply(args) => apply::run(&context, args),
        Command::Runs(args) => runs::run(&context, args),
        Command::Logs(args) => logs::run(&context, args),
        Command::Status { json } => status::run(&context, json),
        Command::Tick => tick::tick(&context),
        Command::Fire { job } => tick::fire(&context, &job),
        Command::Providers {
            json,
            command: None,
        } => providers::run(&context, json),
        Command::Providers {
            json,
            command: Some(providers::ProvidersCommand::Check { file }),
        } => providers::check(&context, &file, json),
        Command::Providers {
            command: Some(providers::ProvidersCommand::Clear { name }),
            ..
        } => providers::clear(&context, &name),
        Command::Run => run::run(&context),
        Command::Completions { .. } => unreachable!("handled before the home is opened"),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            // Messages quote input (names, zones, file names): nothing in them may steer the
            // terminal.
            eprintln!("cronhost: {}", lines_for_terminal(&error.message));
            error.code
        }
    }
}

/// Write one line of output; see `outln!`.
pub fn out_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(EXIT_OK);
        }
    }
}

/// The version of every `--json` document's format; it goes up when a field changes meaning
/// or goes away (added fields do not change it).
pub const JSON_VERSION: u32 = 1;

/// A `--json` document: `format` (what it is) and `version` first, then the body's fields.
#[derive(serde::Serialize)]
struct Document<'a, T: serde::Serialize> {
    format: &'a str,
    version: u32,
    #[serde(flatten)]
    body: T,
}

/// Print `body` (an object) as the `--json` document `format`: its fields after `format` and
/// `version`.
pub fn print_document(format: &str, body: &impl serde::Serialize) -> Result<(), CliError> {
    print_json(&Document {
        format,
        version: JSON_VERSION,
        body,
    })
}

/// Print `items` as the `--json` document `format`, under `key`.
pub fn print_list<T: serde::Serialize>(
    format: &str,
    key: &str,
    items: &[T],
) -> Result<(), CliError> {
    print_document(format, &std::collections::BTreeMap::from([(key, items)]))
}

/// Print `value` as pretty JSON.
pub fn print_json(value: &impl serde::Serialize) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::failure(format!("cannot encode JSON: {e}")))?;
    outln!("{text}");
    Ok(())
}
