//! `cronhost apply FILE [--prune] [--dry-run]`: make the job set match a TOML job file and
//! print what changed.

use std::path::PathBuf;

use chrono::Utc;
use clap::Args;
use cronhost::text::for_terminal;
use cronhost::JobFile;

use super::{CliError, Context, EXIT_OK};

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The job file (TOML: a `[jobs.NAME]` table per job; see the README).
    file: PathBuf,
    /// Also remove every job the file does not declare (their history stays).
    #[arg(long)]
    prune: bool,
    /// Print what would change; change nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn run(context: &Context, args: ApplyArgs) -> Result<i32, CliError> {
    let file = JobFile::read(&args.file).map_err(|e| CliError::usage(e.to_string()))?;
    let declared = file.declared();
    let engine = context.engine()?;
    if args.prune && declared.is_empty() {
        // An empty or truncated file would wipe the whole job set.
        return Err(CliError::usage(format!(
            "{} declares no job; with --prune that would remove every job. Remove jobs with `cronhost jobs remove`",
            args.file.display()
        )));
    }
    let applied = engine.store().apply_jobs(
        &declared,
        args.prune,
        args.dry_run,
        &context.config.cron.timezone,
        Utc::now(),
    )?;
    let t = |text: &str| for_terminal(text).into_owned();
    for job in &applied.added {
        outln!(
            "+ {} ({})  {}  {}",
            t(&job.name),
            job.id,
            t(&job.schedule_text),
            job.timezone
        );
    }
    for edited in &applied.changed {
        outln!("~ {} ({})", t(&edited.after.name), edited.after.id);
        for change in edited.changes() {
            outln!(
                "    {}: {} -> {}",
                change.field,
                t(&change.before),
                t(&change.after)
            );
        }
    }
    for job in &applied.removed {
        outln!("- {} ({})", t(&job.name), job.id);
    }
    let verb = if args.dry_run { "would be " } else { "" };
    outln!(
        "{} {verb}added, {} {verb}changed, {} {verb}removed, {} unchanged{}",
        applied.added.len(),
        applied.changed.len(),
        applied.removed.len(),
        applied.unchanged.len(),
        if args.dry_run {
            " (dry run: nothing was changed)"
        } else {
            ""
        }
    );
    if !args.prune {
        let declared: std::collections::HashSet<String> = declared
            .iter()
            .filter_map(|d| d.spec.name.as_deref().map(str::to_lowercase))
            .collect();
        let mut others = 0;
        engine.store().each_job(true, |job| {
            others += usize::from(!declared.contains(&job.name.to_lowercase()));
            std::ops::ControlFlow::Continue(())
        })?;
        if others > 0 {
            outln!("{others} job(s) not in the file were left as they are (--prune removes them)");
        }
    }
    Ok(EXIT_OK)
}
