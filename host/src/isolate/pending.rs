//! Requests awaiting their answers, by id: the one table both ends of the pipe use (the host
//! for its calls into the provider, the child for its host-service requests).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};

/// Ids handed out and the waiters for their answers.
#[derive(Debug)]
pub struct Pending<T> {
    next_id: AtomicU64,
    waiting: Mutex<HashMap<u64, mpsc::Sender<T>>>,
}

impl<T> Default for Pending<T> {
    fn default() -> Self {
        Self {
            next_id: AtomicU64::new(1),
            waiting: Mutex::default(),
        }
    }
}

impl<T> Pending<T> {
    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<u64, mpsc::Sender<T>>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh id and the receiver its answer will arrive on.
    pub fn register(&self) -> (u64, mpsc::Receiver<T>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = mpsc::channel();
        self.waiting().insert(id, answer);
        (id, answered)
    }

    /// Deliver the answer to `id`; an id nobody waits for (any more) is ignored.
    pub fn settle(&self, id: u64, answer: T) {
        let waiter = self.waiting().remove(&id);
        if let Some(waiter) = waiter {
            let _ = waiter.send(answer);
        }
    }

    /// Stop waiting for `id` (its request was never sent).
    pub fn forget(&self, id: u64) {
        self.waiting().remove(&id);
    }

    /// Answer everyone still waiting with `answer()` (the other side is gone).
    pub fn settle_all(&self, answer: impl Fn() -> T) {
        let waiters: Vec<_> = self.waiting().drain().map(|(_, waiter)| waiter).collect();
        for waiter in waiters {
            let _ = waiter.send(answer());
        }
    }
}
