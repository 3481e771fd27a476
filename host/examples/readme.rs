//! An application that runs its own jobs in-process, fired by cronhost (the README's example).
use std::time::Duration;

use cronhost::store::JobSpec;
use cronhost::{Host, JobOutcome, JobRun};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    cronhost::serve_if_asked(); // first thing: serves providers run with isolation = "process"
    let host = Host::builder()
        .home("myapp-cron") // store, state, output; created 0700 (say /var/lib/myapp/cron)
        .job_runner(|run: &JobRun<'_>| match run.job.name.as_str() {
            "report" => JobOutcome::Succeeded, // do the work here
            other => JobOutcome::Failed(format!("no job {other}")),
        })
        .build()?;
    // The store keeps its jobs across starts: add the job once.
    if !host.jobs()?.iter().any(|job| job.name == "report") {
        let mut spec = JobSpec::new("every 5m", ["report"]);
        spec.name = Some("report".into());
        host.add_job(&spec)?;
    }
    host.start()?; // returns at once; fires on the host's threads
    std::thread::sleep(Duration::from_secs(1)); // the application's own work
    println!("{:?}", host.status()?.verdict); // Healthy: it ticks and will fire
    host.stop(); // bounded by cron.shutdown_timeout_ms
    Ok(())
}
