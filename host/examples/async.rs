//! Async in-process jobs on the application's own tokio runtime (the `tokio` feature):
//! cronhost starts no runtime; run events arrive on a tokio channel. It exits non-zero when
//! the jobs did not end as they should.
//!
//! `cargo run -p cronhost --features tokio --example async`

use std::sync::Arc;
use std::time::Duration;

use cronhost::events::RunEvent;
use cronhost::store::RunStatus;
use cronhost::{Host, RunContext};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    cronhost::serve_if_asked();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();

    let dir = tempfile::tempdir()?;
    let host = Arc::new(Host::builder().home(dir.path().join("cron")).build()?);
    let mut events = host.events_async();

    host.schedule_async("refresh", "* * * * * *", |run: RunContext| async move {
        tokio::time::sleep(Duration::from_millis(100)).await; // the application's async work
        println!("refreshed, due at {}", run.scheduled_at());
    })?;
    // Outlives its 1 s timeout, but stops as soon as its token fires.
    host.schedule_async("slow", "* * * * * *", |run: RunContext| async move {
        tokio::select! {
            reason = run.cancel_token().cancelled() => Err(format!("stopped: {reason}")),
            _ = tokio::time::sleep(Duration::from_secs(60)) => Ok(()),
        }
    })?;
    host.edit_job("slow", |spec| spec.timeout_secs = Some(1))?;
    host.start()?;

    let (mut refreshed, mut timed_out) = (false, false);
    let waited = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(event) = events.recv().await {
            println!("{event:?}");
            if let RunEvent::Finished {
                job_name, status, ..
            } = event
            {
                refreshed |= job_name == "refresh" && status == RunStatus::Succeeded;
                timed_out |= job_name == "slow" && status == RunStatus::TimedOut;
            }
            if refreshed && timed_out {
                break;
            }
        }
    })
    .await;
    // `stop` waits for the host's threads: off the runtime's own.
    let stopping = Arc::clone(&host);
    let clean = tokio::task::spawn_blocking(move || stopping.stop()).await?;
    if waited.is_err() {
        return Err(format!("within 20 s: refreshed {refreshed}, timed out {timed_out}").into());
    }
    if !clean {
        return Err("the host did not stop in time".into());
    }
    Ok(())
}
