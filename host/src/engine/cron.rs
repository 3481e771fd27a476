//! The cron engine: due scan over the store, claims, and handing claimed runs to the runner.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use chrono::Utc;
use cronhost_provider_api::panic_message;

use super::{Engine, EngineError, FireOutcome, TickReport};
use crate::run::Runner;
use crate::store::{ClaimOutcome, Claimer, Store};

/// How often completed one-shots are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Settings the engine takes from `[cron]`.
#[derive(Debug, Clone)]
pub struct CronEngineSettings {
    /// `cron.max_parallel_jobs` (0 = no cap).
    pub max_parallel_jobs: u32,
    /// `cron.completed_retention_days`.
    pub completed_retention: Duration,
}

/// The engine over the SQLite store.
pub struct CronEngine {
    store: Arc<Store>,
    runner: Runner,
    claimer: Claimer,
    settings: CronEngineSettings,
    last_prune: Mutex<Option<Instant>>,
    seen_version: Mutex<Option<i64>>,
}

fn store_error(e: crate::store::StoreError) -> EngineError {
    EngineError::Failed(e.to_string())
}

impl CronEngine {
    /// Open the home's store with the settings from `config`.
    pub fn open(
        home: &crate::home::Home,
        config: &crate::config::Config,
    ) -> Result<Self, crate::store::StoreError> {
        let store = Arc::new(Store::open(&home.store_file())?);
        let runner = Runner::new(
            Arc::clone(&store),
            home.output_dir(),
            config.cron.output_retention,
        );
        let settings = CronEngineSettings {
            max_parallel_jobs: config.cron.max_parallel_jobs,
            completed_retention: Duration::from_secs(config.cron.completed_retention_days * 86_400),
        };
        Ok(Self::new(store, runner, settings))
    }

    /// Runs left open by processes that are gone (on this host) become `unknown`; never re-run.
    pub fn settle_orphaned_runs(&self) -> Result<usize, crate::store::StoreError> {
        let this_host = self.claimer.host.clone();
        let settled = self.store.settle_orphaned_runs(
            |host, pid| host != this_host || process_alive(pid),
            Utc::now(),
        )?;
        for run in &settled {
            log::warn!(
                "run {} of job={} was left {} by a process that died; recorded as unknown",
                run.id,
                run.job_id,
                run.status.as_str()
            );
        }
        Ok(settled.len())
    }

    /// An engine claiming as this process on this host.
    pub fn new(store: Arc<Store>, runner: Runner, settings: CronEngineSettings) -> Self {
        Self {
            claimer: Claimer {
                host: host_name(),
                pid: std::process::id(),
                max_parallel: settings.max_parallel_jobs,
            },
            store,
            runner,
            settings,
            last_prune: Mutex::new(None),
            seen_version: Mutex::new(None),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The runner (to wait for runs in `cronhost tick`).
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    fn fire_one(&self, job_id: &str) -> Result<FireOutcome, EngineError> {
        let now = Utc::now();
        Ok(
            match self
                .store
                .claim(job_id, now, &self.claimer)
                .map_err(store_error)?
            {
                ClaimOutcome::Run(claim) => {
                    let late = (now - claim.scheduled_at).num_milliseconds();
                    log::info!(
                        "fire job={} scheduled={} late={late}ms",
                        claim.job.name,
                        claim.scheduled_at
                    );
                    let name = claim.job.name.clone();
                    self.runner
                        .start(claim)
                        .map_err(|message| EngineError::Job { job: name, message })?;
                    FireOutcome::Fired
                }
                ClaimOutcome::Queued(claim) => {
                    log::info!(
                        "queue job={} scheduled={} behind its running run",
                        claim.job.name,
                        claim.scheduled_at
                    );
                    FireOutcome::Fired
                }
                ClaimOutcome::Skipped {
                    job_name,
                    scheduled_at,
                    reason,
                    ..
                } => {
                    let late = (now - scheduled_at).num_milliseconds();
                    log::warn!("skip job={job_name} scheduled={scheduled_at} late={late}ms reason={reason}");
                    FireOutcome::Skipped
                }
                ClaimOutcome::Lost | ClaimOutcome::AtCapacity => FireOutcome::ClaimLost,
                ClaimOutcome::NoSuchJob => FireOutcome::NoSuchJob,
            },
        )
    }

    fn prune_if_due(&self) {
        let mut last = self.last_prune.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|at| at.elapsed() < PRUNE_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        let retention =
            chrono::Duration::from_std(self.settings.completed_retention).unwrap_or_default();
        match self.store.prune_completed(Utc::now() - retention) {
            Ok(0) => {}
            Ok(n) => log::info!("pruned {n} completed job(s)"),
            Err(e) => log::warn!("cannot prune completed jobs: {e}"),
        }
    }
}

impl Engine for CronEngine {
    fn tick(&self) -> Result<TickReport, EngineError> {
        self.prune_if_due();
        let due = self.store.due_job_ids(Utc::now()).map_err(store_error)?;
        let mut report = TickReport::default();
        for job_id in due {
            // One job's error or panic never stops the scan of the others.
            match catch_unwind(AssertUnwindSafe(|| self.fire_one(&job_id))) {
                Ok(Ok(FireOutcome::Fired)) => report.fired += 1,
                Ok(Ok(FireOutcome::Skipped)) => report.skipped += 1,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    log::warn!("job={job_id}: {e}");
                    report.errors += 1;
                }
                Err(payload) => {
                    log::error!(
                        "job={job_id}: evaluating it panicked: {}",
                        panic_message(&*payload)
                    );
                    report.errors += 1;
                }
            }
        }
        Ok(report)
    }

    fn fire_due(&self, job_id: &str) -> Result<FireOutcome, EngineError> {
        let id = match self.store.job(job_id) {
            Ok(job) => job.id,
            Err(crate::store::StoreError::NoSuchJob(_)) => return Ok(FireOutcome::NoSuchJob),
            Err(e) => return Err(store_error(e)),
        };
        self.fire_one(&id)
    }

    fn due_job_ids(&self) -> Result<Vec<String>, EngineError> {
        self.store.due_job_ids(Utc::now()).map_err(store_error)
    }

    fn next_due(&self) -> Option<SystemTime> {
        if self.settings.max_parallel_jobs > 0
            && self.runner.inflight() >= self.settings.max_parallel_jobs as usize
        {
            return None; // wait for a slot: the tick interval paces the retries
        }
        let next = self.store.next_due().ok().flatten()?;
        Some(
            SystemTime::UNIX_EPOCH
                + Duration::from_millis(u64::try_from(next.timestamp_millis()).unwrap_or(0)),
        )
    }

    fn refresh(&self) -> Result<bool, EngineError> {
        let version = self.store.data_version().map_err(store_error)?;
        let mut seen = self.seen_version.lock().unwrap_or_else(|p| p.into_inner());
        let changed = seen.is_some_and(|v| v != version);
        *seen = Some(version);
        Ok(changed)
    }
}

/// Whether a process with this pid exists (ours counts as alive).
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(unix)]
    {
        // SAFETY: signal 0 only checks for existence and permission.
        let result = unsafe { libc::kill(pid as i32, 0) };
        result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    true
}

/// This machine's host name (for run rows and cluster membership).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}
