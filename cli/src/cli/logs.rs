//! `cronhost logs JOB [--run RUN] [--follow]`: what a run of a job printed.

use std::io::{IsTerminal, Read, Write};
use std::time::Duration;

use clap::Args;
use cronhost::run::output_path;
use cronhost::schedule::{format_local, parse_instant};
use cronhost::store::{Run, Store};
use cronhost::text::for_terminal;

use super::{CliError, Context, EXIT_OK};

/// How often `--follow` looks for new output and new runs.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Job id or name (or the id of a removed job whose history is kept).
    #[arg(add = super::complete::jobs())]
    job: String,
    /// Which run: its id (as `runs --json` shows it) or its scheduled time (RFC 3339, or
    /// `2026-12-01 09:00` in the job's zone). Default: the newest run.
    #[arg(long, value_name = "RUN")]
    run: Option<String>,
    /// Keep printing: the run's output as it is written, then each later run's, until
    /// interrupted. A header on stderr names each run.
    #[arg(long, short)]
    follow: bool,
}

pub fn run(context: &Context, args: LogsArgs) -> Result<i32, CliError> {
    let store = context.reader()?;
    let job_id = super::runs::history_id(&store, &args.job)?;
    let zone = store
        .job(&job_id)
        .map(|job| job.zone())
        .unwrap_or_else(|_| context.config.zone());
    let run = match &args.run {
        Some(which) => Some(find_run(&store, &job_id, which, zone)?),
        None => newest(&store, &job_id)?,
    };
    if !args.follow {
        let run = run.ok_or_else(|| {
            CliError::failure(format!(
                "{} has not run yet; `--follow` waits for its first run",
                for_terminal(&args.job)
            ))
        })?;
        let path = output_path(&context.home.output_dir(), &job_id, run.scheduled_at);
        match open_output(&path) {
            Ok(mut file) => copy_new_output(&mut file)?,
            Err(e) if wrote_nothing(context, &run, &e) => {
                eprintln!("run {} wrote nothing", for_terminal(&run.id));
            }
            Err(e) => return Err(no_output(context, &run, e)),
        }
        return Ok(EXIT_OK);
    }
    follow(context, &store, &job_id, run)
}

/// Print the run's output as it grows, then each newer run's, until interrupted.
fn follow(
    context: &Context,
    store: &Store,
    job_id: &str,
    mut run: Option<Run>,
) -> Result<i32, CliError> {
    let zone = context.config.zone();
    let mut file = None;
    loop {
        if let Some(current) = &run {
            // Whether the run had ended before this read: then what is read now is all of it.
            let ended = store.run(&current.id)?.is_none_or(|r| r.status.is_final());
            if file.is_none() {
                // The file appears with the run's first byte (a silent run has none).
                let path = output_path(&context.home.output_dir(), job_id, current.scheduled_at);
                file = open_output(&path).ok();
            }
            if let Some(file) = &mut file {
                copy_new_output(file)?;
            }
            if !ended {
                std::thread::sleep(FOLLOW_EVERY);
                continue;
            }
        }
        // The run has ended (or there was none): wait for a newer one.
        let newer = loop {
            match newest(store, job_id)? {
                Some(newest) if run.as_ref().is_none_or(|r| r.id != newest.id) => break newest,
                _ => std::thread::sleep(FOLLOW_EVERY),
            }
        };
        eprintln!(
            "==> run {} (scheduled {}) <==",
            for_terminal(&newer.id),
            format_local(newer.scheduled_at, zone)
        );
        run = Some(newer);
        file = None;
    }
}

/// The newest run of the job, if it has one.
/// The newest run of the job that started (a skipped or still queued one has no output);
/// looked for among its newest 100 runs.
fn newest(store: &Store, job_id: &str) -> Result<Option<Run>, CliError> {
    Ok(store
        .runs(Some(job_id), 100)?
        .into_iter()
        .find(|run| run.started_at.is_some()))
}

/// The run `which` names: a run id of the job, or the instant of one of its occurrences.
fn find_run(
    store: &Store,
    job_id: &str,
    which: &str,
    zone: cronhost::schedule::Tz,
) -> Result<Run, CliError> {
    let id = if which.contains('@') {
        which.to_owned()
    } else {
        match parse_instant(which, zone) {
            Some(at) => cronhost::store::run_id(job_id, at),
            None => {
                return Err(CliError::usage(format!(
                    "--run `{which}` is neither a run id (JOB@MILLIS, as `runs --json` shows) nor a time (RFC 3339, or `2026-12-01 09:00` in the job's zone)"
                )))
            }
        }
    };
    match store.run(&id)? {
        Some(run) if run.job_id == job_id => Ok(run),
        _ => Err(CliError::usage(format!(
            "job {job_id} has no run {}; `cronhost runs {job_id}` lists them",
            for_terminal(which)
        ))),
    }
}

/// Open an output file for reading: never through a link.
fn open_output(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Without blocking on a fifo; only a regular file with one link, in a directory that is
    // not a link (cronhost's own output, never a file linked in from elsewhere).
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        libc::O_NOFOLLOW | libc::O_NONBLOCK,
    );
    if let Some(dir) = path.parent() {
        if std::fs::symlink_metadata(dir)?.file_type().is_symlink() {
            return Err(std::io::Error::other("its directory is a link"));
        }
    }
    let file = options.open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    #[cfg(unix)]
    if std::os::unix::fs::MetadataExt::nlink(&metadata) != 1 {
        return Err(std::io::Error::other("it has more than one link"));
    }
    Ok(file)
}

/// Whether a run has no file because it wrote nothing: it started, and its output is kept in
/// files (the file is made at the run's first byte).
fn wrote_nothing(context: &Context, run: &Run, error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::NotFound
        && run.started_at.is_some()
        && context.config.cron.job_output != cronhost::JobOutput::Forward
}

/// Why a run has no output to show.
fn no_output(context: &Context, run: &Run, error: std::io::Error) -> CliError {
    let path = output_path(&context.home.output_dir(), &run.job_id, run.scheduled_at);
    let why = if error.kind() != std::io::ErrorKind::NotFound {
        format!("cannot read {}: {error}", path.display())
    } else if run.started_at.is_none() {
        format!("it never started ({})", run.status)
    } else {
        // Kept in files, a missing one means the run wrote nothing (`wrote_nothing`).
        "output is forwarded to the daemon's stdout/stderr, not kept in files (cron.job_output = \"forward\")".to_owned()
    };
    CliError::failure(format!(
        "run {} has no output: {why}",
        for_terminal(&run.id)
    ))
}

/// Print what the file holds past where it was last read (reading moves the position on). On a terminal, control characters
/// other than newlines and tabs are escaped (a job's output must not steer the terminal);
/// into a pipe the bytes go as they are.
fn copy_new_output(file: &mut std::fs::File) -> Result<(), CliError> {
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| CliError::failure(format!("cannot read the output: {e}")))?;
    if bytes.is_empty() {
        return Ok(());
    }
    let stdout = std::io::stdout();
    let text = if stdout.is_terminal() {
        terminal_safe(&bytes).into_bytes()
    } else {
        bytes
    };
    let mut out = stdout.lock();
    if let Err(e) = out.write_all(&text).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(EXIT_OK);
        }
        return Err(CliError::failure(format!("cannot write the output: {e}")));
    }
    Ok(())
}

/// `bytes` with control characters other than `\n` and `\t` escaped, lossily decoded.
fn terminal_safe(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .split_inclusive('\n')
        .map(|line| {
            line.split('\t')
                .map(|part| {
                    let body = part.strip_suffix('\n').unwrap_or(part);
                    let mut escaped = for_terminal(body).into_owned();
                    if part.ends_with('\n') {
                        escaped.push('\n');
                    }
                    escaped
                })
                .collect::<Vec<_>>()
                .join("\t")
        })
        .collect()
}
