//! `cronhost jobs ...`: add, list, show, pause, resume, run, remove, next, export, import.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::Utc;
use clap::{Args, Subcommand};
use cronhost::schedule::{format_local, parse_zone, Schedule};
use cronhost::status::relative;
use cronhost::store::{
    CatchUp, Edited, Import, Job, JobSpec, JobsExport, Overlap, Repeat, RunStatus, StateChange,
    Store, MAX_RUN_RETENTION, MAX_RUN_RETENTION_DAYS,
};

use super::view::JobView;
use cronhost::text::for_terminal;

use super::{print_document, print_json, print_list, CliError, Context, EXIT_FAILURE, EXIT_OK};

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Add a job; prints its id. Example: `cronhost jobs add '*/5 * * * *' --name sync -- rsync -a src/ dst/`
    Add(Box<AddArgs>),
    /// List jobs (active ones; `--all` adds paused and completed).
    List {
        /// Include paused and completed jobs.
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one job.
    Show {
        /// Job id or name.
        #[arg(add = super::complete::jobs())]
        job: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Pause a job: it does not fire until resumed.
    Pause {
        /// Job id or name.
        #[arg(add = super::complete::jobs())]
        job: String,
        /// Why (shown by `jobs show`).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Resume a paused job from its next occurrence, at once, or at a given time.
    Resume {
        /// Job id or name.
        #[arg(add = super::complete::jobs())]
        job: String,
        /// Fire it at once.
        #[arg(long, conflicts_with = "at")]
        run_now: bool,
        /// Fire it next at TIME (RFC 3339, `2026-12-01 09:00` in the job's zone, or `in 10m`).
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
    },
    /// Run a job now, here, outside its schedule (its next run and repeat count stay); its
    /// output streams to the terminal; waits for it and exits 0 when it succeeded.
    Run {
        /// Job id or name.
        #[arg(add = super::complete::jobs())]
        job: String,
    },
    /// Change a job in place: give only what changes (`--schedule`, `--name`, `--timeout`, ...,
    /// or `-- COMMAND...`). Its id and history stay; a new schedule gives a new next run.
    Edit(Box<EditArgs>),
    /// Remove a job; its run history stays.
    Remove {
        /// Job id or name.
        #[arg(add = super::complete::jobs())]
        job: String,
    },
    /// Preview the next fire times of a schedule.
    Next {
        /// The schedule, as for `jobs add`.
        schedule: String,
        /// Time zone (default `cron.timezone`).
        #[arg(long, value_name = "ZONE", add = super::complete::zones())]
        tz: Option<String>,
        /// How many (1 to 10000).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=10_000))]
        count: u16,
    },
    /// Print every job as JSON (ids kept), for `jobs import` on this or another host.
    Export,
    /// Import jobs from a `jobs export` file. All or nothing; jobs already here are kept, or
    /// with `--replace` given the file's definitions.
    Import {
        /// The JSON file (`-` for standard input).
        file: PathBuf,
        /// Update jobs already here (found by id, else by name) to the file's definition and
        /// pause state; their ids here, history and last status stay.
        #[arg(long)]
        replace: bool,
    },
}

impl JobsCommand {
    /// Whether the command only reads the job set.
    pub fn only_reads(&self) -> bool {
        matches!(
            self,
            Self::List { .. } | Self::Show { .. } | Self::Next { .. } | Self::Export
        )
    }
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The schedule: a cron expression, `every 5m`, `in 10m`, a timestamp, or a phrase such as
    /// `weekdays at 9:30`.
    schedule: String,
    #[command(flatten)]
    options: JobOptions,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

/// The settings `jobs add` and `jobs edit` share; in an edit, what is not given stays.
#[derive(Debug, Args)]
pub struct JobOptions {
    /// A unique name (default: the id).
    #[arg(long)]
    name: Option<String>,
    /// `forever`, `once` or a number (one-shots default to once, the rest to forever).
    #[arg(long, value_name = "forever|once|N")]
    repeat: Option<Repeat>,
    /// IANA time zone (default `cron.timezone`).
    #[arg(long, value_name = "ZONE", add = super::complete::zones())]
    tz: Option<String>,
    /// Kill the run's process group after DURATION: seconds (`600`) or a duration (`10m`,
    /// `1h30m`); 1s to 365 days.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    timeout: Option<u64>,
    /// After downtime: run the missed occurrence once, skip it, or run all of them (default
    /// once).
    #[arg(long, value_parser = super::complete::words::<CatchUp>(CatchUp::NAMES))]
    catch_up: Option<CatchUp>,
    /// When the previous run is still going: skip, allow, or queue one (default skip).
    #[arg(long, value_parser = super::complete::words::<Overlap>(Overlap::NAMES))]
    overlap: Option<Overlap>,
    /// Run the command through `sh -c`.
    #[arg(long)]
    shell: bool,
    /// Working directory.
    #[arg(long, value_name = "DIR")]
    workdir: Option<String>,
    /// Extra environment, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Keep this job's newest N runs and their output files (0: no count limit; default
    /// `cron.run_retention`).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = run_count)]
    run_retention: Option<u32>,
    /// Keep this job's runs of the last DAYS days (0: no age limit; default
    /// `cron.run_retention_days`).
    #[arg(long, value_name = "DAYS", allow_negative_numbers = true, value_parser = run_days)]
    run_retention_days: Option<u32>,
    /// Retry a failed scheduled run up to N times (0 to 100), each retry a run of its own;
    /// the first after --retry-delay, doubling after.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_retries)]
    retries: Option<u32>,
    /// The wait before the first retry (`30s`, `5m`; default 10s), doubled for each one after,
    /// at most an hour.
    #[arg(long, value_name = "DURATION", value_parser = parse_retry_delay)]
    retry_delay: Option<u64>,
    /// Fire each occurrence a fixed offset within DURATION after its time (`5m`): the same
    /// for this job every time, different between jobs, so many jobs on one schedule spread.
    #[arg(long, value_name = "DURATION", value_parser = parse_jitter)]
    jitter: Option<u64>,
    /// A shell command run when an occurrence has failed for the last time (after its
    /// retries), with CRONHOST_JOB_NAME, CRONHOST_STATUS, CRONHOST_EXIT_CODE, CRONHOST_ERROR,
    /// CRONHOST_OUTPUT_FILE and more in its environment.
    #[arg(long, value_name = "COMMAND")]
    on_failure: Option<String>,
}

/// `--retries N`: 0 to the store's most.
fn parse_retries(text: &str) -> Result<u32, String> {
    whole_number(text, cronhost::store::MAX_RETRIES, "retries", "none")
}

/// `--retry-delay`: whole seconds, at least one.
fn parse_retry_delay(text: &str) -> Result<u64, String> {
    cronhost::schedule::parse_seconds(text, "a retry delay").map(|d| d.as_secs())
}

/// `--jitter`: a duration (`0` for none), kept to the millisecond.
fn parse_jitter(text: &str) -> Result<u64, String> {
    if text.trim() == "0" {
        return Ok(0);
    }
    cronhost::schedule::parse_duration(text)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// Job id or name.
    #[arg(add = super::complete::jobs())]
    job: String,
    /// A new schedule (the next run is worked out from now).
    #[arg(long)]
    schedule: Option<String>,
    #[command(flatten)]
    options: JobOptions,
    /// Run the command without a shell.
    #[arg(long, conflicts_with = "shell")]
    no_shell: bool,
    /// No timeout.
    #[arg(long, conflicts_with = "timeout")]
    no_timeout: bool,
    /// No working directory (the daemon's).
    #[arg(long, conflicts_with = "workdir")]
    no_workdir: bool,
    /// Remove KEY from the environment (repeatable).
    #[arg(long, value_name = "KEY")]
    unset_env: Vec<String>,
    /// No on-failure command.
    #[arg(long, conflicts_with = "on_failure")]
    no_on_failure: bool,
    /// A new command and its arguments, after `--`.
    #[arg(last = true)]
    command: Vec<String>,
}

/// `--env KEY=VALUE` pairs as a map.
fn env_pairs(pairs: &[String]) -> Result<BTreeMap<String, String>, CliError> {
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
fn run_count(text: &str) -> Result<u32, String> {
    whole_number(text, MAX_RUN_RETENTION, "runs", "no count limit")
}

/// `--run-retention-days DAYS`: a whole number of days within the store's range.
fn run_days(text: &str) -> Result<u32, String> {
    whole_number(text, MAX_RUN_RETENTION_DAYS, "days", "no age limit")
}

fn whole_number(text: &str, max: u32, unit: &str, zero: &str) -> Result<u32, String> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| format!("give a whole number of {unit} from 0 ({zero}) to {max}"))
}

/// `--timeout`: a plain number is seconds, as it always was (its range is checked with the
/// rest of the job, as an import's is); anything else a duration of whole seconds.
fn parse_timeout(text: &str) -> Result<u64, String> {
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

pub fn run(context: &Context, command: JobsCommand) -> Result<i32, CliError> {
    match command {
        JobsCommand::Next {
            schedule,
            tz,
            count,
        } => return next(context, &schedule, tz.as_deref(), count),
        JobsCommand::Add(args) => return add(context, *args),
        _ => {}
    }
    // Runs left open by dead processes are settled first, so the listing shows what really
    // happened to them; a home that cannot be written is still read.
    let store = if command.only_reads() {
        context.reader()?
    } else {
        std::sync::Arc::clone(context.engine()?.store())
    };
    let store = &store;
    let now = Utc::now();
    match command {
        JobsCommand::List { all, json } => list(store, all, json),
        JobsCommand::Show { job, json } => {
            let job = store.job(&job)?;
            if json {
                print_document("cronhost-job", &JobView::from(&job))?;
            } else {
                print_job(context, &job);
            }
            Ok(EXIT_OK)
        }
        JobsCommand::Pause { job, reason } => {
            let (job, change) = store.pause_job(&job, reason.as_deref(), now)?;
            let name = for_terminal(&job.name);
            match change {
                StateChange::Changed => outln!("paused {name} ({})", job.id),
                _ => outln!(
                    "{name} ({}) was already paused, since {} ({}); {}",
                    job.id,
                    job.paused_at
                        .map(|at| format_local(at, context.config.zone()))
                        .unwrap_or_default(),
                    for_terminal(job.pause_reason.as_deref().unwrap_or("no reason given")),
                    if reason.is_some() {
                        "the reason is replaced"
                    } else {
                        "the reason is kept"
                    }
                ),
            }
            Ok(EXIT_OK)
        }
        JobsCommand::Resume { job, run_now, at } => {
            let found = store.job(&job)?;
            let at = match (run_now, at) {
                (true, _) => Some(now),
                (false, Some(text)) => match Schedule::parse(&text, found.zone(), now)
                    .map_err(|e| CliError::usage(e.to_string()))?
                {
                    Schedule::Once(at) => Some(at),
                    _ => {
                        return Err(CliError::usage(format!(
                            "--at `{text}` is not a single time"
                        )))
                    }
                },
                (false, None) => None,
            };
            let (job, change) = store.resume_job(&job, at, now)?;
            let name = for_terminal(&job.name);
            match change {
                StateChange::Changed => {}
                // Nothing to resume: fine as it stands (exit 0, like pausing twice), unless
                // the operator asked for a time it cannot be given.
                _ if at.is_some() => {
                    return Err(CliError::usage(format!(
                        "{name} ({}) is not paused: nothing changed; --run-now and --at apply when resuming (`cronhost jobs run {name}` runs it now)",
                        job.id
                    )))
                }
                _ => {
                    outln!(
                        "{name} ({}) is not paused: nothing changed; next run {}",
                        job.id,
                        describe_next(&job)
                    );
                    return Ok(EXIT_OK);
                }
            }
            outln!(
                "resumed {name} ({}); next run {}",
                job.id,
                describe_next(&job)
            );
            Ok(EXIT_OK)
        }
        JobsCommand::Run { job } => run_now(context, &job),
        JobsCommand::Remove { job } => {
            let job = store.remove_job(&job)?;
            outln!("removed {} ({})", for_terminal(&job.name), job.id);
            Ok(EXIT_OK)
        }
        JobsCommand::Export => {
            print_json(&JobsExport::new(&store.jobs()?))?;
            Ok(EXIT_OK)
        }
        JobsCommand::Edit(args) => edit(context, store, *args),
        JobsCommand::Import { file, replace } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())
            } else {
                std::fs::read_to_string(&file)
            }
            .map_err(|e| CliError::usage(format!("cannot read {}: {e}", file.display())))?;
            let jobs = JobsExport::parse(&text)
                .map_err(|e| {
                    CliError::usage(format!(
                        "{} is not a `jobs export` file: {e}",
                        file.display()
                    ))
                })?
                .jobs;
            let mode = if replace {
                Import::Replace
            } else {
                Import::Add
            };
            let imported = store.import_jobs(&jobs, mode, now)?;
            for job in &imported.added {
                outln!("added {} ({})", for_terminal(&job.name), job.id);
            }
            for edited in &imported.replaced {
                print_changes(edited, "replaced");
            }
            let kept = if replace {
                "unchanged"
            } else {
                "already present (kept; --replace updates them)"
            };
            outln!(
                "imported {} job(s), replaced {}; {} {kept}",
                imported.added.len(),
                imported.replaced.len(),
                imported.unchanged
            );
            Ok(EXIT_OK)
        }
        JobsCommand::Add(_) | JobsCommand::Next { .. } => unreachable!("handled above"),
    }
}

fn add(context: &Context, args: AddArgs) -> Result<i32, CliError> {
    let options = args.options;
    let env = env_pairs(&options.env)?;
    let (command, workdir) = anchor_paths(args.command, options.workdir, options.shell)?;
    let mut spec = JobSpec::new(&args.schedule, command);
    spec.name = options.name;
    spec.shell = options.shell;
    spec.workdir = workdir;
    spec.env = env;
    spec.timezone = options.tz;
    spec.repeat = options.repeat;
    spec.timeout_secs = options.timeout;
    spec.catch_up = options.catch_up.unwrap_or_default();
    spec.overlap = options.overlap.unwrap_or_default();
    spec.run_retention = options.run_retention;
    spec.run_retention_days = options.run_retention_days;
    spec.retries = options.retries.unwrap_or_default();
    spec.retry_delay_secs = options
        .retry_delay
        .unwrap_or(cronhost::store::DEFAULT_RETRY_DELAY_SECS);
    spec.jitter_ms = options.jitter.unwrap_or_default();
    spec.on_failure = options.on_failure;
    let store = Store::open(&context.home.store_file())?;
    let job = store.add_job(&spec, &context.config.cron.timezone, Utc::now())?;
    outln!("{}", job.id);
    Ok(EXIT_OK)
}

fn edit(context: &Context, store: &Store, args: EditArgs) -> Result<i32, CliError> {
    let options = args.options;
    let env = env_pairs(&options.env)?;
    let nothing_given = args.schedule.is_none()
        && options.name.is_none()
        && options.repeat.is_none()
        && options.tz.is_none()
        && options.timeout.is_none()
        && options.catch_up.is_none()
        && options.overlap.is_none()
        && !options.shell
        && options.workdir.is_none()
        && env.is_empty()
        && !args.no_shell
        && !args.no_timeout
        && !args.no_workdir
        && args.unset_env.is_empty()
        && options.run_retention.is_none()
        && options.run_retention_days.is_none()
        && options.retries.is_none()
        && options.retry_delay.is_none()
        && options.jitter.is_none()
        && options.on_failure.is_none()
        && !args.no_on_failure
        && args.command.is_empty();
    if nothing_given {
        return Err(CliError::usage(
            "nothing to change: give what to change (`cronhost jobs edit --help` lists the options)",
        ));
    }
    let current = store.job(&args.job)?;
    let shell = match (options.shell, args.no_shell) {
        (true, _) => true,
        (_, true) => false,
        _ => current.shell,
    };
    // Relative paths are anchored where the operator stands, as `jobs add` anchors them; an
    // unchanged command keeps its paths.
    let (command, workdir) = if args.command.is_empty() {
        let (_, workdir) = anchor_paths(Vec::new(), options.workdir, shell)?;
        (None, workdir)
    } else {
        let base = options.workdir.or_else(|| current.workdir.clone());
        let (command, workdir) = anchor_paths(args.command, base, shell)?;
        (Some(command), workdir)
    };
    let edited = store.edit_job(
        &current.id,
        |spec| {
            if let Some(schedule) = args.schedule {
                spec.schedule = schedule;
            }
            if let Some(name) = options.name {
                spec.name = Some(name);
            }
            if let Some(repeat) = options.repeat {
                spec.repeat = Some(repeat);
            }
            if let Some(zone) = options.tz {
                spec.timezone = Some(zone);
            }
            if let Some(timeout) = options.timeout {
                spec.timeout_secs = Some(timeout);
            }
            if args.no_timeout {
                spec.timeout_secs = None;
            }
            if let Some(catch_up) = options.catch_up {
                spec.catch_up = catch_up;
            }
            if let Some(overlap) = options.overlap {
                spec.overlap = overlap;
            }
            spec.shell = shell;
            if workdir.is_some() {
                spec.workdir = workdir;
            }
            if args.no_workdir {
                spec.workdir = None;
            }
            spec.env.extend(env);
            for key in &args.unset_env {
                spec.env.remove(key);
            }
            if let Some(command) = command {
                spec.command = command;
            }
            if let Some(runs) = options.run_retention {
                spec.run_retention = Some(runs);
            }
            if let Some(days) = options.run_retention_days {
                spec.run_retention_days = Some(days);
            }
            if let Some(retries) = options.retries {
                spec.retries = retries;
            }
            if let Some(delay) = options.retry_delay {
                spec.retry_delay_secs = delay;
            }
            if let Some(jitter) = options.jitter {
                spec.jitter_ms = jitter;
            }
            if options.on_failure.is_some() {
                spec.on_failure = options.on_failure;
            }
            if args.no_on_failure {
                spec.on_failure = None;
            }
        },
        &context.config.cron.timezone,
        Utc::now(),
    )?;
    print_changes(&edited, "edited");
    if edited.after.next_run != edited.before.next_run {
        outln!("  next run: {}", describe_next(&edited.after));
    }
    Ok(EXIT_OK)
}

/// `VERB NAME (ID)` and a line per changed field, or that nothing changed.
pub(super) fn print_changes(edited: &Edited, verb: &str) {
    let job = &edited.after;
    let changes = edited.changes();
    if changes.is_empty() {
        outln!("{} ({}): unchanged", for_terminal(&job.name), job.id);
        return;
    }
    outln!("{verb} {} ({})", for_terminal(&job.name), job.id);
    for change in changes {
        outln!(
            "  {}: {} -> {}",
            change.field,
            for_terminal(&change.before),
            for_terminal(&change.after)
        );
    }
}

/// Paths the operator typed relative to where they stand (`--workdir logs`, `-- ./report.sh`)
/// are made absolute here, where they were meant, not later in the daemon's directory: the
/// workdir against the current directory, a relative program path (one with a `/`) against the
/// workdir. A bare program name is left to `PATH`; a shell line is left to the shell.
fn anchor_paths(
    mut command: Vec<String>,
    workdir: Option<String>,
    shell: bool,
) -> Result<(Vec<String>, Option<String>), CliError> {
    let here = || {
        std::env::current_dir().map_err(|e| {
            CliError::usage(format!(
                "cannot resolve a relative path: the current directory is unusable: {e}"
            ))
        })
    };
    let workdir = match workdir {
        Some(dir) if !std::path::Path::new(&dir).is_absolute() => {
            Some(here()?.join(&dir).to_string_lossy().into_owned())
        }
        other => other,
    };
    if !shell {
        if let Some(program) = command.first_mut() {
            if program.contains('/') {
                let base = match &workdir {
                    Some(dir) => PathBuf::from(dir),
                    None => here()?,
                };
                *program = cronhost::anchored_program(program, &base);
            }
        }
    }
    Ok((command, workdir))
}

/// The next run in the job's own zone, and how far off it is; `paused` or `completed` when it
/// will not fire.
fn describe_next(job: &Job) -> String {
    match (job.paused_at, job.completed_at, job.next_run) {
        (Some(_), _, _) => "none (paused)".into(),
        (_, Some(_), _) => "completed".into(),
        (_, _, Some(at)) => format!(
            "{} ({})",
            format_local(at, job.zone()),
            relative(at, Utc::now())
        ),
        _ => "none".into(),
    }
}

/// The command as a line that pastes back into a shell: each argument quoted where it needs
/// it; a `--shell` job as `sh -c '...'`.
fn command_line(job: &Job) -> String {
    if job.shell {
        format!("sh -c {}", shell_quote(&job.command.join(" ")))
    } else {
        shlex::try_join(job.command.iter().map(String::as_str))
            .unwrap_or_else(|_| job.command.join(" "))
    }
}

fn list(store: &Store, all: bool, json: bool) -> Result<i32, CliError> {
    let jobs: Vec<Job> = store
        .jobs()?
        .into_iter()
        .filter(|j| all || j.is_active())
        .collect();
    if json {
        print_list(
            "cronhost-job-list",
            "jobs",
            &jobs.iter().map(JobView::from).collect::<Vec<_>>(),
        )?;
        return Ok(EXIT_OK);
    }
    let now = Utc::now();
    let t = |text: &str| for_terminal(text).into_owned();
    let rows: Vec<[String; 8]> = jobs
        .iter()
        .map(|job| {
            [
                job.id.clone(),
                t(&job.name),
                t(&job.schedule_text),
                t(&job.timezone),
                describe_next(job),
                job.last_status
                    .map_or_else(|| "-".to_owned(), |status| status.to_string()),
                job.last_run
                    .map(|at| relative(at, now))
                    .unwrap_or_else(|| "-".into()),
                t(&command_line(job)),
            ]
        })
        .collect();
    super::table::print(
        [
            "ID",
            "NAME",
            "SCHEDULE",
            "ZONE",
            "NEXT RUN",
            "LAST STATUS",
            "LAST RUN",
            "COMMAND",
        ],
        &rows,
        Some(5),
    );
    Ok(EXIT_OK)
}

fn print_job(context: &Context, job: &Job) {
    let zone = job.zone();
    let when = |at: Option<chrono::DateTime<Utc>>| {
        at.map(|at| format_local(at, zone))
            .unwrap_or_else(|| "-".into())
    };
    let t = |text: &str| for_terminal(text).into_owned();
    outln!("id:            {}", t(&job.id));
    outln!("name:          {}", t(&job.name));
    outln!("command:       {}", t(&command_line(job)));
    outln!(
        "schedule:      {}  ({}, {})",
        t(&job.schedule_text),
        t(&job.schedule),
        job.timezone
    );
    outln!(
        "repeat:        {} (fired {})",
        job.repeat_limit
            .map(|n| n.to_string())
            .unwrap_or_else(|| "forever".into()),
        job.completed_count
    );
    outln!("next run:      {}", describe_next(job));
    outln!(
        "last run:      {}  status {}",
        when(job.last_run),
        job.last_status
            .map_or_else(|| "-".to_owned(), |status| status.to_string())
    );
    if let Some(error) = &job.last_error {
        outln!("last error:    {}", t(error));
    }
    outln!("failures:      {} in a row", job.failure_streak);
    if let Some(paused) = job.paused_at {
        outln!(
            "paused:        {} ({})",
            format_local(paused, zone),
            t(job.pause_reason.as_deref().unwrap_or("no reason given"))
        );
    }
    if let Some(done) = job.completed_at {
        outln!("completed:     {}", format_local(done, zone));
    }
    outln!(
        "policies:      catch-up {}, overlap {}, timeout {}",
        job.catch_up.as_str(),
        job.overlap.as_str(),
        job.timeout_secs
            .map(|s| format!("{s}s"))
            .unwrap_or_else(|| "none".into())
    );
    outln!("history:       {}", describe_retention(context, job));
    if job.retries > 0 {
        outln!(
            "retries:       {} (the first {}s after a failure, doubling)",
            job.retries,
            job.retry_delay_secs
        );
    }
    if let Some(retry) = job.retry {
        outln!(
            "retry pending: attempt {} at {} (of the run scheduled {})",
            retry.attempt,
            format_local(retry.at, zone),
            format_local(retry.of, zone)
        );
    }
    if job.jitter_ms > 0 {
        outln!(
            "jitter:        within {}, this job {} after each scheduled time",
            humanize_ms(job.jitter_ms),
            humanize_ms(u64::try_from(job.jitter().num_milliseconds()).unwrap_or(0))
        );
    }
    if let Some(hook) = &job.on_failure {
        outln!("on failure:    sh -c {}", t(&shell_quote(hook)));
    }
    if let Some(dir) = &job.workdir {
        outln!("workdir:       {}", t(dir));
    }
    for (key, value) in &job.env {
        outln!("env:           {}={}", t(key), t(value));
    }
    outln!("created:       {}", format_local(job.created_at, zone));
}

/// `90500` ms as `1m30.5s`, for people.
fn humanize_ms(ms: u64) -> String {
    humantime::format_duration(std::time::Duration::from_millis(ms))
        .to_string()
        .replace(' ', "")
}

/// How much of the job's run history is kept; a limit from the host's config names its key.
fn describe_retention(context: &Context, job: &Job) -> String {
    let cron = &context.config.cron;
    let limit = |own: Option<u32>, host: u64, key: &str| match own {
        Some(n) => (u64::from(n), String::new()),
        None => (host, format!(" (cron.{key})")),
    };
    let (runs, runs_from) = limit(job.run_retention, cron.run_retention, "run_retention");
    let (days, days_from) = limit(
        job.run_retention_days,
        cron.run_retention_days,
        "run_retention_days",
    );
    let runs = match runs {
        0 => "no count limit".to_owned(),
        n => format!("the newest {n} runs"),
    };
    let days = match days {
        0 => "no age limit".to_owned(),
        n => format!("{n} days"),
    };
    format!("{runs}{runs_from}, {days}{days_from}")
}

/// `text` as one shell word.
fn shell_quote(text: &str) -> String {
    shlex::try_quote(text)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| format!("{text:?}"))
}

fn run_now(context: &Context, job: &str) -> Result<i32, CliError> {
    // The job's output streams to this terminal (its stderr to stderr), as well as to its
    // file when files are kept.
    let mut settings = context.config.cron.engine_settings();
    settings.output.forward = cronhost::run::Forward::Plain;
    let engine = context.engine_with(settings)?;
    // A job that cannot be claimed (unknown, paused) is bad input (exit 2); one whose command
    // cannot start ran and failed (exit 1, recorded in its history).
    let run_id = engine.run_now(job).map_err(|e| match e {
        cronhost::engine::EngineError::Job { .. } => CliError::failure(e.to_string()),
        other => CliError::usage(other.to_string()),
    })?;
    super::tick::settle_before_exit(context, &engine)?;
    let run = engine.store().run(&run_id)?;
    let status = run.map_or(RunStatus::Unknown, |r| r.status);
    outln!("ran {}: {status} (run {run_id})", for_terminal(job));
    Ok(if status == RunStatus::Succeeded {
        EXIT_OK
    } else {
        EXIT_FAILURE
    })
}

fn next(context: &Context, schedule: &str, tz: Option<&str>, count: u16) -> Result<i32, CliError> {
    let zone_name = tz.unwrap_or(&context.config.cron.timezone);
    let zone = parse_zone(zone_name).map_err(|e| CliError::usage(e.to_string()))?;
    let now = Utc::now();
    let parsed =
        Schedule::parse(schedule, zone, now).map_err(|e| CliError::usage(e.to_string()))?;
    let mut at = match &parsed {
        Schedule::Once(at) => *at - chrono::Duration::milliseconds(1),
        _ => now,
    };
    for _ in 0..count {
        let Some(next) = parsed.next_after(at, zone) else {
            break;
        };
        outln!(
            "{}  {}  ({})",
            next.to_rfc3339(),
            format_local(next, zone),
            relative(next, now)
        );
        at = next;
    }
    Ok(EXIT_OK)
}
