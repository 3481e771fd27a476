//! Telling a running daemon that the job set changed, so it acts at once.

use cronhost::home::Home;
use cronhost::lock::DaemonLock;

/// Send SIGUSR1 to the daemon on `home`, if one runs. Best effort: the daemon also notices
/// changes by itself within a second.
pub fn jobs_changed(home: &Home) {
    let Some(pid) = DaemonLock::holder(&home.state_dir()).filter(|pid| *pid > 0) else {
        return;
    };
    #[cfg(unix)]
    {
        // SAFETY: kill(2) with a pid read from the daemon's own lock file.
        let sent = unsafe { libc::kill(pid as i32, libc::SIGUSR1) } == 0;
        if !sent {
            log::debug!("could not signal the daemon (pid {pid})");
        }
    }
}
