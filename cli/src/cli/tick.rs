//! `cronhost tick` and `cronhost fire`: one synchronous pass, for system cron or an external
//! scheduler. Claims go through the same store, so they never double-run an occurrence the
//! daemon ran.

use std::time::Duration;

use cronhost::engine::{Engine, FireOutcome};
use cronhost::provider::BUILTIN_NAME;
use cronhost::DaemonLock;
use cronhost::Heartbeat;

use super::{CliError, Context, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

/// Longest a synchronous command waits for the runs it started.
pub(super) const WAIT_FOR_RUNS: Duration = Duration::from_secs(24 * 3600);

/// Before a synchronous command exits: its runs finished and recorded, the runs it queued
/// started here or left to the daemon. `Err` (exit 1) when an outcome could not be recorded.
pub(super) fn settle_before_exit(
    context: &Context,
    engine: &cronhost::engine::CronEngine,
) -> Result<(), CliError> {
    let state = context.home.state_dir();
    engine
        .runner()
        .settle_before_exit(|| DaemonLock::holder(&state), WAIT_FOR_RUNS)
        .map_err(|e| CliError::failure(e.to_string()))
}

/// `tick` and `fire` claim only in this host's store; where the provider coordinates with
/// other hosts (`cron.fallback = "none"`), they would fire occurrences another host runs.
fn refuse_if_provider_exclusive(context: &Context, command: &str) -> Result<(), CliError> {
    match context.config.provider_exclusive() {
        Some(provider) => Err(CliError::usage(format!(
            "`cronhost {command}` is refused: this host fires only through provider `{provider}` (cron.fallback = \"none\"); a local {command} would run occurrences other hosts may run too"
        ))),
        None => Ok(()),
    }
}

pub fn tick(context: &Context) -> Result<i32, CliError> {
    refuse_if_provider_exclusive(context, "tick")?;
    let engine = context.engine()?;
    // With a daemon running, its heartbeat is its own: a `tick` from system cron must not make
    // a stalled daemon look alive, nor put its errors on the daemon's record.
    let daemon_runs = DaemonLock::holder(&context.home.state_dir()).is_some();
    let heartbeat = (!daemon_runs).then(|| Heartbeat::new(&context.home.state_dir()));
    let report = match engine.tick() {
        Ok(report) => report,
        Err(e) => {
            if let Some(heartbeat) = &heartbeat {
                heartbeat.record(BUILTIN_NAME, false, Some(&e.to_string()));
            }
            return Err(CliError::failure(e.to_string()));
        }
    };
    let clean = report.errors == 0;
    if let Some(heartbeat) = &heartbeat {
        heartbeat.record(
            BUILTIN_NAME,
            clean,
            (!clean).then_some("jobs could not be started"),
        );
    }
    // Under system cron anything printed is mailed: a tick that went well says so only at
    // INFO (`-v`); what went wrong has been logged as a warning already.
    log::info!(
        "tick: fired {}, skipped {}, errors {}",
        report.fired,
        report.skipped,
        report.errors
    );
    // Where system cron drives the fires, no daemon prunes the history: each tick does a
    // bounded stretch of it, after its fires have started.
    engine.housekeep();
    settle_before_exit(context, &engine)?;
    Ok(if clean { EXIT_OK } else { EXIT_FAILURE })
}

pub fn fire(context: &Context, job: &str) -> Result<i32, CliError> {
    refuse_if_provider_exclusive(context, "fire")?;
    let engine = context.engine()?;
    let outcome = engine
        .fire_due(job)
        .map_err(|e| CliError::failure(e.to_string()))?;
    settle_before_exit(context, &engine)?;
    Ok(match outcome {
        FireOutcome::Fired => {
            outln!("fired");
            EXIT_OK
        }
        FireOutcome::Skipped => {
            outln!("skipped by policy (see `cronhost runs {job}`)");
            EXIT_OK
        }
        FireOutcome::ClaimLost => {
            outln!("not fired: the occurrence is not due or another ticker claimed it");
            EXIT_FAILURE
        }
        FireOutcome::NoSuchJob => {
            eprintln!("cronhost: no job `{job}`");
            EXIT_USAGE
        }
        other => {
            outln!("not fired: {other:?}");
            EXIT_FAILURE
        }
    })
}
