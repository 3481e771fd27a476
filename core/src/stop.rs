//! The stop flag: set once, waited on by every loop that must end when the host stops.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A one-way stop flag that can also be nudged: a nudge wakes every waiter without stopping,
/// so a ticker recomputes its next wake-up (the job set changed). Clones share it.
#[derive(Debug, Clone, Default)]
pub struct StopFlag {
    inner: Arc<(Mutex<State>, Condvar)>,
}

#[derive(Debug, Default)]
struct State {
    set: bool,
    nudges: u64,
}

impl StopFlag {
    /// A flag that is not set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the flag and wake every waiter.
    pub fn set(&self) {
        let (lock, wake) = &*self.inner;
        lock.lock().unwrap_or_else(|p| p.into_inner()).set = true;
        wake.notify_all();
    }

    /// Wake every waiter without setting the flag.
    pub fn nudge(&self) {
        let (lock, wake) = &*self.inner;
        lock.lock().unwrap_or_else(|p| p.into_inner()).nudges += 1;
        wake.notify_all();
    }

    /// Whether the flag is set.
    pub fn is_set(&self) -> bool {
        self.inner.0.lock().unwrap_or_else(|p| p.into_inner()).set
    }

    /// Wait until the flag is set or `timeout` passes; true when it is set.
    pub fn wait(&self, timeout: Duration) -> bool {
        self.wait_until(Instant::now() + timeout)
    }

    /// Wait until the flag is set, a nudge arrives, or `deadline` passes; true when it is set.
    pub fn wait_until(&self, deadline: Instant) -> bool {
        let (lock, wake) = &*self.inner;
        let mut state = lock.lock().unwrap_or_else(|p| p.into_inner());
        let nudges = state.nudges;
        while !state.set && state.nudges == nudges {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            state = wake
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        state.set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_returns_early_when_set_from_another_thread() {
        let stop = StopFlag::new();
        let setter = stop.clone();
        let started = Instant::now();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            setter.set();
        });
        assert!(stop.wait(Duration::from_secs(30)));
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_nudge_wakes_a_waiter_without_stopping() {
        let stop = StopFlag::new();
        let nudger = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            nudger.nudge();
        });
        let started = Instant::now();
        assert!(!stop.wait(Duration::from_secs(30)), "not stopped");
        assert!(started.elapsed() < Duration::from_secs(10), "woken early");
    }

    #[test]
    fn wait_times_out_when_not_set() {
        let stop = StopFlag::new();
        assert!(!stop.wait(Duration::from_millis(5)));
        stop.set();
        assert!(stop.wait(Duration::from_millis(5)));
    }
}
