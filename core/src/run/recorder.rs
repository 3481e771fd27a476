//! Group commit of run starts and ends: each run hands its record here and waits until it is
//! stored. Whoever finds no write under way writes everything waiting in one transaction
//! ([`Store::record_runs`]), so a run due alone is written at once by its own thread, and a
//! burst of 100 runs costs a handful of commits instead of two each.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};

use crate::store::{Finished, RunRecord, Store, StoreError};

/// The writer of the runs' starts and ends.
pub(crate) struct Recorder {
    store: Arc<Store>,
    state: Mutex<State>,
    /// Woken when a batch is stored (its results are in `State::results`).
    stored: Condvar,
}

#[derive(Default)]
struct State {
    /// Records waiting for the next batch, with their tickets.
    waiting: Vec<(u64, RunRecord)>,
    /// Whether a thread is writing a batch now.
    writing: bool,
    next_ticket: u64,
    /// Results of stored records whose threads have not taken them yet.
    results: HashMap<u64, Result<Finished, StoreError>>,
}

impl Recorder {
    pub(crate) fn new(store: Arc<Store>) -> Self {
        Self {
            store,
            state: Mutex::default(),
            stored: Condvar::new(),
        }
    }

    /// Store `record` and return what storing it gave (an end's [`Finished`]); records of one
    /// thread are stored in the order it hands them over.
    pub(crate) fn record(&self, record: RunRecord) -> Result<Finished, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.waiting.push((ticket, record));
        loop {
            if let Some(result) = state.results.remove(&ticket) {
                return result;
            }
            if state.writing {
                state = self.stored.wait(state).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            // Nobody writes: this thread writes everything waiting, its own record included.
            state.writing = true;
            let batch = std::mem::take(&mut state.waiting);
            drop(state);
            let (tickets, records): (Vec<u64>, Vec<RunRecord>) = batch.into_iter().unzip();
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
            state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.results.extend(tickets.into_iter().zip(results));
            state.writing = false;
            self.stored.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ClaimOutcome, Claimer, JobSpec, RunStatus};

    #[test]
    fn runs_recorded_from_many_threads_at_once_are_all_stored_in_order_with_their_results() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("cronhost.db")).unwrap());
        let now = chrono::Utc::now();
        let claimer = Claimer {
            host: "test".into(),
            pid: std::process::id(),
            max_parallel: 0,
        };
        let mut claims = Vec::new();
        for i in 0..64 {
            let mut spec = JobSpec::new("* * * * * *", ["true"]);
            spec.name = Some(format!("job-{i}"));
            let job = store.add_job(&spec, "UTC", now).unwrap();
            match store
                .claim(&job.id, now + chrono::Duration::seconds(2), &claimer)
                .unwrap()
            {
                ClaimOutcome::Run(claim) => claims.push(claim),
                other => panic!("not claimed: {other:?}"),
            }
        }
        let recorder = Arc::new(Recorder::new(Arc::clone(&store)));
        let threads: Vec<_> = claims
            .iter()
            .enumerate()
            .map(|(i, claim)| {
                let (recorder, run_id) = (Arc::clone(&recorder), claim.run_id.clone());
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
        for (i, claim) in claims.iter().enumerate() {
            let run = store.run(&claim.run_id).unwrap().unwrap();
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

    #[test]
    fn a_start_arriving_after_the_end_never_reopens_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("cronhost.db")).unwrap());
        let now = chrono::Utc::now();
        let job = store
            .add_job(&JobSpec::new("* * * * * *", ["true"]), "UTC", now)
            .unwrap();
        let claimer = Claimer {
            host: "test".into(),
            pid: std::process::id(),
            max_parallel: 0,
        };
        let ClaimOutcome::Run(claim) = store
            .claim(&job.id, now + chrono::Duration::seconds(2), &claimer)
            .unwrap()
        else {
            panic!("not claimed")
        };
        let results = store.record_runs(vec![
            RunRecord::Ended {
                run_id: claim.run_id.clone(),
                status: RunStatus::Succeeded,
                exit_code: Some(0),
                error: None,
                at: now,
            },
            RunRecord::Started {
                run_id: claim.run_id.clone(),
                child_pid: 7,
                at: now,
            },
        ]);
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let run = store.run(&claim.run_id).unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Succeeded);
    }
}
