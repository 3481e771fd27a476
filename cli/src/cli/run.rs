//! `cronhost run`: the daemon, until SIGINT or SIGTERM (a second one exits at once). SIGHUP
//! reloads `cronhost.toml`; SIGUSR1 logs the status; SIGUSR2 is ignored with a log line.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cronhost::Config;
use cronhost::{Daemon, SupervisorEnd};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;

use super::{CliError, Context, EXIT_OK, EXIT_USAGE};

/// Log how many jobs the store holds, counted in SQL through a connection of its own on a
/// thread of its own: a million jobs take a few hundred milliseconds to count, and neither the
/// first tick nor the supervision waits for it (start-up never holds the job set).
fn log_job_counts(store: &std::path::Path) {
    let store = store.to_path_buf();
    let counted = std::thread::Builder::new()
        .name("count-jobs".into())
        .spawn(move || {
            match cronhost::store::Store::open_read_only(&store).and_then(|s| s.job_counts()) {
                Ok(counts) => {
                    log::info!("{} active job(s), {} in all", counts.active, counts.total)
                }
                Err(e) => log::warn!("cannot count the jobs: {e}"),
            }
        });
    if let Err(e) = counted {
        log::warn!("cannot count the jobs: {e}");
    }
}

pub fn run(context: &Context) -> Result<i32, CliError> {
    let engine = context.engine()?;
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2])
        .map_err(|e| CliError::failure(format!("cannot install signal handlers: {e}")))?;
    let engine = Arc::new(engine);
    let mut daemon = Daemon::start(
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
    log::info!(
        "cronhost {} running in {} (pid {}); trigger: {}",
        env!("CARGO_PKG_VERSION"),
        context.home.root().display(),
        std::process::id(),
        daemon.resolution().trigger.name()
    );
    log_job_counts(engine.store().path());
    let stopping = Arc::new(AtomicBool::new(false));
    let reload = Arc::new(AtomicBool::new(false));
    let handler_stop = Arc::clone(&stopping);
    let handler_reload = Arc::clone(&reload);
    // The supervising thread waits on the daemon's stop flag: a signal nudges it awake so that
    // it sees the request at once, not at its next poll. A reload starts a new daemon (and
    // flag), so the handler reads the current one each time.
    let waker = Arc::new(std::sync::Mutex::new(daemon.stop_flag()));
    let handler_waker = Arc::clone(&waker);
    let wake = move || {
        handler_waker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .nudge()
    };
    let (home, config) = (context.home.clone(), context.config.clone());
    std::thread::spawn(move || {
        for signal in signals.forever() {
            match signal {
                SIGHUP => {
                    log::info!(
                        "received SIGHUP; reloading {}",
                        home.config_file().display()
                    );
                    handler_reload.store(true, Ordering::SeqCst);
                    wake();
                }
                SIGUSR1 => log_status(&home, &config),
                SIGUSR2 => log::info!("received SIGUSR2; it has no meaning to cronhost, ignored"),
                _ if handler_stop.swap(true, Ordering::SeqCst) => {
                    log::warn!("received signal {signal} again; exiting at once");
                    std::process::exit(130);
                }
                _ => {
                    log::info!("received signal {signal}; stopping");
                    wake();
                }
            }
        }
    });
    super::notify::notify("READY=1");
    let mut config = context.config.clone();
    let lost = loop {
        let interrupt = || stopping.load(Ordering::SeqCst) || reload.load(Ordering::SeqCst);
        match daemon.supervise(interrupt) {
            SupervisorEnd::HomeLost(reason) => break Some(reason),
            SupervisorEnd::Interrupted if !stopping.load(Ordering::SeqCst) => {
                reload.store(false, Ordering::SeqCst);
                super::notify::notify("RELOADING=1");
                let reread = context
                    .home
                    .check_policy()
                    .map_err(|e| e.to_string())
                    .and_then(|()| Config::load(&context.home).map_err(|e| e.to_string()));
                match reread {
                    Ok(new) if new == config => {
                        log::info!("reload: the configuration is unchanged");
                    }
                    Ok(new) => {
                        daemon = daemon.reload(&context.home, new.clone()).map_err(|e| {
                            CliError::failure(format!("reload: cannot restart the trigger: {e}"))
                        })?;
                        config = new;
                        *waker.lock().unwrap_or_else(|p| p.into_inner()) = daemon.stop_flag();
                        log::info!(
                            "reload: configuration applied; trigger: {}",
                            daemon.resolution().trigger.name()
                        );
                    }
                    Err(e) => log::error!("reload refused, the running configuration stays: {e}"),
                }
                super::notify::notify("READY=1");
            }
            _ => break None,
        }
    };
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
    match lost {
        Some(reason) => Err(CliError::failure(format!(
            "{reason}; stopped so that no two daemons fire side by side. Start it again (a service manager does) to run on the home as it is now"
        ))),
        None => Ok(EXIT_OK),
    }
}

/// SIGUSR1: the status verdict, as `cronhost status` would print it, into the log.
fn log_status(home: &cronhost::Home, config: &Config) {
    let report = cronhost::store::Store::open(&home.store_file())
        .map_err(|e| e.to_string())
        .and_then(|store| {
            cronhost::status::gather(home, config, &store).map_err(|e| e.to_string())
        });
    match report {
        Ok(report) => {
            let text = report.render(config.zone(), chrono::Utc::now());
            log::info!("received SIGUSR1; status: {}", text.replace('\n', "; "));
        }
        Err(e) => log::warn!("received SIGUSR1; status unavailable: {e}"),
    }
}
