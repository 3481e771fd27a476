//! The host side of isolation: a provider running in a child process, reached over the
//! protocol. The child is watched (a ping every 250 ms) and killed when it stops answering;
//! when it dies, every call waiting on it fails at once with the reason, and the next `start`
//! starts a fresh child.
//!
//! Split by concern: this file is the lifecycle (the current connection, restarts, calls);
//! `process.rs` the child process (start, kill, reap, its stderr and last words);
//! `connection.rs` the conversation (handshake, frames, answers, the watchdog) with its one
//! state lock; `serve.rs` the host services answered for the child.
//!
//! Locks, and their order: `RemoteProvider::restarting` (one restart at a time) before
//! `RemoteProvider::current` (the slot, held only to read or swap it). In a connection, the
//! state lock (`Connection::state`) and the writer lock (`Connection::stdin`) are never held
//! together, and neither is held while waiting for the child; the pending-call table and the
//! handed services have locks of their own, each held only to read or change them.

mod connection;
mod process;
mod serve;

use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use cronhost_provider_api::{FireOutcome, StartOptions};

use super::protocol::{Answer, Call, Init, ToChild};
use crate::provider::{Services, StopFlag};
use connection::Connection;

/// How often the host pings a child.
pub const PING_INTERVAL: Duration = Duration::from_millis(250);

/// A child from which nothing (no pong, no other frame) has arrived for this long is killed;
/// checked every [`PING_INTERVAL`].
pub const UNRESPONSIVE_AFTER: Duration = Duration::from_secs(1);

/// How long a child may take to start and load the library, before the constructor's own
/// deadline begins.
pub const STARTUP_ALLOWANCE: Duration = Duration::from_secs(20);

/// Why a call to an isolated provider failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteError {
    /// The provider returned an error.
    Failed(String),
    /// The child process is gone (or was never started): why.
    Died(String),
    /// The child did not finish constructing the provider in time (it was killed).
    Hung,
    /// The child did not answer a call within its deadline (it still runs: the guard decides).
    Missed,
}

/// How to start a child for one provider.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// The program to run with [`CHILD_COMMAND`](super::CHILD_COMMAND) (the `cronhost`
    /// binary).
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
        self.live().map(|c| c.pid())
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

    /// Call a provider method and wait for the answer (or the child's death), at most
    /// `deadline` when there is one. The wait is on the caller's thread: the answer arrives
    /// through the connection's reader. (Sending the call can only block on a child that
    /// stopped reading with its pipe full; the watchdog kills that one within
    /// [`UNRESPONSIVE_AFTER`] and the write fails.)
    pub fn call(&self, call: Call, deadline: Option<Duration>) -> Result<Answer, RemoteError> {
        let connection = self.connection()?;
        let answered = connection.begin(call)?;
        connection.finish(&answered, deadline)
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
            match answered.answer.recv_timeout(Duration::from_millis(50)) {
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
        match self.call(
            Call::FireDue {
                job_id: job_id.to_owned(),
            },
            None,
        )? {
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

/// Start a named thread; false (logged) when the system refuses one.
pub(super) fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> bool {
    match std::thread::Builder::new().name(name.into()).spawn(body) {
        Ok(_) => true,
        Err(e) => {
            log::error!("cannot start thread {name}: {e}");
            false
        }
    }
}
