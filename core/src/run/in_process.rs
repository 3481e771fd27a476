//! In-process runs: a job with a handler runs through the handler of that name registered with
//! the runner: a blocking one on a thread of its own, an async one as a task on the
//! application's runtime. Each run gets a cancellation token that fires at the job's timeout
//! and when the host stops; a run that ignores it is given up (recorded, its result dropped)
//! a grace after its timeout, or at the shutdown deadline, so nothing waits on it for ever.

use std::collections::HashMap;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::{output, Runner, StartError, KILL_GRACE};
use crate::events::RunEvent;
use crate::handler::{
    BoxError, BoxFuture, CancelReason, CancelToken, OutputTarget, Registered, RunContext,
};
use crate::store::{Claim, RunStatus};
use crate::text::panic_message;

/// A run's output while its handler may still write to it: taken (and the file closed) when
/// the run is recorded; what is written after that is dropped.
struct SharedSink(Option<output::Sink>);

impl OutputTarget for SharedSink {
    fn write(&mut self, bytes: &[u8]) {
        if let Some(sink) = &mut self.0 {
            sink.take(output::Stream::Stdout, bytes);
        }
    }
}

/// The in-process runs under way, by run id: what the host's shutdown cancels and, at its
/// deadline, gives up; and, by job id, the blocking handlers still going after their run was
/// given up, beside which no other run of the job starts (a thread cannot be killed).
#[derive(Default)]
pub(super) struct LiveRuns {
    runs: Mutex<HashMap<String, Arc<InProcessRun>>>,
    given_up: Mutex<HashMap<String, usize>>,
}

impl LiveRuns {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<InProcessRun>>> {
        self.runs.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn all(&self) -> Vec<Arc<InProcessRun>> {
        self.lock().values().cloned().collect()
    }

    fn given_up(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        self.given_up.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a handler of `job_id` given up earlier is still going.
    fn still_going(&self, job_id: &str) -> bool {
        self.given_up().contains_key(job_id)
    }

    /// A given-up handler of `job_id` returned at last.
    fn returned(&self, job_id: &str) {
        let mut given_up = self.given_up();
        if let Some(left) = given_up.get_mut(job_id) {
            *left -= 1;
            if *left == 0 {
                given_up.remove(job_id);
            }
        }
    }
}

/// One in-process run, shared by the thread or task running its handler, its timeout watch
/// and the shutdown.
pub(super) struct InProcessRun {
    claim: Claim,
    /// On a thread of its own (a blocking handler), which goes on if the run is given up.
    blocking: bool,
    token: CancelToken,
    output: Arc<Mutex<SharedSink>>,
    state: Mutex<RunState>,
    settled_signal: Condvar,
}

#[derive(Default)]
struct RunState {
    /// Its end is (being) recorded; whoever set this records it, nobody else.
    settled: bool,
    /// The task of an async run, woken when the run is given up so its future is dropped.
    task: Option<Waker>,
}

/// How a handler's run came to an end.
enum Ending {
    Returned(Result<(), BoxError>),
    Panicked(String),
    /// It did not return within the grace after its token fired: given up.
    GivenUp,
    /// Its task was dropped unfinished (the application's runtime shut down).
    Dropped,
}

impl InProcessRun {
    fn state(&self) -> MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Take the right to record the end: true once, for the first caller.
    fn claim_settlement(&self) -> bool {
        let waker = {
            let mut state = self.state();
            if state.settled {
                return false;
            }
            state.settled = true;
            state.task.take()
        };
        self.settled_signal.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
        true
    }

    /// Wait until the run is settled or `timeout` passes; whether it is settled.
    fn wait_settled(&self, timeout: Duration) -> bool {
        let state = self.state();
        let (state, _) = self
            .settled_signal
            .wait_timeout_while(state, timeout, |s| !s.settled)
            .unwrap_or_else(|p| p.into_inner());
        state.settled
    }

    fn context(&self) -> RunContext {
        RunContext {
            job: self.claim.job.clone(),
            run_id: self.claim.run_id.clone(),
            scheduled_at: self.claim.scheduled_at,
            attempt: self.claim.attempt,
            token: self.token.clone(),
            output: Arc::clone(&self.output) as Arc<Mutex<dyn OutputTarget>>,
        }
    }
}

impl Runner {
    /// Run the claim of a job with a handler through the handler registered under `name`.
    pub(super) fn start_in_process(&self, claim: Claim, name: &str) -> Result<(), StartError> {
        let Some(handler) = self.handlers.get(name) else {
            let error = StartError::NoHandler {
                handler: name.to_owned(),
                pid: std::process::id(),
            };
            self.record_failure(&claim, &error.to_string());
            return Err(error);
        };
        let blocking = matches!(handler, Registered::Blocking(_));
        if blocking
            && claim.job.overlap != crate::store::Overlap::Allow
            && self.live.still_going(&claim.job.id)
        {
            let error = StartError::HandlerStillGoing {
                handler: name.to_owned(),
            };
            self.record_failure(&claim, &error.to_string());
            return Err(error);
        }
        let file = match self.output.keep_files {
            true => match self.output_file(&claim) {
                Ok(file) => Some(file),
                Err(error) => {
                    self.record_failure(&claim, &error.to_string());
                    return Err(error);
                }
            },
            false => None,
        };
        let sink = output::Sink::new(file, &claim.job.name, &self.output);
        let started_at = crate::clock::now();
        self.metrics
            .fired((started_at - claim.scheduled_at).num_milliseconds());
        *self.inflight.0.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.record_start(&claim.run_id, std::process::id(), started_at);
        self.events.emit(|| RunEvent::Started {
            job_id: claim.job.id.clone(),
            job_name: claim.job.name.clone(),
            run_id: claim.run_id.clone(),
            scheduled_at: claim.scheduled_at,
            started_at,
        });
        let timeout = claim.job.timeout_secs.map(Duration::from_secs);
        let run = Arc::new(InProcessRun {
            claim,
            blocking,
            token: CancelToken::new(),
            output: Arc::new(Mutex::new(SharedSink(Some(sink)))),
            state: Mutex::default(),
            settled_signal: Condvar::new(),
        });
        self.live
            .lock()
            .insert(run.claim.run_id.clone(), Arc::clone(&run));
        if let Some(timeout) = timeout {
            let (runner, watched) = (self.clone(), Arc::clone(&run));
            let watch = std::thread::Builder::new()
                .name(format!("timeout-{}", run.claim.job.id))
                .spawn(move || runner.watch_timeout(&watched, timeout));
            if let Err(e) = watch {
                log::warn!(
                    "job={}: cannot watch its timeout ({e}); the run has none",
                    run.claim.job.name
                );
            }
        }
        match handler {
            Registered::Blocking(handler) => {
                let (runner, running) = (self.clone(), Arc::clone(&run));
                let spawned = std::thread::Builder::new()
                    .name(format!("job-{}", run.claim.job.id))
                    .spawn(move || {
                        let mut context = running.context();
                        let ending =
                            match catch_unwind(AssertUnwindSafe(|| handler.run(&mut context))) {
                                Ok(result) => Ending::Returned(result),
                                Err(payload) => Ending::Panicked(panic_message(&*payload)),
                            };
                        if !runner.settle(&running, ending) {
                            runner.live.returned(&running.claim.job.id);
                        }
                    });
                if let Err(e) = spawned {
                    let error = StartError::Thread(e);
                    self.settle(&run, Ending::Returned(Err(error.to_string().into())));
                    return Err(error);
                }
            }
            Registered::Async { handler, spawn } => {
                let future = catch_unwind(AssertUnwindSafe(|| handler.run(run.context())));
                let future = match future {
                    Ok(future) => future,
                    Err(payload) => {
                        // Recorded off the claiming thread, as every async run's end is: its
                        // on-failure hook must not hold up the jobs due beside it.
                        let mut settle = SettleOnce {
                            runner: self.clone(),
                            run: Arc::clone(&run),
                            ending: Some(Ending::Panicked(panic_message(&*payload))),
                        };
                        spawn.spawn_blocking(Box::new(move || settle.now()));
                        return Ok(());
                    }
                };
                let guard = TaskGuard {
                    runner: self.clone(),
                    run: Arc::clone(&run),
                    spawn: Arc::clone(&spawn),
                    done: false,
                };
                spawn.spawn(Box::pin(guard.drive(future)));
            }
        }
        Ok(())
    }

    /// Fire the run's token at its timeout; give it up a grace later if it has not returned.
    fn watch_timeout(&self, run: &Arc<InProcessRun>, timeout: Duration) {
        if run.wait_settled(timeout) {
            return;
        }
        run.token.cancel(CancelReason::TimedOut);
        if run.wait_settled(KILL_GRACE) {
            return;
        }
        self.settle(run, Ending::GivenUp);
    }

    /// The host is stopping: fire every in-process run's token.
    pub(super) fn cancel_in_process(&self) {
        for run in self.live.all() {
            run.token.cancel(CancelReason::Shutdown);
        }
    }

    /// The shutdown deadline passed: record every in-process run still going as given up.
    /// Returns how many there were.
    pub(super) fn give_up_in_process(&self) -> usize {
        let left = self.live.all();
        for run in &left {
            run.token.cancel(CancelReason::Shutdown);
            self.settle(run, Ending::GivenUp);
        }
        left.len()
    }

    /// Record how the run ended, once: the first of its handler, its timeout watch and the
    /// shutdown to get here records it (and gets `true`); a handler returning after it was
    /// given up is logged.
    fn settle(&self, run: &Arc<InProcessRun>, ending: Ending) -> bool {
        let claim = &run.claim;
        // Counted before the settlement is taken, so that a handler returning at this very
        // moment (and losing) always finds the count it takes back.
        let thread_goes_on = matches!(ending, Ending::GivenUp) && run.blocking;
        if thread_goes_on {
            *self
                .live
                .given_up()
                .entry(claim.job.id.clone())
                .or_default() += 1;
        }
        if !run.claim_settlement() {
            if thread_goes_on {
                self.live.returned(&claim.job.id);
            }
            if let Ending::Returned(_) | Ending::Panicked(_) = ending {
                log::warn!(
                    "job={}: run {} returned after it was given up; what it returned is not recorded",
                    claim.job.name,
                    claim.run_id
                );
            }
            return false;
        }
        let (status, error) = outcome(run.token.reason(), ending, claim.job.timeout_secs);
        let mut sink = run
            .output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .take();
        let (status, error) = match &sink {
            Some(sink) => sink.judge(status, error),
            None => (status, error),
        };
        self.record(claim, status, None, error, sink.as_mut());
        if let Some(mut sink) = sink {
            sink.finish();
        }
        self.live.lock().remove(&claim.run_id);
        self.finished(None);
        self.start_queued_behind(&claim.job);
        true
    }
}

/// What a run records when its task was dropped unfinished.
const DROPPED: &str = "its task was dropped unfinished (the application's runtime shut down)";

/// The status and error of a run that ended this way, its token having fired for `cancelled`.
/// Past its timeout a run is `timed_out` however it ended, as a command is. Told the host is
/// stopping, a run that still returns `Ok` finished its work: it succeeded; one that returns
/// an error, panics or is given up was `cancelled` (never retried, not counted as a failure).
fn outcome(
    cancelled: Option<CancelReason>,
    ending: Ending,
    timeout_secs: Option<u64>,
) -> (RunStatus, Option<String>) {
    let cancelled = match (cancelled, &ending) {
        (Some(CancelReason::Shutdown), Ending::Returned(Ok(()))) => None,
        (cancelled, _) => cancelled,
    };
    let Some(reason) = cancelled else {
        return match ending {
            Ending::Returned(Ok(())) => (RunStatus::Succeeded, None),
            Ending::Returned(Err(e)) => (
                RunStatus::Failed,
                Some(crate::handler::error_chain(e.as_ref())),
            ),
            Ending::Panicked(message) => (RunStatus::Failed, Some(format!("panicked: {message}"))),
            Ending::GivenUp => (RunStatus::Failed, Some("it was given up".to_owned())),
            Ending::Dropped => (RunStatus::Failed, Some(DROPPED.to_owned())),
        };
    };
    let how = match ending {
        Ending::Returned(Ok(())) => "it returned when cancelled".to_owned(),
        Ending::Returned(Err(e)) => format!(
            "it returned when cancelled: {}",
            crate::handler::error_chain(e.as_ref())
        ),
        Ending::Panicked(message) => format!("it panicked: {message}"),
        Ending::GivenUp => format!(
            "it did not return {} and was given up (its thread or task may still be going)",
            match reason {
                CancelReason::TimedOut => format!("within {}s", KILL_GRACE.as_secs()),
                _ => "by the shutdown deadline".to_owned(),
            }
        ),
        Ending::Dropped => DROPPED.to_owned(),
    };
    match reason {
        CancelReason::TimedOut => (
            RunStatus::TimedOut,
            Some(format!(
                "timed out after {}s; {how}",
                timeout_secs.unwrap_or(0)
            )),
        ),
        _ => (
            RunStatus::Cancelled,
            Some(format!("cancelled: the host stopped; {how}")),
        ),
    }
}

/// The task of an async run: drives the handler's future unless the run is given up, then
/// records the end off the runtime's threads. Dropped unfinished (the runtime shut down),
/// it records that.
struct TaskGuard {
    runner: Runner,
    run: Arc<InProcessRun>,
    spawn: Arc<dyn crate::handler::Spawn>,
    done: bool,
}

impl TaskGuard {
    async fn drive(mut self, future: BoxFuture<Result<(), BoxError>>) {
        let ending = UnlessGivenUp {
            run: Arc::clone(&self.run),
            future,
        }
        .await;
        self.done = true;
        let Some(ending) = ending else {
            return; // given up: recorded by whoever gave it up
        };
        let mut settle = SettleOnce {
            runner: self.runner.clone(),
            run: Arc::clone(&self.run),
            ending: Some(ending),
        };
        self.spawn.spawn_blocking(Box::new(move || settle.now()));
    }
}

/// Records an async run's end off the runtime's threads; if the runtime drops the work unrun
/// (it is shutting down), it records it where it is dropped, so no run stays `running`.
struct SettleOnce {
    runner: Runner,
    run: Arc<InProcessRun>,
    ending: Option<Ending>,
}

impl SettleOnce {
    fn now(&mut self) {
        if let Some(ending) = self.ending.take() {
            self.runner.settle(&self.run, ending);
        }
    }
}

impl Drop for SettleOnce {
    fn drop(&mut self) {
        self.now();
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if !self.done {
            self.runner.settle(&self.run, Ending::Dropped);
        }
    }
}

/// The handler's future, with its panics caught, until the run is given up (`None`).
struct UnlessGivenUp {
    run: Arc<InProcessRun>,
    future: BoxFuture<Result<(), BoxError>>,
}

impl Future for UnlessGivenUp {
    type Output = Option<Ending>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Ending>> {
        {
            let mut state = self.run.state();
            if state.settled {
                return Poll::Ready(None);
            }
            state.task = Some(cx.waker().clone());
        }
        match catch_unwind(AssertUnwindSafe(|| self.future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => Poll::Ready(Some(Ending::Returned(result))),
            Err(payload) => Poll::Ready(Some(Ending::Panicked(panic_message(&*payload)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> Ending {
        Ending::Returned(Err(text.to_owned().into()))
    }

    #[test]
    fn how_a_run_ended_decides_its_status() {
        let timeout = Some(5);
        let cases = [
            (None, Ending::Returned(Ok(())), RunStatus::Succeeded, None),
            (None, error("no data"), RunStatus::Failed, Some("no data")),
            (
                None,
                Ending::Panicked("oops".into()),
                RunStatus::Failed,
                Some("panicked: oops"),
            ),
            (None, Ending::Dropped, RunStatus::Failed, Some(DROPPED)),
            (
                Some(CancelReason::TimedOut),
                Ending::Returned(Ok(())),
                RunStatus::TimedOut,
                Some("timed out after 5s; it returned when cancelled"),
            ),
            (
                Some(CancelReason::TimedOut),
                Ending::GivenUp,
                RunStatus::TimedOut,
                Some("timed out after 5s; it did not return within 2s and was given up"),
            ),
            // Told to stop, it finished anyway: its work is done.
            (
                Some(CancelReason::Shutdown),
                Ending::Returned(Ok(())),
                RunStatus::Succeeded,
                None,
            ),
            (
                Some(CancelReason::Shutdown),
                error("interrupted"),
                RunStatus::Cancelled,
                Some("cancelled: the host stopped; it returned when cancelled: interrupted"),
            ),
            (
                Some(CancelReason::Shutdown),
                Ending::GivenUp,
                RunStatus::Cancelled,
                Some("cancelled: the host stopped; it did not return by the shutdown deadline"),
            ),
        ];
        for (cancelled, ending, status, error) in cases {
            let (got_status, got_error) = outcome(cancelled, ending, timeout);
            assert_eq!(got_status, status, "{got_error:?}");
            match error {
                None => assert_eq!(got_error, None),
                Some(start) => assert!(
                    got_error.as_deref().unwrap_or("").starts_with(start),
                    "{got_error:?} should start with {start:?}"
                ),
            }
        }
    }
}
