//! `cronhost runs`: the run history.

use chrono::{DateTime, Utc};
use clap::Args;
use cronhost::schedule::{format_local, Tz};
use cronhost::store::{RunReason, Store, StoreError};
use cronhost::text::for_terminal;

use super::view::RunView;
use super::{print_list, CliError, Context, EXIT_OK};

#[derive(Debug, Args)]
pub struct RunsArgs {
    /// Only this job (id or name).
    #[arg(add = super::complete::jobs())]
    job: Option<String>,
    /// How many runs, newest first (1 to 10000000).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    limit: u32,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// The cluster-wide history from the selected provider (which member ran what).
    #[arg(long)]
    cluster: bool,
}

pub fn run(context: &Context, args: RunsArgs) -> Result<i32, CliError> {
    if args.cluster {
        return cluster(context, &args);
    }
    let store = context.reader()?;
    let store = &store;
    let job_id = match args.job.as_deref() {
        Some(job) => Some(history_id(store, job)?),
        None => None,
    };
    let runs = store.runs(job_id.as_deref(), args.limit as usize)?;
    if args.json {
        print_list(
            "cronhost-runs",
            "runs",
            &runs.iter().map(RunView::from).collect::<Vec<_>>(),
        )?;
        return Ok(EXIT_OK);
    }
    // Each run under its job's name and in its job's zone; a removed job's runs under its id,
    // in `cron.timezone`.
    // Only the jobs of the runs shown are read, however many jobs there are.
    let mut jobs = std::collections::HashMap::new();
    for run in &runs {
        if !jobs.contains_key(&run.job_id) {
            match store.job(&run.job_id) {
                Ok(job) if job.id == run.job_id => {
                    jobs.insert(run.job_id.clone(), job);
                }
                _ => {}
            }
        }
    }
    let rows: Vec<[String; 9]> = runs
        .iter()
        .map(|run| {
            let job = jobs.get(&run.job_id);
            let zone = job.map_or_else(|| context.config.zone(), |job| job.zone());
            let reason = run.reason.as_ref().map(|reason| match reason {
                RunReason::Retry => format!("retry {}", run.attempt),
                other => other.to_string(),
            });
            let detail = match (reason, &run.error) {
                (Some(reason), Some(error)) => format!("{reason}: {error}"),
                (reason, error) => reason.or(error.clone()).unwrap_or_default(),
            };
            [
                for_terminal(job.map_or(&run.job_id, |job| &job.name)).into_owned(),
                format_local(run.scheduled_at, zone),
                time_after(run.started_at, run.scheduled_at, zone),
                time_after(
                    run.finished_at,
                    run.started_at.unwrap_or(run.scheduled_at),
                    zone,
                ),
                run.status.as_str().to_owned(),
                run.lateness_ms
                    .map(|ms| format!("{ms}ms"))
                    .unwrap_or_default(),
                run.exit_code.map(|c| c.to_string()).unwrap_or_default(),
                for_terminal(&detail).into_owned(),
                run.id.clone(),
            ]
        })
        .collect();
    super::table::print(
        [
            "JOB",
            "SCHEDULED",
            "STARTED",
            "FINISHED",
            "STATUS",
            "LATENESS",
            "EXIT",
            "DETAIL",
            "RUN",
        ],
        &rows,
        Some(4),
    );
    Ok(EXIT_OK)
}

/// A time of day (to the millisecond) in `zone`, with its date when that differs from
/// `since`'s; `-` when there is none.
fn time_after(at: Option<DateTime<Utc>>, since: DateTime<Utc>, zone: Tz) -> String {
    let Some(at) = at else {
        return "-".into();
    };
    let local = at.with_timezone(&zone);
    if local.date_naive() == since.with_timezone(&zone).date_naive() {
        local.format("%H:%M:%S%.3f").to_string()
    } else {
        local.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
    }
}

/// The job id whose history `job` names: a job's id or name, or the id of a removed job that
/// still has history. Anything else is an error (exit 2), never an empty listing.
pub(super) fn history_id(store: &Store, job: &str) -> Result<String, CliError> {
    match store.job(job) {
        Ok(found) => Ok(found.id),
        Err(StoreError::NoSuchJob(_)) if !store.runs(Some(job), 1)?.is_empty() => {
            Ok(job.to_owned())
        }
        Err(e) => Err(e.into()),
    }
}

fn cluster(context: &Context, args: &RunsArgs) -> Result<i32, CliError> {
    let status = super::status::provider_status(context)
        .ok_or_else(|| {
            CliError::usage(
                "--cluster needs a cluster provider selected in cron.provider (e.g. postgres)",
            )
        })?
        .map_err(CliError::failure)?;
    // A job named by name: its id from this host's store (the cluster shares ids).
    let job_id = match args.job.as_deref() {
        Some(job) => Some(
            Store::open(&context.home.store_file())?
                .job(job)
                .map(|j| j.id)
                .unwrap_or_else(|_| job.to_owned()),
        ),
        None => None,
    };
    let runs: Vec<serde_json::Value> = status["runs"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|run| job_id.as_deref().is_none_or(|job| run["job_id"] == job))
        .take(args.limit as usize)
        .collect();
    if args.json {
        print_list("cronhost-cluster-runs", "runs", &runs)?;
        return Ok(EXIT_OK);
    }
    let zone = context.config.zone();
    outln!(
        "{:8}  {:23}  {:28}  {:10}  {:>5}  DETAIL",
        "JOB",
        "SCHEDULED",
        "MEMBER",
        "STATUS",
        "EXIT"
    );
    for run in runs {
        let at = run["scheduled_at_ms"]
            .as_i64()
            .and_then(chrono::DateTime::from_timestamp_millis);
        outln!(
            "{:8}  {:23}  {:28}  {}  {:>5}  {}",
            for_terminal(run["job_id"].as_str().unwrap_or("?")),
            at.map(|at| format_local(at, zone)).unwrap_or_default(),
            for_terminal(run["member"].as_str().unwrap_or("?")),
            super::style::status_cell(&for_terminal(run["status"].as_str().unwrap_or("?")), 10),
            run["exit_code"]
                .as_i64()
                .map(|c| c.to_string())
                .unwrap_or_default(),
            for_terminal(run["error"].as_str().unwrap_or(""))
        );
    }
    Ok(EXIT_OK)
}
