//! `jobs list`: every job streamed (a table a block at a time, or one JSON document written as
//! it goes), or one page in id order (`--limit`, `--after`); never the whole set in memory.

use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use cronhost::status::relative;
use cronhost::store::{Job, JobsPage, Store};
use cronhost::text::for_terminal;

use super::show::{command_line, describe_next};
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
    let mut failed = None;
    if ask.json {
        let mut block = String::new();
        let mut first = true;
        outln!("{{\n  \"format\": \"cronhost-job-list\",\n  \"version\": {JSON_VERSION},\n  \"jobs\": [");
        store.each_job(ask.all, |job| {
            match serde_json::to_string_pretty(&JobView::from(&job)) {
                Ok(text) => {
                    if !std::mem::take(&mut first) {
                        block.push_str(",\n");
                    }
                    block.push_str(&indent(&text));
                }
                Err(e) => {
                    failed = Some(CliError::failure(format!("cannot encode JSON: {e}")));
                    return ControlFlow::Break(());
                }
            }
            if block.len() > BLOCK * 1024 {
                write_out(&std::mem::take(&mut block));
            }
            ControlFlow::Continue(())
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        let close = if first { "" } else { "\n" };
        outln!("{block}{close}  ],\n  \"next_after\": null\n}}");
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

/// Write `text` as it is (no newline added); a closed pipe ends the listing quietly, as
/// `outln!` does.
fn write_out(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(EXIT_OK);
        }
    }
}

/// `text` (pretty JSON) indented one level deeper, as an element of the `jobs` array.
fn indent(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for (n, line) in text.lines().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        out.push_str("    ");
        out.push_str(line);
    }
    out
}
