//! `cronhost jobs ...`: add, list, show, pause, resume, run, remove, next, export, import.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::Utc;
use clap::{Args, Subcommand};
use cronhost::schedule::{format_local, parse_zone, Schedule};
use cronhost::status::relative;
use cronhost::store::{
    CatchUp, Job, JobSpec, JobsExport, Overlap, Repeat, RunStatus, StateChange, Store,
};

use super::view::JobView;
use cronhost::text::for_terminal;

use super::{print_json, CliError, Context, EXIT_FAILURE, EXIT_OK};

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Add a job; prints its id. Example: `cronhost jobs add '*/5 * * * *' --name sync -- rsync -a src/ dst/`
    Add(AddArgs),
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
        job: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Pause a job: it does not fire until resumed.
    Pause {
        /// Job id or name.
        job: String,
        /// Why (shown by `jobs show`).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Resume a paused job from its next occurrence, at once, or at a given time.
    Resume {
        /// Job id or name.
        job: String,
        /// Fire it at once.
        #[arg(long, conflicts_with = "at")]
        run_now: bool,
        /// Fire it next at TIME (RFC 3339, `2026-12-01 09:00` in the job's zone, or `in 10m`).
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
    },
    /// Run a job now, here, outside its schedule (its next run and repeat count stay); waits
    /// for it and exits 0 when it succeeded.
    Run {
        /// Job id or name.
        job: String,
    },
    /// Remove a job; its run history stays.
    Remove {
        /// Job id or name.
        job: String,
    },
    /// Preview the next fire times of a schedule.
    Next {
        /// The schedule, as for `jobs add`.
        schedule: String,
        /// Time zone (default `cron.timezone`).
        #[arg(long, value_name = "ZONE")]
        tz: Option<String>,
        /// How many (1 to 10000).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=10_000))]
        count: u16,
    },
    /// Print every job as JSON (ids kept), for `jobs import` on this or another host.
    Export,
    /// Import jobs from a `jobs export` file. All or nothing; jobs already here are kept.
    Import {
        /// The JSON file (`-` for standard input).
        file: PathBuf,
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
    /// A unique name (default: the id).
    #[arg(long)]
    name: Option<String>,
    /// `forever`, `once` or a number (one-shots default to once, the rest to forever).
    #[arg(long)]
    repeat: Option<Repeat>,
    /// IANA time zone (default `cron.timezone`).
    #[arg(long, value_name = "ZONE")]
    tz: Option<String>,
    /// Kill the run's process group after DURATION: seconds (`600`) or a duration (`10m`,
    /// `1h30m`); 1s to 365 days.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    timeout: Option<u64>,
    /// After downtime: run the missed occurrence once, skip it, or run all of them.
    #[arg(long, default_value = "once")]
    catch_up: CatchUp,
    /// When the previous run is still going: skip, allow, or queue one.
    #[arg(long, default_value = "skip")]
    overlap: Overlap,
    /// Run the command through `sh -c`.
    #[arg(long)]
    shell: bool,
    /// Working directory.
    #[arg(long, value_name = "DIR")]
    workdir: Option<String>,
    /// Extra environment, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    command: Vec<String>,
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
        JobsCommand::Add(args) => return add(context, args),
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
        JobsCommand::List { all, json } => list(context, store, all, json),
        JobsCommand::Show { job, json } => {
            let job = store.job(&job)?;
            if json {
                print_json(&JobView::from(&job))?;
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
                        describe_next(context, &job)
                    );
                    return Ok(EXIT_OK);
                }
            }
            outln!(
                "resumed {name} ({}); next run {}",
                job.id,
                describe_next(context, &job)
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
        JobsCommand::Import { file } => {
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
            let added = store.import_jobs(&jobs, now)?;
            outln!(
                "imported {added} job(s); {} already present",
                jobs.len() - added
            );
            Ok(EXIT_OK)
        }
        JobsCommand::Add(_) | JobsCommand::Next { .. } => unreachable!("handled above"),
    }
}

fn add(context: &Context, args: AddArgs) -> Result<i32, CliError> {
    let mut env = BTreeMap::new();
    for pair in &args.env {
        let (key, value) = pair
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| CliError::usage(format!("--env `{pair}` must be KEY=VALUE")))?;
        env.insert(key.to_owned(), value.to_owned());
    }
    let (command, workdir) = anchor_paths(args.command, args.workdir, args.shell)?;
    let mut spec = JobSpec::new(&args.schedule, command);
    spec.name = args.name;
    spec.shell = args.shell;
    spec.workdir = workdir;
    spec.env = env;
    spec.timezone = args.tz;
    spec.repeat = args.repeat;
    spec.timeout_secs = args.timeout;
    spec.catch_up = args.catch_up;
    spec.overlap = args.overlap;
    let store = Store::open(&context.home.store_file())?;
    let job = store.add_job(&spec, &context.config.cron.timezone, Utc::now())?;
    outln!("{}", job.id);
    Ok(EXIT_OK)
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
            let path = std::path::Path::new(program.as_str());
            if program.contains('/') && !path.is_absolute() {
                let base = match &workdir {
                    Some(dir) => PathBuf::from(dir),
                    None => here()?,
                };
                let joined: PathBuf = base
                    .join(path)
                    .components()
                    .filter(|c| !matches!(c, std::path::Component::CurDir))
                    .collect();
                *program = joined.to_string_lossy().into_owned();
            }
        }
    }
    Ok((command, workdir))
}

fn describe_next(context: &Context, job: &Job) -> String {
    let zone = context.config.zone();
    match (job.paused_at, job.next_run) {
        (Some(_), _) => "none (paused)".into(),
        (None, Some(at)) => format!("{} ({})", format_local(at, zone), relative(at, Utc::now())),
        (None, None) => "none".into(),
    }
}

fn list(context: &Context, store: &Store, all: bool, json: bool) -> Result<i32, CliError> {
    let jobs: Vec<Job> = store
        .jobs()?
        .into_iter()
        .filter(|j| all || j.is_active())
        .collect();
    if json {
        print_json(&jobs.iter().map(JobView::from).collect::<Vec<_>>())?;
        return Ok(EXIT_OK);
    }
    let zone = context.config.zone();
    let now = Utc::now();
    let rows: Vec<[String; 6]> = jobs
        .iter()
        .map(|job| {
            let next = match (job.paused_at, job.completed_at, job.next_run) {
                (Some(_), _, _) => "paused".into(),
                (_, Some(_), _) => "completed".into(),
                (_, _, Some(at)) => format!("{} ({})", format_local(at, zone), relative(at, now)),
                _ => "-".into(),
            };
            [
                job.id.clone(),
                for_terminal(&job.name).into_owned(),
                for_terminal(&job.schedule_text).into_owned(),
                next,
                job.last_status
                    .map_or_else(|| "-".to_owned(), |status| status.to_string()),
                job.last_run
                    .map(|at| relative(at, now))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let header = [
        "ID",
        "NAME",
        "SCHEDULE",
        "NEXT RUN",
        "LAST STATUS",
        "LAST RUN",
    ]
    .map(str::to_owned);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(column, (cell, width))| match column {
                4 => super::style::status_cell(cell, width),
                _ => format!("{cell:width$}"),
            })
            .collect();
        outln!("{}", cells.join("  ").trim_end());
    }
    Ok(EXIT_OK)
}

fn print_job(context: &Context, job: &Job) {
    let zone = context.config.zone();
    let when = |at: Option<chrono::DateTime<Utc>>| {
        at.map(|at| format_local(at, zone))
            .unwrap_or_else(|| "-".into())
    };
    let t = |text: &str| for_terminal(text).into_owned();
    outln!("id:            {}", t(&job.id));
    outln!("name:          {}", t(&job.name));
    let command = if job.shell {
        format!("sh -c {}", shell_quote(&job.command.join(" ")))
    } else {
        shlex::try_join(job.command.iter().map(String::as_str))
            .unwrap_or_else(|_| job.command.join(" "))
    };
    outln!("command:       {}", t(&command));
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
    outln!("next run:      {}", describe_next(context, job));
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
    if let Some(dir) = &job.workdir {
        outln!("workdir:       {}", t(dir));
    }
    for (key, value) in &job.env {
        outln!("env:           {}={}", t(key), t(value));
    }
    outln!("created:       {}", format_local(job.created_at, zone));
}

/// `text` as one shell word.
fn shell_quote(text: &str) -> String {
    shlex::try_quote(text)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| format!("{text:?}"))
}

fn run_now(context: &Context, job: &str) -> Result<i32, CliError> {
    let engine = context.engine()?;
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
