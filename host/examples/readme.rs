//! An application that runs its own job in-process, fired by cronhost (the README's example).
use std::io::Write;
use std::time::Duration;

use cronhost::{Host, RunContext};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    cronhost::serve_if_asked(); // first thing: serves providers run with isolation = "process"
    let host = Host::builder()
        .home("myapp-cron") // store, state, output; created 0700 (say /var/lib/myapp/cron)
        .build()?;
    // Added the first time; on every later start it keeps its id and history.
    host.schedule(
        "report",
        "every 5m",
        |run: &mut RunContext| -> std::io::Result<()> {
            writeln!(run, "report due at {}", run.scheduled_at())?; // `cronhost logs report`
            Ok(()) // an error instead: the run is recorded as failed, with its message
        },
    )?;
    host.start()?; // returns at once; fires on the host's threads
    std::thread::sleep(Duration::from_secs(1)); // the application's own work
    println!("{:?}", host.status()?.verdict); // Healthy: it ticks and will fire
    host.stop(); // bounded by cron.shutdown_timeout_ms
    Ok(())
}
