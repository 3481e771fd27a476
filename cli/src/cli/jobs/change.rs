//! `jobs add` and `jobs edit`: a job's definition from the command line, paths anchored where
//! the operator stands.

use std::path::PathBuf;

use chrono::Utc;
use cronhost::store::{Edited, JobSpec, Store};
use cronhost::text::for_terminal;

use super::options::{env_pairs, AddArgs, EditArgs};
use super::show::describe_next;
use crate::cli::{CliError, Context, EXIT_OK};

pub(super) fn add(context: &Context, args: AddArgs) -> Result<i32, CliError> {
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
    // Standard output is the id alone, for scripts; what it will do goes to an operator at a
    // terminal (a script or system cron gets no chatter), and a caution to everyone.
    outln!("{}", job.id);
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!(
            "{}: {}; next run {}",
            for_terminal(&job.name),
            for_terminal(&job.describe_schedule()),
            describe_next(&job)
        );
    }
    if let Some(caution) = job.parsed_schedule().ok().and_then(|s| s.caution()) {
        log::warn!("{}: {caution}", for_terminal(&job.name));
    }
    Ok(EXIT_OK)
}

pub(super) fn edit(context: &Context, store: &Store, args: EditArgs) -> Result<i32, CliError> {
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
pub(super) fn anchor_paths(
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
