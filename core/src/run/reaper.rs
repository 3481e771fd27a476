//! One reaper thread per [`Runner`] watches its process runs to the end, instead of a thread
//! per run: an `epoll` set over each command's pidfd and its stdout and stderr pipes, a timer
//! per run (its timeout, the grace between SIGTERM and SIGKILL, the moment output arriving
//! after the exit stops being read), and the ends of the runs that exit together recorded in
//! one batch. The on-failure hook (a process waited for up to a minute) runs on a thread of its
//! own. Where there is no pidfd (Linux before 5.3) or no reaper thread can start, a run is
//! watched by a thread of its own, as before ([`Runner::watch`]).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::output::{Sink, Stream};
use super::pipes::Pipes;
use super::{hook, Ended, Runner, KILL_GRACE};
use crate::store::{Claim, RunRecord, RunStatus};

/// How long output still arriving after the command exited (a background child of it holding
/// the pipes) is read before the pipes close; as [`Pipes::read_stragglers`].
const STRAGGLERS: Duration = Duration::from_millis(100);
/// How long the reaper thread waits with no run before it ends (the next run starts another).
const IDLE_EXIT: Duration = Duration::from_secs(10);
/// How long the first start or end waiting to be written waits for others to go in the same
/// transaction (runs due together start and end together; a short run's start and end are
/// one write). A run counts as finished once its end is stored. A run whose start is not yet
/// stored when this process dies keeps its overlap slot all the same: the settling process
/// finds its command by the `CRONHOST_RUN_ID` in its environment.
const WRITE_DELAY: Duration = Duration::from_millis(5);
/// Most ended runs held for one write; more are written at once.
const WRITE_BATCH: usize = 64;
/// Most events taken from the kernel per wait.
const EVENTS: usize = 64;
/// The token of the wake-up eventfd in the epoll set.
const WAKE: u64 = u64::MAX;

/// A run handed to the reaper: its command started, its start handed to the recorder.
pub(super) struct Arrival {
    pub(super) runner: Runner,
    pub(super) child: Child,
    pub(super) pipes: Pipes,
    pub(super) sink: Sink,
    pub(super) claim: Arc<Claim>,
    pub(super) group: u32,
    /// When its timeout passes.
    pub(super) deadline: Option<Instant>,
}

/// A runner's reaper: the epoll set and the runs waiting to join it. Its thread is started
/// by the first run and ends after [`IDLE_EXIT`] without runs.
pub(super) struct Reaper {
    /// `None` where epoll or eventfd are missing: every run is then watched by its own thread.
    shared: Option<Arc<Shared>>,
}

struct Shared {
    epoll: OwnedFd,
    /// Written to wake the thread for new arrivals.
    wake: OwnedFd,
    inbox: Mutex<Inbox>,
}

#[derive(Default)]
struct Inbox {
    arrivals: Vec<Arrival>,
    /// Whether the reaper thread is running (it takes the arrivals).
    thread: bool,
}

impl Reaper {
    pub(super) fn new() -> Self {
        Self {
            shared: Shared::new().map(Arc::new),
        }
    }

    /// Watch `run` to its end on the reaper thread; the run comes back when it cannot be (no
    /// pidfd for it, no reaper thread), for a thread of its own.
    pub(super) fn watch(&self, run: Arrival) -> Result<(), Box<Arrival>> {
        let Some(shared) = &self.shared else {
            return Err(Box::new(run));
        };
        if run.pipes.exit_fd().is_none() {
            return Err(Box::new(run));
        }
        let mut inbox = shared.inbox.lock().unwrap_or_else(|p| p.into_inner());
        inbox.arrivals.push(run);
        if inbox.thread {
            drop(inbox);
            shared.wake();
            return Ok(());
        }
        let for_thread = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name("reaper".into())
            .spawn(move || reap(&for_thread));
        match spawned {
            Ok(_) => {
                inbox.thread = true;
                Ok(())
            }
            Err(e) => {
                log::warn!("cannot start the reaper thread: {e}; the run is watched by a thread of its own");
                // No thread was running: this run is the only one waiting.
                Err(Box::new(
                    inbox.arrivals.pop().expect("the run just handed over"),
                ))
            }
        }
    }
}

impl Shared {
    fn new() -> Option<Self> {
        // SAFETY: epoll_create1 and eventfd take flags and return a new descriptor or -1.
        let epoll = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        let epoll = (epoll >= 0).then(|| unsafe { OwnedFd::from_raw_fd(epoll) })?;
        // SAFETY: as above.
        let wake = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        let wake = (wake >= 0).then(|| unsafe { OwnedFd::from_raw_fd(wake) })?;
        add(epoll.as_raw_fd(), wake.as_raw_fd(), WAKE).ok()?;
        Some(Self {
            epoll,
            wake,
            inbox: Mutex::default(),
        })
    }

    fn wake(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writing 8 bytes from a live buffer to an eventfd this struct owns.
        unsafe { libc::write(self.wake.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    }

    fn drain_wake(&self) {
        let mut counter = [0u8; 8];
        // SAFETY: reading 8 bytes into a live buffer from a non-blocking eventfd.
        unsafe {
            libc::read(
                self.wake.as_raw_fd(),
                counter.as_mut_ptr().cast(),
                counter.len(),
            )
        };
    }
}

/// Where a watched run is.
enum Phase {
    /// Its command runs.
    Running,
    /// Its timeout passed and its group got SIGTERM; SIGKILL at `kill_at`, or as soon as the
    /// command exits (for what is left of its group).
    Terminating { kill_at: Instant },
    /// Its group got SIGKILL after a timeout; its exit is awaited.
    Killed,
    /// The command exited (how: `ended`) and was waited for; output still arriving is read
    /// until `until`.
    Draining { ended: Ended, until: Instant },
    /// Watched to its end.
    Done(Ended),
}

/// A run in the epoll set.
struct Watched {
    runner: Runner,
    child: Child,
    pipes: Pipes,
    sink: Sink,
    claim: Arc<Claim>,
    group: u32,
    deadline: Option<Instant>,
    phase: Phase,
}

/// The reaper's state on its thread.
struct Reap<'a> {
    shared: &'a Shared,
    runs: HashMap<u64, Watched>,
    next_id: u64,
    /// Each run's next instant to look at it (lazily cleared: a stale one finds nothing to do).
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    buffer: Vec<u8>,
    /// Runs that came to their end since the last look (`Phase::Done`).
    done: Vec<u64>,
    /// Runs watched to their end, waiting for their ends to be written.
    ended: Vec<Watched>,
    /// A runner whose runs' starts wait to be written (when no end carries them).
    starts: Option<Runner>,
    /// When what waits is written.
    write_at: Option<Instant>,
}

/// The reaper thread: wait, read, reap, record, until nothing runs for [`IDLE_EXIT`].
fn reap(shared: &Shared) {
    let mut reap = Reap {
        shared,
        runs: HashMap::new(),
        next_id: 0,
        timers: BinaryHeap::new(),
        buffer: vec![0; 64 * 1024],
        done: Vec::new(),
        ended: Vec::new(),
        starts: None,
        write_at: None,
    };
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS];
    let mut idle_since = Instant::now();
    loop {
        let now = Instant::now();
        if let Some(runner) = reap.take_arrivals() {
            reap.starts = Some(runner);
            reap.write_at.get_or_insert(now + WRITE_DELAY);
        }
        reap.run_timers(now);
        if reap.take_ended() {
            reap.write_at.get_or_insert(now + WRITE_DELAY);
        }
        if reap.write_at.is_some_and(|at| now >= at) || reap.ended.len() >= WRITE_BATCH {
            // The ends carry the starts waiting with them (one transaction); without ends,
            // the starts go alone, off the path that starts the other due jobs.
            let starts = reap.starts.take();
            reap.write_at = None;
            if !reap.ended.is_empty() {
                finish_all(std::mem::take(&mut reap.ended));
            } else if let Some(runner) = starts {
                runner.flush_records();
            }
        }
        if reap.runs.is_empty() && reap.write_at.is_none() {
            if idle_since.elapsed() >= IDLE_EXIT {
                let mut inbox = shared.inbox.lock().unwrap_or_else(|p| p.into_inner());
                if inbox.arrivals.is_empty() {
                    inbox.thread = false;
                    return;
                }
                continue;
            }
        } else {
            idle_since = Instant::now();
        }
        let next = match (reap.timers.peek(), reap.write_at) {
            (Some(Reverse((at, _))), Some(write)) => Some((*at).min(write)),
            (Some(Reverse((at, _))), None) => Some(*at),
            (None, write) => write,
        };
        let wait = match next {
            Some(at) => Some(at.saturating_duration_since(Instant::now())),
            None if reap.runs.is_empty() => {
                Some(IDLE_EXIT.saturating_sub(idle_since.elapsed()) + Duration::from_millis(1))
            }
            None => None,
        };
        // SAFETY: `events` is a live array of `EVENTS` entries.
        let ready = unsafe {
            libc::epoll_wait(
                shared.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                EVENTS as i32,
                timeout_ms(wait),
            )
        };
        for event in events.iter().take(usize::try_from(ready).unwrap_or(0)) {
            let token = event.u64;
            if token == WAKE {
                shared.drain_wake();
                continue;
            }
            reap.on_ready(token >> 2, (token & 3) as u8);
        }
    }
}

impl Reap<'_> {
    /// Put the runs handed over into the epoll set; a runner of theirs, if any came.
    fn take_arrivals(&mut self) -> Option<Runner> {
        let arrivals = std::mem::take(
            &mut self
                .shared
                .inbox
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .arrivals,
        );
        let runner = arrivals.first().map(|a| a.runner.clone());
        for arrival in arrivals {
            self.join(arrival);
        }
        runner
    }

    fn join(&mut self, arrival: Arrival) {
        let id = self.next_id;
        self.next_id += 1;
        let epoll = self.shared.epoll.as_raw_fd();
        let mut watched = Watched {
            runner: arrival.runner,
            child: arrival.child,
            pipes: arrival.pipes,
            sink: arrival.sink,
            claim: arrival.claim,
            group: arrival.group,
            deadline: arrival.deadline,
            phase: Phase::Running,
        };
        let fds = [
            (watched.pipes.exit_fd(), 0),
            (watched.pipes.pipe_fd(Stream::Stdout), 1),
            (watched.pipes.pipe_fd(Stream::Stderr), 2),
        ];
        for (fd, kind) in fds {
            let Some(fd) = fd else { continue };
            if let Err(e) = add(epoll, fd, id << 2 | kind) {
                // Cannot happen with fresh descriptors; the run must still end.
                let error = format!("cannot watch the command: {e}");
                watched
                    .runner
                    .record(&watched.claim, RunStatus::Failed, None, Some(error), None);
                super::signal_group(watched.group, true);
                forget(epoll, &mut watched);
                watched.runner.finished(Some(watched.group));
                watched.runner.start_queued_behind(&watched.claim.job);
                return;
            }
        }
        if let Some(at) = watched.deadline {
            self.timers.push(Reverse((at, id)));
        }
        self.runs.insert(id, watched);
    }

    /// A descriptor of run `id` is ready: `kind` 0 its pidfd, 1 stdout, 2 stderr.
    fn on_ready(&mut self, id: u64, kind: u8) {
        let epoll = self.shared.epoll.as_raw_fd();
        let Some(watched) = self.runs.get_mut(&id) else {
            return;
        };
        let now = Instant::now();
        let buffer = &mut self.buffer;
        let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match kind {
            0 => watched.exited(epoll, now),
            1 => watched.read(epoll, Stream::Stdout, buffer),
            _ => watched.read(epoll, Stream::Stderr, buffer),
        }));
        let done = matches!(watched.phase, Phase::Done(_));
        self.after_step(id, done, step);
    }

    /// What one step of watching run `id` (its readiness or its timer) leaves to do: a timer
    /// to set, the run to finish, or, when the step panicked, the run to end as broken.
    fn after_step(&mut self, id: u64, done: bool, step: std::thread::Result<Option<Instant>>) {
        match step {
            Ok(Some(at)) => self.timers.push(Reverse((at, id))),
            Ok(None) if done => self.done.push(id),
            Ok(None) => {}
            Err(payload) => self.broke(id, &*payload),
        }
    }

    /// Act on every timer due at `now`.
    fn run_timers(&mut self, now: Instant) {
        let epoll = self.shared.epoll.as_raw_fd();
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(watched) = self.runs.get_mut(&id) else {
                continue;
            };
            let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                watched.on_timer(epoll, now)
            }));
            let done = matches!(watched.phase, Phase::Done(_));
            self.after_step(id, done, step);
        }
    }

    /// Move the runs watched to their end out of the set, to wait for their write; whether
    /// any were.
    fn take_ended(&mut self) -> bool {
        if self.done.is_empty() {
            return false;
        }
        for id in std::mem::take(&mut self.done) {
            if let Some(watched) = self.runs.remove(&id) {
                self.ended.push(watched);
            }
        }
        true
    }

    /// Watching run `id` panicked: whatever broke, the run must not stay `running`: end its
    /// group and record it, as a watcher thread's panic does.
    fn broke(&mut self, id: u64, payload: &(dyn std::any::Any + Send)) {
        let Some(mut watched) = self.runs.remove(&id) else {
            return;
        };
        super::signal_group(watched.group, true);
        forget(self.shared.epoll.as_raw_fd(), &mut watched);
        let error = format!(
            "the run's watcher panicked: {}",
            crate::text::panic_message(payload)
        );
        watched
            .runner
            .record(&watched.claim, RunStatus::Failed, None, Some(error), None);
        watched.runner.finished(Some(watched.group));
        watched.runner.start_queued_behind(&watched.claim.job);
    }
}

impl Watched {
    /// Its pidfd is readable: the command exited. Returns when to look again, if ever.
    fn exited(&mut self, epoll: RawFd, now: Instant) -> Option<Instant> {
        let timed_out = match self.phase {
            Phase::Running => false,
            Phase::Terminating { .. } => {
                // The command ended after SIGTERM: what is left of its group gets SIGKILL.
                super::signal_group(self.group, true);
                true
            }
            Phase::Killed => true,
            Phase::Draining { .. } | Phase::Done(_) => return None,
        };
        let ended = match self.child.try_wait() {
            Ok(Some(_)) if timed_out => Ended::TimedOut,
            Ok(Some(status)) => Ended::Exited(status),
            // A readable pidfd is an exited process; look again at the next event.
            Ok(None) => return None,
            Err(_) if timed_out => Ended::TimedOut,
            Err(e) => Ended::Unwatchable(e),
        };
        if let Some(fd) = self.pipes.exit_fd() {
            delete(epoll, fd);
        }
        self.pipes.close_exit();
        if self.pipes.open() {
            let until = now + STRAGGLERS;
            self.phase = Phase::Draining { ended, until };
            Some(until)
        } else {
            self.phase = Phase::Done(ended);
            None
        }
    }

    /// `stream` is readable: one read into the sink; its end closes it.
    fn read(&mut self, epoll: RawFd, stream: Stream, buffer: &mut [u8]) -> Option<Instant> {
        if !self.pipes.read_ready(stream, &mut self.sink, buffer) {
            if let Some(fd) = self.pipes.pipe_fd(stream) {
                delete(epoll, fd);
            }
            self.pipes.close(stream);
            if !self.pipes.open() {
                if let Phase::Draining { .. } = self.phase {
                    self.settle();
                }
            }
        }
        None
    }

    /// One of its instants came: its timeout, the end of its grace, the end of its stragglers.
    fn on_timer(&mut self, epoll: RawFd, now: Instant) -> Option<Instant> {
        match self.phase {
            Phase::Running if self.deadline.is_some_and(|d| now >= d) => {
                super::signal_group(self.group, false);
                let kill_at = now + KILL_GRACE;
                self.phase = Phase::Terminating { kill_at };
                Some(kill_at)
            }
            Phase::Terminating { kill_at } if now >= kill_at => {
                super::signal_group(self.group, true);
                self.phase = Phase::Killed;
                None
            }
            Phase::Draining { until, .. } if now >= until => {
                // A background child of the command still holds its output: the pipes close
                // now (noted when the run is recorded).
                for stream in [Stream::Stdout, Stream::Stderr] {
                    if let Some(fd) = self.pipes.pipe_fd(stream) {
                        delete(epoll, fd);
                    }
                }
                self.settle();
                None
            }
            _ => None,
        }
    }

    /// Draining ends: the run is done, how it ended kept.
    fn settle(&mut self) {
        let phase = std::mem::replace(&mut self.phase, Phase::Running);
        self.phase = match phase {
            Phase::Draining { ended, .. } => Phase::Done(ended),
            other => other,
        };
    }
}

/// Record the runs that ended together, in one batch, and let them go: what a watcher thread
/// does at a run's end (`Runner::watch`, `Runner::record`), for many at once.
fn finish_all(ended: Vec<Watched>) {
    let Some(runner) = ended.first().map(|w| w.runner.clone()) else {
        return;
    };
    let mut done = Vec::with_capacity(ended.len());
    for mut watched in ended {
        let Phase::Done(how) = std::mem::replace(&mut watched.phase, Phase::Running) else {
            continue;
        };
        let (status, exit_code, error) = super::verdict(
            how,
            &watched.claim.job,
            &mut watched.sink,
            &mut watched.pipes,
        );
        let outcome = runner.outcome_of(&watched.claim, status, exit_code, error);
        done.push((watched, outcome));
    }
    let records = done
        .iter()
        .map(|(_, outcome)| RunRecord::Ended {
            run_id: outcome.run_id.clone(),
            status: outcome.status,
            exit_code: outcome.exit_code,
            error: outcome.error.clone(),
            at: outcome.finished_at,
        })
        .collect();
    let results = runner.recorder.record_all(records);
    for ((mut watched, outcome), result) in done.into_iter().zip(results) {
        let hook = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runner.recorded(&watched.claim, &outcome, result)
        }))
        .unwrap_or_else(|payload| {
            log::error!(
                "job={}: after its run was recorded: {}",
                watched.claim.job.name,
                crate::text::panic_message(&*payload)
            );
            None
        });
        match hook {
            Some(failure) => hand_to_hook(watched, failure),
            None => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    watched.sink.finish()
                }));
                let Watched {
                    runner,
                    claim,
                    group,
                    ..
                } = watched;
                runner.finished(Some(group));
                runner.start_queued_behind(&claim.job);
            }
        }
    }
}

/// Run the job's on-failure hook on a thread of its own (it runs a process and waits up to
/// [`super::HOOK_TIMEOUT`]), into the run's output, then let the run go.
fn hand_to_hook(watched: Watched, failure: hook::Failure) {
    let Watched {
        runner,
        mut sink,
        claim,
        group,
        ..
    } = watched;
    let name = format!("hook-{}", claim.job.id);
    let for_hook = runner.clone();
    let job = claim.job.clone();
    let spawned = std::thread::Builder::new().name(name).spawn(move || {
        // The hook is told the file: it exists, empty if the run wrote nothing.
        let _ = sink.file();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for_hook.run_on_failure_hook(&failure, &mut sink);
            sink.finish();
        }));
        for_hook.finished(Some(group));
        for_hook.start_queued_behind(&job);
    });
    if let Err(e) = spawned {
        log::warn!(
            "job={}: cannot start its on-failure hook: {e}",
            claim.job.name
        );
        runner.finished(Some(group));
        runner.start_queued_behind(&claim.job);
    }
}

/// Take every descriptor of `watched` out of the epoll set and close them.
fn forget(epoll: RawFd, watched: &mut Watched) {
    if let Some(fd) = watched.pipes.exit_fd() {
        delete(epoll, fd);
    }
    watched.pipes.close_exit();
    for stream in [Stream::Stdout, Stream::Stderr] {
        if let Some(fd) = watched.pipes.pipe_fd(stream) {
            delete(epoll, fd);
        }
        watched.pipes.close(stream);
    }
}

fn add(epoll: RawFd, fd: RawFd, token: u64) -> std::io::Result<()> {
    let mut event = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: token,
    };
    // SAFETY: epoll_ctl on descriptors this process owns, with a live event.
    if unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, &mut event) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Take `fd` out of the set before it is closed (a copy in a child being spawned would keep it
/// in the set, reporting a descriptor gone).
fn delete(epoll: RawFd, fd: RawFd) {
    // SAFETY: epoll_ctl on descriptors this process owns.
    unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) };
}

/// A wait in epoll's milliseconds, rounded up so it never ends before its instant and spins.
fn timeout_ms(wait: Option<Duration>) -> i32 {
    wait.map_or(-1, |t| {
        i32::try_from(t.as_millis() + u128::from(t.subsec_nanos() % 1_000_000 != 0))
            .unwrap_or(i32::MAX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ClaimOutcome, Claimer, JobSpec, Store};

    struct Setup {
        dir: tempfile::TempDir,
        store: Arc<Store>,
        runner: Runner,
        now: chrono::DateTime<chrono::Utc>,
    }

    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("cronhost.db")).unwrap());
        let runner = Runner::new(Arc::clone(&store), dir.path().join("output"));
        Setup {
            dir,
            store,
            runner,
            now: chrono::Utc::now(),
        }
    }

    impl Setup {
        /// Add a per-second job running `script` in a shell and claim its due occurrence.
        fn claim(&self, name: &str, script: &str, edit: impl FnOnce(&mut JobSpec)) -> Claim {
            let mut spec = JobSpec::new("* * * * * *", [script]);
            spec.shell = true;
            spec.name = Some(name.into());
            spec.workdir = Some(self.dir.path().to_string_lossy().into_owned());
            edit(&mut spec);
            let job = self.store.add_job(&spec, "UTC", self.now).unwrap();
            let claimer = Claimer {
                host: "test".into(),
                pid: std::process::id(),
                max_parallel: 0,
            };
            match self
                .store
                .claim(&job.id, self.now + chrono::Duration::seconds(2), &claimer)
                .unwrap()
            {
                ClaimOutcome::Run(claim) => claim,
                other => panic!("not claimed: {other:?}"),
            }
        }

        fn run(&self, run_id: &str) -> crate::store::Run {
            self.store.run(run_id).unwrap().expect("the run")
        }

        /// Wait (generously) until `run_id` has ended.
        fn ended(&self, run_id: &str) -> crate::store::Run {
            let until = Instant::now() + Duration::from_secs(60);
            loop {
                let run = self.run(run_id);
                if run.finished_at.is_some() || Instant::now() > until {
                    return run;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// The names of this process's threads.
    fn threads() -> Vec<String> {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .map(|name| name.trim().to_owned())
            .collect()
    }

    #[test]
    fn many_runs_at_once_are_watched_by_one_thread_their_output_kept_and_all_recorded() {
        let setup = setup();
        let claims: Vec<Claim> = (0..30)
            .map(|i| {
                setup.claim(
                    &format!("job-{i}"),
                    &format!("echo out-{i}; echo err-{i} >&2; read nothing < go-{i} || true"),
                    |_| {},
                )
            })
            .collect();
        for i in 0..30 {
            let fifo = std::ffi::CString::new(
                setup
                    .dir
                    .path()
                    .join(format!("go-{i}"))
                    .to_string_lossy()
                    .into_owned(),
            )
            .unwrap();
            // SAFETY: mkfifo with a valid C string.
            assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        }
        let runs: Vec<(String, Claim)> = claims
            .into_iter()
            .map(|claim| (claim.run_id.clone(), claim))
            .collect();
        for (_, claim) in &runs {
            setup.runner.start(claim.clone()).unwrap();
        }
        // Every command waits on its fifo: all 30 are running now, watched by one reaper.
        let names = threads();
        assert_eq!(
            names.iter().filter(|n| n.starts_with("run-")).count(),
            0,
            "a watcher thread per run: {names:?}"
        );
        // (Tests running beside this one have reapers of their own.)
        assert!(names.iter().any(|n| n == "reaper"), "{names:?}");
        assert_eq!(setup.runner.inflight(), 30);
        for i in 0..30 {
            std::fs::write(setup.dir.path().join(format!("go-{i}")), "\n").unwrap();
        }
        assert!(setup.runner.wait_idle(Duration::from_secs(60)));
        for (i, (run_id, claim)) in runs.iter().enumerate() {
            let run = setup.run(run_id);
            assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
            assert!(run.started_at.is_some(), "{run:?}");
            let output = std::fs::read_to_string(super::super::output_path(
                setup.runner.output_dir(),
                &claim.job.id,
                claim.scheduled_at,
            ))
            .unwrap();
            assert!(output.contains(&format!("out-{i}\n")), "{output:?}");
            assert!(output.contains(&format!("err-{i}\n")), "{output:?}");
        }
    }

    #[test]
    fn a_timed_out_run_is_ended_without_holding_up_the_end_of_another() {
        let setup = setup();
        // Ignores SIGTERM (its `sleep` too): only the SIGKILL after the grace ends it.
        let stubborn = setup.claim(
            "stubborn",
            "trap '' TERM; echo started > stubborn-started; sleep 60",
            |spec| spec.timeout_secs = Some(1),
        );
        let quick = setup.claim("quick", "read nothing < go || true", |_| {});
        let fifo =
            std::ffi::CString::new(setup.dir.path().join("go").to_string_lossy().into_owned())
                .unwrap();
        // SAFETY: mkfifo with a valid C string.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        setup.runner.start(stubborn.clone()).unwrap();
        setup.runner.start(quick.clone()).unwrap();
        // Wait until the stubborn run got its SIGTERM (its timeout passed: it is in its grace),
        // then let the quick one end: it is recorded while the other is still in its grace.
        let until = Instant::now() + Duration::from_secs(60);
        while !setup.dir.path().join("stubborn-started").exists() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(1200));
        std::fs::write(setup.dir.path().join("go"), "\n").unwrap();
        let quick_run = setup.ended(&quick.run_id);
        assert_eq!(quick_run.status, RunStatus::Succeeded, "{quick_run:?}");
        let stubborn_run = setup.run(&stubborn.run_id);
        assert_eq!(
            stubborn_run.finished_at, None,
            "the quick run's end waited for the kill: {stubborn_run:?}"
        );
        let stubborn_run = setup.ended(&stubborn.run_id);
        assert_eq!(stubborn_run.status, RunStatus::TimedOut, "{stubborn_run:?}");
        assert!(setup.runner.wait_idle(Duration::from_secs(60)));
    }

    #[test]
    fn an_on_failure_hook_runs_beside_the_reaper_into_the_failed_run_s_output() {
        let setup = setup();
        let failing = setup.claim("failing", "echo failing; exit 3", |spec| {
            spec.on_failure =
                Some("while [ ! -e hook-go ]; do sleep 0.02; done; echo hooked".into());
        });
        let later = setup.claim("later", "echo later", |_| {});
        setup.runner.start(failing.clone()).unwrap();
        let failed = setup.ended(&failing.run_id);
        assert_eq!(failed.status, RunStatus::Failed, "{failed:?}");
        // The hook waits for `hook-go`: a run started now still ends and is recorded.
        setup.runner.start(later.clone()).unwrap();
        let later_run = setup.ended(&later.run_id);
        assert_eq!(later_run.status, RunStatus::Succeeded, "{later_run:?}");
        assert_eq!(
            setup.runner.inflight(),
            1,
            "the failed run waits for its hook"
        );
        std::fs::write(setup.dir.path().join("hook-go"), "").unwrap();
        assert!(setup.runner.wait_idle(Duration::from_secs(60)));
        let output = std::fs::read_to_string(super::super::output_path(
            setup.runner.output_dir(),
            &failing.job.id,
            failing.scheduled_at,
        ))
        .unwrap();
        assert!(output.starts_with("failing\n"), "{output:?}");
        assert!(output.contains("hooked\n"), "{output:?}");
        assert!(
            output.contains("[cronhost: the on-failure hook succeeded]"),
            "{output:?}"
        );
    }
}
