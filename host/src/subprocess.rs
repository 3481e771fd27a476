//! Helper child processes of the host (`provider-host`, `plugin-probe`): which program to
//! start, the protocol pipes on the child's side, and how a child ended, in words.

use std::fs::File;
use std::path::PathBuf;
use std::process::ExitStatus;

/// The program started for helper children: `CRONHOST_PROVIDER_HOST` when set, else the
/// running executable (the `cronhost` binary, or an application that calls
/// [`crate::isolate::serve_if_asked`] first thing in `main`).
pub(crate) fn helper_program() -> std::io::Result<PathBuf> {
    match std::env::var_os("CRONHOST_PROVIDER_HOST") {
        Some(program) => Ok(PathBuf::from(program)),
        None => std::env::current_exe(),
    }
}

/// End the process at once, without running exit handlers a provider library may have
/// registered (they could hang or crash).
pub(crate) fn exit_now(code: i32) -> ! {
    #[cfg(unix)]
    // SAFETY: _exit has no preconditions and never returns.
    unsafe {
        libc::_exit(code)
    }
    #[cfg(not(unix))]
    std::process::exit(code)
}

/// In a helper child: the protocol's input (stdin) and output (a private copy of stdout).
/// File descriptor 1 is pointed at stderr and 0 at `/dev/null`, so a library that prints or
/// reads cannot corrupt or steal the protocol.
pub(crate) fn protocol_pipes() -> std::io::Result<(File, File)> {
    #[cfg(unix)]
    {
        use std::os::fd::FromRawFd;
        // SAFETY: plain descriptor juggling on 0, 1 and 2, which this process owns; the
        // duplicates are owned by the Files from here on. They are close-on-exec, and 0 and 1
        // no longer reach the pipes, so nothing the provider runs or reads can hold or read
        // the protocol.
        unsafe {
            let output = libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3);
            let input = libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3);
            if output < 0 || input < 0 || libc::dup2(2, 1) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
            if null < 0 || libc::dup2(null, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(null);
            Ok((File::from_raw_fd(input), File::from_raw_fd(output)))
        }
    }
    #[cfg(not(unix))]
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "helper processes are supported on Unix only",
    ))
}

/// "exited with code 3", "was killed by signal 11 (SIGSEGV)".
pub(crate) fn describe(status: Option<ExitStatus>) -> String {
    let Some(status) = status else {
        return "ended; its exit status is unknown".into();
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let core = if status.core_dumped() {
                ", core dumped"
            } else {
                ""
            };
            return format!(
                "was killed by signal {signal} ({}{core})",
                signal_name(signal)
            );
        }
    }
    match status.code() {
        Some(code) => format!("exited with code {code}"),
        None => format!("ended ({status})"),
    }
}

#[cfg(unix)]
fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGKILL => "SIGKILL",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGSYS => "SIGSYS",
        _ => "signal",
    }
}

/// Kill `pid`'s whole process group (a helper child leads its own group) with SIGKILL.
pub(crate) fn kill_group(pid: u32) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) on a process group this process started; at worst ESRCH.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    #[cfg(not(unix))]
    let _ = pid;
}

/// A line read from a child's pipe by [`for_each_line`].
pub(crate) struct Line<'a> {
    /// The line without its end, at most the limit's bytes.
    pub bytes: &'a [u8],
    /// Whether the line was longer than the limit (the rest was skipped).
    pub cut: bool,
}

impl Line<'_> {
    /// The line as text, trailing whitespace trimmed, invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(self.bytes).trim_end().to_owned()
    }
}

/// Read `stream` a line at a time, never holding more than `limit` bytes of one line (the rest
/// of a longer line is skipped, and the line is marked cut), until the stream ends or `each`
/// returns false. Never stops draining early by itself: a full pipe would block the child.
pub(crate) fn for_each_line(
    stream: impl std::io::Read,
    limit: usize,
    mut each: impl FnMut(Line<'_>) -> bool,
) {
    use std::io::{BufRead, Read};
    let mut reader = std::io::BufReader::new(stream);
    let mut bytes = Vec::with_capacity(limit.min(64 * 1024));
    loop {
        bytes.clear();
        match Read::take(&mut reader, limit as u64).read_until(b'\n', &mut bytes) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
        let ended = bytes.ends_with(b"\n");
        let cut = !ended && bytes.len() == limit;
        if cut {
            let _ = reader.skip_until(b'\n');
        }
        let line = if ended {
            &bytes[..bytes.len() - 1]
        } else {
            &bytes[..]
        };
        if !each(Line { bytes: line, cut }) {
            return;
        }
    }
}
