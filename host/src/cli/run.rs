//! `cronhost run`: the daemon, until SIGINT or SIGTERM.

use std::sync::Arc;

use cronhost::config::Config;
use cronhost::engine::JobFileEngine;
use cronhost::home::Home;
use cronhost::Daemon;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::{EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

pub fn run(home: &Home) -> i32 {
    let config = match Config::load(home) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("cronhost: {e}");
            return EXIT_USAGE;
        }
    };
    let engine = match JobFileEngine::open(&home.jobs_file(), &home.state_dir().join("output")) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("cronhost: {e}");
            return EXIT_USAGE;
        }
    };
    let mut signals = match Signals::new([SIGINT, SIGTERM]) {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("cronhost: cannot install signal handlers: {e}");
            return EXIT_FAILURE;
        }
    };
    log::info!(
        "cronhost {} starting in {} with {} job(s)",
        env!("CARGO_PKG_VERSION"),
        home.root().display(),
        engine.job_ids().len()
    );
    let daemon = match Daemon::start(home, config, Arc::new(engine)) {
        Ok(daemon) => daemon,
        Err(e) => {
            eprintln!("cronhost: {e}");
            return EXIT_FAILURE;
        }
    };
    let stop = daemon.stop_flag();
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            log::info!("received signal {signal}; stopping");
            stop.set();
        }
    });
    daemon.supervise();
    let clean = daemon.shutdown();
    log::info!(
        "cronhost stopped{}",
        if clean {
            ""
        } else {
            " (ticker thread abandoned)"
        }
    );
    EXIT_OK
}
