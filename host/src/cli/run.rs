//! `cronhost run`: the daemon, until SIGINT or SIGTERM (a second one exits at once).

use std::sync::Arc;

use cronhost::Daemon;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::{CliError, Context, EXIT_OK, EXIT_USAGE};

pub fn run(context: &Context) -> Result<i32, CliError> {
    let engine = context.engine()?;
    let mut signals = Signals::new([SIGINT, SIGTERM])
        .map_err(|e| CliError::failure(format!("cannot install signal handlers: {e}")))?;
    let engine = Arc::new(engine);
    let daemon = Daemon::start(
        &context.home,
        context.config.clone(),
        Arc::clone(&engine) as Arc<dyn cronhost::engine::Engine>,
    )
    .map_err(|e| match e {
        cronhost::DaemonError::Lock(lock) => CliError {
            code: EXIT_USAGE,
            message: lock.to_string(),
        },
        other => CliError::failure(other.to_string()),
    })?;
    let active = engine
        .store()
        .jobs()
        .map(|jobs| jobs.iter().filter(|j| j.is_active()).count())
        .unwrap_or(0);
    log::info!(
        "cronhost {} running in {} (pid {}) with {active} active job(s); trigger: {}",
        env!("CARGO_PKG_VERSION"),
        context.home.root().display(),
        std::process::id(),
        daemon.resolution().trigger.name()
    );
    let stop = daemon.stop_flag();
    std::thread::spawn(move || {
        let mut stopping = false;
        for signal in signals.forever() {
            match signal {
                _ if stopping => {
                    log::warn!("received signal {signal} again; exiting at once");
                    std::process::exit(130);
                }
                _ => {
                    log::info!("received signal {signal}; stopping");
                    stopping = true;
                    stop.set();
                }
            }
        }
    });
    super::notify::notify("READY=1");
    daemon.supervise();
    super::notify::notify("STOPPING=1");
    let clean = daemon.shutdown();
    log::info!(
        "cronhost stopped{}",
        if clean {
            ""
        } else {
            " (not everything ended in time: see above)"
        }
    );
    Ok(EXIT_OK)
}
