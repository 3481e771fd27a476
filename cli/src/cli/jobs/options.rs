//! The arguments of `jobs add` and `jobs edit`, and their parsers.

use std::collections::BTreeMap;

use clap::Args;
use cronhost::store::{CatchUp, Overlap, Repeat, MAX_RUN_RETENTION, MAX_RUN_RETENTION_DAYS};

use crate::cli::CliError;

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The schedule: a cron expression, `every 5m`, `in 10m`, a timestamp, or a phrase such as
    /// `weekdays at 9:30`.
    pub(super) schedule: String,
    #[command(flatten)]
    pub(super) options: JobOptions,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    pub(super) command: Vec<String>,
}

/// The settings `jobs add` and `jobs edit` share; in an edit, what is not given stays.
#[derive(Debug, Args)]
pub struct JobOptions {
    /// A unique name (default: the id).
    #[arg(long)]
    pub(super) name: Option<String>,
    /// `forever`, `once` or a number (one-shots default to once, the rest to forever).
    #[arg(long, value_name = "forever|once|N")]
    pub(super) repeat: Option<Repeat>,
    /// IANA time zone (default `cron.timezone`).
    #[arg(long, value_name = "ZONE", add = crate::cli::complete::zones())]
    pub(super) tz: Option<String>,
    /// Kill the run's process group after DURATION: seconds (`600`) or a duration (`10m`,
    /// `1h30m`); 1s to 365 days.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub(super) timeout: Option<u64>,
    /// After downtime: run the missed occurrence once, skip it, or run all of them (default
    /// once).
    #[arg(long, value_parser = crate::cli::complete::words::<CatchUp>(CatchUp::NAMES))]
    pub(super) catch_up: Option<CatchUp>,
    /// When the previous run is still going: skip, allow, or queue one (default skip).
    #[arg(long, value_parser = crate::cli::complete::words::<Overlap>(Overlap::NAMES))]
    pub(super) overlap: Option<Overlap>,
    /// Run the command through `sh -c`.
    #[arg(long)]
    pub(super) shell: bool,
    /// Working directory.
    #[arg(long, value_name = "DIR")]
    pub(super) workdir: Option<String>,
    /// Extra environment, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub(super) env: Vec<String>,
    /// Keep this job's newest N runs and their output files (0: no count limit; default
    /// `cron.run_retention`).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = run_count)]
    pub(super) run_retention: Option<u32>,
    /// Keep this job's runs of the last DAYS days (0: no age limit; default
    /// `cron.run_retention_days`).
    #[arg(long, value_name = "DAYS", allow_negative_numbers = true, value_parser = run_days)]
    pub(super) run_retention_days: Option<u32>,
    /// Retry a failed scheduled run up to N times (0 to 100), each retry a run of its own;
    /// the first after --retry-delay, doubling after.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_retries)]
    pub(super) retries: Option<u32>,
    /// The wait before the first retry (`30s`, `5m`; default 10s), doubled for each one after,
    /// at most an hour.
    #[arg(long, value_name = "DURATION", value_parser = parse_retry_delay)]
    pub(super) retry_delay: Option<u64>,
    /// Fire each occurrence a fixed offset within DURATION after its time (`5m`): the same
    /// for this job every time, different between jobs, so many jobs on one schedule spread.
    #[arg(long, value_name = "DURATION", value_parser = parse_jitter)]
    pub(super) jitter: Option<u64>,
    /// A shell command run when an occurrence has failed for the last time (after its
    /// retries), with CRONHOST_JOB_NAME, CRONHOST_STATUS, CRONHOST_EXIT_CODE, CRONHOST_ERROR,
    /// CRONHOST_OUTPUT_FILE and more in its environment.
    #[arg(long, value_name = "COMMAND")]
    pub(super) on_failure: Option<String>,
}

/// `--retries N`: 0 to the store's most.
pub(super) fn parse_retries(text: &str) -> Result<u32, String> {
    whole_number(text, cronhost::store::MAX_RETRIES, "retries", "none")
}

/// `--retry-delay`: whole seconds, at least one.
pub(super) fn parse_retry_delay(text: &str) -> Result<u64, String> {
    cronhost::schedule::parse_seconds(text, "a retry delay").map(|d| d.as_secs())
}

/// `--jitter`: a duration (`0` for none), kept to the millisecond.
pub(super) fn parse_jitter(text: &str) -> Result<u64, String> {
    if text.trim() == "0" {
        return Ok(0);
    }
    cronhost::schedule::parse_duration(text)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// Job id or name.
    #[arg(add = crate::cli::complete::jobs())]
    pub(super) job: String,
    /// A new schedule (the next run is worked out from now).
    #[arg(long)]
    pub(super) schedule: Option<String>,
    #[command(flatten)]
    pub(super) options: JobOptions,
    /// Run the command without a shell.
    #[arg(long, conflicts_with = "shell")]
    pub(super) no_shell: bool,
    /// No timeout.
    #[arg(long, conflicts_with = "timeout")]
    pub(super) no_timeout: bool,
    /// No working directory (the daemon's).
    #[arg(long, conflicts_with = "workdir")]
    pub(super) no_workdir: bool,
    /// Remove KEY from the environment (repeatable).
    #[arg(long, value_name = "KEY")]
    pub(super) unset_env: Vec<String>,
    /// No on-failure command.
    #[arg(long, conflicts_with = "on_failure")]
    pub(super) no_on_failure: bool,
    /// A new command and its arguments, after `--`.
    #[arg(last = true)]
    pub(super) command: Vec<String>,
}

/// `--env KEY=VALUE` pairs as a map.
pub(super) fn env_pairs(pairs: &[String]) -> Result<BTreeMap<String, String>, CliError> {
    let mut env = BTreeMap::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| CliError::usage(format!("--env `{pair}` must be KEY=VALUE")))?;
        env.insert(key.to_owned(), value.to_owned());
    }
    Ok(env)
}

/// `--run-retention N`: a whole number of runs within the store's range.
pub(super) fn run_count(text: &str) -> Result<u32, String> {
    whole_number(text, MAX_RUN_RETENTION, "runs", "no count limit")
}

/// `--run-retention-days DAYS`: a whole number of days within the store's range.
pub(super) fn run_days(text: &str) -> Result<u32, String> {
    whole_number(text, MAX_RUN_RETENTION_DAYS, "days", "no age limit")
}

pub(super) fn whole_number(text: &str, max: u32, unit: &str, zero: &str) -> Result<u32, String> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| format!("give a whole number of {unit} from 0 ({zero}) to {max}"))
}

/// `--timeout`: a plain number is seconds, as it always was (its range is checked with the
/// rest of the job, as an import's is); anything else a duration of whole seconds.
pub(super) fn parse_timeout(text: &str) -> Result<u64, String> {
    if let Ok(secs) = text.trim().parse::<u64>() {
        return Ok(secs);
    }
    cronhost::schedule::parse_seconds(text, "a timeout")
        .map(|duration| duration.as_secs())
        .map_err(|e| {
            format!(
                "{e}; allowed 1 to {} seconds (365 days)",
                cronhost::store::MAX_TIMEOUT_SECS
            )
        })
}
