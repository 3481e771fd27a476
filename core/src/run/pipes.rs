//! A running command's stdout and stderr pipes and its pidfd. Read by the runner's reaper
//! (`reaper.rs`, which waits on them in its `epoll` set), or, where there is no pidfd and for
//! the on-failure hook, by the thread that watches the command: one `poll` waits for output,
//! for the command's exit (a pidfd) and for its deadline at once.

use std::io::Read;
use std::process::{Child, ChildStderr, ChildStdout};
use std::time::{Duration, Instant};

use super::output::{Sink, Stream};

/// How long output still arriving after the command exited (a background child of it holding
/// the pipes) is read before the pipes close.
const STRAGGLERS: Duration = Duration::from_millis(100);

/// The pipes of one command, until both reach their end.
pub(crate) struct Pipes {
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
    /// Readable when the command has exited (Linux 5.3+); without it, waits are sliced.
    exit: Option<std::os::fd::OwnedFd>,
}

impl Pipes {
    /// The pipes `child` was started with, taken from it.
    pub(crate) fn take(child: &mut Child) -> Self {
        Self {
            stdout: child.stdout.take(),
            stderr: child.stderr.take(),
            exit: open_exit_fd(child.id()),
        }
    }

    /// Whether a pipe is still open.
    pub(crate) fn open(&self) -> bool {
        self.stdout.is_some() || self.stderr.is_some()
    }

    /// Whether the command's exit wakes [`Pipes::wait`]; without it the caller must look.
    pub(crate) fn sees_exit(&self) -> bool {
        self.exit.is_some()
    }

    /// Wait until output arrives (it goes to `sink`), the command exits or `timeout` passes
    /// (`None`: no limit).
    pub(crate) fn wait(&mut self, sink: &mut Sink, timeout: Option<Duration>) {
        use std::os::fd::AsRawFd;
        let mut fds = Vec::with_capacity(3);
        let mut streams = Vec::with_capacity(2);
        if let Some(pipe) = &self.stdout {
            fds.push(pollfd(pipe.as_raw_fd()));
            streams.push(Stream::Stdout);
        }
        if let Some(pipe) = &self.stderr {
            fds.push(pollfd(pipe.as_raw_fd()));
            streams.push(Stream::Stderr);
        }
        if let Some(exit) = &self.exit {
            fds.push(pollfd(exit.as_raw_fd()));
        }
        let timeout_ms = timeout.map_or(-1, |t| {
            // Round up, so a wait never ends before its deadline and spins.
            i32::try_from(t.as_millis() + u128::from(t.subsec_nanos() % 1_000_000 != 0))
                .unwrap_or(i32::MAX)
        });
        // SAFETY: `fds` is a valid array of initialised pollfd of the given length.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if ready <= 0 {
            // Timed out or interrupted: the caller looks at the command and its deadline.
            return;
        }
        for (fd, stream) in fds.iter().zip(streams) {
            if fd.revents != 0 {
                self.read_once(stream, sink);
            }
        }
    }

    /// Read what the command's children still write after it exited, for a moment.
    pub(crate) fn read_stragglers(&mut self, sink: &mut Sink) {
        // The exit fd is readable from now on; it no longer wakes anything.
        self.exit = None;
        let until = Instant::now() + STRAGGLERS;
        while self.open() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.wait(sink, Some(left));
        }
    }

    /// One read from a ready pipe; its end (or an error) closes it.
    fn read_once(&mut self, stream: Stream, sink: &mut Sink) {
        // Small: a fresh watcher thread pays a page fault for each page of stack it touches,
        // and most runs write little or nothing (a full pipe is read in a few calls).
        let mut buffer = [0u8; 8 * 1024];
        if !self.read_ready(stream, sink, &mut buffer) {
            self.close(stream);
        }
    }

    /// One read from `stream`, which is ready (it never blocks then), into `sink` through
    /// `buffer`. `false` at its end (or an error): the caller closes it ([`Pipes::close`]).
    pub(crate) fn read_ready(
        &mut self,
        stream: Stream,
        sink: &mut Sink,
        buffer: &mut [u8],
    ) -> bool {
        let read = match stream {
            Stream::Stdout => self.stdout.as_mut().map(|p| p.read(buffer)),
            Stream::Stderr => self.stderr.as_mut().map(|p| p.read(buffer)),
        };
        match read {
            Some(Ok(n)) if n > 0 => {
                sink.take(stream, &buffer[..n]);
                true
            }
            Some(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => true,
            _ => false,
        }
    }

    /// Close `stream`'s pipe.
    pub(crate) fn close(&mut self, stream: Stream) {
        match stream {
            Stream::Stdout => self.stdout = None,
            Stream::Stderr => self.stderr = None,
        }
    }

    /// The descriptor of `stream`'s pipe while it is open.
    pub(crate) fn pipe_fd(&self, stream: Stream) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        match stream {
            Stream::Stdout => self.stdout.as_ref().map(AsRawFd::as_raw_fd),
            Stream::Stderr => self.stderr.as_ref().map(AsRawFd::as_raw_fd),
        }
    }

    /// The pidfd that is readable once the command has exited, if there is one.
    pub(crate) fn exit_fd(&self) -> Option<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.exit.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Close the pidfd (the command has exited and was waited for).
    pub(crate) fn close_exit(&mut self) {
        self.exit = None;
    }
}

fn pollfd(fd: std::os::fd::RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// A pidfd for `pid`: readable once the process has exited.
#[cfg(target_os = "linux")]
fn open_exit_fd(pid: u32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    // SAFETY: a non-negative return is a descriptor this process now owns.
    (fd >= 0).then(|| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

#[cfg(not(target_os = "linux"))]
fn open_exit_fd(_pid: u32) -> Option<std::os::fd::OwnedFd> {
    None
}
