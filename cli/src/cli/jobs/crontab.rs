//! `cronhost jobs import-crontab FILE [--system] [--dry-run]`: add a crontab's jobs, all or
//! nothing, and print what was (or would be) added.

use std::path::PathBuf;

use chrono::Utc;
use clap::Args;
use cronhost::store::{Job, Store, StoreError};
use cronhost::text::{for_terminal, lines_for_terminal};
use cronhost::{Crontab, CrontabOptions};

use crate::cli::{exit_code, CliError, Context, EXIT_OK};

#[derive(Debug, Args)]
pub struct ImportCrontabArgs {
    /// The crontab (`-` for standard input): `m h dom mon dow command` lines, `@daily` and
    /// friends, `VAR=value` lines, `#` comments.
    file: PathBuf,
    /// The system form (`/etc/crontab`, `/etc/cron.d/*`): a user column after the time
    /// fields. Only lines for the user running cronhost are accepted.
    #[arg(long)]
    system: bool,
    /// Print what would be added; store nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn import(context: &Context, store: &Store, args: ImportCrontabArgs) -> Result<i32, CliError> {
    let options = CrontabOptions::for_current_user(args.system);
    let crontab = Crontab::read(&args.file, &options)
        .map_err(|e| CliError::usage(format!("{e}\nnothing was imported")))?;
    for warning in crontab.warnings() {
        eprintln!(
            "cronhost: warning: {}:{}: {}",
            lines_for_terminal(crontab.file()),
            warning.line,
            lines_for_terminal(&warning.warning.to_string())
        );
    }
    let declared = crontab.declared();
    let applied = store
        .apply_jobs(
            &declared,
            false,
            args.dry_run,
            &context.config.cron.timezone,
            Utc::now(),
        )
        .map_err(|error| match error {
            // The store's own words, at the line that declared the job.
            StoreError::Declared { index, source, .. } => CliError {
                code: exit_code(&source),
                message: format!(
                    "{}:{}: {source}; nothing was imported",
                    crontab.file(),
                    crontab.jobs().get(index).map_or(0, |job| job.line)
                ),
            },
            other => CliError::from(other),
        })?;
    for job in &applied.added {
        outln!("+ {}", describe(job));
    }
    // A job of that name edited since: its line's definition again, as `apply` does.
    for edited in &applied.changed {
        outln!("~ {}", for_terminal(&edited.after.name));
        for change in edited.changes() {
            outln!(
                "    {}: {} -> {}",
                change.field,
                for_terminal(&change.before),
                for_terminal(&change.after)
            );
        }
    }
    for job in &applied.unchanged {
        outln!("= {}", for_terminal(&job.name));
    }
    let verb = if args.dry_run { "would be " } else { "" };
    outln!(
        "{} job(s) {verb}added, {} {verb}changed, {} already present{}",
        applied.added.len(),
        applied.changed.len(),
        applied.unchanged.len(),
        if args.dry_run {
            " (dry run: nothing was stored)"
        } else {
            ""
        }
    );
    Ok(EXIT_OK)
}

/// `NAME  SCHEDULE  ZONE  COMMAND`, escaped for the terminal.
fn describe(job: &Job) -> String {
    let command = if job.shell {
        job.command.join(" ")
    } else {
        shlex::try_join(job.command.iter().map(String::as_str))
            .unwrap_or_else(|_| job.command.join(" "))
    };
    format!(
        "{}  {}  {}  {}",
        for_terminal(&job.name),
        for_terminal(&job.schedule_text),
        for_terminal(&job.timezone),
        for_terminal(&command)
    )
}
