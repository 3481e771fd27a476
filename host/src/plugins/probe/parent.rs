//! The host's side of the probe: start one child with the libraries' descriptors, read its
//! events under a deadline per item, and when the child crashes, exits or hangs, blame the item
//! it was working on and go on with the rest in a fresh child.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::child::PROBE_COMMAND;
use super::wire::{
    CheckFailure, Event, Item, LibraryReport, ProbeRequest, SandboxReport, MAX_EVENT_BYTES,
    PROBE_PROTOCOL, STDERR_ITEM_MARK,
};
use crate::subprocess::{describe, for_each_line, kill_group};
use cronhost_core::text::truncate;

/// Set in a probe child's environment. A program that starts probes but does not call
/// [`crate::isolate::serve_if_asked`] would run its own `main` as the probe, which would start
/// a probe of its own, and so on: a process that finds this variable starts no probe.
const PROBE_CHILD_ENV: &str = "CRONHOST_PLUGIN_PROBE_CHILD";

/// How long a probe child may take to start and sandbox itself before its first item.
const STARTUP_ALLOWANCE: Duration = Duration::from_secs(10);

/// The longest stderr line kept from a probe (the rest of the line is dropped).
const MAX_STDERR_LINE: usize = 1024;

/// One piece of work for the probe: a library read through `file`, and optionally a provider
/// in it to construct with `config_json` and ask `is_available`.
pub(crate) struct Job<'a> {
    /// The open, vetted library.
    pub file: &'a File,
    /// Its path, for messages.
    pub path: &'a Path,
    /// `(provider, config_json)` for an availability check; `None` to list the library.
    pub check: Option<(&'a str, &'a str)>,
}

/// What the probe found out about one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Probed {
    /// The library loaded and says this.
    Library(LibraryReport),
    /// The provider constructed and answered `is_available`.
    Available(bool),
    /// The provider constructed, but `is_available` failed: why.
    AvailabilityFailed(String),
    /// The library (or the provider) refused: why, in one line.
    Refused(String),
    /// Working on it crashed, ended or hung the probe: how, with its last stderr line.
    Fatal(String),
    /// The probe itself could not run, through no fault of this file: nothing is known.
    Unknown(String),
}

/// Starts probe children: `program plugin-probe`.
#[derive(Debug, Clone)]
pub struct Prober {
    program: PathBuf,
    item_deadline: Duration,
}

impl Prober {
    /// Probes run `program` (the `cronhost` binary, or an application that calls
    /// [`crate::isolate::serve_if_asked`] first thing in `main`); each library and each
    /// availability check gets `item_deadline`.
    pub fn new(program: impl Into<PathBuf>, item_deadline: Duration) -> Self {
        Self {
            program: program.into(),
            item_deadline,
        }
    }

    /// Probes run the running executable (or `CRONHOST_PROVIDER_HOST`).
    pub fn current(item_deadline: Duration) -> std::io::Result<Self> {
        Ok(Self::new(
            crate::subprocess::helper_program()?,
            item_deadline,
        ))
    }

    /// Probe every job, in order, in as few children as the jobs allow: one when nothing goes
    /// wrong. Returns a result per job and the sandbox the (last) child reported.
    pub(crate) fn probe(&self, jobs: &[Job<'_>]) -> (Vec<Probed>, Option<SandboxReport>) {
        if std::env::var_os(PROBE_CHILD_ENV).is_some() {
            let reason = format!(
                "{} was started as a plugin probe but ran its own main: call cronhost::serve_if_asked() first thing in main",
                self.program.display()
            );
            return (vec![Probed::Unknown(reason); jobs.len()], None);
        }
        let mut results: Vec<Option<Probed>> = vec![None; jobs.len()];
        let mut sandbox = None;
        let mut next = 0;
        while next < jobs.len() {
            let session = self.session(&jobs[next..]);
            sandbox = session.sandbox.or(sandbox);
            for (offset, result) in session.results.into_iter().enumerate() {
                if result.is_some() {
                    results[next + offset] = result;
                }
            }
            match session.ended {
                // The child died or hung on a job: that job is blamed, the rest go on.
                Some(Ending::During(offset, reason)) => {
                    results[next + offset] = Some(Probed::Fatal(reason));
                }
                // The child could not even begin: nothing more can be learnt.
                Some(Ending::Unusable(reason)) => {
                    for result in results.iter_mut().filter(|r| r.is_none()) {
                        *result = Some(Probed::Unknown(reason.clone()));
                    }
                }
                // Done, or ended between two jobs after answering some: go on from the first
                // unanswered one (each round answers at least one, so this ends).
                None => {}
            }
            next = results
                .iter()
                .position(Option::is_none)
                .unwrap_or(jobs.len());
        }
        let results = results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Probed::Unknown("the probe gave no answer".into())))
            .collect();
        (results, sandbox)
    }

    /// One child for `jobs`.
    fn session(&self, jobs: &[Job<'_>]) -> Session {
        let mut session = Session {
            results: vec![None; jobs.len()],
            sandbox: None,
            ended: None,
        };
        let request = request(jobs);
        let mut child = match self.spawn(jobs) {
            Ok(child) => child,
            Err(e) => {
                session.ended = Some(Ending::Unusable(format!(
                    "cannot start the probe {} {PROBE_COMMAND}: {e}",
                    self.program.display()
                )));
                return session;
            }
        };
        let pid = child.id();
        let (tx, messages) = mpsc::channel();
        if let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) {
            read_events(stdout, tx.clone());
            read_stderr(stderr, tx);
        }
        if let Some(mut stdin) = child.stdin.take() {
            // A child that died at once fails this write; its end says why.
            let _ = stdin.write_all(&request);
        }
        let mut current: Option<usize> = None;
        let mut last_words: Option<String> = None;
        let mut deadline = Instant::now() + STARTUP_ALLOWANCE;
        let mut timed_out = false;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match messages.recv_timeout(wait) {
                Ok(Message::Event(Event::Sandboxed(report))) => {
                    log::debug!("plugin probe {pid} sandboxed: {report:?}");
                    session.sandbox = Some(report);
                }
                Ok(Message::Event(Event::Begin(index))) if index < jobs.len() => {
                    current = Some(index);
                    deadline = Instant::now() + self.item_deadline;
                }
                Ok(Message::Event(Event::Library(index, result))) if index < jobs.len() => {
                    session.results[index] = Some(match result {
                        Ok(report) => Probed::Library(report),
                        Err(reason) => Probed::Refused(reason),
                    });
                    current = None;
                    deadline = Instant::now() + self.item_deadline;
                }
                Ok(Message::Event(Event::Available(index, result))) if index < jobs.len() => {
                    session.results[index] = Some(match result {
                        Ok(available) => Probed::Available(available),
                        Err(CheckFailure::Constructor(reason)) => Probed::Refused(reason),
                        Err(CheckFailure::IsAvailable(reason)) => {
                            Probed::AvailabilityFailed(reason)
                        }
                    });
                    current = None;
                    deadline = Instant::now() + self.item_deadline;
                }
                Ok(Message::Event(other)) => {
                    log::warn!("plugin probe {pid}: unexpected {other:?}; stopping it");
                    break;
                }
                // Stderr comes through its own pipe: the mark in it, not the Begin event,
                // says where an item's lines start.
                Ok(Message::Stderr(line)) if line.starts_with(STDERR_ITEM_MARK) => {
                    last_words = None;
                }
                Ok(Message::Stderr(line)) => {
                    log::debug!("plugin probe {pid} stderr: {line}");
                    if is_last_words(&line) {
                        last_words = Some(line);
                    }
                }
                Ok(Message::Garbage(what)) => {
                    log::warn!("plugin probe {pid}: {what}; stopping it");
                    break;
                }
                Ok(Message::Closed) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    timed_out = true;
                    break;
                }
            }
        }
        kill_group(pid);
        let status = reap(&mut child);
        // Its last stderr lines may still be in the pipe: take them (the group is gone, so
        // the pipe ends at once).
        let drain_until = Instant::now() + Duration::from_millis(200);
        while let Ok(message) =
            messages.recv_timeout(drain_until.saturating_duration_since(Instant::now()))
        {
            match message {
                Message::Stderr(line) if line.starts_with(STDERR_ITEM_MARK) => last_words = None,
                Message::Stderr(line) => {
                    log::debug!("plugin probe {pid} stderr: {line}");
                    if is_last_words(&line) {
                        last_words = Some(line);
                    }
                }
                _ => {}
            }
        }
        let said = last_words
            .map(|line| format!("; its last stderr line: {}", truncate(line.trim(), 240)))
            .unwrap_or_default();
        let answered = session.results.iter().filter(|r| r.is_some()).count();
        session.ended = match current {
            Some(index) if session.results[index].is_none() => {
                let what = match jobs[index].check {
                    None => "loading it",
                    Some(_) => "constructing it or asking is_available",
                };
                Some(Ending::During(
                    index,
                    if timed_out {
                        format!(
                            "{what} did not finish within {} ms (the probe was killed){said}",
                            self.item_deadline.as_millis()
                        )
                    } else {
                        let how = describe(status);
                        let verb = if how.starts_with("was killed") {
                            "crashed"
                        } else {
                            "ended"
                        };
                        format!("{what} {verb} the probe (it {how}){said}")
                    },
                ))
            }
            _ if answered == jobs.len() => None,
            _ if answered == 0 => Some(Ending::Unusable(if timed_out {
                format!(
                    "the probe did not start within {}s",
                    STARTUP_ALLOWANCE.as_secs()
                )
            } else {
                format!("the probe {}{said}", describe(status))
            })),
            _ => None,
        };
        session
    }

    fn spawn(&self, jobs: &[Job<'_>]) -> std::io::Result<Child> {
        let mut command = Command::new(&self.program);
        command
            .arg(PROBE_COMMAND)
            // Nothing of the host's environment (database URLs, tokens) reaches library code.
            .env_clear()
            .envs(std::env::var_os("LD_LIBRARY_PATH").map(|v| ("LD_LIBRARY_PATH", v)))
            .env(PROBE_CHILD_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            use std::os::unix::process::CommandExt;
            let fds: Vec<i32> = jobs.iter().map(|job| job.file.as_raw_fd()).collect();
            // Its own process group, so a library that forks is killed with it.
            command.process_group(0);
            // SAFETY: between fork and exec only async-signal-safe calls: fcntl and prctl.
            unsafe {
                command.pre_exec(move || {
                    for &fd in &fds {
                        let flags = libc::fcntl(fd, libc::F_GETFD);
                        if flags < 0
                            || libc::fcntl(fd, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0
                        {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    #[cfg(target_os = "linux")]
                    libc::prctl(
                        libc::PR_SET_PDEATHSIG,
                        libc::SIGKILL as libc::c_ulong,
                        0,
                        0,
                        0,
                    );
                    Ok(())
                });
            }
        }
        #[cfg(not(unix))]
        let _ = jobs;
        command.spawn()
    }
}

/// How a session ended early.
enum Ending {
    /// While working on job `index`: why.
    During(usize, String),
    /// Before any job: the probe cannot be used.
    Unusable(String),
}

struct Session {
    results: Vec<Option<Probed>>,
    sandbox: Option<SandboxReport>,
    ended: Option<Ending>,
}

enum Message {
    Event(Event),
    Stderr(String),
    Garbage(String),
    Closed,
}

fn request(jobs: &[Job<'_>]) -> Vec<u8> {
    #[cfg(unix)]
    use std::os::fd::AsRawFd;
    #[cfg(unix)]
    let fd_of = |file: &File| file.as_raw_fd();
    #[cfg(not(unix))]
    let fd_of = |_: &File| -1;
    let items = jobs
        .iter()
        .map(|job| {
            let (fd, path) = (fd_of(job.file), job.path.to_string_lossy().into_owned());
            match job.check {
                None => Item::Library { fd, path },
                Some((provider, config_json)) => Item::Available {
                    fd,
                    path,
                    provider: provider.to_owned(),
                    config_json: config_json.to_owned(),
                },
            }
        })
        .collect();
    serde_json::to_vec(&ProbeRequest {
        protocol: PROBE_PROTOCOL,
        items,
    })
    .unwrap_or_default()
}

/// Read event lines until the pipe closes (then send `Closed`).
fn read_events(stdout: impl Read + Send + 'static, tx: mpsc::Sender<Message>) {
    let spawned = std::thread::Builder::new()
        .name("probe-events".into())
        .spawn(move || {
            for_each_line(stdout, MAX_EVENT_BYTES, |line| {
                let message = match serde_json::from_slice::<Event>(line.bytes) {
                    Ok(event) => Message::Event(event),
                    Err(_) if line.cut => {
                        Message::Garbage(format!("an event over {MAX_EVENT_BYTES} bytes"))
                    }
                    Err(e) => Message::Garbage(format!("an unreadable event ({e})")),
                };
                tx.send(message).is_ok()
            });
            let _ = tx.send(Message::Closed);
        });
    if let Err(e) = spawned {
        log::error!("cannot start the probe's reader thread: {e}");
    }
}

/// Forward stderr lines (each cut to [`MAX_STDERR_LINE`]) until the pipe closes.
fn read_stderr(stderr: impl Read + Send + 'static, tx: mpsc::Sender<Message>) {
    let _ = std::thread::Builder::new()
        .name("probe-stderr".into())
        .spawn(move || {
            for_each_line(stderr, MAX_STDERR_LINE, |line| {
                tx.send(Message::Stderr(line.text())).is_ok()
            })
        });
}

/// Whether a stderr line says something about the end (Rust's `note:` hints do not).
fn is_last_words(line: &str) -> bool {
    !line.trim().is_empty() && !line.starts_with("note: ")
}

/// Wait for the (killed) child's status.
fn reap(child: &mut Child) -> Option<ExitStatus> {
    let _ = child.kill();
    child.wait().ok()
}
