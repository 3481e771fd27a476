//! Embedding the host: an application runs its own in-process job, fired by cronhost on a
//! 1-second schedule, then stops the host and reads the run history.
//!
//! `cargo run -p cronhost --example embed`

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cronhost::store::JobSpec;
use cronhost::{Host, JobOutcome, JobRun};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Needed only if a provider runs with `isolation = "process"`: this program then serves it.
    cronhost::serve_if_asked();
    // The application picks its logger; the library never installs one.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();

    let dir = tempfile::tempdir()?;
    let greetings = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&greetings);
    let host = Host::builder()
        .home(dir.path().join("cron"))
        .job_runner(move |run: &JobRun<'_>| match run.job.name.as_str() {
            "greet" => {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                println!("greeting #{n}, due at {}", run.scheduled_at);
                JobOutcome::Succeeded
            }
            other => JobOutcome::Failed(format!("this application has no job named {other}")),
        })
        .build()?;

    let mut spec = JobSpec::new("* * * * * *", ["greet"]);
    spec.name = Some("greet".into());
    host.add_job(&spec)?;
    host.start()?;
    println!("status: {:?}", host.status()?.verdict);

    let deadline = Instant::now() + Duration::from_secs(15);
    while greetings.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let clean = host.stop();
    for run in host.runs(Some("greet"), 10)? {
        println!("run {} {}", run.id, run.status.as_str());
    }
    if greetings.load(Ordering::SeqCst) < 2 {
        return Err("the job did not fire twice within 15 s".into());
    }
    if !clean {
        return Err("the host did not stop in time".into());
    }
    Ok(())
}
