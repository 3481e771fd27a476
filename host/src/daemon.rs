//! The running host: take the home's daemon lock, resolve the trigger, start the ticker thread,
//! supervise the provider, shut down within a deadline.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::crash_guard::CrashGuard;
use crate::heartbeat::Heartbeat;
use crate::home::Home;
use crate::lock::{DaemonLock, LockError};
use crate::plugins::{discover, Discovery};
use crate::provider::{
    resolve, spawn_ticker, Core, ProviderHandle, Resolution, StopFlag, Ticker, Trigger,
};
use cronhost_core::engine::Engine;

/// How often the daemon looks for job-set changes made by other processes (a cheap SQLite
/// pragma), so a job added for two seconds from now still fires on time.
const CHANGE_POLL: Duration = Duration::from_millis(200);

/// The host could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DaemonError {
    /// Another daemon runs on this home, or the lock file is unusable.
    #[error(transparent)]
    Lock(#[from] LockError),
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
    maintenance_busy: Arc<AtomicBool>,
    lock: DaemonLock,
    home: Home,
}

/// How often the running daemon checks its home against the home policy again: a state
/// directory or file made writable by others while it runs stops it, as it would stop a start.
/// (The config is checked when it is read: at start and at a reload.)
const POLICY_EVERY: Duration = Duration::from_secs(5);

/// Why [`Daemon::supervise`] returned.
#[derive(Debug)]
#[non_exhaustive]
pub enum SupervisorEnd {
    /// The stop flag was set: shut down.
    Stopped,
    /// The caller's interrupt asked for it (a reload, say); the daemon still runs.
    Interrupted,
    /// The store, its journal or the daemon lock was deleted, moved or replaced under the
    /// daemon, or its home stopped passing the home policy: it must stop firing at once and
    /// exit non-zero, so that the service manager restarts it onto whatever is at the home's
    /// paths now (two daemons must never fire side by side).
    HomeLost(HomeLost),
}

/// What happened to the home under a running daemon.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HomeLost {
    /// The daemon lock was deleted, moved or replaced.
    #[error(transparent)]
    Lock(#[from] crate::lock::LockLost),
    /// The store or its journal was deleted, moved or replaced.
    #[error(transparent)]
    Store(#[from] cronhost_core::store::StoreLost),
    /// The home no longer passes the home policy.
    #[error(transparent)]
    Policy(#[from] crate::home::HomeError),
}

impl Daemon {
    /// Take the home's daemon lock, discover providers, resolve `cron.provider` and start the
    /// ticker thread.
    pub fn start(
        home: &Home,
        config: Config,
        engine: Arc<dyn Engine>,
    ) -> Result<Self, DaemonError> {
        let lock = DaemonLock::acquire(&home.state_dir())?;
        Self::start_locked(home, config, engine, lock)
    }

    /// Stop the trigger (the provider and the ticker thread; running jobs go on), then start
    /// it again under `config`, holding the same lock: `SIGHUP`'s reload. `cron.provider`,
    /// `fallback`, the intervals and deadlines, `[providers.*]` and `[metrics]` take effect;
    /// the engine keeps the settings it was opened with (`max_parallel_jobs`, `run_retention`,
    /// `run_retention_days`, `completed_retention_days`) until a restart.
    pub fn reload(self, home: &Home, config: Config) -> Result<Self, DaemonError> {
        let engine = Arc::clone(&self.core.engine);
        let deadline = Instant::now() + Duration::from_millis(self.config.cron.shutdown_timeout_ms);
        let (clean, lock) = self.stop_trigger(deadline);
        if !clean {
            log::warn!("reload: the previous trigger did not stop in time; abandoned");
        }
        Self::start_locked(home, config, engine, lock)
    }

    fn start_locked(
        home: &Home,
        config: Config,
        engine: Arc<dyn Engine>,
        lock: DaemonLock,
    ) -> Result<Self, DaemonError> {
        let crash_guard = CrashGuard::new(&home.state_dir());
        crash_guard.settle_previous();
        let discovery = discover(&config.plugins_dir(home), &config.discover_options(home));
        log::info!(
            "plugins in {}: {} provider(s), {} rejected; {} file(s) probed in a sandboxed child, the rest known from the probe cache",
            discovery.dir.display(),
            discovery.providers.len(),
            discovery.rejected.len(),
            discovery.probed
        );
        let resolution = resolve(&config, &discovery, Some(&crash_guard));
        let heartbeat = Heartbeat::new(&home.state_dir());
        heartbeat.reset();
        let core = Arc::new(Core { engine, heartbeat });
        // Remember the store's version now, so only later changes count as changes.
        let _ = core.engine.refresh();
        let stop = StopFlag::new();
        if let Some(listen) = &config.metrics.listen {
            match core.engine.metrics() {
                Some(metrics) => {
                    match crate::metrics::serve(listen, metrics, Arc::clone(&core), stop.clone()) {
                        Ok(address) => log::info!("metrics at http://{address}/metrics"),
                        // Jobs matter more than metrics: fire on, and say so loudly.
                        Err(e) => {
                            log::error!(
                                "cannot serve metrics on {listen}: {e}; jobs fire regardless"
                            )
                        }
                    }
                }
                None => log::warn!("[metrics] listen is set, but this engine counts nothing"),
            }
        }
        let config_json = config.provider_section_json(resolution.trigger.name());
        let ticker = spawn_ticker(
            Arc::clone(&core),
            resolution.trigger.clone(),
            config_json,
            stop.clone(),
            config.tick_interval(),
            config.cron.fallback,
        )?;
        Ok(Self {
            config,
            core,
            discovery,
            resolution,
            stop,
            ticker,
            maintenance_busy: Arc::new(AtomicBool::new(false)),
            lock,
            home: home.clone(),
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

    /// A handle that stops the host when set (and wakes the ticker when nudged).
    pub fn stop_flag(&self) -> StopFlag {
        self.stop.clone()
    }

    /// Run the host's housekeeping on the calling thread until the stop flag is set: when the
    /// job set changes (another process wrote the store) wake the ticker and
    /// tell the provider; ask the provider to reconcile periodically; let the engine prune
    /// its history (off the ticker's path, a bounded stretch per round). Provider calls run on a
    /// worker thread, one at a time, so a provider that hangs in them cannot hold up shutdown.
    ///
    /// Every round it also checks that the store and the daemon lock are still the files it
    /// opened, and every few seconds that the home still passes the home policy; when not, it
    /// returns [`SupervisorEnd::HomeLost`] (logged as an ERROR). It
    /// returns [`SupervisorEnd::Interrupted`] as soon as `interrupt` returns true.
    pub fn supervise(&self, interrupt: impl Fn() -> bool) -> SupervisorEnd {
        let reconcile_every = Duration::from_secs(self.config.cron.reconcile_interval_secs.max(1));
        let mut next_reconcile = Instant::now() + reconcile_every;
        let policy_check = cronhost_core::clock::Every::starting_after(POLICY_EVERY);
        loop {
            if self.stop.wait(CHANGE_POLL) {
                return SupervisorEnd::Stopped;
            }
            if interrupt() {
                return SupervisorEnd::Interrupted;
            }
            let lost: Option<HomeLost> = self
                .lock
                .check_still_held()
                .err()
                .map(HomeLost::from)
                .or_else(|| match self.core.engine.check_store() {
                    Err(e @ cronhost_core::store::StoreLost::Unusable { .. }) => {
                        // Still ours, but broken: the ticks fail and say why; keep watching.
                        log::debug!("{e}");
                        None
                    }
                    Err(e) => Some(e.into()),
                    Ok(()) => None,
                })
                .or_else(|| {
                    policy_check
                        .due()
                        .then(|| self.home.check_state_policy().err())
                        .flatten()
                        .map(HomeLost::from)
                });
            if let Some(reason) = lost {
                log::error!("{reason}; this daemon stops firing and exits so that it can be restarted onto the home as it is now");
                self.stop.set();
                return SupervisorEnd::HomeLost(reason);
            }
            self.core.engine.housekeep();
            let changed = match self.core.engine.refresh() {
                Ok(changed) => changed,
                Err(e) => {
                    log::warn!("cannot check the job set for changes: {e}");
                    false
                }
            };
            if changed {
                self.stop.nudge(); // the ticker recomputes its next wake-up
            }
            let Trigger::Provider(provider) = &self.resolution.trigger else {
                continue;
            };
            if changed {
                self.call_in_background(provider, "on_jobs_changed", |p| p.on_jobs_changed());
            }
            if Instant::now() >= next_reconcile {
                self.call_in_background(provider, "reconcile", |p| p.reconcile());
                next_reconcile = Instant::now() + reconcile_every;
            }
        }
    }

    fn call_in_background(
        &self,
        provider: &Arc<ProviderHandle>,
        what: &'static str,
        call: impl FnOnce(&ProviderHandle) -> Result<(), crate::provider::ProviderCallError>
            + Send
            + 'static,
    ) {
        if self.maintenance_busy.swap(true, Ordering::SeqCst) {
            log::warn!(
                "provider `{}`: skipping {what}: its previous call has not returned",
                provider.name()
            );
            return;
        }
        let provider = Arc::clone(provider);
        let busy = Arc::clone(&self.maintenance_busy);
        let spawned = std::thread::Builder::new()
            .name(format!("provider-{what}"))
            .spawn(move || {
                let _ = call(&provider); // failures are logged by the guard
                busy.store(false, Ordering::SeqCst);
            });
        if spawned.is_err() {
            self.maintenance_busy.store(false, Ordering::SeqCst);
        }
    }

    /// Stop: set the stop flag, call the provider's `stop`, and wait for the ticker thread; the
    /// whole sequence is bounded by `cron.shutdown_timeout_ms`. Returns whether everything
    /// finished in time (a thread that did not is abandoned, not joined).
    pub fn shutdown(self) -> bool {
        let deadline = Instant::now() + Duration::from_millis(self.config.cron.shutdown_timeout_ms);
        let engine = Arc::clone(&self.core.engine);
        let (mut clean, lock) = self.stop_trigger(deadline);
        if !engine.shutdown(deadline) {
            clean = false;
        }
        drop(lock);
        clean
    }

    /// Set the stop flag, call the provider's `stop` and wait for the ticker thread, by
    /// `deadline`; the jobs that run are left alone. Hands back the lock.
    fn stop_trigger(self, deadline: Instant) -> (bool, DaemonLock) {
        self.stop.set();
        let mut clean = true;
        if let Trigger::Provider(provider) = &self.resolution.trigger {
            let provider = Arc::clone(provider);
            let (done, finished) = std::sync::mpsc::channel();
            let _ = std::thread::Builder::new()
                .name("provider-stop".into())
                .spawn(move || {
                    let _ = provider.stop();
                    let _ = done.send(());
                });
            if finished
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .is_err()
            {
                log::error!(
                    "provider `{}` stop did not return in time; abandoning it",
                    self.resolution.trigger.name()
                );
                clean = false;
            }
        }
        if !self
            .ticker
            .join_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            log::error!("the ticker thread did not stop in time; abandoning it");
            clean = false;
        }
        // An isolated provider's process goes with the host, whatever its threads are doing.
        if let Trigger::Provider(provider) = &self.resolution.trigger {
            if provider.is_isolated() {
                provider.abandon("the host stopped".into());
            }
        }
        // A stop that got this far is clean as far as the crash guard is concerned: the
        // provider did not take the host down.
        if let Some(armed) = &self.resolution.armed {
            armed.disarm();
        }
        (clean, self.lock)
    }
}
