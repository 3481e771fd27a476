//! Embedding the host: an application runs its own in-process jobs, fired by cronhost. One
//! writes output (kept per run, as a command's is), one outlives its timeout and honours its
//! cancellation token, one is run at once through the API; run events arrive on a channel.
//! It exits non-zero when any of that did not happen.
//!
//! `cargo run -p cronhost --example embed`

use std::io::Write;
use std::time::{Duration, Instant};

use cronhost::events::RunEvent;
use cronhost::store::RunStatus;
use cronhost::{Host, RunContext};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Needed only if a provider runs with `isolation = "process"`: this program then serves it.
    cronhost::serve_if_asked();
    // The application picks its logger; the library never installs one.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();

    let dir = tempfile::tempdir()?;
    let host = Host::builder().home(dir.path().join("cron")).build()?;
    let events = host.events();

    // Every second; its output lands in `output/<job>/<instant>.log`, as a command's does.
    host.schedule(
        "greet",
        "* * * * * *",
        |run: &mut RunContext| -> std::io::Result<()> {
            writeln!(run, "hello, due at {}", run.scheduled_at())
        },
    )?;
    // A slow job with a 1 s timeout: it sleeps on its token, which fires at the timeout.
    host.schedule("slow", "* * * * * *", |run: &mut RunContext| {
        if run.cancel_token().sleep(Duration::from_secs(60)).is_some() {
            return Err("stopped: the token fired");
        }
        Ok(())
    })?;
    host.edit_job("slow", |spec| spec.timeout_secs = Some(1))?;
    // Never scheduled to fire by itself: run through the API, once.
    host.schedule("on-demand", "0 0 1 1 *", |_: &mut RunContext| {})?;
    host.start()?;
    let on_demand = host.run_job_now("on-demand")?;

    let (mut greeted, mut timed_out, mut ran_on_demand) = (None, false, false);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(greeted.is_some() && timed_out && ran_on_demand) && Instant::now() < deadline {
        let Ok(event) = events.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        println!("{event:?}");
        if let RunEvent::Finished {
            job_id,
            job_name,
            run_id,
            scheduled_at,
            status,
            ..
        } = event
        {
            match (job_name.as_str(), status) {
                ("greet", RunStatus::Succeeded) => greeted = Some((job_id, scheduled_at)),
                ("slow", RunStatus::TimedOut) => timed_out = true,
                ("on-demand", RunStatus::Succeeded) => ran_on_demand = run_id == on_demand,
                _ => {}
            }
        }
    }
    host.pause_job("greet", Some("the example is done"))?;
    let clean = host.stop();

    let Some((greet_id, greet_at)) = greeted else {
        return Err("greet did not succeed within 20 s".into());
    };
    // Where `cronhost logs greet` reads it.
    let file = cronhost::run::output_path(&host.home().output_dir(), &greet_id, greet_at);
    let output = std::fs::read_to_string(&file)?;
    println!("{}: {output}", file.display());
    for run in host.runs(None, 10)? {
        println!(
            "run {} {} {}",
            run.id,
            run.status,
            run.error.as_deref().unwrap_or("")
        );
    }
    if !timed_out {
        return Err("slow was not recorded as timed out".into());
    }
    if !ran_on_demand {
        return Err("on-demand did not run".into());
    }
    if !output.starts_with("hello, due at") {
        return Err(format!("greet's output is {output:?}").into());
    }
    if !clean {
        return Err("the host did not stop in time".into());
    }
    Ok(())
}
