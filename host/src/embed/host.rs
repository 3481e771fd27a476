//! An embedded host's lifecycle: start, stop, status, and what building or using it can fail
//! with.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::HostBuilder;
use crate::config::{Config, ConfigError};
use crate::home::{Home, HomeError};
use crate::provider::StopFlag;
use crate::status::StatusReport;
use crate::{Daemon, DaemonError};
use cronhost_core::engine::{CronEngine, Engine};
use cronhost_core::store::StoreError;

/// Building, starting or using an embedded host failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The builder was not given a home.
    #[error("no home: call HostBuilder::home(DIR) before build()")]
    NoHome,
    /// The home cannot be used.
    #[error(transparent)]
    Home(#[from] HomeError),
    /// The home's `cronhost.toml` cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The job store failed or refused the input.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The host could not start (another one runs on this home, say).
    #[error(transparent)]
    Start(#[from] DaemonError),
    /// `start` was called on a host that is running.
    #[error("the host is already running")]
    AlreadyRunning,
    /// `schedule` names a job that exists and is not run by that handler.
    #[error(
        "a job named `{name}` exists and is not run by the handler `{name}` ({runs}): `schedule` would replace it; remove it (`cronhost jobs remove {name}`) or pick another name"
    )]
    NotThisHandlersJob {
        /// The name.
        name: String,
        /// What the stored job runs.
        runs: String,
    },
    /// A job could not be run now.
    #[error(transparent)]
    Engine(#[from] cronhost_core::engine::EngineError),
    /// An async handler was registered outside a runtime.
    #[cfg(feature = "tokio")]
    #[error(
        "no tokio runtime here: register async handlers from inside the application's runtime (in `#[tokio::main]`, say)"
    )]
    NoRuntime,
}

/// A started host: the thread that runs the daemon from start to shutdown, and its stop flag.
pub(super) struct Running {
    stop: StopFlag,
    /// Ends with whether the shutdown finished in time.
    thread: JoinHandle<bool>,
}

/// A cron host inside an application. Several can live in one process, each with its own home.
///
/// ```no_run
/// use std::io::Write;
/// use cronhost::{Host, RunContext};
///
/// let host = Host::builder().home("/var/lib/myapp/cron").build()?;
/// // Adds the job, or updates its schedule when the application starts again: it keeps its
/// // id and history.
/// host.schedule("report", "0 9 * * 1-5", |run: &mut RunContext| -> std::io::Result<()> {
///     writeln!(run, "report for {}", run.scheduled_at())?; // `cronhost logs report` shows it
///     Ok(())
/// })?;
/// host.start()?;
/// // ... the application runs ...
/// host.stop();
/// # Ok::<(), cronhost::HostError>(())
/// ```
pub struct Host {
    pub(super) home: Home,
    pub(super) config: Config,
    pub(super) engine: Arc<CronEngine>,
    pub(super) running: Mutex<Option<Running>>,
    /// Held by `start` and `stop` from start to end: a stop under way is waited for, never
    /// taken for done.
    pub(super) lifecycle: Mutex<()>,
}

impl Host {
    /// Start building a host.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// The home.
    pub fn home(&self) -> &Home {
        &self.home
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Take the home's lock, resolve the provider and start firing, on threads of the host's
    /// own; returns at once.
    pub fn start(&self) -> Result<(), HostError> {
        let _one_at_a_time = self.lifecycle.lock().unwrap_or_else(|p| p.into_inner());
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.is_some() {
            return Err(HostError::AlreadyRunning);
        }
        let engine: Arc<dyn Engine> = Arc::clone(&self.engine) as Arc<dyn Engine>;
        let (home, config) = (self.home.clone(), self.config.clone());
        let (started, outcome) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("cronhost-host".into())
            .spawn(move || match Daemon::start(&home, config, engine) {
                Ok(daemon) => {
                    let _ = started.send(Ok(daemon.stop_flag()));
                    // A lost store or lock ends the host (logged as an ERROR by the daemon):
                    // an embedded host must not go on firing from a file nobody else sees.
                    let end = daemon.supervise(|| false);
                    daemon.shutdown() && matches!(end, crate::daemon::SupervisorEnd::Stopped)
                }
                Err(error) => {
                    let _ = started.send(Err(error));
                    true
                }
            })
            .map_err(|e| HostError::Start(DaemonError::Spawn(e)))?;
        let stop = match outcome.recv() {
            Ok(Ok(stop)) => stop,
            Ok(Err(error)) => {
                let _ = thread.join();
                return Err(error.into());
            }
            Err(_) => {
                let _ = thread.join();
                return Err(HostError::Start(DaemonError::Spawn(std::io::Error::other(
                    "the host thread ended before it started",
                ))));
            }
        };
        *running = Some(Running { stop, thread });
        Ok(())
    }

    /// Whether [`Host::start`] was called and [`Host::stop`] was not.
    pub fn is_running(&self) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }

    /// Stop firing: the provider's `stop`, the ticker and running jobs get
    /// `cron.shutdown_timeout_ms` between them. In-process runs have their cancellation tokens
    /// fired at once; one still going at the deadline is recorded as `cancelled` and given up,
    /// never waited for. Returns whether everything ended in time
    /// (what did not is abandoned, not joined). Stopping a host that is not running is a no-op;
    /// a stop called while another is under way (from another thread) returns once that one
    /// has ended.
    pub fn stop(&self) -> bool {
        let _one_at_a_time = self.lifecycle.lock().unwrap_or_else(|p| p.into_inner());
        let Some(Running { stop, thread }) = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return true;
        };
        stop.set();
        thread.join().unwrap_or(false)
    }

    /// Is the host running, alive and ticking? The same report as `cronhost status`.
    pub fn status(&self) -> Result<StatusReport, HostError> {
        Ok(crate::status::gather(
            &self.home,
            &self.config,
            self.engine.store(),
        )?)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop();
    }
}
