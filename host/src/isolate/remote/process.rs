//! The isolated provider's child process: started in a process group of its own, killed with
//! everything it started, reaped, and its death put into words (with its last stderr lines).

use std::collections::VecDeque;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{ChildSpec, RemoteError};
use crate::isolate::child::CHILD_COMMAND;
use crate::subprocess::{describe, kill_group};

/// How many of the child's last stderr lines are kept for a death report.
pub(super) const STDERR_TAIL_LINES: usize = 3;

/// A stderr line counts as the child's last words if it came this shortly before the end.
const LAST_WORDS_WINDOW: Duration = Duration::from_secs(2);

/// A started child and its three pipes.
pub(super) struct Started {
    pub child: Child,
    pub stdin: ChildStdin,
    pub stdout: ChildStdout,
    pub stderr: ChildStderr,
}

/// Start `spec.program provider-host` with piped stdio, leading its own process group.
pub(super) fn start(spec: &ChildSpec) -> Result<Started, RemoteError> {
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
    Ok(Started {
        child,
        stdin,
        stdout,
        stderr,
    })
}

/// Kill the child and everything it started (it leads its own process group), so no
/// inherited pipe keeps the conversation open.
pub(super) fn kill(pid: u32, child: &mut Child) {
    kill_group(pid);
    let _ = child.kill();
}

/// One poll for the child's exit: `Some` once it has exited (or cannot be waited for);
/// past `deadline` it is killed first.
pub(super) fn try_reap(child: &mut Child, deadline: Instant) -> Option<Option<ExitStatus>> {
    match child.try_wait() {
        Ok(Some(status)) => Some(Some(status)),
        Ok(None) if Instant::now() < deadline => None,
        Ok(None) => {
            let _ = child.kill();
            Some(child.wait().ok())
        }
        Err(_) => Some(None),
    }
}

/// Why the child's conversation ended: killed by the host (and why), or how it exited; with
/// what it wrote to stderr as it died.
pub(super) fn death_reason(
    pid: u32,
    kill_reason: Option<&str>,
    status: Option<ExitStatus>,
    stderr_tail: &VecDeque<(Instant, String)>,
) -> String {
    let mut reason = match kill_reason {
        Some(why) => format!("the provider process (pid {pid}) was killed: {why}"),
        None => format!("the provider process (pid {pid}) {}", describe(status)),
    };
    // Only what it said as it died (an old line would mislead), without Rust's notes.
    let last_words: Vec<&str> = stderr_tail
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
    reason
}
