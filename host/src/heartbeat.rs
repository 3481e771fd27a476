//! The trigger's heartbeat: proof of life after every tick, kept apart from proof of success.
//!
//! A ticker that is alive but failing must not look healthy, so the file records two instants:
//! the last sign of life and the last clean tick, plus the last error.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The file name under the state directory.
pub const HEARTBEAT_FILE: &str = "heartbeat.json";

/// What the heartbeat file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatState {
    /// The trigger recording the beats (`builtin` or a provider's name).
    pub trigger: String,
    /// Last sign of life, milliseconds since the epoch.
    pub alive_at_ms: Option<u64>,
    /// Last clean tick, milliseconds since the epoch.
    pub success_at_ms: Option<u64>,
    /// The text of the last failure, if the last tick failed.
    pub last_error: Option<String>,
}

impl HeartbeatState {
    /// How long ago the trigger was last alive; `None` when it never beat (unknown, not dead).
    pub fn alive_age(&self, now: SystemTime) -> Option<Duration> {
        self.alive_at_ms.map(|at| age(at, now))
    }

    /// How long ago the last clean tick was; `None` when there was none.
    pub fn success_age(&self, now: SystemTime) -> Option<Duration> {
        self.success_at_ms.map(|at| age(at, now))
    }
}

fn age(at_ms: u64, now: SystemTime) -> Duration {
    let now_ms = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    Duration::from_millis(
        u64::try_from(now_ms)
            .unwrap_or(u64::MAX)
            .saturating_sub(at_ms),
    )
}

fn now_ms() -> u64 {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    u64::try_from(ms).unwrap_or(u64::MAX)
}

/// Records beats to `STATE_DIR/heartbeat.json`, atomically (write a temporary file, rename).
/// Recording never fails the caller: a write error is logged and the beat is kept in memory.
#[derive(Debug)]
pub struct Heartbeat {
    path: PathBuf,
    state: Mutex<HeartbeatState>,
}

impl Heartbeat {
    /// A recorder writing under `state_dir`. Starts empty: a new process has not beaten yet.
    pub fn new(state_dir: &Path) -> Self {
        Self {
            path: state_dir.join(HEARTBEAT_FILE),
            state: Mutex::new(HeartbeatState::default()),
        }
    }

    /// Record a beat from `trigger`. `success` marks a clean tick; otherwise `error` is the
    /// failure's text (or `None` for a liveness-only beat, e.g. before the first tick).
    pub fn record(&self, trigger: &str, success: bool, error: Option<&str>) {
        let snapshot = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            let now = now_ms();
            state.trigger = trigger.to_owned();
            state.alive_at_ms = Some(now);
            if success {
                state.success_at_ms = Some(now);
                state.last_error = None;
            } else if let Some(error) = error {
                state.last_error = Some(error.to_owned());
            }
            state.clone()
        };
        if let Err(e) = write_atomically(&self.path, &snapshot) {
            log::debug!("heartbeat not written to {}: {e}", self.path.display());
        }
    }

    /// The beats recorded by this process.
    pub fn current(&self) -> HeartbeatState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Read the heartbeat file under `state_dir`; `None` when there is none (or it is unreadable).
    pub fn read(state_dir: &Path) -> Option<HeartbeatState> {
        let text = std::fs::read_to_string(state_dir.join(HEARTBEAT_FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }
}

fn write_atomically(path: &Path, state: &HeartbeatState) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::home::create_private_dir(dir)?;
    let mut file = tempfile::Builder::new()
        .prefix(".heartbeat-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    serde_json::to_writer(&mut file, state)?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_heartbeat_reads_as_unknown() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Heartbeat::read(dir.path()), None);
    }

    #[test]
    fn liveness_beat_sets_alive_but_not_success() {
        let dir = tempfile::tempdir().unwrap();
        let heartbeat = Heartbeat::new(dir.path());
        heartbeat.record("builtin", false, None);
        let state = Heartbeat::read(dir.path()).unwrap();
        let now = SystemTime::now();
        assert!(state.alive_age(now).unwrap() < Duration::from_secs(5));
        assert_eq!(state.success_age(now), None);
        heartbeat.record("builtin", true, None);
        let state = Heartbeat::read(dir.path()).unwrap();
        assert!(state.success_age(now + Duration::from_secs(1)).unwrap() < Duration::from_secs(5));
    }

    #[test]
    fn failed_beat_keeps_the_error_and_the_old_success() {
        let dir = tempfile::tempdir().unwrap();
        let heartbeat = Heartbeat::new(dir.path());
        heartbeat.record("builtin", true, None);
        let success = heartbeat.current().success_at_ms;
        heartbeat.record("builtin", false, Some("store locked"));
        let state = Heartbeat::read(dir.path()).unwrap();
        assert_eq!(state.success_at_ms, success);
        assert_eq!(state.last_error.as_deref(), Some("store locked"));
    }

    #[test]
    fn stale_heartbeat_reads_as_old() {
        let state = HeartbeatState {
            alive_at_ms: Some(now_ms() - 10_000_000),
            ..Default::default()
        };
        assert!(state.alive_age(SystemTime::now()).unwrap() > Duration::from_secs(9_000));
    }

    #[test]
    fn write_failure_is_silent_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not_a_dir");
        std::fs::write(&blocker, "a file, not a directory").unwrap();
        let heartbeat = Heartbeat::new(&blocker.join("cron"));
        heartbeat.record("builtin", true, None);
        assert_eq!(Heartbeat::read(&blocker.join("cron")), None);
        assert!(
            heartbeat.current().success_at_ms.is_some(),
            "kept in memory"
        );
        let leftovers: Vec<_> = walk(dir.path())
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "temporary files leaked: {leftovers:?}"
        );
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.extend(walk(&path));
            }
            found.push(path);
        }
        found
    }
}
