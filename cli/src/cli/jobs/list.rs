//! `jobs list`: every job streamed (a table a block at a time, or one JSON document written as
//! it goes), or one page in id order (`--limit`, `--after`); never the whole set in memory.

use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use cronhost::status::relative;
use cronhost::store::{Job, JobsPage, Store};
use cronhost::text::for_terminal;

use super::show::{command_line, describe_next};
use crate::cli::stream::JsonArray;
use crate::cli::table::Streamed;
use crate::cli::view::JobView;
use crate::cli::{print_document, CliError, EXIT_OK, JSON_VERSION};

/// Rows printed (or JSON objects written) per write while streaming.
const BLOCK: usize = 1000;

const HEADER: [&str; 8] = [
    "ID",
    "NAME",
    "SCHEDULE",
    "ZONE",
    "NEXT RUN",
    "LAST STATUS",
    "LAST RUN",
    "COMMAND",
];

/// What `jobs list` was asked for.
pub(super) struct Listing<'a> {
    /// Paused and completed jobs too.
    pub all: bool,
    /// JSON instead of a table.
    pub json: bool,
    /// One page of at most this many jobs, in id order.
    pub limit: Option<usize>,
    /// The page starts after this job id.
    pub after: Option<&'a str>,
}

pub(super) fn list(store: &Store, ask: &Listing<'_>) -> Result<i32, CliError> {
    if ask.limit.is_some() || ask.after.is_some() {
        return page(store, ask);
    }
    let now = Utc::now();
    if ask.json {
        let mut document = JsonArray::open(
            &[
                ("format", "\"cronhost-job-list\"".to_owned()),
                ("version", JSON_VERSION.to_string()),
            ],
            "jobs",
        );
        let mut failed = Ok(());
        store.each_job(ask.all, |job| {
            failed = document.push(&JobView::from(&job));
            if failed.is_ok() {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        })?;
        failed?;
        // Everything was listed: no next page.
        document.close(&[("next_after", "null".to_owned())]);
        return Ok(EXIT_OK);
    }
    let mut table = Streamed::new(HEADER, Some(5));
    let mut rows = Vec::with_capacity(BLOCK);
    store.each_job(ask.all, |job| {
        rows.push(row(&job, now));
        if rows.len() == BLOCK {
            table.block(&std::mem::take(&mut rows));
        }
        ControlFlow::Continue(())
    })?;
    table.block(&rows);
    Ok(EXIT_OK)
}

/// One page, in id order, and how to ask for the next.
fn page(store: &Store, ask: &Listing<'_>) -> Result<i32, CliError> {
    let limit = ask.limit.unwrap_or(cronhost::store::MAX_PAGE);
    let JobsPage {
        jobs, next_after, ..
    } = store
        .jobs_page(ask.after, limit, ask.all)
        .map_err(|e| CliError::usage(e.to_string()))?;
    if ask.json {
        #[derive(serde::Serialize)]
        struct Body<'a> {
            jobs: Vec<JobView<'a>>,
            /// The id to give `--after` for the next page; null on the last one.
            next_after: Option<&'a str>,
        }
        print_document(
            "cronhost-job-list",
            &Body {
                jobs: jobs.iter().map(JobView::from).collect(),
                next_after: next_after.as_deref(),
            },
        )?;
        return Ok(EXIT_OK);
    }
    let now = Utc::now();
    let rows: Vec<_> = jobs.iter().map(|job| row(job, now)).collect();
    Streamed::new(HEADER, Some(5)).block(&rows);
    if let Some(next) = next_after {
        // On standard error, so the table on standard output stays a table.
        eprintln!(
            "more jobs follow: cronhost jobs list --after {next} --limit {limit}{}",
            if ask.all { " --all" } else { "" }
        );
    }
    Ok(EXIT_OK)
}

/// A job's row in the table.
fn row(job: &Job, now: DateTime<Utc>) -> [String; 8] {
    let t = |text: &str| for_terminal(text).into_owned();
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
}
