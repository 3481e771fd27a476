//! The conversation with one child: the opening (Init, Loaded, Hello), calls and their
//! answers, the reader, the stderr drain, the watchdog, and the end. What the threads share
//! sits under one state lock ([`State`]); the pipe to the child has its own writer lock.

use std::collections::VecDeque;
use std::io::{BufReader, Read, Write};
use std::process::{Child, ChildStdin, ExitStatus};
use std::sync::atomic::AtomicU64;
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cronhost_provider_api::abi_stable::std_types::RStr;
use cronhost_provider_api::ffi::HostServices;

use super::process::{self, STDERR_TAIL_LINES};
use super::{spawn, ChildSpec, RemoteError, PING_INTERVAL, STARTUP_ALLOWANCE, UNRESPONSIVE_AFTER};
use crate::isolate::pending::Pending;
use crate::isolate::protocol::{
    encode, read_frame, Answer, Call, FrameError, FromChild, ToChild, PROTOCOL_VERSION,
};
use crate::provider::Services;
use crate::subprocess::for_each_line;
use crate::workers::Workers;
use cronhost_core::text::truncate;

/// How many threads that answered service requests a connection keeps for the next ones.
const MAX_IDLE_SERVERS: usize = 2;

/// What the connection's threads share, under one lock.
struct State {
    child: Child,
    /// Why the conversation ended, once it has.
    end: Option<String>,
    /// Why the host killed the child, if it did.
    kill_reason: Option<String>,
    /// When anything last arrived from the child.
    last_heard: Instant,
    /// Its last stderr lines, for a death report.
    stderr_tail: VecDeque<(Instant, String)>,
}

/// A call sent, its answer to come.
pub(super) struct Answered {
    id: u64,
    /// Where the answer (or the death reason) arrives.
    pub(super) answer: mpsc::Receiver<Result<Answer, RemoteError>>,
}

/// One child process and the conversation with it.
pub(super) struct Connection {
    provider: String,
    pid: u32,
    state: Mutex<State>,
    /// Signalled when `State::end` is set.
    ended: Condvar,
    /// The writer lock: held only while one frame is written.
    stdin: Mutex<ChildStdin>,
    pending: Pending<Result<Answer, RemoteError>>,
    services: Arc<Mutex<Option<Services>>>,
    /// Service requests being answered.
    pub(super) serving: AtomicU64,
    /// The threads that answer them.
    pub(super) servers: Workers,
}

impl Connection {
    /// Start a child, send Init and wait (up to the deadline) for Hello.
    pub(super) fn open(
        spec: &ChildSpec,
        services: Arc<Mutex<Option<Services>>>,
    ) -> Result<(Arc<Self>, bool), RemoteError> {
        // Too large a config section would never reach the child: refuse before starting one.
        encode(&ToChild::Init(spec.init.clone())).map_err(|e| {
            RemoteError::Failed(format!("the provider's config section cannot be sent: {e}"))
        })?;
        let started = process::start(spec)?;
        let connection = Arc::new(Self {
            provider: spec.init.provider.clone(),
            pid: started.child.id(),
            state: Mutex::new(State {
                child: started.child,
                end: None,
                kill_reason: None,
                last_heard: Instant::now(),
                stderr_tail: VecDeque::new(),
            }),
            ended: Condvar::new(),
            stdin: Mutex::new(started.stdin),
            pending: Pending::default(),
            services,
            serving: AtomicU64::new(0),
            servers: Workers::new("isolate-serve", MAX_IDLE_SERVERS),
        });
        let (hello, greeted) = mpsc::channel();
        let reader = Arc::clone(&connection);
        let mut stdout = BufReader::new(started.stdout);
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
        let stderr = started.stderr;
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
                    "it does not speak the isolation protocol ({error}); a program embedding the host must call cronhost::serve_if_asked() first thing in main"
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
        connection.state().last_heard = Instant::now();
        let pinger = Arc::clone(&connection);
        spawn(&format!("isolate-ping-{}", connection.pid), move || {
            pinger.ping_loop()
        });
        Ok((connection, start_blocks))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The child's process id.
    pub(super) fn pid(&self) -> u32 {
        self.pid
    }

    /// Why the conversation ended, if it has.
    pub(super) fn ended(&self) -> Option<String> {
        self.state().end.clone()
    }

    /// Wait until the conversation has ended and say why.
    fn wait_end(&self) -> String {
        let mut state = self.state();
        while state.end.is_none() {
            state = self.ended.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        state.end.clone().unwrap_or_default()
    }

    /// Send one frame; false when the child is gone.
    pub(super) fn send(&self, message: &ToChild) -> bool {
        let Ok(frame) = encode(message) else {
            return false;
        };
        let mut stdin = self.stdin.lock().unwrap_or_else(|p| p.into_inner());
        stdin.write_all(&frame).and_then(|()| stdin.flush()).is_ok()
    }

    /// Send a call; its [`Answered`] gets the answer, or the death reason.
    pub(super) fn begin(&self, call: Call) -> Result<Answered, RemoteError> {
        let (id, answer) = self.pending.register();
        if let Some(reason) = self.ended() {
            self.pending.forget(id);
            return Err(RemoteError::Died(reason));
        }
        if !self.send(&ToChild::Call { id, call }) {
            self.pending.forget(id);
            return Err(RemoteError::Died(self.wait_end()));
        }
        Ok(Answered { id, answer })
    }

    /// Wait for the answer `begin` promised, or the child's death; at most `deadline` when
    /// there is one ([`RemoteError::Missed`]: a late answer is dropped).
    pub(super) fn finish(
        &self,
        answered: &Answered,
        deadline: Option<Duration>,
    ) -> Result<Answer, RemoteError> {
        let received = match deadline {
            Some(deadline) => answered.answer.recv_timeout(deadline).map_err(|e| match e {
                mpsc::RecvTimeoutError::Timeout => Some(()),
                mpsc::RecvTimeoutError::Disconnected => None,
            }),
            None => answered.answer.recv().map_err(|_| None),
        };
        match received {
            Ok(answer) => answer,
            Err(Some(())) => {
                self.pending.forget(answered.id);
                Err(RemoteError::Missed)
            }
            Err(None) => Err(RemoteError::Died(self.wait_end())),
        }
    }

    /// Kill the child for `reason` (the reader then records its end).
    pub(super) fn kill(&self, reason: &str) {
        let mut state = self.state();
        if state.kill_reason.is_none() {
            state.kill_reason = Some(reason.to_owned());
        }
        process::kill(self.pid, &mut state.child);
    }

    fn read_loop(self: &Arc<Self>, stdout: &mut impl std::io::Read) {
        loop {
            let frame = read_frame::<FromChild>(stdout);
            if frame.is_ok() {
                // Any frame is a sign of life, not only a pong.
                self.state().last_heard = Instant::now();
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

    /// The services the provider was last handed, if any.
    pub(super) fn services(&self) -> Option<Services> {
        self.services
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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
            let mut state = self.state();
            if state.stderr_tail.len() == STDERR_TAIL_LINES {
                state.stderr_tail.pop_front();
            }
            state.stderr_tail.push_back((Instant::now(), line));
            true
        });
    }

    /// The watchdog: ping the child every [`PING_INTERVAL`]; kill it when nothing has come
    /// from it for [`UNRESPONSIVE_AFTER`].
    fn ping_loop(&self) {
        for n in 0.. {
            std::thread::sleep(PING_INTERVAL);
            let silent = {
                let state = self.state();
                if state.end.is_some() {
                    return;
                }
                state.last_heard.elapsed()
            };
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
        let reason = {
            let mut state = self.state();
            let reason = process::death_reason(
                self.pid,
                state.kill_reason.as_deref(),
                status,
                &state.stderr_tail,
            );
            state.end = Some(reason.clone());
            reason
        };
        self.ended.notify_all();
        self.pending
            .settle_all(|| Err(RemoteError::Died(reason.clone())));
    }

    /// Wait for the child to exit (it closed its pipe, so it is exiting); kill it if it lingers.
    fn reap(&self) -> Option<ExitStatus> {
        let deadline = Instant::now() + Duration::from_millis(500);
        loop {
            if let Some(status) = process::try_reap(&mut self.state().child, deadline) {
                return status;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
