//! The cancellation token of an in-process run: it fires at the job's timeout and when the
//! host stops, and a handler checks it, sleeps on it or awaits it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Why a run was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CancelReason {
    /// The job's timeout passed; the run is recorded as `timed_out`.
    TimedOut,
    /// The host is stopping; the run is recorded as `cancelled`.
    Shutdown,
}

impl std::fmt::Display for CancelReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::TimedOut => "the job's timeout passed",
            Self::Shutdown => "the host is stopping",
        })
    }
}

/// Asks an in-process run to stop. Clones share one state; the first reason given wins.
///
/// ```
/// use std::time::Duration;
/// use cronhost_core::handler::{CancelReason, CancelToken};
///
/// let token = CancelToken::new();
/// assert_eq!(token.sleep(Duration::from_millis(1)), None); // slept the whole time
/// token.cancel(CancelReason::Shutdown);
/// token.cancel(CancelReason::TimedOut); // too late: the first reason stays
/// assert_eq!(token.reason(), Some(CancelReason::Shutdown));
/// assert_eq!(token.sleep(Duration::from_secs(3600)), Some(CancelReason::Shutdown)); // at once
/// ```
#[derive(Clone, Default)]
pub struct CancelToken {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    reason: Option<CancelReason>,
    wakers: Vec<Waker>,
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("reason", &self.reason())
            .finish()
    }
}

impl CancelToken {
    /// A token that has not fired (the runner makes one per run; this is for tests).
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Fire the token. Returns whether this call fired it (false: it had fired already, and
    /// keeps its first reason).
    pub fn cancel(&self, reason: CancelReason) -> bool {
        let wakers = {
            let mut state = self.state();
            if state.reason.is_some() {
                return false;
            }
            state.reason = Some(reason);
            std::mem::take(&mut state.wakers)
        };
        self.inner.changed.notify_all();
        wakers.into_iter().for_each(Waker::wake);
        true
    }

    /// Whether the token fired.
    pub fn is_cancelled(&self) -> bool {
        self.reason().is_some()
    }

    /// Why the token fired, if it did.
    pub fn reason(&self) -> Option<CancelReason> {
        self.state().reason
    }

    /// Sleep for `duration` or until the token fires, whichever comes first: `None` when the
    /// whole time passed, the reason when it fired. A blocking handler's interruptible sleep.
    pub fn sleep(&self, duration: Duration) -> Option<CancelReason> {
        let until = Instant::now().checked_add(duration);
        let mut state = self.state();
        loop {
            if let Some(reason) = state.reason {
                return Some(reason);
            }
            let left = match until {
                Some(until) => until.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if left.is_zero() {
                return None;
            }
            state = self
                .inner
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// A future that is ready, with the reason, once the token fires: for `select!` in an
    /// async handler. It needs no particular runtime.
    pub fn cancelled(&self) -> Cancelled {
        Cancelled {
            token: self.clone(),
        }
    }
}

/// The future of [`CancelToken::cancelled`].
#[derive(Debug)]
#[must_use = "a future does nothing unless awaited"]
pub struct Cancelled {
    token: CancelToken,
}

impl Future for Cancelled {
    type Output = CancelReason;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<CancelReason> {
        let mut state = self.token.state();
        match state.reason {
            Some(reason) => Poll::Ready(reason),
            None => {
                if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    state.wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sleep_ends_when_another_thread_cancels() {
        let token = CancelToken::new();
        let other = token.clone();
        let started = Instant::now();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            other.cancel(CancelReason::TimedOut)
        });
        assert_eq!(
            token.sleep(Duration::from_secs(60)),
            Some(CancelReason::TimedOut)
        );
        assert!(canceller.join().unwrap(), "the other thread fired it");
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn the_future_is_woken_by_cancel() {
        struct Flag(std::sync::atomic::AtomicBool);
        impl std::task::Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let token = CancelToken::new();
        let flag = Arc::new(Flag(Default::default()));
        let waker = Waker::from(Arc::clone(&flag));
        let mut cx = Context::from_waker(&waker);
        let mut future = token.cancelled();
        assert!(Pin::new(&mut future).poll(&mut cx).is_pending());
        assert!(!flag.0.load(std::sync::atomic::Ordering::SeqCst));
        token.cancel(CancelReason::Shutdown);
        assert!(flag.0.load(std::sync::atomic::Ordering::SeqCst), "woken");
        assert_eq!(
            Pin::new(&mut future).poll(&mut cx),
            Poll::Ready(CancelReason::Shutdown)
        );
    }
}
