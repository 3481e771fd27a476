//! The cron engine: due scan over the store, claims, and handing claimed runs to the runner.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};

use super::{Engine, EngineError, FireOutcome, TickReport};
use crate::run::Runner;
use crate::store::{ClaimOutcome, Claimer, Store, StoreError};
use crate::text::panic_message;

use super::processes::{self, group_alive, owner_alive};
use super::together;

/// How often the ticks look for runs whose owner and command are both gone (an orphaned
/// command that outlived a killed daemon holds its job's overlap slot until then).
const SETTLE_EVERY: Duration = Duration::from_secs(5);

/// How the engine runs jobs and keeps their history (the host fills it from `[cron]`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CronEngineSettings {
    /// Most runs at once across the job set (0 = no cap).
    pub max_parallel_jobs: u32,
    /// How long a one-shot job that has run out of repeats is kept.
    pub completed_retention: Duration,
    /// Runs kept per job, the newest (0: no count limit), unless the job has its own; their
    /// output files go with them.
    pub run_retention: u32,
    /// Days of runs kept per job, by scheduled instant (0: no age limit), unless the job has
    /// its own.
    pub run_retention_days: u32,
    /// Where the commands' output goes and how much of a run's is kept.
    pub output: crate::run::OutputSettings,
}

impl Default for CronEngineSettings {
    /// No cap on parallel runs, completed one-shots kept 7 days, the newest 1,000 runs of
    /// each job kept, none older than 90 days, output kept in files only, 10 MiB per run.
    fn default() -> Self {
        Self {
            max_parallel_jobs: 0,
            completed_retention: Duration::from_secs(7 * 86_400),
            run_retention: 1000,
            run_retention_days: 90,
            output: crate::run::OutputSettings::default(),
        }
    }
}

/// The engine over the SQLite store.
pub struct CronEngine {
    store: Arc<Store>,
    runner: Runner,
    claimer: Claimer,
    settings: CronEngineSettings,
    output_dir: std::path::PathBuf,
    housekeeping: super::housekeeping::Housekeeping,
    settle: crate::clock::Every,
    seen_version: Mutex<Option<(i64, u64)>>,
}

impl CronEngine {
    /// Open the store at `store_file`, keeping job output under `output_dir`.
    ///
    /// ```no_run
    /// use cronhost_core::engine::{CronEngine, CronEngineSettings};
    ///
    /// let engine = CronEngine::open(
    ///     "/var/lib/cronhost/cron/cronhost.db".as_ref(),
    ///     "/var/lib/cronhost/cron/output".as_ref(),
    ///     CronEngineSettings::default(),
    /// )?;
    /// # Ok::<(), cronhost_core::store::StoreError>(())
    /// ```
    pub fn open(
        store_file: &std::path::Path,
        output_dir: &std::path::Path,
        settings: CronEngineSettings,
    ) -> Result<Self, crate::store::StoreError> {
        let store = Arc::new(Store::open(store_file)?);
        let runner = Runner::new(Arc::clone(&store), output_dir.to_path_buf())
            .with_output(settings.output.clone());
        Ok(Self::new(store, runner, settings))
    }

    /// Runs left open by processes that are gone (on this host) become `unknown`; never re-run.
    /// A pid that now belongs to a process started after the claim (pid reuse, a restarted
    /// container's pid 1) counts as gone. A run whose owner died but whose command still runs
    /// (the daemon was `kill -9`ed, its job lives on) stays open until the command's process
    /// group is gone: it still holds its overlap slot, so no second copy starts beside it.
    pub fn settle_orphaned_runs(&self) -> Result<usize, crate::store::StoreError> {
        let this_host = self.claimer.host.clone();
        // Read once, and only when a run's start was never stored.
        let run_groups = std::cell::OnceCell::new();
        let settled = self.store.settle_orphaned_runs(
            |run| {
                run.host != this_host
                    || owner_alive(run.pid, run.claimed_at)
                    || match run.child_pid {
                        Some(group) => {
                            group != run.pid
                                && group_alive(group, run.started_at.unwrap_or(run.claimed_at))
                        }
                        // Its command may have started in the moment before its start was
                        // to be stored: it carries the run's id.
                        None => run_groups
                            .get_or_init(processes::run_groups)
                            .get(&run.id)
                            .is_some_and(|group| *group != run.pid),
                    }
            },
            crate::clock::now(),
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

    /// An engine claiming as this process on this host, over `runner`'s output directory.
    pub fn new(store: Arc<Store>, runner: Runner, settings: CronEngineSettings) -> Self {
        let claimer = Claimer {
            host: host_name(),
            pid: std::process::id(),
            max_parallel: settings.max_parallel_jobs,
        };
        Self {
            output_dir: runner.output_dir().to_path_buf(),
            runner: runner.owned_by(claimer.host.clone(), claimer.pid),
            claimer,
            store,
            settings,
            housekeeping: super::housekeeping::Housekeeping::new(),
            settle: crate::clock::Every::starting_after(SETTLE_EVERY),
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

    /// Claim `items` in one transaction (`claim`, at one instant), then start or record what
    /// each claim decided; one item's error or panic is logged and returned in its place, and
    /// never stops the others (a panic while claiming is its item's error already:
    /// [`Store::claim_each`]).
    fn fire_chunk<K>(
        &self,
        items: &[K],
        job_of: impl Fn(&K) -> &str,
        claim: impl FnOnce(&[K], DateTime<Utc>) -> Vec<Result<ClaimOutcome, StoreError>>,
    ) -> Vec<Result<FireOutcome, EngineError>> {
        let now = crate::clock::now();
        let claims = claim(items, now);
        items
            .iter()
            .zip(claims)
            .map(|(item, claim)| self.guarded(job_of(item), || self.act_on(claim?, now)))
            .collect()
    }

    /// Run `fire` for `job_id`; its error or panic is logged and returned, and never stops
    /// the others.
    fn guarded(
        &self,
        job_id: &str,
        fire: impl FnOnce() -> Result<FireOutcome, EngineError>,
    ) -> Result<FireOutcome, EngineError> {
        match catch_unwind(AssertUnwindSafe(fire)) {
            Ok(Ok(outcome)) => Ok(outcome),
            // Recorded on its run as failed, and logged there: once is enough.
            Ok(Err(e @ EngineError::Job { .. })) => Err(e),
            Ok(Err(e)) => {
                log::warn!("job={job_id}: {e}");
                Err(e)
            }
            Err(payload) => {
                let message = format!("evaluating it panicked: {}", panic_message(&*payload));
                log::error!("job={job_id}: {message}");
                Err(EngineError::Failed(message))
            }
        }
    }

    /// Tell the run-event subscribers that an occurrence was skipped.
    fn tell_skipped(
        &self,
        job_id: &str,
        job_name: &str,
        scheduled_at: chrono::DateTime<Utc>,
        reason: &crate::store::RunReason,
    ) {
        self.runner
            .events()
            .emit(|| crate::events::RunEvent::Skipped {
                job_id: job_id.to_owned(),
                job_name: job_name.to_owned(),
                scheduled_at,
                reason: reason.clone(),
            });
    }

    fn fire_one(&self, job_id: &str) -> Result<FireOutcome, EngineError> {
        let now = crate::clock::now();
        let outcome = self.store.claim(job_id, now, &self.claimer)?;
        self.act_on(outcome, now)
    }

    /// Start, log or report what a claim decided.
    fn act_on(
        &self,
        outcome: ClaimOutcome,
        now: chrono::DateTime<Utc>,
    ) -> Result<FireOutcome, EngineError> {
        Ok(match outcome {
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
                    .map_err(|source| EngineError::Job { job: name, source })?;
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
                job_id,
                job_name,
                scheduled_at,
                reason,
            } => {
                self.tell_skipped(&job_id, &job_name, scheduled_at, &reason);
                let late = (now - scheduled_at).num_milliseconds();
                self.runner.metrics().skipped(&reason);
                log::warn!(
                    "skip job={job_name} scheduled={scheduled_at} late={late}ms reason={reason}"
                );
                FireOutcome::Skipped
            }
            ClaimOutcome::Lost | ClaimOutcome::AtCapacity => FireOutcome::ClaimLost,
            ClaimOutcome::NoSuchJob => FireOutcome::NoSuchJob,
        })
    }

    /// Run a job now, outside its schedule (`jobs run`): a manual occurrence that leaves the
    /// schedule and the repeat count alone. Returns the run id.
    pub fn run_now(&self, id_or_name: &str) -> Result<String, EngineError> {
        match self
            .store
            .claim_manual(id_or_name, crate::clock::now(), &self.claimer)?
        {
            ClaimOutcome::Run(claim) => {
                log::info!(
                    "fire job={} scheduled={} (manual)",
                    claim.job.name,
                    claim.scheduled_at
                );
                let (run_id, name) = (claim.run_id.clone(), claim.job.name.clone());
                self.runner
                    .start(claim)
                    .map_err(|source| EngineError::Job { job: name, source })?;
                Ok(run_id)
            }
            _ => Err(EngineError::Failed(
                "another manual run of this job started this very millisecond".into(),
            )),
        }
    }

    fn settle_if_due(&self) {
        if !self.settle.due() {
            return;
        }
        if let Err(e) = self.settle_orphaned_runs() {
            log::warn!("cannot settle runs left by dead processes: {e}");
        }
    }

    /// Prune completed one-shots and run history (with the runs' output files) when a pass is
    /// due or one is under way; a bounded stretch of work per call (see
    /// [`housekeeping`](super::housekeeping)). Off the fire path: the daemon calls it from
    /// its supervising thread, `cronhost tick` after its fires.
    fn prune_if_due(&self) {
        self.housekeeping
            .run(&self.store, &self.output_dir, &self.settings);
    }
}

impl Engine for CronEngine {
    fn metrics(&self) -> Option<Arc<crate::metrics::Metrics>> {
        Some(Arc::clone(self.runner.metrics()))
    }

    fn tick(&self) -> Result<TickReport, EngineError> {
        // Outcomes the store refused earlier go first; while any cannot land, the tick fails
        // (the heartbeat and `status` say why), though due jobs are still tried.
        // A store that was moved, replaced or broken under us fails the tick (the heartbeat
        // stops reporting success) before anything is claimed in it.
        self.store.check_identity()?;
        let unrecorded = self.runner.retry_unrecorded();
        self.runner.flush_records();
        self.settle_if_due();
        self.runner.start_ready_queued();
        let due = self
            .store
            .due_job_ids(crate::clock::now())
            .map_err(EngineError::from)?;
        let outcomes = together::fire_together(&due, &self.runner, |job_ids| {
            self.fire_chunk(job_ids, String::as_str, |job_ids, now| {
                self.store.claim_each(job_ids, now, &self.claimer)
            })
        });
        let mut report = TickReport::default();
        for outcome in outcomes {
            match outcome {
                Ok(FireOutcome::Fired) => report.fired += 1,
                Ok(FireOutcome::Skipped) => report.skipped += 1,
                Ok(_) => {}
                Err(_) => report.errors += 1,
            }
        }
        unrecorded?;
        Ok(report)
    }

    fn fire_due(&self, job_id: &str) -> Result<FireOutcome, EngineError> {
        let id = match self.store.job(job_id) {
            Ok(job) => job.id,
            Err(crate::store::StoreError::NoSuchJob(_)) => return Ok(FireOutcome::NoSuchJob),
            Err(e) => return Err(e.into()),
        };
        self.fire_one(&id)
    }

    fn due_occurrences(&self) -> Result<Vec<(String, chrono::DateTime<Utc>)>, EngineError> {
        self.store
            .due_occurrences(crate::clock::now())
            .map_err(EngineError::from)
    }

    fn fire_occurrence(
        &self,
        job_id: &str,
        scheduled_at: chrono::DateTime<Utc>,
    ) -> Result<FireOutcome, EngineError> {
        let mut outcomes = self.fire_occurrences(&[(job_id.to_owned(), scheduled_at)]);
        outcomes.pop().expect("one outcome per occurrence")
    }

    fn fire_occurrences(
        &self,
        occurrences: &[(String, chrono::DateTime<Utc>)],
    ) -> Vec<Result<FireOutcome, EngineError>> {
        together::fire_together(occurrences, &self.runner, |chunk| {
            self.fire_chunk(
                chunk,
                |(job_id, _)| job_id.as_str(),
                |chunk, now| self.store.claim_occurrences(chunk, now, &self.claimer),
            )
        })
    }

    fn skip_occurrence(
        &self,
        job_id: &str,
        scheduled_at: chrono::DateTime<Utc>,
        reason: crate::store::RunReason,
    ) -> Result<FireOutcome, EngineError> {
        let now = crate::clock::now();
        let outcome =
            self.store
                .skip_occurrence(job_id, scheduled_at, reason, now, &self.claimer)?;
        match &outcome {
            // Another host ran it: an ordinary event, not a warning.
            ClaimOutcome::Skipped {
                job_id,
                job_name,
                scheduled_at,
                reason,
            } => {
                self.tell_skipped(job_id, job_name, *scheduled_at, reason);
                Ok(FireOutcome::Skipped)
            }
            _ => self.act_on(outcome, now),
        }
    }

    fn run_report(
        &self,
        job_id: &str,
        scheduled_at: chrono::DateTime<Utc>,
    ) -> Result<Option<crate::store::Run>, EngineError> {
        self.store
            .run(&crate::store::run_id(job_id, scheduled_at))
            .map_err(EngineError::from)
    }

    fn due_job_ids(&self) -> Result<Vec<String>, EngineError> {
        self.store
            .due_job_ids(crate::clock::now())
            .map_err(EngineError::from)
    }

    fn next_due(&self) -> Option<SystemTime> {
        if self.settings.max_parallel_jobs > 0
            && self.runner.inflight() >= self.settings.max_parallel_jobs as usize
        {
            return None; // wait for a slot: the tick interval paces the retries
        }
        let next = self.store.next_due(crate::clock::now()).ok().flatten()?;
        Some(
            SystemTime::UNIX_EPOCH
                + Duration::from_millis(u64::try_from(next.timestamp_millis()).unwrap_or(0)),
        )
    }

    fn shutdown(&self, deadline: Instant) -> bool {
        let clean = self.runner.stop_all(deadline);
        // Outcomes still unrecorded get until the deadline; then the next start settles them.
        match self.runner.retry_unrecorded_until(deadline) {
            Ok(()) => clean,
            Err(e) => {
                log::error!("{e}; the next cronhost command records these runs as unknown");
                false
            }
        }
    }

    fn housekeep(&self) {
        self.prune_if_due();
    }

    fn check_store(&self) -> Result<(), crate::store::StoreLost> {
        // The read through a fresh connection happens here, on the supervising thread; the
        // ticks only see its verdict.
        let _ = self.store.check_readable();
        self.store.check_identity()
    }

    fn refresh(&self) -> Result<bool, EngineError> {
        let version = self.store.change_marker()?;
        let mut seen = self.seen_version.lock().unwrap_or_else(|p| p.into_inner());
        let changed = seen.is_some_and(|v| v != version);
        *seen = Some(version);
        Ok(changed)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{JobSpec, RunStatus};

    fn spec(schedule: &str, name: &str, command: &[&str]) -> JobSpec {
        JobSpec {
            name: Some(name.into()),
            ..JobSpec::new(schedule, command.iter().copied())
        }
    }

    fn engine(dir: &std::path::Path) -> CronEngine {
        let store = Arc::new(Store::open(&dir.join("cronhost.db")).unwrap());
        let runner = Runner::new(Arc::clone(&store), dir.join("output"));
        CronEngine::new(store, runner, CronEngineSettings::default())
    }

    #[test]
    fn the_owner_check_tells_a_live_claimer_from_a_reused_pid() {
        let me = std::process::id();
        assert!(
            owner_alive(me, crate::clock::now()),
            "we claimed it just now"
        );
        let before_we_started = crate::clock::now() - chrono::Duration::days(365 * 30);
        assert!(
            !owner_alive(me, before_we_started),
            "our pid, but we did not exist then"
        );
        assert!(
            !owner_alive(u32::MAX / 2, crate::clock::now()),
            "no such process"
        );
    }

    #[test]
    fn a_broken_job_never_stops_the_scan_of_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let past = crate::clock::now() - chrono::Duration::seconds(10);
        engine
            .store
            .add_job(&spec("every 1s", "broken", &["true"]), "UTC", past)
            .unwrap();
        engine
            .store
            .add_job(&spec("every 1s", "healthy", &["true"]), "UTC", past)
            .unwrap();
        // Corrupt the first job's stored schedule behind the store's back.
        let conn = rusqlite::Connection::open(dir.path().join("cronhost.db")).unwrap();
        conn.execute(
            "UPDATE jobs SET schedule = 'cron:not a schedule' WHERE name = 'broken'",
            [],
        )
        .unwrap();
        // The broken one is paused, saying why, rather than failing every tick.
        let report = engine.tick().unwrap();
        assert_eq!((report.fired, report.errors), (1, 0), "{report:?}");
        assert!(engine.runner().wait_idle(Duration::from_secs(30)));
        let runs = engine.store.runs(Some("healthy"), 10).unwrap();
        assert_eq!(runs[0].status, RunStatus::Succeeded);
        let broken = engine.store.job("broken").unwrap();
        assert!(broken.paused_at.is_some());
        assert!(broken.pause_reason.unwrap().contains("cannot fire"));
        assert!(engine.store.runs(Some("broken"), 10).unwrap().is_empty());
        let again = engine.tick().unwrap();
        assert_eq!(again.errors, 0, "{again:?}");
    }

    #[test]
    fn a_batch_of_occurrences_fires_each_once_and_answers_in_its_order() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let past = crate::clock::now() - chrono::Duration::seconds(10);
        for n in 0..20 {
            let name = format!("batch-{n}");
            engine
                .store
                .add_job(&spec("every 1s", &name, &["true"]), "UTC", past)
                .unwrap();
        }
        engine
            .store
            .add_job(&spec("every 1s", "broken", &["true"]), "UTC", past)
            .unwrap();
        let conn = rusqlite::Connection::open(dir.path().join("cronhost.db")).unwrap();
        conn.execute(
            "UPDATE jobs SET schedule = 'cron:not a schedule' WHERE name = 'broken'",
            [],
        )
        .unwrap();
        let due = engine.due_occurrences().unwrap();
        assert_eq!(due.len(), 21, "{due:?}");
        let broken = engine.store.job("broken").unwrap().id;
        let (first, second) = {
            let mut fine = due.iter().filter(|(job_id, _)| *job_id != broken);
            (fine.next().unwrap().clone(), fine.next().unwrap().clone())
        };
        let mut batch = due.clone();
        batch.push(("jnosuchjob".into(), first.1));
        batch.push((second.0.clone(), second.1 + chrono::Duration::minutes(1)));
        batch.push(first.clone());

        let outcomes = engine.fire_occurrences(&batch);
        let outcomes: Vec<FireOutcome> = outcomes.into_iter().map(Result::unwrap).collect();
        assert_eq!(outcomes.len(), batch.len());
        for (occurrence, outcome) in due.iter().zip(&outcomes) {
            let expected = match occurrence.0 == broken {
                true => FireOutcome::ClaimLost,
                false => FireOutcome::Fired,
            };
            if *occurrence != first {
                assert_eq!(*outcome, expected, "{occurrence:?}");
            }
        }
        assert_eq!(outcomes[21], FireOutcome::NoSuchJob);
        assert_eq!(outcomes[22], FireOutcome::ClaimLost, "not its due instant");
        // The same occurrence twice in one batch: one claim wins, wherever each landed.
        let at = due
            .iter()
            .position(|occurrence| *occurrence == first)
            .unwrap();
        let mut twice = [outcomes[at], outcomes[23]];
        twice.sort_by_key(|outcome| *outcome != FireOutcome::Fired);
        assert_eq!(twice, [FireOutcome::Fired, FireOutcome::ClaimLost]);

        assert!(engine.runner().wait_idle(Duration::from_secs(30)));
        for n in 0..20 {
            let runs = engine.store.runs(Some(&format!("batch-{n}")), 10).unwrap();
            assert_eq!(runs.len(), 1, "batch-{n}: {runs:?}");
            assert_eq!(runs[0].status, RunStatus::Succeeded);
        }
        let again = engine.fire_occurrences(&due);
        assert!(
            again
                .iter()
                .all(|outcome| matches!(outcome, Ok(FireOutcome::ClaimLost))),
            "{again:?}"
        );
    }

    #[test]
    fn a_timeout_kills_the_whole_process_group_and_records_timed_out() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let marker = dir.path().join("grandchild-alive");
        let script = format!("(sleep 3; touch '{}') & sleep 30", marker.display());
        let job = JobSpec {
            timeout_secs: Some(1),
            ..spec("every 1h", "slow", &["sh", "-c", &script])
        };
        let job = engine
            .store
            .add_job(&job, "UTC", crate::clock::now())
            .unwrap();
        let run_id = engine.run_now(&job.id).unwrap();
        assert!(engine.runner().wait_idle(Duration::from_secs(30)));
        let run = engine.store.run(&run_id).unwrap().unwrap();
        assert_eq!(run.status, RunStatus::TimedOut, "{run:?}");
        std::thread::sleep(Duration::from_secs(3));
        assert!(
            !marker.exists(),
            "the background grandchild survived the timeout"
        );
    }

    #[test]
    fn output_goes_to_one_private_file_per_occurrence() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let job = engine
            .store
            .add_job(
                &spec("every 1h", "talk", &["echo", "hello"]),
                "UTC",
                crate::clock::now(),
            )
            .unwrap();
        for _ in 0..5 {
            engine.run_now(&job.id).unwrap();
            assert!(engine.runner().wait_idle(Duration::from_secs(30)));
            std::thread::sleep(Duration::from_millis(5)); // distinct scheduled instants
        }
        let job_after = engine.store.job(&job.id).unwrap();
        assert_eq!(
            job_after.next_run, job.next_run,
            "manual runs leave the schedule alone"
        );
        assert_eq!(job_after.completed_count, 0);
        let files: Vec<_> = std::fs::read_dir(dir.path().join("output").join(&job.id))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 5, "one per run: {files:?}");
        for file in files {
            assert_eq!(std::fs::read_to_string(&file).unwrap(), "hello\n");
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                assert_eq!(
                    std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
                    0o600
                );
            }
        }
    }

    #[test]
    fn housekeeping_prunes_runs_beyond_the_retention_with_their_output_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("cronhost.db")).unwrap());
        let runner = Runner::new(Arc::clone(&store), dir.path().join("output"));
        let settings = CronEngineSettings {
            run_retention: 2,
            ..CronEngineSettings::default()
        };
        let engine = CronEngine::new(store, runner, settings);
        let job = engine
            .store
            .add_job(
                &spec("every 1h", "talk", &["echo", "hello"]),
                "UTC",
                crate::clock::now(),
            )
            .unwrap();
        for _ in 0..4 {
            engine.run_now(&job.id).unwrap();
            assert!(engine.runner().wait_idle(Duration::from_secs(30)));
            std::thread::sleep(Duration::from_millis(5)); // distinct scheduled instants
        }
        // The runs ended longer ago than the grace that keeps a fresh outcome readable.
        let conn = rusqlite::Connection::open(dir.path().join("cronhost.db")).unwrap();
        conn.execute("UPDATE runs SET finished_at = finished_at - 600000", [])
            .unwrap();
        let files = || {
            let mut names: Vec<_> = std::fs::read_dir(dir.path().join("output").join(&job.id))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            names.sort();
            names
        };
        assert_eq!(files().len(), 4);
        engine.housekeep();
        let runs = engine.store.runs(Some(&job.id), 10).unwrap();
        let kept: Vec<_> = runs
            .iter()
            .rev()
            .map(|r| crate::run::output_path(&dir.path().join("output"), &job.id, r.scheduled_at))
            .collect();
        assert_eq!(runs.len(), 2, "the newest 2 runs");
        assert_eq!(files(), kept, "their output files, and only theirs");
    }

    /// A daemon killed between starting a command and storing its start: the run is still
    /// `claimed`, with no process group on record. Its command, found by its run id, keeps it
    /// open; once the command is gone it is settled.
    #[test]
    fn a_command_whose_start_was_never_stored_keeps_its_run_open_until_it_ends() {
        use std::os::unix::process::CommandExt;
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path());
        let past = crate::clock::now() - chrono::Duration::seconds(10);
        let job = engine
            .store
            .add_job(&spec("every 1h", "long", &["sleep", "30"]), "UTC", past)
            .unwrap();
        // The claimer: a process of this host that has exited.
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = gone.id();
        gone.wait().unwrap();
        let claimer = Claimer {
            host: host_name(),
            pid: dead_pid,
            max_parallel: 0,
        };
        let ClaimOutcome::Run(claim) = engine
            .store
            .claim_manual(&job.id, crate::clock::now(), &claimer)
            .unwrap()
        else {
            panic!("claimed")
        };
        let mut command = std::process::Command::new("sleep")
            .arg("30")
            .env("CRONHOST_RUN_ID", &claim.run_id)
            .process_group(0)
            .spawn()
            .unwrap();
        // `spawn` can return while the kernel is still setting up the new program, before
        // its environment is readable in /proc; a daemon settling runs is never that quick.
        let environ = format!("/proc/{}/environ", command.id());
        let began = Instant::now();
        while !std::fs::read(&environ)
            .is_ok_and(|e| e.windows(16).any(|w| w == b"CRONHOST_RUN_ID="))
        {
            assert!(
                began.elapsed() < Duration::from_secs(10),
                "the command never started"
            );
            std::thread::yield_now();
        }
        assert_eq!(
            engine.settle_orphaned_runs().unwrap(),
            0,
            "its command runs: the run keeps its slot"
        );
        let run = engine.store.run(&claim.run_id).unwrap().expect("the run");
        assert_eq!(run.status, RunStatus::Claimed);
        command.kill().unwrap();
        command.wait().unwrap();
        assert_eq!(
            engine.settle_orphaned_runs().unwrap(),
            1,
            "its command is gone"
        );
        let run = engine.store.run(&claim.run_id).unwrap().expect("the run");
        assert_eq!(run.status, RunStatus::Unknown);
    }
}
