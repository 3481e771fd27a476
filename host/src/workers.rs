//! Threads kept for reuse: a job runs on an idle thread of the set, or on a new one when every
//! thread is busy, so steady calls start no thread and no call ever queues behind another (a
//! hung one included). A thread whose job never returns is never idle again: it is abandoned,
//! not joined. A panic in a job is caught; the thread goes on with the next.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cronhost_core::text::panic_message;

/// How long a thread that finished a job, and a caller waiting for a value, keep trying (giving
/// the CPU away between tries) before they sleep: about what waking a sleeping thread costs on
/// a small virtual machine (tens of µs). Calls in quick succession, and a quick call's value,
/// then cost no sleep and wake-up.
const SPIN: Duration = Duration::from_micros(50);

/// What `receiver` yields within [`SPIN`], trying without sleeping; `Empty` when nothing came.
fn spin<T>(receiver: &mpsc::Receiver<T>) -> Result<T, mpsc::TryRecvError> {
    let began = Instant::now();
    loop {
        match receiver.try_recv() {
            Err(mpsc::TryRecvError::Empty) if began.elapsed() < SPIN => std::thread::yield_now(),
            other => return other,
        }
    }
}

/// A job, handed the call that lists its thread as idle again (see [`Workers::spawn`]).
type Job = Box<dyn FnOnce(&mut dyn FnMut()) + Send>;

/// The idle threads, each reached through its own channel.
#[derive(Default)]
struct Idle {
    threads: Vec<mpsc::Sender<Job>>,
    /// Set when the [`Workers`] is dropped: idle threads end, busy ones end after their job.
    closed: bool,
}

/// A set of reusable threads, at most `max_idle` of them kept waiting for work.
pub struct Workers {
    name: String,
    max_idle: usize,
    idle: Arc<Mutex<Idle>>,
}

/// Why [`Workers::within`] has no value.
#[derive(Debug)]
pub enum Lost {
    /// The job did not finish within the deadline; its thread is abandoned.
    Missed,
    /// The job panicked (the message); its thread goes on.
    Panicked(String),
    /// The system refused a thread.
    NoThread(io::Error),
}

fn lock(idle: &Mutex<Idle>) -> MutexGuard<'_, Idle> {
    idle.lock().unwrap_or_else(|p| p.into_inner())
}

impl Workers {
    /// A set whose threads are called `name`, keeping at most `max_idle` idle.
    pub fn new(name: impl Into<String>, max_idle: usize) -> Self {
        Self {
            name: name.into(),
            max_idle,
            idle: Arc::default(),
        }
    }

    fn dispatch(&self, mut job: Job) -> io::Result<()> {
        loop {
            let Some(thread) = lock(&self.idle).threads.pop() else {
                break;
            };
            match thread.send(job) {
                Ok(()) => return Ok(()),
                // That thread ended; try the next.
                Err(mpsc::SendError(back)) => job = back,
            }
        }
        let (idle, max_idle) = (Arc::clone(&self.idle), self.max_idle);
        std::thread::Builder::new()
            .name(self.name.clone())
            .spawn(move || work(job, &idle, max_idle))
            .map(drop)
    }

    /// Run `job` on an idle thread or a new one, without waiting for it. The job is handed
    /// `idle`, which lists its thread as idle again at once: call it when only the answer is
    /// left to send, so that whoever the answer wakes finds the thread idle (otherwise it is
    /// listed when the job ends).
    pub fn spawn(&self, job: impl FnOnce(&mut dyn FnMut()) + Send + 'static) -> io::Result<()> {
        self.dispatch(Box::new(job))
    }

    /// Run `body` on an idle thread or a new one and wait at most `deadline` for its value.
    /// Its thread is listed as idle again before the value is handed back, so a caller that
    /// calls again at once finds it.
    pub fn within<T: Send + 'static>(
        &self,
        deadline: Duration,
        body: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Lost> {
        let began = Instant::now();
        let (done, result) = mpsc::sync_channel(1);
        self.dispatch(Box::new(move |relist: &mut dyn FnMut()| {
            let value = catch_unwind(AssertUnwindSafe(body));
            relist();
            let _ = done.send(value);
        }))
        .map_err(Lost::NoThread)?;
        let received = match spin(&result) {
            Err(mpsc::TryRecvError::Empty) => result
                .recv_timeout(deadline.saturating_sub(began.elapsed()))
                .ok(),
            quick => quick.ok(),
        };
        match received {
            Some(Ok(value)) => Ok(value),
            Some(Err(payload)) => Err(Lost::Panicked(panic_message(&*payload))),
            None => Err(Lost::Missed),
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        let mut idle = lock(&self.idle);
        idle.closed = true;
        idle.threads.clear();
    }
}

/// One thread's life: its first job, then whatever it is handed while listed as idle. Each
/// time it lists itself it makes a fresh channel whose only sender is in the list, so
/// clearing the list (dropping the set) ends a waiting thread.
fn work(first: Job, idle: &Mutex<Idle>, max_idle: usize) {
    let mut job = first;
    loop {
        let (mut asked, mut next) = (false, None);
        let mut relist = || {
            if !asked {
                asked = true;
                let mut idle = lock(idle);
                if !idle.closed && idle.threads.len() < max_idle {
                    let (sender, jobs) = mpsc::channel();
                    idle.threads.push(sender);
                    next = Some(jobs);
                }
            }
        };
        // A job that unwinds past its own catch (a `spawn`ed one) must not end the thread.
        let _ = catch_unwind(AssertUnwindSafe(|| job(&mut relist)));
        relist();
        let Some(jobs) = next else {
            return;
        };
        let next = match spin(&jobs) {
            Err(mpsc::TryRecvError::Empty) => jobs.recv().ok(),
            quick => quick.ok(),
        };
        match next {
            Some(next) => job = next,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread::ThreadId;

    fn here() -> ThreadId {
        std::thread::current().id()
    }

    const LONG: Duration = Duration::from_secs(10);

    #[test]
    fn calls_in_a_row_run_on_one_thread_and_a_panic_does_not_end_it() {
        let workers = Workers::new("test-worker", 1);
        let first = workers.within(LONG, here).unwrap();
        assert_ne!(first, here());
        let panicked = workers.within(LONG, || -> () { panic!("boom in a job") });
        assert!(
            matches!(&panicked, Err(Lost::Panicked(message)) if message == "boom in a job"),
            "{panicked:?}"
        );
        for _ in 0..100 {
            assert_eq!(workers.within(LONG, here).unwrap(), first);
        }
    }

    #[test]
    fn a_hung_job_misses_its_deadline_and_the_next_call_runs_on_a_fresh_thread() {
        let workers = Workers::new("test-worker", 1);
        let first = workers.within(LONG, here).unwrap();
        let (release, hung) = mpsc::channel::<()>();
        let missed = workers.within(Duration::from_millis(50), move || {
            let _ = hung.recv();
            here()
        });
        assert!(matches!(missed, Err(Lost::Missed)), "{missed:?}");
        // The worker is stuck in the hung job: the next call does not wait behind it.
        let next = workers.within(LONG, here).unwrap();
        assert_ne!(next, first);
        drop(release);
    }

    #[test]
    fn concurrent_calls_each_get_a_thread() {
        let workers = Arc::new(Workers::new("test-worker", 1));
        let (entered, all_in) = mpsc::channel();
        let gate = Arc::new(std::sync::Barrier::new(3));
        let callers: Vec<_> = (0..3)
            .map(|_| {
                let (workers, entered, gate) =
                    (Arc::clone(&workers), entered.clone(), Arc::clone(&gate));
                std::thread::spawn(move || {
                    workers
                        .within(LONG, move || {
                            entered.send(here()).unwrap();
                            // All three must be running at once to pass this barrier.
                            gate.wait();
                        })
                        .unwrap()
                })
            })
            .collect();
        for caller in callers {
            caller.join().unwrap();
        }
        drop(entered);
        let threads: std::collections::HashSet<_> = all_in.iter().collect();
        assert_eq!(threads.len(), 3);
    }

    #[test]
    fn dropping_the_set_ends_its_threads() {
        thread_local! {
            static ON_EXIT: std::cell::RefCell<Option<mpsc::Sender<()>>> = const { std::cell::RefCell::new(None) };
        }
        let workers = Workers::new("test-worker", 1);
        let (tx, ended) = mpsc::channel::<()>();
        // The sender lives in the worker's thread-local storage: it is dropped when the
        // thread ends, which disconnects `ended`.
        workers
            .within(LONG, move || {
                ON_EXIT.with(|slot| *slot.borrow_mut() = Some(tx))
            })
            .unwrap();
        drop(workers);
        assert_eq!(
            ended.recv_timeout(LONG),
            Err(mpsc::RecvTimeoutError::Disconnected)
        );
    }
}
