//! A test harness for provider authors: load a built provider library into a real host (a
//! throwaway home with a real job store and engine) in the test's own process, and drive it.
//!
//! ```no_run
//! use std::time::Duration;
//! use cronhost::testing::ProviderTestHost;
//!
//! // `cargo build` the provider first: `cargo test` does not build a cdylib.
//! let host = ProviderTestHost::load("target/debug/libmy_provider.so", "my-provider", "{}")?;
//! assert_eq!(host.provider().is_available(), Ok(true));
//! host.add_job("* * * * * *", "true")?;
//! host.start();
//! let runs = host.wait_for_runs(2, Duration::from_secs(10))?;
//! assert!(runs.iter().all(|run| run.status == cronhost::store::RunStatus::Succeeded));
//! assert_eq!(host.stop(), Ok(()));
//! # Ok::<(), String>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cronhost_provider_api::StartOptions;

use crate::config::Config;
use crate::heartbeat::Heartbeat;
use crate::home::Home;
use crate::plugins::{load_in_process, VetPolicy};
use crate::provider::{Core, ProviderCallError, ProviderHandle, Services, StopFlag};
use cronhost_core::engine::{CronEngine, Engine};
use cronhost_core::store::{Job, JobSpec, Run, RunStatus};

/// A provider loaded into a throwaway host, with the services a host hands it.
pub struct ProviderTestHost {
    _dir: tempfile::TempDir,
    engine: Arc<CronEngine>,
    provider: ProviderHandle,
    services: Services,
    stop: StopFlag,
    started: Mutex<Option<JoinHandle<Result<(), ProviderCallError>>>>,
}

impl ProviderTestHost {
    /// Copy `library` into a fresh plugins dir, vet and load it as the host does, and construct
    /// provider `name` from `config_json` (its `[providers.NAME]` section as JSON). The error
    /// says why the file was refused or the constructor failed.
    pub fn load(library: impl AsRef<Path>, name: &str, config_json: &str) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary home: {e}"))?;
        let home = Home::open(dir.path().join("home")).map_err(|e| e.to_string())?;
        let plugins: PathBuf = home.root().join("plugins.d");
        cronhost_core::fs::create_private_dir(&plugins).map_err(|e| e.to_string())?;
        let library = library.as_ref();
        let file_name = library
            .file_name()
            .ok_or("the library path has no file name")?;
        let installed = plugins.join(file_name);
        std::fs::copy(library, &installed)
            .map_err(|e| format!("cannot copy {}: {e}", library.display()))?;
        // The provider under test is loaded into the test's own process (no probe): a crash
        // in it should fail the test loudly.
        let offered = load_in_process(&plugins, &installed, &VetPolicy::default())
            .map_err(|e| format!("{}: {e}", installed.display()))?;
        let discovered = offered.iter().find(|p| p.name() == name).ok_or_else(|| {
            let names: Vec<&str> = offered.iter().map(|p| p.name()).collect();
            format!("no provider `{name}` (offered: {names:?})")
        })?;
        let provider =
            ProviderHandle::construct(discovered, config_json).map_err(|e| e.to_string())?;
        let engine = Arc::new(
            home.open_engine(Config::default().cron.engine_settings())
                .map_err(|e| e.to_string())?,
        );
        let core = Arc::new(Core {
            engine: Arc::clone(&engine) as Arc<dyn Engine>,
            heartbeat: Heartbeat::new(&home.state_dir()),
        });
        let services = Services::new(core, name, config_json);
        Ok(Self {
            _dir: dir,
            engine,
            provider,
            services,
            stop: StopFlag::new(),
            started: Mutex::new(None),
        })
    }

    /// The provider, every call guarded as in the host.
    pub fn provider(&self) -> &ProviderHandle {
        &self.provider
    }

    /// The host services as the provider gets them (for calling `fire_due` and the like).
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Add a job running `command` (through `sh -c`) on `schedule`. As the daemon does when
    /// the job set changes, the stop signal handed to `start` is nudged: a provider waiting
    /// for the next due instant looks again.
    pub fn add_job(&self, schedule: &str, command: &str) -> Result<Job, String> {
        let mut spec = JobSpec::new(schedule, [command]);
        spec.shell = true;
        let job = self
            .engine
            .store()
            .add_job(&spec, "UTC", cronhost_core::clock::now())
            .map_err(|e| e.to_string())?;
        self.stop.nudge();
        Ok(job)
    }

    /// Call the provider's `start` on a thread of its own (it may block like a ticker).
    pub fn start(&self) {
        let (provider, services, stop) = (
            self.provider.clone(),
            self.services.clone(),
            self.stop.clone(),
        );
        let options = StartOptions {
            tick_interval_ms: 1000,
        };
        let thread = std::thread::spawn(move || provider.start(&services, &stop, options));
        *self.started.lock().unwrap_or_else(|p| p.into_inner()) = Some(thread);
    }

    /// Wait until at least `count` runs have finished (any job; skipped occurrences do not
    /// count), or fail after `timeout`.
    pub fn wait_for_runs(&self, count: usize, timeout: Duration) -> Result<Vec<Run>, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let runs: Vec<Run> = self
                .engine
                .store()
                .runs(None, usize::MAX >> 1)
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|run| run.finished_at.is_some() && run.status != RunStatus::Skipped)
                .collect();
            if runs.len() >= count {
                return Ok(runs);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} of {count} runs finished within {timeout:?}",
                    runs.len()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Set the stop signal, wait for `start` to return (its result), then call `stop`.
    pub fn stop(&self) -> Result<(), ProviderCallError> {
        self.stop.set();
        let started = self
            .started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(thread) = started {
            match thread.join() {
                Ok(result) => result?,
                Err(_) => {
                    return Err(ProviderCallError::Panicked {
                        provider: self.provider.name().to_owned(),
                        call: "start",
                        message: "the start thread panicked".into(),
                    })
                }
            }
        }
        self.engine.runner().wait_idle(Duration::from_secs(10));
        self.provider.stop()
    }
}

impl Drop for ProviderTestHost {
    /// The provider's `start` thread is told to stop before the throwaway home goes away.
    fn drop(&mut self) {
        self.stop.set();
    }
}
