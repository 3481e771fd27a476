//! The running host: resolve the trigger, start the ticker thread, supervise, shut down.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::engine::Engine;
use crate::heartbeat::Heartbeat;
use crate::home::Home;
use crate::plugins::{discover, Discovery};
use crate::provider::{resolve, spawn_ticker, Core, Resolution, StopFlag, Ticker, Trigger};

/// The host could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The ticker thread could not be spawned.
    #[error("cannot start the ticker thread: {0}")]
    Spawn(#[from] std::io::Error),
}

/// A running host: the ticker thread drives the engine through the resolved trigger.
pub struct Daemon {
    config: Config,
    core: Arc<Core>,
    discovery: Discovery,
    resolution: Resolution,
    stop: StopFlag,
    ticker: Ticker,
}

impl Daemon {
    /// Discover providers, resolve `cron.provider` and start the ticker thread.
    pub fn start(
        home: &Home,
        config: Config,
        engine: Arc<dyn Engine>,
    ) -> Result<Self, DaemonError> {
        let discovery = discover(&config.plugins_dir(home));
        let resolution = resolve(&config, &discovery);
        let core = Arc::new(Core {
            engine,
            heartbeat: Heartbeat::new(&home.state_dir()),
        });
        let stop = StopFlag::new();
        let config_json = config.provider_section_json(resolution.trigger.name());
        let ticker = spawn_ticker(
            Arc::clone(&core),
            resolution.trigger.clone(),
            config_json,
            stop.clone(),
            config.tick_interval(),
        )?;
        Ok(Self {
            config,
            core,
            discovery,
            resolution,
            stop,
            ticker,
        })
    }

    /// What the config asked for and what was chosen.
    pub fn resolution(&self) -> &Resolution {
        &self.resolution
    }

    /// The plugins that were found and rejected.
    pub fn discovery(&self) -> &Discovery {
        &self.discovery
    }

    /// The shared engine and heartbeat.
    pub fn core(&self) -> &Arc<Core> {
        &self.core
    }

    /// A handle that stops the host when set (from a signal handler, say).
    pub fn stop_flag(&self) -> StopFlag {
        self.stop.clone()
    }

    /// Run the host's housekeeping on the calling thread until the stop flag is set: tell the
    /// provider when the job set changes and ask it to reconcile periodically. Every provider
    /// call is guarded; a failure is logged and the loop goes on.
    pub fn supervise(&self) {
        let reconcile_every = Duration::from_secs(self.config.cron.reconcile_interval_secs.max(1));
        let mut next_reconcile = Instant::now() + reconcile_every;
        while !self.stop.wait(Duration::from_secs(1)) {
            let changed = match self.core.engine.refresh() {
                Ok(changed) => changed,
                Err(e) => {
                    log::warn!("{e}; keeping the previous job set");
                    false
                }
            };
            let Trigger::Provider(provider) = &self.resolution.trigger else {
                continue;
            };
            if changed {
                let _ = provider.on_jobs_changed();
            }
            if Instant::now() >= next_reconcile {
                let _ = provider.reconcile();
                next_reconcile = Instant::now() + reconcile_every;
            }
        }
    }

    /// Stop: set the stop flag, call the provider's `stop`, and wait for the ticker thread up
    /// to `cron.shutdown_timeout_ms`. Returns whether the thread finished in time (one that did
    /// not is abandoned).
    pub fn shutdown(self) -> bool {
        self.stop.set();
        if let Trigger::Provider(provider) = &self.resolution.trigger {
            let _ = provider.stop();
        }
        let timeout = Duration::from_millis(self.config.cron.shutdown_timeout_ms);
        let finished = self.ticker.join_timeout(timeout);
        if !finished {
            log::error!(
                "the ticker thread did not stop within {}ms; abandoning it",
                timeout.as_millis()
            );
        }
        finished
    }
}
