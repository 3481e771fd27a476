//! Running a claimed occurrence: the command as a child process in its own process group,
//! its output read from pipes to `output/<job-id>/<scheduled-instant>.log` (0600) and/or this
//! process's stdout and stderr ([`OutputSettings`]), a timeout that kills the group, and the
//! outcome recorded on the run and the job; or, for a job with a handler, in-process
//! (`in_process.rs`).

mod hook;
mod in_process;
mod output;
mod pipes;
#[cfg(target_os = "linux")]
mod reaper;
mod recorder;

pub use hook::HOOK_TIMEOUT;
pub use output::{Forward, OutputFileError, OutputSettings};

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::events::{Events, RunEvent};
use crate::handler::Handlers;
use crate::store::{Claim, Finished, RunStatus, Store};

/// Why a claimed run could not start. It is recorded on the run as failed, with this text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The job's command is empty.
    #[error("the job has no command")]
    NoCommand,
    /// The job's id could name a path outside the output directory.
    #[error("job id `{0}` is not a cronhost id; its output has nowhere safe to go")]
    UnsafeId(String),
    /// The working directory is missing.
    #[error("the working directory {0} does not exist or is not a directory")]
    NoWorkdir(String),
    /// The program could not be started.
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No thread could be started to watch or run it.
    #[error("cannot start a thread for the run: {0}")]
    Thread(#[source] std::io::Error),
    /// The job runs in-process, and this process has no handler of its name.
    #[error(
        "no handler `{handler}` is registered in this process (pid {pid}): the job runs in-process, in the application that registers that handler (`Host::handle`)"
    )]
    NoHandler {
        /// The job's handler.
        handler: String,
        /// This process.
        pid: u32,
    },
    /// The job's handler has not returned from a run given up at its timeout or at a
    /// shutdown: no second run starts beside it (a thread cannot be ended).
    #[error(
        "the handler `{handler}` has not returned from a run given up earlier (it ignored its cancellation token); no second run starts beside it unless the job's overlap is `allow`"
    )]
    HandlerStillGoing {
        /// The job's handler.
        handler: String,
    },
}

/// Run outcomes the store refused (a full disk, say), kept in memory and retried.
#[derive(Debug, thiserror::Error)]
#[error("{waiting} run outcome(s) cannot be recorded in the job store, kept and retried: {source}")]
pub struct Unrecorded {
    /// How many are waiting.
    pub waiting: usize,
    /// The store's last refusal.
    #[source]
    pub source: crate::store::StoreError,
}

/// How long a timed-out group gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(2);
/// How often a command's exit is looked for where nothing signals it (no pidfd).
const EXIT_POLL: Duration = Duration::from_millis(20);

/// Starts claimed runs and watches them to the end.
#[derive(Clone)]
pub struct Runner {
    store: Arc<Store>,
    /// Writes the runs' starts and ends, many in one transaction when they come together.
    recorder: Arc<recorder::Recorder>,
    output_dir: PathBuf,
    output: OutputSettings,
    inflight: Arc<(Mutex<usize>, Condvar)>,
    groups: Arc<Mutex<std::collections::HashSet<u32>>>,
    /// The in-process handlers, by name, for the jobs that have one.
    handlers: Arc<Handlers>,
    /// The in-process runs under way.
    live: Arc<in_process::LiveRuns>,
    /// Who hears of runs starting, ending and being skipped.
    events: Arc<Events>,
    metrics: Arc<crate::metrics::Metrics>,
    /// Set by `stop_all`: runs queued behind running ones no longer start.
    stopping: Arc<std::sync::atomic::AtomicBool>,
    /// Outcomes the store refused (a full disk, say): kept here and retried until they land,
    /// so a run never stays `running` after its process ended.
    unrecorded: Arc<Mutex<Vec<Outcome>>>,
    /// The host and process whose claims this runner starts: it takes only the queued runs
    /// they queued.
    owner: (String, u32),
    /// The one thread that watches this runner's process runs (`reaper.rs`).
    #[cfg(target_os = "linux")]
    reaper: Arc<reaper::Reaper>,
}

/// How a watched command ended.
#[derive(Debug)]
enum Ended {
    /// It exited (or was killed by a signal not of ours).
    Exited(std::process::ExitStatus),
    /// Its timeout passed; its process group was killed.
    TimedOut,
    /// Waiting for it failed.
    Unwatchable(std::io::Error),
}

/// The end of a run, as it is written to the store.
#[derive(Debug, Clone)]
struct Outcome {
    run_id: String,
    job_name: String,
    status: RunStatus,
    exit_code: Option<i32>,
    error: Option<String>,
    finished_at: DateTime<Utc>,
}

/// The output file of an occurrence.
pub fn output_path(output_dir: &Path, job_id: &str, scheduled_at: DateTime<Utc>) -> PathBuf {
    output_dir
        .join(job_id)
        .join(format!("{}.log", scheduled_at.format("%Y%m%dT%H%M%S%.3fZ")))
}

impl Runner {
    /// A runner recording into `store`, its runs' output under `output_dir`.
    pub fn new(store: Arc<Store>, output_dir: PathBuf) -> Self {
        Self {
            recorder: Arc::new(recorder::Recorder::new(Arc::clone(&store))),
            store,
            output_dir,
            output: OutputSettings::default(),
            inflight: Arc::new((Mutex::new(0), Condvar::new())),
            groups: Arc::new(Mutex::new(std::collections::HashSet::new())),
            handlers: Arc::default(),
            live: Arc::default(),
            events: Arc::default(),
            metrics: Arc::default(),
            stopping: Arc::default(),
            unrecorded: Arc::default(),
            owner: (String::new(), std::process::id()),
            #[cfg(target_os = "linux")]
            reaper: Arc::new(reaper::Reaper::new()),
        }
    }

    /// Send the commands' output where `output` says (default: files only, 10 MiB per run).
    pub fn with_output(mut self, output: OutputSettings) -> Self {
        self.output = output;
        self
    }

    /// Start the queued runs of the claimer on `host` with `pid` (the engine's).
    pub fn owned_by(mut self, host: String, pid: u32) -> Self {
        self.owner = (host, pid);
        self
    }

    /// Start every run this process queued whose turn has come: the run it waited for ended,
    /// here or in another process (a `jobs run` beside the daemon). Called every tick.
    pub fn start_ready_queued(&self) {
        let (host, pid) = &self.owner;
        match self.store.queued_ready(host, *pid) {
            Ok(jobs) => jobs.iter().for_each(|job| self.start_queued(job)),
            Err(e) => log::warn!("cannot look for queued runs: {e}"),
        }
    }

    /// Wait, for a command that ends when its runs do (`tick`, `fire`, `jobs run`), until
    /// every run it started has finished and its outcome is recorded, and every run it queued
    /// has had its turn: handed to the daemon (`daemon`, its pid) when one runs, else started
    /// here. Bounded by `timeout`. Returns the outcomes still unrecorded at the end, if any.
    pub fn settle_before_exit(
        &self,
        daemon: impl Fn() -> Option<u32>,
        timeout: Duration,
    ) -> Result<(), Unrecorded> {
        let deadline = Instant::now() + timeout;
        loop {
            self.wait_idle(deadline.saturating_duration_since(Instant::now()));
            if let Some(pid) = daemon() {
                let handed = self.hand_over_queued(pid);
                if handed > 0 {
                    log::info!(
                        "{handed} queued run(s) left to the daemon (pid {pid}) to start in turn"
                    );
                }
                break;
            }
            self.start_ready_queued();
            let (host, pid) = &self.owner;
            let left = self.store.queued_count(host, *pid).unwrap_or(0);
            if (left == 0 && self.inflight() == 0) || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Outcomes the store refused (a full disk) get a few more seconds: after this process
        // they would only be recorded as `unknown`.
        self.retry_unrecorded_until(Instant::now() + Duration::from_secs(10))
    }

    /// [`Runner::retry_unrecorded`] until every outcome landed or `deadline` passed.
    pub fn retry_unrecorded_until(&self, deadline: Instant) -> Result<(), Unrecorded> {
        self.flush_records();
        loop {
            match self.retry_unrecorded() {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Hand the runs this process queued to process `to` (the daemon), for a short-lived
    /// command that will not be there when their turn comes; returns how many.
    pub fn hand_over_queued(&self, to: u32) -> usize {
        let (host, pid) = &self.owner;
        self.store
            .hand_over_queued(host, *pid, to)
            .unwrap_or_else(|e| {
                log::warn!("cannot hand queued runs over to the daemon: {e}");
                0
            })
    }

    /// Write the outcomes the store refused earlier. `Err` says how many are still waiting and
    /// why (the store's error), so the tick that called this counts as failed until they land.
    pub fn retry_unrecorded(&self) -> Result<(), Unrecorded> {
        let mut waiting = self.unrecorded.lock().unwrap_or_else(|p| p.into_inner());
        if waiting.is_empty() {
            return Ok(());
        }
        let mut last_error = None;
        waiting.retain(|outcome| match self.write_outcome(outcome) {
            Ok(_) => {
                log::info!(
                    "job={}: the outcome of run {} ({}) is recorded at last",
                    outcome.job_name,
                    outcome.run_id,
                    outcome.status.as_str()
                );
                false
            }
            Err(e) => {
                last_error = Some(e);
                true
            }
        });
        match last_error {
            None => Ok(()),
            Some(source) => Err(Unrecorded {
                waiting: waiting.len(),
                source,
            }),
        }
    }

    fn write_outcome(
        &self,
        outcome: &Outcome,
    ) -> Result<crate::store::Finished, crate::store::StoreError> {
        self.recorder.record(crate::store::RunRecord::Ended {
            run_id: outcome.run_id.clone(),
            status: outcome.status,
            exit_code: outcome.exit_code,
            error: outcome.error.clone(),
            at: outcome.finished_at,
        })
    }

    /// Hand over the record that a run started (its process group, or this process for an
    /// in-process run): stored with the next batch, at the latest with the run's end or at the
    /// next tick ([`Runner::flush_records`]); nothing waits for it.
    fn record_start(&self, run_id: &str, child_pid: u32, at: DateTime<Utc>) {
        self.recorder.submit(crate::store::RunRecord::Started {
            run_id: run_id.to_owned(),
            child_pid,
            at,
        });
    }

    /// Mark the calling thread as claiming for a tick until the guard is dropped: the runs'
    /// starts and ends wait meanwhile (a bounded while), so that they do not take the store
    /// from the claims of a burst ([`recorder`]).
    pub(crate) fn claiming(&self) -> recorder::Claiming<'_> {
        self.recorder.claiming()
    }

    /// Store the run records handed over and not yet stored (the starts of runs still going).
    /// Called every tick.
    pub fn flush_records(&self) {
        self.recorder.flush();
    }

    /// Where the runs' output files go (`<job-id>/<scheduled-instant>.log` under it).
    pub fn output_dir(&self) -> &Path {
        &self.output_dir
    }

    /// What this runner counted (fires, outcomes, lateness).
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.metrics
    }

    /// The handlers that run the jobs that have one, in this process.
    pub fn handlers(&self) -> &Arc<Handlers> {
        &self.handlers
    }

    /// Where runs starting, ending and being skipped are told.
    pub fn events(&self) -> &Arc<Events> {
        &self.events
    }

    /// Runs started by this runner that have not finished.
    pub fn inflight(&self) -> usize {
        *self.inflight.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait until every run this runner started has finished, or `timeout` passes.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let (count, idle) = &*self.inflight;
        let guard = count.lock().unwrap_or_else(|p| p.into_inner());
        let (guard, _) = idle
            .wait_timeout_while(guard, timeout, |n| *n > 0)
            .unwrap_or_else(|p| p.into_inner());
        *guard == 0
    }

    /// Start the claimed run and watch it to its end: a process run on the runner's reaper
    /// thread (one for all its runs), an in-process run on a thread of its own. A command
    /// that cannot start is recorded as failed.
    pub fn start(&self, claim: Claim) -> Result<(), StartError> {
        // A new claim means the host fires again (an embedded host started after a stop).
        self.stopping
            .store(false, std::sync::atomic::Ordering::SeqCst);
        if let Some(handler) = claim.job.handler.clone() {
            return self.start_in_process(claim, &handler);
        }
        let job = &claim.job;
        let (mut child, sink) = match self.spawn(&claim) {
            Ok(started) => started,
            Err(error) => {
                self.record_failure(&claim, &error.to_string());
                return Err(error);
            }
        };
        let started_at = crate::clock::now();
        self.metrics
            .fired((started_at - claim.scheduled_at).num_milliseconds());
        self.events.emit(|| RunEvent::Started {
            job_id: job.id.clone(),
            job_name: job.name.clone(),
            run_id: claim.run_id.clone(),
            scheduled_at: claim.scheduled_at,
            started_at,
        });
        let group = child.id();
        *self.inflight.0.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.track_group(group);
        // Timeouts are bounded where they enter; an instant past the clock's range is no
        // deadline rather than a panic.
        let deadline = job
            .timeout_secs
            .and_then(|s| Instant::now().checked_add(Duration::from_secs(s)));
        let pipes = pipes::Pipes::take(&mut child);
        // Handed over here, written to the store by the reaper (or the watcher), off the path
        // that starts the other jobs due at the same instant.
        self.record_start(&claim.run_id, group, started_at);
        let claim = Arc::new(claim);
        #[cfg(target_os = "linux")]
        let (child, pipes, sink, claim) = match self.reaper.watch(reaper::Arrival {
            runner: self.clone(),
            child,
            pipes,
            sink,
            claim,
            group,
            deadline,
        }) {
            Ok(()) => return Ok(()),
            // No pidfd (Linux before 5.3) or no reaper thread: a thread of its own.
            Err(run) => (run.child, run.pipes, run.sink, run.claim),
        };
        let runner = self.clone();
        let thread_name = format!("run-{}", claim.job.id);
        // Shared with the watcher; kept here for the (rare) case that no watcher can start.
        let watched = Arc::clone(&claim);
        let watcher = move || {
            // Written now by this thread, unless a write is under way (it takes this one too).
            runner.flush_records();
            let watched_to_the_end = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                runner.watch(child, pipes, sink, &watched, deadline)
            }));
            if let Err(payload) = watched_to_the_end {
                // Whatever broke, the run must not stay `running`: end its group, record it.
                signal_group(group, true);
                let error = format!(
                    "the run's watcher panicked: {}",
                    crate::text::panic_message(&*payload)
                );
                runner.record(&watched, RunStatus::Failed, None, Some(error), None);
            }
            runner.finished(Some(group));
            runner.start_queued_behind(&watched.job);
        };
        if let Err(e) = std::thread::Builder::new().name(thread_name).spawn(watcher) {
            // The closure (and the child handle in it) is gone; end the group and the run.
            signal_group(group, true);
            self.finished(Some(group));
            let error = StartError::Thread(e);
            self.record_failure(&claim, &error.to_string());
            return Err(error);
        }
        Ok(())
    }

    /// The run could not start: record it as failed (`record` logs it, once).
    fn record_failure(&self, claim: &Claim, error: &str) {
        self.record(claim, RunStatus::Failed, None, Some(error.to_owned()), None);
    }

    /// A process group `stop_all` ends when the host stops.
    fn track_group(&self, group: u32) {
        self.groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(group);
    }

    /// The group ended.
    fn untrack_group(&self, group: u32) {
        self.groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&group);
    }

    fn finished(&self, group: Option<u32>) {
        if let Some(group) = group {
            self.untrack_group(group);
        }
        let (count, idle) = &*self.inflight;
        *count.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        idle.notify_all();
    }

    /// The host is stopping: wait for running jobs, then end their process groups so that
    /// nothing outlives `deadline`: SIGTERM a grace before it (2 s, or half the time left when
    /// that is shorter), SIGKILL at it. Returns whether every run ended on its own (runs that
    /// had to be ended count as not clean). In-process runs cannot be ended, only told: their
    /// cancellation tokens fire at once, and those still going at `deadline` are recorded as
    /// `cancelled` and given up.
    pub fn stop_all(&self, deadline: Instant) -> bool {
        let clean = self.stop_all_runs(deadline);
        if self.output.forward == Forward::Prefixed {
            output::flush_forwarded(deadline);
        }
        clean
    }

    /// `stop_all` without the flush of forwarded output.
    fn stop_all_runs(&self, deadline: Instant) -> bool {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.cancel_in_process();
        let now = Instant::now();
        let grace = KILL_GRACE.min(deadline.saturating_duration_since(now) / 2);
        let term_at = deadline.checked_sub(grace).unwrap_or(now);
        if self.wait_idle(term_at.saturating_duration_since(Instant::now())) {
            return true;
        }
        let groups: Vec<u32> = self
            .groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect();
        if groups.is_empty() {
            self.wait_idle(deadline.saturating_duration_since(Instant::now()));
        } else {
            log::warn!("ending {} run(s) still going at shutdown", groups.len());
            for group in &groups {
                signal_group(*group, false);
            }
            if !self.wait_idle(deadline.saturating_duration_since(Instant::now())) {
                for group in &groups {
                    signal_group(*group, true);
                }
                // SIGKILL cannot be ignored: the watchers record the ends at once.
                self.wait_idle(Duration::from_millis(500));
            }
        }
        let given_up = self.give_up_in_process();
        if given_up > 0 {
            log::warn!(
                "{given_up} in-process run(s) did not return by the shutdown deadline: recorded as cancelled and given up"
            );
        }
        false
    }

    fn spawn(&self, claim: &Claim) -> Result<(Child, output::Sink), StartError> {
        let job = &claim.job;
        let argv = job.argv();
        let (program, args) = argv.split_first().ok_or(StartError::NoCommand)?;
        let file = if self.output.keep_files {
            Some(self.output_file(claim)?)
        } else {
            None
        };
        let sink = output::Sink::new(file, &job.name, &self.output);
        let output = || {
            if sink.wants_output() {
                Stdio::piped()
            } else {
                Stdio::null()
            }
        };
        let mut command = Command::new(program);
        command
            .args(args)
            .envs(&job.env)
            .env("CRONHOST_JOB_ID", &job.id)
            .env("CRONHOST_RUN_ID", &claim.run_id)
            .env("CRONHOST_SCHEDULED_AT", claim.scheduled_at.to_rfc3339())
            .env("CRONHOST_ATTEMPT", claim.attempt.to_string())
            .stdin(Stdio::null())
            .stdout(output())
            .stderr(output());
        if let Some(dir) = &job.workdir {
            if !Path::new(dir).is_dir() {
                return Err(StartError::NoWorkdir(dir.clone()));
            }
            command.current_dir(dir);
        }
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().map_err(|source| StartError::Spawn {
            program: program.clone(),
            source,
        })?;
        Ok((child, sink))
    }

    /// Where the occurrence's output file goes, in a private directory of the job's own: the
    /// watcher creates both at the command's first byte, off the path that starts the jobs due
    /// at the same instant, and a run that writes nothing leaves no file.
    fn output_file(&self, claim: &Claim) -> Result<output::OutputFile, StartError> {
        let job = &claim.job;
        // The id names the output directory: one that is not a cronhost id (a store edited by
        // hand) could lead anywhere.
        if !crate::store::is_job_id(&job.id) {
            return Err(StartError::UnsafeId(job.id.escape_debug().to_string()));
        }
        Ok(output::OutputFile {
            root: self.output_dir.clone(),
            path: output_path(&self.output_dir, &job.id, claim.scheduled_at),
        })
    }

    /// Watch a run on this thread to its end (where the reaper cannot: no pidfd, no reaper
    /// thread), and record it.
    fn watch(
        &self,
        mut child: Child,
        mut pipes: pipes::Pipes,
        mut sink: output::Sink,
        claim: &Claim,
        deadline: Option<Instant>,
    ) {
        let ended = wait_for(&mut child, &mut pipes, &mut sink, deadline);
        pipes.read_stragglers(&mut sink);
        let (status, exit_code, error) = verdict(ended, &claim.job, &mut sink, &mut pipes);
        drop(pipes);
        self.record(claim, status, exit_code, error, Some(&mut sink));
        sink.finish();
    }

    /// Log the outcome of a run and record it on the run and the job.
    /// When the occurrence has failed for good, the job's on-failure hook runs: here, into
    /// `sink`, on the watcher's thread; without a sink (a run that could not start, an
    /// in-process run) on a thread of its own, so the fire path never waits for it.
    fn record(
        &self,
        claim: &Claim,
        status: RunStatus,
        exit_code: Option<i32>,
        error: Option<String>,
        sink: Option<&mut output::Sink>,
    ) {
        let outcome = self.outcome_of(claim, status, exit_code, error);
        let written = self.write_outcome(&outcome);
        let Some(failure) = self.recorded(claim, &outcome, written) else {
            return;
        };
        match sink {
            Some(sink) => {
                // The hook is told the file: it exists, empty if the run wrote nothing.
                let _ = sink.file();
                self.run_on_failure_hook(&failure, sink)
            }
            None => {
                let runner = self.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("hook-{}", claim.job.id))
                    .spawn(move || {
                        runner.run_on_failure_hook(&failure, &mut output::Sink::discard())
                    });
                if let Err(e) = spawned {
                    log::warn!(
                        "job={}: cannot start its on-failure hook: {e}",
                        claim.job.name
                    );
                }
            }
        }
    }

    /// After a run of `job` ends, start the one waiting behind it, if its overlap policy
    /// queues one (a run queued under another policy, before an edit, is started by the
    /// next tick's [`Runner::start_ready_queued`]).
    fn start_queued_behind(&self, job: &crate::store::Job) {
        if job.overlap == crate::store::Overlap::QueueOne {
            self.start_queued(&job.id);
        }
    }

    /// Start the run queued behind `job_id`'s last one (overlap `queue-one`), if any.
    fn start_queued(&self, job_id: &str) {
        let (host, pid) = &self.owner;
        let queued = match self.store.take_queued(job_id, host, *pid) {
            Ok(Some(run)) => run,
            Ok(None) => return,
            Err(e) => return log::warn!("job={job_id}: cannot read its queued run: {e}"),
        };
        // A queued run that will not start is closed, not lost.
        let close = |status: RunStatus, why: &str| {
            let finished_at = crate::clock::now();
            let _ = self
                .store
                .finish_run(&queued.id, status, None, Some(why), finished_at);
            self.events.emit(|| RunEvent::Finished {
                job_id: job_id.to_owned(),
                job_name: self
                    .store
                    .job(job_id)
                    .map_or_else(|_| job_id.to_owned(), |job| job.name),
                run_id: queued.id.clone(),
                scheduled_at: queued.scheduled_at,
                status,
                exit_code: None,
                error: Some(why.to_owned()),
                finished_at,
            });
        };
        if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
            // The host is stopping: nothing new starts.
            return close(RunStatus::Skipped, "the host stopped before it could start");
        }
        match self.store.job(job_id) {
            Ok(job) if !job.is_active() => close(
                RunStatus::Skipped,
                "the job was paused or completed before its turn came",
            ),
            Ok(job) => {
                log::info!(
                    "fire job={} scheduled={} (queued behind the previous run)",
                    job.name,
                    queued.scheduled_at
                );
                let _ = self.start(Claim {
                    run_id: queued.id,
                    job,
                    scheduled_at: queued.scheduled_at,
                    attempt: queued.attempt,
                });
            }
            Err(e) => close(RunStatus::Failed, &e.to_string()),
        }
    }
}

/// What a watched run's end amounts to: its status, exit code and error. An output file that
/// could not be made fails it; pipes still open (a background child of the command holds them)
/// are noted in its output, and close when `pipes` goes.
fn verdict(
    ended: Ended,
    job: &crate::store::Job,
    sink: &mut output::Sink,
    pipes: &mut pipes::Pipes,
) -> (RunStatus, Option<i32>, Option<String>) {
    let (status, exit_code, error) = match ended {
        Ended::Exited(status) if status.success() => (RunStatus::Succeeded, Some(0), None),
        Ended::Exited(status) => match status.code() {
            Some(code) => (
                RunStatus::Failed,
                Some(code),
                Some(format!("exited with {code}")),
            ),
            None => (RunStatus::Failed, None, Some(format!("killed: {status}"))),
        },
        Ended::TimedOut => (
            RunStatus::TimedOut,
            None,
            Some(format!(
                "timed out after {}s; process group killed",
                job.timeout_secs.unwrap_or(0)
            )),
        ),
        Ended::Unwatchable(e) => (
            RunStatus::Failed,
            None,
            Some(format!("cannot wait for the child: {e}")),
        ),
    };
    let (status, error) = sink.judge(status, error);
    if pipes.open() {
        // A background child of the command still holds its output. Reading it for as
        // long as that child lives would cost three descriptors per run, without bound:
        // the pipes close here, and the output says so.
        sink.note(
            "[cronhost: the job's process ended; what its background processes write from now on is not kept]",
        );
    }
    (status, exit_code, error)
}

/// Read `child`'s output into `sink` until it exits or `deadline` passes (its process group
/// is then ended): what the watcher of a run and the on-failure hook both wait for.
fn wait_for(
    child: &mut Child,
    pipes: &mut pipes::Pipes,
    sink: &mut output::Sink,
    deadline: Option<Instant>,
) -> Ended {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ended::Exited(status),
            Ok(None) => {}
            Err(e) => return Ended::Unwatchable(e),
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            kill_group(child);
            let _ = child.wait();
            return Ended::TimedOut;
        }
        let mut wait = deadline.map(|d| d - now);
        if !pipes.sees_exit() {
            // Nothing wakes the wait when the command exits: look now and then.
            wait = Some(wait.map_or(EXIT_POLL, |w| w.min(EXIT_POLL)));
        }
        if pipes.open() || pipes.sees_exit() {
            pipes.wait(sink, wait);
        } else if deadline.is_none() {
            // Nothing to read and nothing to enforce: block until it ends.
            return child.wait().map_or_else(Ended::Unwatchable, Ended::Exited);
        } else {
            std::thread::sleep(wait.unwrap_or(EXIT_POLL));
        }
    }
}

/// SIGTERM (or SIGKILL) to a process group.
fn signal_group(group: u32, kill: bool) {
    #[cfg(unix)]
    // SAFETY: kill(2) on a process group this runner created with `process_group(0)`.
    unsafe {
        libc::kill(
            -(group as i32),
            if kill { libc::SIGKILL } else { libc::SIGTERM },
        );
    }
}

/// End the child's process group: SIGTERM, then SIGKILL once the leader exits or after a
/// grace, so nothing in the group survives.
fn kill_group(child: &mut Child) {
    let group = child.id();
    signal_group(group, false);
    let until = Instant::now() + KILL_GRACE;
    while Instant::now() < until && !matches!(child.try_wait(), Ok(Some(_))) {
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_group(group, true);
    #[cfg(not(unix))]
    let _ = child.kill();
}

impl Runner {
    /// Count and log the end of a run; the outcome to store (the first half of [`Runner::record`], and of the
    /// reaper's batch).
    fn outcome_of(
        &self,
        claim: &Claim,
        status: RunStatus,
        exit_code: Option<i32>,
        error: Option<String>,
    ) -> Outcome {
        let job = &claim.job;
        self.metrics.finished(status == RunStatus::Succeeded);
        match status {
            RunStatus::Succeeded => log::info!(
                "done job={} scheduled={} status=succeeded",
                job.name,
                claim.scheduled_at
            ),
            _ => log::warn!(
                "done job={} scheduled={} status={} {}",
                job.name,
                claim.scheduled_at,
                status.as_str(),
                error.as_deref().unwrap_or("")
            ),
        }
        Outcome {
            run_id: claim.run_id.clone(),
            job_name: job.name.clone(),
            status,
            exit_code,
            error,
            finished_at: crate::clock::now(),
        }
    }

    /// Act on what storing `outcome` gave (the second half of [`Runner::record`], and of the reaper's batch; the run-event
    /// subscribers are told here): an
    /// outcome the store refused is kept and retried; the failure its hook is told about when
    /// the occurrence failed for good and the job has an on-failure hook to run.
    fn recorded(
        &self,
        claim: &Claim,
        outcome: &Outcome,
        result: Result<Finished, crate::store::StoreError>,
    ) -> Option<hook::Failure> {
        let job = &claim.job;
        self.events.emit(|| RunEvent::Finished {
            job_id: job.id.clone(),
            job_name: job.name.clone(),
            run_id: claim.run_id.clone(),
            scheduled_at: claim.scheduled_at,
            status: outcome.status,
            exit_code: outcome.exit_code,
            error: outcome.error.clone(),
            finished_at: outcome.finished_at,
        });
        match result {
            Err(e) => {
                log::error!(
                    "job={}: cannot record the outcome of run {}: {e}; kept and retried every tick",
                    job.name,
                    claim.run_id
                );
                self.unrecorded
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(outcome.clone());
                None
            }
            Ok(Finished::RetryAt { attempt, at }) => {
                log::info!(
                    "job={}: retry {attempt} of {} at {at}",
                    job.name,
                    job.retries
                );
                None
            }
            Ok(Finished::FailedForGood)
                if job.on_failure.is_some()
                    && self.stopping.load(std::sync::atomic::Ordering::SeqCst) =>
            {
                // Ended by the host's own shutdown: not the job's failure to report, and
                // nothing new may start now.
                log::info!(
                    "job={}: its on-failure hook is not run: the host is stopping",
                    job.name
                );
                None
            }
            Ok(Finished::FailedForGood) if job.on_failure.is_some() => Some(hook::Failure {
                claim: claim.clone(),
                status: outcome.status,
                exit_code: outcome.exit_code,
                error: outcome.error.clone(),
                output_file: self
                    .output
                    .keep_files
                    .then(|| output_path(&self.output_dir, &job.id, claim.scheduled_at)),
            }),
            Ok(_) => None,
        }
    }
}
