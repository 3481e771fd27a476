//! `cronhost jobs ...`: add, list, show, edit, pause, resume, run, remove, next, export, import,
//! import-crontab.

mod change;
mod crontab;
mod list;
mod next;
mod options;
mod show;

pub use options::{AddArgs, EditArgs};

use std::path::PathBuf;

use chrono::Utc;
use clap::Subcommand;
use cronhost::schedule::{format_local, Schedule};
use cronhost::store::{
    ExportedJob, Import, JobsExport, RunStatus, StateChange, EXPORT_FORMAT, EXPORT_VERSION,
};
use cronhost::text::for_terminal;

use self::change::{add, edit, print_changes};
use self::list::{list, Listing};
use self::show::{describe_next, print_job};
use super::view::JobView;
use super::{print_document, CliError, Context, EXIT_FAILURE, EXIT_OK};

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Add a job; prints its id. Example: `cronhost jobs add '*/5 * * * *' --name sync -- rsync -a src/ dst/`
    Add(Box<AddArgs>),
    /// List jobs (active ones; `--all` adds paused and completed), by next run; streamed, so
    /// any number of jobs lists in constant memory. `--limit`/`--after` give one page in id
    /// order instead, and say how to get the next.
    List {
        /// Include paused and completed jobs.
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// One page of at most N jobs (1 to 100000), in id order (the order they were added).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limit: Option<u32>,
        /// Start the page after the job with this id (the `next_after` of the page before).
        #[arg(long, value_name = "ID")]
        after: Option<String>,
    },
    /// Show one job.
    Show {
        /// Job id or name.
        #[arg(add = crate::cli::complete::jobs())]
        job: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Pause a job: it does not fire until resumed.
    Pause {
        /// Job id or name.
        #[arg(add = crate::cli::complete::jobs())]
        job: String,
        /// Why (shown by `jobs show`).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Resume a paused job from its next occurrence, at once, or at a given time.
    Resume {
        /// Job id or name.
        #[arg(add = crate::cli::complete::jobs())]
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
        #[arg(add = crate::cli::complete::jobs())]
        job: String,
    },
    /// Change a job in place: give only what changes (`--schedule`, `--name`, `--timeout`, ...,
    /// or `-- COMMAND...`). Its id and history stay; a new schedule gives a new next run.
    Edit(Box<EditArgs>),
    /// Remove a job; its run history stays.
    Remove {
        /// Job id or name.
        #[arg(add = crate::cli::complete::jobs())]
        job: String,
    },
    /// Preview when a job or a schedule fires, strictly after now or `--from`, and say the
    /// schedule in words.
    Next {
        /// A job (id or name), or a schedule as for `jobs add`.
        target: String,
        /// List the instants after TIME instead of after now: RFC 3339
        /// (`2026-03-08T01:30:00-05:00`) or a local time in the zone (`2026-03-08 01:30`).
        #[arg(long, value_name = "TIME")]
        from: Option<String>,
        /// The zone a schedule is read in (default `cron.timezone`); a job has its own.
        #[arg(long, value_name = "ZONE", add = crate::cli::complete::zones())]
        tz: Option<String>,
        /// How many (1 to 10000).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=10_000))]
        count: u16,
        /// Print JSON.
        #[arg(long)]
        json: bool,
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
    /// Add the jobs of a crontab (crontab(5): `m h dom mon dow command`, `@daily`, `VAR=value`,
    /// `CRON_TZ`, `SHELL`, `%` as standard input). All or nothing; importing it again adds
    /// nothing. Example: `crontab -l | cronhost jobs import-crontab -`
    ImportCrontab(crontab::ImportCrontabArgs),
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

pub fn run(context: &Context, command: JobsCommand) -> Result<i32, CliError> {
    match command {
        JobsCommand::Next {
            target,
            from,
            tz,
            count,
            json,
        } => {
            let ask = next::Preview {
                target: &target,
                from: from.as_deref(),
                tz: tz.as_deref(),
                count: count.into(),
                json,
            };
            return next::run(context, &ask);
        }
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
        JobsCommand::List {
            all,
            json,
            limit,
            after,
        } => list(
            store,
            &Listing {
                all,
                json,
                limit: limit.map(|n| n as usize),
                after: after.as_deref(),
            },
        ),
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
            // Written as it is read: a million jobs export in constant memory.
            let mut document = crate::cli::stream::JsonArray::open(
                &[
                    ("format", format!("\"{EXPORT_FORMAT}\"")),
                    ("version", EXPORT_VERSION.to_string()),
                ],
                "jobs",
            );
            let mut failed = Ok(());
            store.each_job(true, |job| {
                failed = document.push(&ExportedJob::from(&job));
                if failed.is_ok() {
                    std::ops::ControlFlow::Continue(())
                } else {
                    std::ops::ControlFlow::Break(())
                }
            })?;
            failed?;
            document.close(&[]);
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
            // The text goes as soon as it is read into jobs: a million-job file is held once.
            drop(text);
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
        JobsCommand::ImportCrontab(args) => crontab::import(context, store, args),
        JobsCommand::Add(_) | JobsCommand::Next { .. } => unreachable!("handled above"),
    }
}

fn run_now(context: &Context, job: &str) -> Result<i32, CliError> {
    // The job's output streams to this terminal (its stderr to stderr), as well as to its
    // file when files are kept.
    let mut settings = context.config.cron.engine_settings();
    settings.output.forward = cronhost::run::Forward::Plain;
    let engine = context.engine_with(settings)?;
    if let Ok(cronhost::store::Job {
        handler: Some(handler),
        ..
    }) = engine.store().job(job)
    {
        return Err(CliError::usage(format!(
            "{} runs in-process, through the handler `{}` of the application that embeds cronhost, not as a command: run it from that application (`Host::run_job_now`)",
            for_terminal(job),
            for_terminal(&handler)
        )));
    }
    // A job that cannot be claimed (unknown, paused) is bad input (exit 2); one whose command
    // cannot start ran and failed (exit 1, recorded in its history).
    let run_id = engine.run_now(job).map_err(|e| match e {
        cronhost::engine::EngineError::Job { .. } => CliError::failure(e.to_string()),
        other => CliError::usage(other.to_string()),
    })?;
    crate::cli::tick::settle_before_exit(context, &engine)?;
    let run = engine.store().run(&run_id)?;
    let status = run.map_or(RunStatus::Unknown, |r| r.status);
    outln!("ran {}: {status} (run {run_id})", for_terminal(job));
    Ok(if status == RunStatus::Succeeded {
        EXIT_OK
    } else {
        EXIT_FAILURE
    })
}
