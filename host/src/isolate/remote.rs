//! The host side of isolation: a provider running in a child process, reached over the
//! protocol. The child is watched (a ping every 250 ms) and killed when it stops answering;
//! when it dies, every call waiting on it fails at once with the reason, and the next `start`
//! starts a fresh child.

use std::collections::VecDeque;
use std::io::{BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use cronhost_provider_api::abi_stable::std_types::{RStr, RString};
use cronhost_provider_api::ffi::HostServices;
use cronhost_provider_api::{FireOutcome, StartOptions};

use super::child::CHILD_COMMAND;
use super::pending::Pending;
use super::protocol::{
    encode, read_frame, Answer, Call, FrameError, FromChild, Init, Run, Service, ServiceAnswer,
    ToChild, PROTOCOL_VERSION,
};
use crate::provider::{Services, StopFlag};
use crate::subprocess::{describe, for_each_line, kill_group};
use crate::text::truncate;

/// How often the host pings a child.
pub const PING_INTERVAL: Duration = Duration::from_millis(250);

/// A child from which nothing (no pong, no other frame) has arrived for this long is killed;
/// checked every [`PING_INTERVAL`].
pub const UNRESPONSIVE_AFTER: Duration = Duration::from_secs(1);

/// How long a child may take to start and load the library, before the constructor's own
/// deadline begins.
pub const STARTUP_ALLOWANCE: Duration = Duration::from_secs(20);

/// How many host-service requests of one child are answered at once; more get "busy".
const MAX_SERVICE_REQUESTS_IN_FLIGHT: u64 = 64;

/// How many of the child's last stderr lines are kept for a death report.
const STDERR_TAIL_LINES: usize = 3;

/// A stderr line counts as the child's last words if it came this shortly before the end.
const LAST_WORDS_WINDOW: Duration = Duration::from_secs(2);

/// Why a call to an isolated provider failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteError {
    /// The provider returned an error.
    Failed(String),
    /// The child process is gone (or was never started): why.
    Died(String),
    /// The child did not finish constructing the provider in time (it was killed).
    Hung,
}

/// How to start a child for one provider.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// The program to run with [`CHILD_COMMAND`] (the `cronhost` binary).
    pub program: PathBuf,
    /// The first message.
    pub init: Init,
    /// How long the child may take to load and construct the provider.
    pub deadline: Duration,
}

/// A provider in a child process. The child is restarted lazily, by [`RemoteProvider::start`].
pub struct RemoteProvider {
    spec: ChildSpec,
    start_blocks: bool,
    current: Mutex<Option<Arc<Connection>>>,
    restarting: Mutex<()>,
    services: Arc<Mutex<Option<Services>>>,
}

impl std::fmt::Debug for RemoteProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteProvider")
            .field("provider", &self.spec.init.provider)
            .field("pid", &self.pid())
            .finish_non_exhaustive()
    }
}

impl RemoteProvider {
    /// Start the first child and construct the provider in it.
    pub fn spawn(spec: ChildSpec) -> Result<Self, RemoteError> {
        let services = Arc::default();
        let (connection, start_blocks) = Connection::open(&spec, Arc::clone(&services))?;
        Ok(Self {
            spec,
            start_blocks,
            current: Mutex::new(Some(connection)),
            restarting: Mutex::new(()),
            services,
        })
    }

    /// Whether `start` blocks like a ticker (as the child reported).
    pub fn start_blocks(&self) -> bool {
        self.start_blocks
    }

    /// The running child's process id.
    pub fn pid(&self) -> Option<u32> {
        self.live().map(|c| c.pid)
    }

    fn live(&self) -> Option<Arc<Connection>> {
        self.connection().ok()
    }

    /// The running child, or why there is none.
    fn connection(&self) -> Result<Arc<Connection>, RemoteError> {
        let current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        match &*current {
            Some(c) => match c.ended() {
                None => Ok(Arc::clone(c)),
                Some(reason) => Err(RemoteError::Died(reason)),
            },
            None => Err(RemoteError::Died(
                "the provider process is not running".into(),
            )),
        }
    }

    /// Make sure a child is running: start a fresh one if the last one died.
    pub fn ensure_running(&self) -> Result<(), RemoteError> {
        self.connection_or_restart().map(|_| ())
    }

    /// The running child, or a fresh one when the last one died.
    fn connection_or_restart(&self) -> Result<Arc<Connection>, RemoteError> {
        // One restart at a time; the connection slot itself is not held while a child starts,
        // so calls meanwhile fail at once (the old child's reason) instead of waiting.
        let _restarting = self.restarting.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(live) = self.live() {
            return Ok(live);
        }
        log::info!(
            "provider `{}`: its process is gone; starting a new one",
            self.spec.init.provider
        );
        let (connection, _) = Connection::open(&self.spec, Arc::clone(&self.services))?;
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&connection));
        Ok(connection)
    }

    fn hand(&self, services: &Services) {
        *self.services.lock().unwrap_or_else(|p| p.into_inner()) = Some(services.clone());
    }

    /// Call a provider method and wait for the answer (or the child's death).
    pub fn call(&self, call: Call) -> Result<Answer, RemoteError> {
        let connection = self.connection()?;
        let answered = connection.begin(call)?;
        connection.finish(&answered)
    }

    /// `start`: restarts the child if it died, then runs `start` in it, passing the stop
    /// signal on when it is set.
    pub fn start(
        &self,
        services: &Services,
        stop: &StopFlag,
        options: StartOptions,
    ) -> Result<(), RemoteError> {
        self.hand(services);
        let connection = self.connection_or_restart()?;
        let answered = connection.begin(Call::Start {
            tick_interval_ms: options.tick_interval_ms,
        })?;
        let mut stop_sent = false;
        loop {
            match answered.recv_timeout(Duration::from_millis(50)) {
                Ok(result) => return result.map(|_| ()),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(RemoteError::Died(connection.ended().unwrap_or_default()))
                }
                Err(mpsc::RecvTimeoutError::Timeout) if !stop_sent && stop.is_set() => {
                    stop_sent = true;
                    connection.send(&ToChild::Stop);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// `fire_due`.
    pub fn fire_due(&self, services: &Services, job_id: &str) -> Result<FireOutcome, RemoteError> {
        self.hand(services);
        match self.call(Call::FireDue {
            job_id: job_id.to_owned(),
        })? {
            Answer::Fired(outcome) => Ok(outcome),
            other => Err(unexpected(&other)),
        }
    }

    /// Kill the running child (it hung or stalled): calls waiting on it fail at once, and the
    /// next `start` starts a fresh one.
    pub fn abandon(&self, reason: &str) {
        if let Some(connection) = self.live() {
            connection.kill(reason);
        }
    }
}

impl Drop for RemoteProvider {
    fn drop(&mut self) {
        if let Some(connection) = self.live() {
            connection.kill("the host no longer needs it");
        }
    }
}

/// An answer that does not fit the call.
pub fn unexpected(answer: &Answer) -> RemoteError {
    RemoteError::Failed(format!(
        "the provider process sent an unexpected answer: {answer:?}"
    ))
}

/// One child process and the conversation with it.
struct Connection {
    provider: String,
    pid: u32,
    child: Mutex<Child>,
    stdin: Mutex<ChildStdin>,
    pending: Pending<Result<Answer, RemoteError>>,
    /// Why the conversation ended, once it has.
    end: (Mutex<Option<String>>, Condvar),
    /// Why the host killed the child, if it did.
    kill_reason: Mutex<Option<String>>,
    last_pong: Mutex<Instant>,
    stderr_tail: Mutex<VecDeque<(Instant, String)>>,
    services: Arc<Mutex<Option<Services>>>,
    /// Service requests being answered.
    serving: AtomicU64,
}

impl Connection {
    /// Start a child, send Init and wait (up to the deadline) for Hello.
    fn open(
        spec: &ChildSpec,
        services: Arc<Mutex<Option<Services>>>,
    ) -> Result<(Arc<Self>, bool), RemoteError> {
        // Too large a config section would never reach the child: refuse before starting one.
        encode(&ToChild::Init(spec.init.clone())).map_err(|e| {
            RemoteError::Failed(format!("the provider's config section cannot be sent: {e}"))
        })?;
        let mut command = Command::new(&spec.program);
        command
            .arg(CHILD_COMMAND)
            // A panic's message is what the log needs, not a backtrace per restart.
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        {
            // Its own process group: a Ctrl-C meant for the host must not kill the provider
            // before the host has stopped it.
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        let mut child = command.spawn().map_err(|e| {
            RemoteError::Died(format!(
                "cannot start {} {CHILD_COMMAND}: {e}",
                spec.program.display()
            ))
        })?;
        log::info!(
            "provider `{}`: process {} started",
            spec.init.provider,
            child.id()
        );
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            return Err(RemoteError::Died("the child's pipes are missing".into()));
        };
        let connection = Arc::new(Self {
            provider: spec.init.provider.clone(),
            pid: child.id(),
            child: Mutex::new(child),
            stdin: Mutex::new(stdin),
            pending: Pending::default(),
            end: Default::default(),
            kill_reason: Mutex::default(),
            last_pong: Mutex::new(Instant::now()),
            stderr_tail: Mutex::default(),
            services,
            serving: AtomicU64::new(0),
        });
        let (hello, greeted) = mpsc::channel();
        let reader = Arc::clone(&connection);
        let mut stdout = BufReader::new(stdout);
        let reading = spawn(&format!("isolate-read-{}", connection.pid), move || {
            // The opening: Loaded, then Hello (or Refused, or the end).
            loop {
                let frame = read_frame::<FromChild>(&mut stdout);
                let (loaded, greeted) = (
                    matches!(frame, Ok(FromChild::Loaded)),
                    matches!(frame, Ok(FromChild::Hello { .. })),
                );
                let _ = hello.send(frame);
                if greeted {
                    reader.read_loop(&mut stdout);
                }
                if !loaded {
                    break;
                }
            }
            reader.finish_after_exit();
        });
        let stderr_reader = Arc::clone(&connection);
        spawn(&format!("isolate-stderr-{}", connection.pid), move || {
            stderr_reader.read_stderr(stderr);
        });
        if !reading {
            connection.kill("the host cannot start a thread to read from it");
            let _ = connection.reap();
            return Err(RemoteError::Died(
                "the host cannot start a thread to read from the provider process".into(),
            ));
        }
        if !connection.send(&ToChild::Init(spec.init.clone())) {
            return Err(RemoteError::Died(connection.wait_end()));
        }
        let mut opening = greeted.recv_timeout(STARTUP_ALLOWANCE);
        let loaded = matches!(opening, Ok(Ok(FromChild::Loaded)));
        if loaded {
            opening = greeted.recv_timeout(spec.deadline);
        }
        let start_blocks = match opening {
            Ok(Ok(FromChild::Hello {
                protocol,
                start_blocks,
            })) if protocol == PROTOCOL_VERSION => start_blocks,
            Ok(Ok(FromChild::Hello { protocol, .. })) => {
                let reason = format!(
                    "the provider process speaks isolation protocol {protocol}, this host {PROTOCOL_VERSION}"
                );
                connection.kill(&reason);
                return Err(RemoteError::Died(reason));
            }
            Ok(Ok(FromChild::Refused(message))) => {
                connection.kill("it refused to start");
                return Err(RemoteError::Failed(message));
            }
            Ok(Ok(other)) => {
                let reason = format!("the provider process opened with {other:?} instead of Hello");
                connection.kill(&reason);
                return Err(RemoteError::Died(reason));
            }
            Ok(Err(FrameError::Closed | FrameError::Io(_)))
            | Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(RemoteError::Died(connection.wait_end()));
            }
            Ok(Err(error)) => {
                connection.kill(&format!(
                    "it does not speak the isolation protocol ({error}); a program embedding the host must call cronhost::isolate::serve_if_asked() first thing in main"
                ));
                return Err(RemoteError::Died(connection.wait_end()));
            }
            Err(mpsc::RecvTimeoutError::Timeout) if loaded => {
                connection.kill(&format!(
                    "it did not construct the provider within {}ms",
                    spec.deadline.as_millis()
                ));
                return Err(RemoteError::Hung);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let reason = format!(
                    "it did not load the library within {}s",
                    STARTUP_ALLOWANCE.as_secs()
                );
                connection.kill(&reason);
                return Err(RemoteError::Died(reason));
            }
        };
        *connection
            .last_pong
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Instant::now();
        let pinger = Arc::clone(&connection);
        spawn(&format!("isolate-ping-{}", connection.pid), move || {
            pinger.ping_loop()
        });
        Ok((connection, start_blocks))
    }

    fn ended(&self) -> Option<String> {
        self.end.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Wait until the conversation has ended and say why.
    fn wait_end(&self) -> String {
        let (lock, ended) = &self.end;
        let mut reason = lock.lock().unwrap_or_else(|p| p.into_inner());
        while reason.is_none() {
            reason = ended.wait(reason).unwrap_or_else(|p| p.into_inner());
        }
        reason.clone().unwrap_or_default()
    }

    /// Send one frame; false when the child is gone.
    fn send(&self, message: &ToChild) -> bool {
        let Ok(frame) = encode(message) else {
            return false;
        };
        let mut stdin = self.stdin.lock().unwrap_or_else(|p| p.into_inner());
        stdin.write_all(&frame).and_then(|()| stdin.flush()).is_ok()
    }

    /// Send a call; the receiver gets its answer, or the death reason.
    fn begin(
        &self,
        call: Call,
    ) -> Result<mpsc::Receiver<Result<Answer, RemoteError>>, RemoteError> {
        let (id, answered) = self.pending.register();
        if let Some(reason) = self.ended() {
            self.pending.forget(id);
            return Err(RemoteError::Died(reason));
        }
        if !self.send(&ToChild::Call { id, call }) {
            self.pending.forget(id);
            return Err(RemoteError::Died(self.wait_end()));
        }
        Ok(answered)
    }

    fn finish(
        &self,
        answered: &mpsc::Receiver<Result<Answer, RemoteError>>,
    ) -> Result<Answer, RemoteError> {
        answered
            .recv()
            .unwrap_or_else(|_| Err(RemoteError::Died(self.wait_end())))
    }

    /// Kill the child for `reason` (the reader then records its end).
    fn kill(&self, reason: &str) {
        {
            let mut kill_reason = self.kill_reason.lock().unwrap_or_else(|p| p.into_inner());
            if kill_reason.is_none() {
                *kill_reason = Some(reason.to_owned());
            }
        }
        // The child leads its own process group: end anything the provider started too, so
        // no inherited pipe keeps the conversation open.
        kill_group(self.pid);
        let _ = self.child.lock().unwrap_or_else(|p| p.into_inner()).kill();
    }

    fn read_loop(self: &Arc<Self>, stdout: &mut impl std::io::Read) {
        loop {
            let frame = read_frame::<FromChild>(stdout);
            if frame.is_ok() {
                // Any frame is a sign of life, not only a pong.
                *self.last_pong.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
            }
            match frame {
                Ok(FromChild::Done { id, result }) => {
                    self.pending.settle(id, result.map_err(RemoteError::Failed))
                }
                Ok(FromChild::Service { id, service }) => self.serve(id, service),
                Ok(FromChild::Log(level, message)) => match self.services() {
                    Some(services) => HostServices::log(&services, level, RStr::from_str(&message)),
                    None => {
                        log::info!(target: "cronhost::provider", "[{}] {}", self.provider, truncate(&message, 4096))
                    }
                },
                Ok(FromChild::Heartbeat { success, error }) => {
                    if let Some(services) = self.services() {
                        HostServices::record_heartbeat(&services, success, RStr::from_str(&error));
                    }
                }
                Ok(FromChild::Pong(_)) => {}
                Ok(
                    other @ (FromChild::Loaded | FromChild::Hello { .. } | FromChild::Refused(_)),
                ) => {
                    self.kill(&format!(
                        "it broke the protocol (sent {other:?} mid-conversation)"
                    ));
                    return;
                }
                Err(FrameError::Closed | FrameError::Io(_)) => return,
                Err(error) => {
                    self.kill(&format!("it broke the protocol: {error}"));
                    return;
                }
            }
        }
    }

    fn services(&self) -> Option<Services> {
        self.services
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Answer a service request on a thread of its own, so a slow tick never holds up the
    /// conversation (pongs, log lines, other answers).
    fn serve(self: &Arc<Self>, id: u64, service: Service) {
        // A child flooding requests gets "busy" answers, not a host full of threads.
        if self.serving.fetch_add(1, Ordering::SeqCst) >= MAX_SERVICE_REQUESTS_IN_FLIGHT {
            self.serving.fetch_sub(1, Ordering::SeqCst);
            self.send(&ToChild::Served {
                id,
                result: Err(format!(
                    "the host is busy: {MAX_SERVICE_REQUESTS_IN_FLIGHT} requests of this provider are in flight"
                )),
            });
            return;
        }
        let connection = Arc::clone(self);
        let spawned = spawn("isolate-serve", move || {
            let result = match connection.services() {
                Some(services) => perform(&services, service),
                None => {
                    Err("host services are handed to a provider only once it is started".into())
                }
            };
            let result = result.map_err(|e| truncate(&e, 4096).into_owned());
            // The provider waits for an answer: if this one cannot be sent (over the frame
            // limit), it gets an error instead.
            if !connection.send(&ToChild::Served { id, result }) {
                connection.send(&ToChild::Served {
                    id,
                    result: Err("the host's answer is over the 1 MiB frame limit".into()),
                });
            }
            connection.serving.fetch_sub(1, Ordering::SeqCst);
        });
        if !spawned {
            self.serving.fetch_sub(1, Ordering::SeqCst);
            self.send(&ToChild::Served {
                id,
                result: Err("the host cannot start a thread to answer".into()),
            });
        }
    }

    /// Forward the child's stderr to the log, a line at a time: never stops draining (a full
    /// pipe would block the child), cuts long lines, and goes through the provider's log
    /// budget once it has services.
    fn read_stderr(&self, stderr: impl Read) {
        for_each_line(stderr, 1024, |line| {
            let line = line.text();
            match self.services() {
                Some(services) => HostServices::log(
                    &services,
                    cronhost_provider_api::LogLevel::Warn,
                    RStr::from_str(&format!("process stderr: {line}")),
                ),
                None => {
                    log::warn!(target: "cronhost::provider", "[{}] process stderr: {line}", self.provider)
                }
            }
            let mut tail = self.stderr_tail.lock().unwrap_or_else(|p| p.into_inner());
            if tail.len() == STDERR_TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back((Instant::now(), line));
            true
        });
    }

    fn ping_loop(&self) {
        for n in 0.. {
            std::thread::sleep(PING_INTERVAL);
            if self.ended().is_some() {
                return;
            }
            let silent = self
                .last_pong
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .elapsed();
            if silent > UNRESPONSIVE_AFTER {
                self.kill(&format!(
                    "it stopped answering (nothing from it for {}ms)",
                    silent.as_millis()
                ));
                return;
            }
            // Never wait behind another writer: a frozen child with a full pipe must not
            // block the watchdog.
            if let Ok(mut stdin) = self.stdin.try_lock() {
                if let Ok(frame) = encode(&ToChild::Ping(n)) {
                    let _ = stdin.write_all(&frame).and_then(|()| stdin.flush());
                }
            }
        }
    }

    /// After the pipe closed: reap the child, record why the conversation ended, and fail
    /// every call still waiting.
    fn finish_after_exit(&self) {
        let status = self.reap();
        // Give the stderr reader a moment to take the child's last words.
        std::thread::sleep(Duration::from_millis(20));
        let mut reason = match self
            .kill_reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            Some(why) => format!("the provider process (pid {}) was killed: {why}", self.pid),
            None => format!(
                "the provider process (pid {}) {}",
                self.pid,
                describe(status)
            ),
        };
        let tail = self.stderr_tail.lock().unwrap_or_else(|p| p.into_inner());
        // Only what it said as it died (an old line would mislead), without Rust's notes.
        let last_words: Vec<&str> = tail
            .iter()
            .filter(|(at, line)| {
                at.elapsed() < LAST_WORDS_WINDOW
                    && !line.trim().is_empty()
                    && !line.starts_with("note: ")
            })
            .map(|(_, line)| line.as_str())
            .collect();
        if !last_words.is_empty() {
            reason.push_str(&format!("; its last words: {}", last_words.join(" / ")));
        }
        drop(tail);
        {
            let (lock, ended) = &self.end;
            *lock.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.clone());
            ended.notify_all();
        }
        self.pending
            .settle_all(|| Err(RemoteError::Died(reason.clone())));
    }

    /// Wait for the child to exit (it closed its pipe, so it is exiting); kill it if it lingers.
    fn reap(&self) -> Option<ExitStatus> {
        let deadline = Instant::now() + Duration::from_millis(500);
        loop {
            let mut child = self.child.lock().unwrap_or_else(|p| p.into_inner());
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {}
                Ok(None) => {
                    let _ = child.kill();
                    return child.wait().ok();
                }
                Err(_) => return None,
            }
            drop(child);
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Start a named thread; false (logged) when the system refuses one.
fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> bool {
    match std::thread::Builder::new().name(name.into()).spawn(body) {
        Ok(_) => true,
        Err(e) => {
            log::error!("cannot start thread {name}: {e}");
            false
        }
    }
}

/// Perform one host service for the child.
fn perform(services: &Services, service: Service) -> Result<ServiceAnswer, String> {
    let text = |s: &str| RString::from(s);
    match service {
        Service::Tick => HostServices::tick(services)
            .into_result()
            .map(ServiceAnswer::Ticked),
        Service::FireDue { job_id } => HostServices::fire_due(services, text(&job_id).as_rstr())
            .into_result()
            .map(ServiceAnswer::Outcome),
        Service::DueJobIds => HostServices::due_job_ids(services)
            .into_result()
            .map(|ids| ServiceAnswer::Ids(ids.into_iter().map(RString::into_string).collect())),
        Service::DueOccurrences => {
            HostServices::due_occurrences(services)
                .into_result()
                .map(|due| {
                    ServiceAnswer::Occurrences(
                        due.into_iter()
                            .map(|o| (o.job_id.into_string(), o.scheduled_at_ms))
                            .collect(),
                    )
                })
        }
        Service::FireOccurrence { job_id, at_ms } => {
            HostServices::fire_occurrence(services, text(&job_id).as_rstr(), at_ms)
                .into_result()
                .map(ServiceAnswer::Outcome)
        }
        Service::SkipOccurrence {
            job_id,
            at_ms,
            reason,
        } => HostServices::skip_occurrence(
            services,
            text(&job_id).as_rstr(),
            at_ms,
            text(&reason).as_rstr(),
        )
        .into_result()
        .map(ServiceAnswer::Outcome),
        Service::RunReport { job_id, at_ms } => {
            HostServices::run_report(services, text(&job_id).as_rstr(), at_ms)
                .into_result()
                .map(|run| ServiceAnswer::Run(run.into_option().map(Run::from)))
        }
    }
    .map_err(RString::into_string)
}
