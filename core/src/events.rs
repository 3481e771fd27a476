//! Run events: a run started, finished or was skipped, told to whoever subscribed (a channel
//! or a callback), so an application reacts without polling the history.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::store::{RunReason, RunStatus};

/// Something that happened to a run. Told after it is recorded (a start: once it is under way).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RunEvent {
    /// A run started (its command was spawned, or its handler called).
    #[non_exhaustive]
    Started {
        /// The job's id.
        job_id: String,
        /// The job's name.
        job_name: String,
        /// The run's id.
        run_id: String,
        /// The occurrence.
        scheduled_at: DateTime<Utc>,
        /// When it started.
        started_at: DateTime<Utc>,
    },
    /// A run ended: succeeded, failed, timed out, cancelled, or could not start.
    #[non_exhaustive]
    Finished {
        /// The job's id.
        job_id: String,
        /// The job's name.
        job_name: String,
        /// The run's id.
        run_id: String,
        /// The occurrence.
        scheduled_at: DateTime<Utc>,
        /// How it ended.
        status: RunStatus,
        /// The command's exit code, if it exited.
        exit_code: Option<i32>,
        /// What went wrong, if anything did.
        error: Option<String>,
        /// When it ended.
        finished_at: DateTime<Utc>,
    },
    /// An occurrence was not run, by policy (an overlap, a missed occurrence under catch-up
    /// `skip`, another host's run).
    #[non_exhaustive]
    Skipped {
        /// The job's id.
        job_id: String,
        /// The job's name.
        job_name: String,
        /// The occurrence.
        scheduled_at: DateTime<Utc>,
        /// Why.
        reason: RunReason,
    },
}

/// A subscriber's callback; `false` unsubscribes it.
type Callback = Arc<dyn Fn(&RunEvent) -> bool + Send + Sync>;

/// The subscribers of one host's events.
///
/// ```
/// use cronhost_core::events::Events;
///
/// let events = Events::default();
/// let received = events.subscribe();
/// events.on_event(|event| println!("{event:?}"));
/// assert!(received.try_recv().is_err()); // nothing happened yet
/// ```
#[derive(Default)]
pub struct Events {
    channels: Mutex<Vec<mpsc::Sender<RunEvent>>>,
    callbacks: Mutex<Vec<Callback>>,
    /// Whether anyone listens: an event nobody hears is never built.
    any: AtomicBool,
}

impl Events {
    /// A channel that receives every event from now on. Dropping the receiver unsubscribes.
    pub fn subscribe(&self) -> mpsc::Receiver<RunEvent> {
        let (sender, receiver) = mpsc::channel();
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(sender);
        self.any.store(true, Ordering::SeqCst);
        receiver
    }

    /// Call `callback` with every event from now on, on the thread where it happened (the
    /// tick's or the run's): keep it short. A panic in it is caught and logged.
    pub fn on_event(&self, callback: impl Fn(&RunEvent) + Send + Sync + 'static) {
        self.on_event_while(move |event| {
            callback(event);
            true
        });
    }

    /// Call `callback` with every event until it returns `false` (its receiver is gone, say):
    /// how an async channel subscribes.
    pub fn on_event_while(&self, callback: impl Fn(&RunEvent) -> bool + Send + Sync + 'static) {
        self.callbacks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::new(callback));
        self.any.store(true, Ordering::SeqCst);
    }

    /// Tell every subscriber; `event` is built only when someone listens.
    pub(crate) fn emit(&self, event: impl FnOnce() -> RunEvent) {
        if !self.any.load(Ordering::SeqCst) {
            return;
        }
        let event = event();
        self.channels
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|channel| channel.send(event.clone()).is_ok());
        // Called outside the lock: a callback may subscribe in turn.
        let callbacks = self
            .callbacks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut done = Vec::new();
        for callback in callbacks {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(&event))) {
                Ok(true) => {}
                Ok(false) => done.push(callback),
                Err(payload) => log::error!(
                    "a run-event callback panicked: {}",
                    crate::text::panic_message(&*payload)
                ),
            }
        }
        if !done.is_empty() {
            self.callbacks
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|kept| !done.iter().any(|gone| Arc::ptr_eq(kept, gone)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skipped() -> RunEvent {
        RunEvent::Skipped {
            job_id: "j1".into(),
            job_name: "a".into(),
            scheduled_at: DateTime::<Utc>::UNIX_EPOCH,
            reason: RunReason::Overlap,
        }
    }

    #[test]
    fn every_subscriber_hears_and_a_dropped_one_is_forgotten() {
        let events = Events::default();
        let kept = events.subscribe();
        let dropped = events.subscribe();
        drop(dropped);
        let heard = Arc::new(Mutex::new(0));
        let counter = Arc::clone(&heard);
        events.on_event(move |_| *counter.lock().unwrap() += 1);
        events.on_event(|_| panic!("a careless subscriber"));
        events.emit(skipped);
        events.emit(skipped);
        assert_eq!(kept.try_iter().count(), 2);
        assert_eq!(
            *heard.lock().unwrap(),
            2,
            "a panicking callback stops no other"
        );
        assert_eq!(events.channels.lock().unwrap().len(), 1);
    }

    #[test]
    fn a_callback_that_returns_false_is_not_called_again() {
        let events = Events::default();
        let calls = Arc::new(Mutex::new(0));
        let counter = Arc::clone(&calls);
        events.on_event_while(move |_| {
            *counter.lock().unwrap() += 1;
            false
        });
        events.emit(skipped);
        events.emit(skipped);
        assert_eq!(*calls.lock().unwrap(), 1);
    }

    #[test]
    fn nothing_is_built_when_nobody_listens() {
        Events::default().emit(|| unreachable!("built with no subscriber"));
    }
}
