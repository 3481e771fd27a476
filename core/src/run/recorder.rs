//! Group commit of run starts and ends. A run hands its end here and waits until it is stored;
//! its start it only hands over ([`Recorder::submit`]): the start goes with the next batch,
//! which is at the latest the run's own end or the next tick's [`Recorder::flush`]. Whoever
//! finds no write under way writes everything waiting in one transaction
//! ([`Store::record_runs`]), so a burst of 100 runs costs a few commits instead of two each,
//! and no run waits for a commit before its command or handler starts.
//!
//! Claims go first: while a tick claims due jobs ([`Recorder::claiming`]), a batch waits for
//! the claims to be done, [`CLAIMS_FIRST_AT_MOST`] at the longest, so the ends of the burst's
//! first runs do not take the store from the claims of its last ones (100 in-process jobs
//! due together: the last claimed about twice as late without this). Records are only
//! stored later; nothing is lost or reordered. A claiming thread's own records never wait.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::store::{Finished, RunRecord, Store, StoreError};

/// The longest a batch waits for the claims under way: a burst of a thousand process jobs
/// claims for longer, and its runs' records are then written between its claims.
const CLAIMS_FIRST_AT_MOST: Duration = Duration::from_millis(20);

thread_local! {
    /// Whether this thread is claiming for a tick (its own records never wait for claims).
    static CLAIMING_HERE: Cell<bool> = const { Cell::new(false) };
}

/// The writer of the runs' starts and ends.
pub(crate) struct Recorder {
    store: Arc<Store>,
    state: Mutex<State>,
    /// Woken when a batch is stored (its results are in `State::results`).
    stored: Condvar,
    /// Woken when the last claiming thread is done.
    claims_done: Condvar,
}

/// A thread claiming for a tick (see [`Recorder::claiming`]); done when dropped.
pub(crate) struct Claiming<'a> {
    recorder: &'a Recorder,
    /// Whether this guard marked its thread (a nested one leaves the mark to the outer).
    marked: bool,
}

impl Drop for Claiming<'_> {
    fn drop(&mut self) {
        if self.marked {
            CLAIMING_HERE.with(|here| here.set(false));
        }
        let mut state = self.recorder.lock();
        state.claiming -= 1;
        if state.claiming == 0 {
            self.recorder.claims_done.notify_all();
        }
    }
}

#[derive(Default)]
struct State {
    /// Records waiting for the next batch, with their tickets (`None`: nobody waits for the
    /// result).
    waiting: Vec<(Option<u64>, RunRecord)>,
    /// Whether a thread is writing a batch now.
    writing: bool,
    next_ticket: u64,
    /// Results of stored records whose threads have not taken them yet.
    results: HashMap<u64, Result<Finished, StoreError>>,
    /// Threads claiming for a tick now.
    claiming: usize,
    /// A claiming thread waits for the batch held back for the claims: it goes at once.
    urgent: bool,
}

impl Recorder {
    pub(crate) fn new(store: Arc<Store>) -> Self {
        Self {
            store,
            state: Mutex::default(),
            stored: Condvar::new(),
            claims_done: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Mark the calling thread as claiming for a tick until the guard is dropped: batches
    /// written meanwhile by other threads wait for the claims (see the [module](self) comment).
    pub(crate) fn claiming(&self) -> Claiming<'_> {
        self.lock().claiming += 1;
        let marked = !CLAIMING_HERE.with(|here| here.replace(true));
        Claiming {
            recorder: self,
            marked,
        }
    }

    /// Wait until no thread claims, [`CLAIMS_FIRST_AT_MOST`] at the longest; at once on a
    /// claiming thread.
    fn after_claims<'a>(&'a self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        if state.claiming == 0 || CLAIMING_HERE.with(Cell::get) {
            return state;
        }
        let until = Instant::now() + CLAIMS_FIRST_AT_MOST;
        while state.claiming > 0 && !state.urgent {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self
                .claims_done
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        state
    }

    /// Hand `record` over to be stored with the next batch (the one under way stores it after
    /// its own, else the next [`Recorder::flush`] or [`Recorder::record`]), without waiting
    /// for it; a failure to store it is logged. Records are stored in the order handed over.
    pub(crate) fn submit(&self, record: RunRecord) {
        let mut state = self.lock();
        state.waiting.push((None, record));
    }

    /// Store what is waiting, unless a write is under way (it stores that too, before it ends).
    pub(crate) fn flush(&self) {
        let state = self.lock();
        if !state.waiting.is_empty() && !state.writing {
            drop(self.lead(state));
        }
    }

    /// Store `record` and return what storing it gave (an end's [`Finished`]); records are
    /// stored in the order they are handed over.
    pub(crate) fn record(&self, record: RunRecord) -> Result<Finished, StoreError> {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.waiting.push((Some(ticket), record));
        if state.writing && CLAIMING_HERE.with(Cell::get) {
            // A claiming thread waits for nobody: a batch held back for the claims goes now.
            state.urgent = true;
            self.claims_done.notify_all();
        }
        loop {
            if let Some(result) = state.results.remove(&ticket) {
                return result;
            }
            if state.writing {
                state = self.stored.wait(state).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            // Nobody writes: this thread writes everything waiting, its own record included.
            state = self.lead(state);
        }
    }

    /// Store `records` (the ends of runs that ended together), in one batch when nothing else
    /// is being written, and return what storing each gave, in their order.
    pub(crate) fn record_all(&self, records: Vec<RunRecord>) -> Vec<Result<Finished, StoreError>> {
        let count = records.len();
        let mut state = self.lock();
        let first = state.next_ticket;
        state.next_ticket += count as u64;
        state.waiting.extend(
            (first..)
                .zip(records)
                .map(|(ticket, record)| (Some(ticket), record)),
        );
        let mut results = Vec::with_capacity(count);
        loop {
            while let Some(result) = state.results.remove(&(first + results.len() as u64)) {
                results.push(result);
            }
            if results.len() == count {
                return results;
            }
            if state.writing {
                state = self.stored.wait(state).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            state = self.lead(state);
        }
    }

    /// Write everything waiting, a batch at a time, as the one writer, until nothing waits
    /// (records handed over meanwhile go with the next batch); returns the lock again.
    fn lead<'a>(&'a self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        state.writing = true;
        loop {
            // Records handed over while it waits go in this batch too.
            state = self.after_claims(state);
            state.urgent = false;
            let batch = std::mem::take(&mut state.waiting);
            drop(state);
            let (tickets, records): (Vec<Option<u64>>, Vec<RunRecord>) = batch.into_iter().unzip();
            let count = records.len();
            let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.store.record_runs(records)
            }))
            .unwrap_or_else(|payload| {
                let why = crate::text::panic_message(&*payload);
                (0..count)
                    .map(|_| {
                        Err(StoreError::Invalid(format!(
                            "recording runs panicked: {why}"
                        )))
                    })
                    .collect()
            });
            state = self.lock();
            for (ticket, result) in tickets.into_iter().zip(results) {
                match (ticket, result) {
                    (Some(ticket), result) => {
                        state.results.insert(ticket, result);
                    }
                    (None, Err(e)) => log::warn!("cannot record the start of a run: {e}"),
                    (None, Ok(_)) => {}
                }
            }
            self.stored.notify_all();
            if state.waiting.is_empty() {
                state.writing = false;
                return state;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ClaimOutcome, Claimer, JobSpec, RunStatus};
    use chrono::{DateTime, Utc};

    /// A store in a temporary directory with a per-second job for each of `names`, each with
    /// its due occurrence claimed: the run ids, in order.
    fn claimed_runs(
        names: &[String],
    ) -> (tempfile::TempDir, Arc<Store>, DateTime<Utc>, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("cronhost.db")).unwrap());
        let now = Utc::now();
        let claimer = Claimer {
            host: "test".into(),
            pid: std::process::id(),
            max_parallel: 0,
        };
        let runs = names
            .iter()
            .map(|name| {
                let mut spec = JobSpec::new("* * * * * *", ["true"]);
                spec.name = Some(name.clone());
                let job = store.add_job(&spec, "UTC", now).unwrap();
                match store
                    .claim(&job.id, now + chrono::Duration::seconds(2), &claimer)
                    .unwrap()
                {
                    ClaimOutcome::Run(claim) => claim.run_id,
                    other => panic!("not claimed: {other:?}"),
                }
            })
            .collect();
        (dir, store, now, runs)
    }

    #[test]
    fn runs_recorded_from_many_threads_at_once_are_all_stored_in_order_with_their_results() {
        let names: Vec<String> = (0..64).map(|i| format!("job-{i}")).collect();
        let (_dir, store, now, runs) = claimed_runs(&names);
        let recorder = Arc::new(Recorder::new(Arc::clone(&store)));
        let threads: Vec<_> = runs
            .iter()
            .enumerate()
            .map(|(i, run_id)| {
                let (recorder, run_id) = (Arc::clone(&recorder), run_id.clone());
                std::thread::spawn(move || {
                    recorder
                        .record(RunRecord::Started {
                            run_id: run_id.clone(),
                            child_pid: 4000 + i as u32,
                            at: now,
                        })
                        .unwrap();
                    let status = if i % 2 == 0 {
                        RunStatus::Succeeded
                    } else {
                        RunStatus::Failed
                    };
                    recorder
                        .record(RunRecord::Ended {
                            run_id,
                            status,
                            exit_code: Some((i % 2) as i32),
                            error: None,
                            at: now,
                        })
                        .unwrap()
                })
            })
            .collect();
        for (i, thread) in threads.into_iter().enumerate() {
            let expected = if i % 2 == 0 {
                Finished::Done
            } else {
                Finished::FailedForGood
            };
            assert_eq!(thread.join().unwrap(), expected);
        }
        for (i, run_id) in runs.iter().enumerate() {
            let run = store.run(run_id).unwrap().unwrap();
            // The start came before the end for every run: never `running` after its end.
            let expected = if i % 2 == 0 {
                RunStatus::Succeeded
            } else {
                RunStatus::Failed
            };
            assert_eq!(run.status, expected, "{run:?}");
            assert_eq!(run.child_pid, Some(4000 + i as u32), "{run:?}");
            assert!(run.started_at.is_some() && run.finished_at.is_some());
        }
    }

    /// Store `record` from another thread, and return once that thread leads a batch (or is
    /// done already).
    fn leading_a_batch(
        recorder: &Arc<Recorder>,
        record: RunRecord,
    ) -> std::thread::JoinHandle<Result<Finished, StoreError>> {
        let thread = {
            let recorder = Arc::clone(recorder);
            std::thread::spawn(move || recorder.record(record))
        };
        let began = Instant::now();
        while !recorder.lock().writing && !thread.is_finished() {
            assert!(
                began.elapsed() < Duration::from_secs(10),
                "the record never led a batch"
            );
            std::thread::yield_now();
        }
        thread
    }

    #[test]
    fn records_wait_for_the_claims_under_way_but_a_claiming_threads_own_go_at_once() {
        let (_dir, store, now, runs) = claimed_runs(&["ended".into(), "claimer".into()]);
        let recorder = Arc::new(Recorder::new(Arc::clone(&store)));
        let status = |run: &str| store.run(run).unwrap().unwrap().status;
        let claiming = recorder.claiming();
        // Another thread's end, while this one claims: it leads a batch, which waits.
        let ending = leading_a_batch(
            &recorder,
            RunRecord::Ended {
                run_id: runs[0].clone(),
                status: RunStatus::Succeeded,
                exit_code: Some(0),
                error: None,
                at: now,
            },
        );
        assert!(!ending.is_finished(), "the end did not wait for the claims");
        assert_eq!(status(&runs[0]), RunStatus::Claimed);
        // The claiming thread's own record (a run that failed to start) does not wait for the
        // claims to end: it is stored now, with the end held back.
        let own = recorder.record(RunRecord::Ended {
            run_id: runs[1].clone(),
            status: RunStatus::Failed,
            exit_code: None,
            error: Some("cannot start".into()),
            at: now,
        });
        assert_eq!(own.unwrap(), Finished::FailedForGood);
        assert_eq!(status(&runs[1]), RunStatus::Failed);
        assert_eq!(ending.join().unwrap().unwrap(), Finished::Done);
        assert_eq!(status(&runs[0]), RunStatus::Succeeded);
        drop(claiming);
        assert_eq!(recorder.lock().claiming, 0);
    }

    #[test]
    fn a_batch_held_for_the_claims_goes_when_they_end() {
        let (_dir, store, now, runs) = claimed_runs(&["job".into()]);
        let recorder = Arc::new(Recorder::new(Arc::clone(&store)));
        let claiming = recorder.claiming();
        let starting = leading_a_batch(
            &recorder,
            RunRecord::Started {
                run_id: runs[0].clone(),
                child_pid: 9,
                at: now,
            },
        );
        drop(claiming);
        starting.join().unwrap().unwrap();
        assert_eq!(
            store.run(&runs[0]).unwrap().unwrap().status,
            RunStatus::Running
        );
    }

    #[test]
    fn a_start_handed_over_is_stored_by_the_next_flush_or_with_the_end() {
        let (_dir, store, now, runs) = claimed_runs(&["flushed".into(), "ended".into()]);
        let recorder = Recorder::new(Arc::clone(&store));
        for run_id in &runs {
            recorder.submit(RunRecord::Started {
                run_id: run_id.clone(),
                child_pid: 42,
                at: now,
            });
        }
        // Handed over, not stored yet.
        let status = |run: &str| store.run(run).unwrap().unwrap().status;
        assert_eq!(status(&runs[0]), RunStatus::Claimed);
        recorder.flush();
        assert_eq!(status(&runs[0]), RunStatus::Running);
        assert_eq!(status(&runs[1]), RunStatus::Running);
        let ended = recorder.record(RunRecord::Ended {
            run_id: runs[1].clone(),
            status: RunStatus::Succeeded,
            exit_code: Some(0),
            error: None,
            at: now,
        });
        assert_eq!(ended.unwrap(), Finished::Done);
        assert_eq!(status(&runs[1]), RunStatus::Succeeded);
        assert_eq!(store.run(&runs[1]).unwrap().unwrap().child_pid, Some(42));
    }

    #[test]
    fn a_start_arriving_after_the_end_never_reopens_the_run() {
        let (_dir, store, now, runs) = claimed_runs(&["job".into()]);
        let run_id = &runs[0];
        let results = store.record_runs(vec![
            RunRecord::Ended {
                run_id: run_id.clone(),
                status: RunStatus::Succeeded,
                exit_code: Some(0),
                error: None,
                at: now,
            },
            RunRecord::Started {
                run_id: run_id.clone(),
                child_pid: 7,
                at: now,
            },
        ]);
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let run = store.run(run_id).unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Succeeded);
    }
}
