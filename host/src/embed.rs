//! The host as a library: build one with [`Host::builder`], start and stop it, read its status
//! and manage its jobs, all from inside another Rust application.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::config::{Config, ConfigError};
use crate::home::{Home, HomeError};
use crate::provider::StopFlag;
use crate::status::StatusReport;
use crate::{Daemon, DaemonError};
use cronhost_core::engine::{CronEngine, Engine};
use cronhost_core::store::{Job, JobSpec, Run, StoreError};
use cronhost_core::JobRunner;

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
}

/// Builds a [`Host`]. Only the home is required.
#[derive(Default)]
pub struct HostBuilder {
    home: Option<PathBuf>,
    plugins_dir: Option<PathBuf>,
    config: Option<Config>,
    job_runner: Option<Arc<dyn JobRunner>>,
}

impl HostBuilder {
    /// The home directory (job store, state, output); created 0700 when missing.
    pub fn home(mut self, dir: impl Into<PathBuf>) -> Self {
        self.home = Some(dir.into());
        self
    }

    /// Where provider libraries are found (default: `cron.plugins_dir` of the config).
    pub fn plugins_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.plugins_dir = Some(dir.into());
        self
    }

    /// The configuration (default: the home's `cronhost.toml`, or the defaults without one).
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Run jobs in-process with `runner` instead of as child processes.
    pub fn job_runner(mut self, runner: impl JobRunner) -> Self {
        self.job_runner = Some(Arc::new(runner));
        self
    }

    /// Open the home and its store. Nothing runs until [`Host::start`]. A home that breaks the
    /// home policy (another user could write it) is refused, as by the `cronhost` commands.
    pub fn build(self) -> Result<Host, HostError> {
        let home = Home::open(self.home.ok_or(HostError::NoHome)?)?;
        home.check_policy()?;
        let mut config = match self.config {
            Some(config) => config,
            None => Config::load(&home)?,
        };
        if let Some(dir) = self.plugins_dir {
            config.cron.plugins_dir = dir;
        }
        let mut engine = home.open_engine(config.cron.engine_settings())?;
        if let Some(runner) = self.job_runner {
            engine = engine.with_job_runner(runner);
        }
        if let Err(e) = engine.settle_orphaned_runs() {
            log::warn!("cannot settle runs left by dead processes: {e}");
        }
        Ok(Host {
            home,
            config,
            engine: Arc::new(engine),
            running: Mutex::new(None),
        })
    }
}

/// A started host: the thread that runs the daemon from start to shutdown, and its stop flag.
struct Running {
    stop: StopFlag,
    /// Ends with whether the shutdown finished in time.
    thread: JoinHandle<bool>,
}

/// A cron host inside an application. Several can live in one process, each with its own home.
///
/// ```no_run
/// use cronhost::{Host, JobOutcome, JobRun};
/// use cronhost::store::JobSpec;
///
/// let host = Host::builder()
///     .home("/var/lib/myapp/cron")
///     .job_runner(|run: &JobRun<'_>| {
///         println!("{} due at {}", run.job.name, run.scheduled_at);
///         JobOutcome::Succeeded
///     })
///     .build()?;
/// let mut spec = JobSpec::new("every 5m", ["report"]);
/// spec.name = Some("report".into());
/// host.add_job(&spec)?;
/// host.start()?;
/// // ... the application runs ...
/// host.stop();
/// # Ok::<(), cronhost::HostError>(())
/// ```
pub struct Host {
    home: Home,
    config: Config,
    engine: Arc<CronEngine>,
    running: Mutex<Option<Running>>,
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
    /// `cron.shutdown_timeout_ms` between them. Returns whether everything ended in time
    /// (what did not is abandoned, not joined). Stopping a host that is not running is a no-op.
    pub fn stop(&self) -> bool {
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

    /// Add a job; the running host picks it up at once.
    pub fn add_job(&self, spec: &JobSpec) -> Result<Job, HostError> {
        Ok(self.engine.store().add_job(
            spec,
            &self.config.cron.timezone,
            cronhost_core::clock::now(),
        )?)
    }

    /// Every job.
    pub fn jobs(&self) -> Result<Vec<Job>, HostError> {
        Ok(self.engine.store().jobs()?)
    }

    /// One job, by id or name.
    pub fn job(&self, id_or_name: &str) -> Result<Job, HostError> {
        Ok(self.engine.store().job(id_or_name)?)
    }

    /// Remove a job (its history stays); returns it.
    pub fn remove_job(&self, id_or_name: &str) -> Result<Job, HostError> {
        Ok(self.engine.store().remove_job(id_or_name)?)
    }

    /// The run history, newest first: of one job (id or name) or all, at most `limit` runs.
    pub fn runs(&self, job: Option<&str>, limit: usize) -> Result<Vec<Run>, HostError> {
        let job_id = match job {
            Some(id_or_name) => Some(self.job(id_or_name)?.id),
            None => None,
        };
        Ok(self.engine.store().runs(job_id.as_deref(), limit)?)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.stop();
    }
}
