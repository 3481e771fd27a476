//! The crash-loop guard: a host that runs a provider in its own process leaves a marker in its
//! state directory until it stops cleanly. A marker found at the next start means that host
//! died with the provider inside it (a segfault, `abort()`, `exit()`, a kill), so the provider
//! gets a *crash verdict* and runs isolated in a child process from then on, until its file
//! changes or the operator clears the verdict (`cronhost providers clear NAME`). One crash costs
//! one restart, not a crash loop.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use cronhost_core::fs::state_file::{read_json, write_json};

/// The marker a host keeps while an in-process provider runs (in the state directory).
pub const MARKER_FILE: &str = "provider-in-process.json";

/// The crash verdicts in force (in the state directory).
pub const VERDICTS_FILE: &str = "provider-verdicts.json";

/// The largest marker or verdicts file read.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// What a host running a provider in-process writes down before loading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Marker {
    provider: String,
    path: PathBuf,
    sha256: String,
    pid: u32,
    boot_id: Option<String>,
    since: DateTime<Utc>,
}

/// A provider that took a host down, and the file version that did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CrashVerdict {
    /// The provider's name.
    pub provider: String,
    /// Its library.
    pub path: PathBuf,
    /// The library's SHA-256: a file with another digest is not under the verdict.
    pub sha256: String,
    /// The host process that died.
    pub pid: u32,
    /// When that host started running the provider.
    pub running_since: DateTime<Utc>,
    /// When the next start found the evidence.
    pub found_at: DateTime<Utc>,
}

impl std::fmt::Display for CrashVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "provider `{}` ({}, sha256 {}) was running in-process when the host (pid {}) ended without a clean stop (found {})",
            self.provider,
            self.path.display(),
            self.sha256,
            self.pid,
            self.found_at.format("%Y-%m-%d %H:%M:%S UTC"),
        )
    }
}

/// The guard over one home's state directory.
#[derive(Debug, Clone)]
pub struct CrashGuard {
    dir: PathBuf,
}

/// Proof that the marker is written; [`Armed::disarm`] removes it at a clean stop. Dropping it
/// leaves the marker (a panic unwinding the host is no clean stop either).
#[derive(Debug)]
pub struct Armed {
    marker: PathBuf,
}

impl Armed {
    /// The host stops cleanly: remove the marker.
    pub fn disarm(&self) {
        if let Err(e) = std::fs::remove_file(&self.marker) {
            if e.kind() != std::io::ErrorKind::NotFound {
                log::warn!("cannot remove {}: {e}", self.marker.display());
            }
        }
    }
}

impl CrashGuard {
    /// The marker's file name in the state directory, present while an in-process provider
    /// runs.
    pub const MARKER_FILE: &'static str = MARKER_FILE;

    /// The guard over `state_dir` (`HOME/cron`).
    pub fn new(state_dir: &Path) -> Self {
        Self {
            dir: state_dir.to_path_buf(),
        }
    }

    /// At start, holding the daemon lock: a marker left by the previous host means it died
    /// with its provider inside. Turn it into a verdict (logged at ERROR) and return it; a
    /// marker from before a reboot is no evidence and is dropped.
    pub fn settle_previous(&self) -> Option<CrashVerdict> {
        let path = self.dir.join(MARKER_FILE);
        let marker: Marker = match read_json(&path, MAX_FILE_BYTES) {
            Ok(Some(marker)) => marker,
            Ok(None) => return None,
            Err(e) => {
                log::warn!("ignoring an unreadable {}: {e}", path.display());
                let _ = std::fs::remove_file(&path);
                return None;
            }
        };
        let _ = std::fs::remove_file(&path);
        if marker.pid == std::process::id() {
            return None; // our own (an embedded host started again in this process)
        }
        if marker.boot_id.is_some() && marker.boot_id != boot_id() {
            log::info!(
                "the previous host (pid {}) ran provider `{}` until the machine restarted; not held against it",
                marker.pid,
                marker.provider
            );
            return None;
        }
        let verdict = CrashVerdict {
            provider: marker.provider,
            path: marker.path,
            sha256: marker.sha256,
            pid: marker.pid,
            running_since: marker.since,
            found_at: Utc::now(),
        };
        log::error!(
            "{verdict}; it runs isolated in a child process from now on, until its file changes or `cronhost providers clear {}`",
            verdict.provider
        );
        let mut verdicts = self.verdicts();
        verdicts.retain(|v| v.provider != verdict.provider);
        verdicts.push(verdict.clone());
        if let Err(e) = self.write_verdicts(&verdicts) {
            log::error!(
                "cannot record the crash verdict in {}: {e}; it holds for this run only",
                self.dir.join(VERDICTS_FILE).display()
            );
        }
        Some(verdict)
    }

    /// Every verdict in force.
    pub fn verdicts(&self) -> Vec<CrashVerdict> {
        match read_json::<Vec<CrashVerdict>>(&self.dir.join(VERDICTS_FILE), MAX_FILE_BYTES) {
            Ok(verdicts) => verdicts.unwrap_or_default(),
            Err(e) => {
                log::warn!("cannot read the crash verdicts: {e}");
                Vec::new()
            }
        }
    }

    /// The verdict against `provider` in the file with digest `sha256`. A verdict against
    /// another version of the file is lifted (the file changed), with an INFO line.
    pub fn verdict_for(&self, provider: &str, sha256: &str) -> Option<CrashVerdict> {
        let mut verdicts = self.verdicts();
        let found = verdicts.iter().position(|v| v.provider == provider)?;
        if verdicts[found].sha256 == sha256 {
            return Some(verdicts[found].clone());
        }
        let lifted = verdicts.remove(found);
        log::info!(
            "provider `{provider}`'s file changed since it took the host (pid {}) down: the crash verdict is lifted",
            lifted.pid
        );
        let _ = self.write_verdicts(&verdicts);
        None
    }

    /// Lift the verdict against `provider`; returns it, or `None` when there was none.
    pub fn clear(&self, provider: &str) -> std::io::Result<Option<CrashVerdict>> {
        let mut verdicts = self.verdicts();
        let Some(found) = verdicts.iter().position(|v| v.provider == provider) else {
            return Ok(None);
        };
        let lifted = verdicts.remove(found);
        self.write_verdicts(&verdicts)?;
        Ok(Some(lifted))
    }

    /// Write the marker before `provider` (from `path`, digest `sha256`) is loaded into this
    /// process. `None` (logged) when it cannot be written: the guard is then blind, but the
    /// provider still runs.
    pub fn arm(&self, provider: &str, path: &Path, sha256: &str) -> Option<Armed> {
        let marker = Marker {
            provider: provider.to_owned(),
            path: path.to_path_buf(),
            sha256: sha256.to_owned(),
            pid: std::process::id(),
            boot_id: boot_id(),
            since: Utc::now(),
        };
        let file = self.dir.join(MARKER_FILE);
        match write_json(&file, &marker) {
            Ok(()) => Some(Armed { marker: file }),
            Err(e) => {
                log::error!(
                    "cannot write {}: {e}; a crash of provider `{provider}` would not be noticed at the next start",
                    file.display()
                );
                None
            }
        }
    }

    fn write_verdicts(&self, verdicts: &[CrashVerdict]) -> std::io::Result<()> {
        let file = self.dir.join(VERDICTS_FILE);
        if verdicts.is_empty() {
            return match std::fs::remove_file(&file) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        write_json(&file, &verdicts)
    }
}

/// This boot's id (Linux), so a marker from before a reboot is recognised.
fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|id| id.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(dir: &Path, pid: u32, boot: Option<String>) {
        let marker = Marker {
            provider: "p".into(),
            path: PathBuf::from("/plugins/p.so"),
            sha256: "aa".into(),
            pid,
            boot_id: boot,
            since: Utc::now(),
        };
        write_json(&dir.join(MARKER_FILE), &marker).unwrap();
    }

    #[test]
    fn a_marker_left_by_another_host_becomes_a_verdict_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let guard = CrashGuard::new(dir.path());
        assert_eq!(guard.settle_previous(), None, "no marker, no verdict");
        marker(dir.path(), 4242, boot_id());
        let verdict = guard.settle_previous().expect("a verdict");
        assert_eq!((verdict.provider.as_str(), verdict.pid), ("p", 4242));
        assert!(
            !dir.path().join(MARKER_FILE).exists(),
            "the marker is consumed"
        );
        assert_eq!(guard.verdict_for("p", "aa"), Some(verdict.clone()));
        assert_eq!(guard.verdict_for("q", "aa"), None);
        // Another digest: the file changed, the verdict is lifted for good.
        assert_eq!(guard.verdict_for("p", "bb"), None);
        assert_eq!(guard.verdict_for("p", "aa"), None);
        assert!(guard.verdicts().is_empty());
    }

    #[test]
    fn a_marker_from_before_a_reboot_or_from_this_process_is_no_evidence() {
        let dir = tempfile::tempdir().unwrap();
        let guard = CrashGuard::new(dir.path());
        marker(dir.path(), 4242, Some("another-boot".into()));
        assert_eq!(guard.settle_previous(), None);
        marker(dir.path(), std::process::id(), boot_id());
        assert_eq!(guard.settle_previous(), None);
        assert!(guard.verdicts().is_empty());
    }

    #[test]
    fn armed_until_disarmed_and_clear_lifts_a_verdict() {
        let dir = tempfile::tempdir().unwrap();
        let guard = CrashGuard::new(dir.path());
        let armed = guard.arm("p", Path::new("/plugins/p.so"), "aa").unwrap();
        assert!(dir.path().join(MARKER_FILE).exists());
        armed.disarm();
        assert!(!dir.path().join(MARKER_FILE).exists());
        marker(dir.path(), 4242, None);
        guard
            .settle_previous()
            .expect("a verdict without a boot id");
        assert_eq!(guard.clear("p").unwrap().map(|v| v.pid), Some(4242));
        assert_eq!(guard.clear("p").unwrap(), None);
    }

    #[test]
    fn a_damaged_marker_is_dropped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MARKER_FILE), b"{ not json").unwrap();
        let guard = CrashGuard::new(dir.path());
        assert_eq!(guard.settle_previous(), None);
        assert!(!dir.path().join(MARKER_FILE).exists());
    }
}
