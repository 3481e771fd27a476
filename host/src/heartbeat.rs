//! The trigger's heartbeat: proof of life after every tick, kept apart from proof of success.
//!
//! A ticker that is alive but failing must not look healthy, so separate files under
//! `HOME/cron/` record each fact, each written atomically (temporary file + rename):
//! `ticker_heartbeat` (a beat that is not a clean tick, and whenever the trigger changes; with
//! the trigger's name), `ticker_last_success` (after a clean tick only: a clean tick is a sign of
//! life too, so a clean beat writes this one file and the later of the two times is the last
//! sign of life), `ticker_last_error` (after a failed tick; removed by the next clean one) and
//! `ticker_fallback` (while the built-in ticker stands in for a failed provider).
//! A missing file means "unknown", not "dead". A failed write is never raised and leaves no
//! temporary file; the first of a streak of failures is logged at WARN. A clean beat that
//! changes nothing but the time is written at most every [`REWRITE_EVERY`] (a ticker firing
//! every millisecond does not rewrite two files each time); `status` allows beats far older.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Liveness: written on every loop iteration.
pub const HEARTBEAT_FILE: &str = "ticker_heartbeat";
/// Written after a clean tick only.
pub const SUCCESS_FILE: &str = "ticker_last_success";
/// Written after a failed tick; removed after the next clean one.
pub const ERROR_FILE: &str = "ticker_last_error";
/// Written while the built-in ticker stands in for a provider that stopped driving the fires.
pub const FALLBACK_FILE: &str = "ticker_fallback";

/// The least time between two writes of a clean beat from the same trigger.
pub const REWRITE_EVERY: Duration = Duration::from_secs(1);

/// What the heartbeat files say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HeartbeatState {
    /// The trigger recording the beats (`builtin` or a provider's name).
    pub trigger: String,
    /// Last sign of life, milliseconds since the epoch.
    pub alive_at_ms: Option<u64>,
    /// Last clean tick, milliseconds since the epoch.
    pub success_at_ms: Option<u64>,
    /// The text of the last failure, while no clean tick has followed it.
    pub last_error: Option<String>,
    /// Why the built-in ticker stands in for the selected provider, if it does.
    pub fallback: Option<String>,
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

/// `<epoch seconds>` then optional text lines, as the files hold them.
fn encode(at_ms: u64, text: Option<&str>) -> String {
    let mut out = format!("{}.{:03}\n", at_ms / 1000, at_ms % 1000);
    if let Some(text) = text {
        out.push_str(text);
        out.push('\n');
    }
    out
}

fn decode(text: &str) -> Option<(u64, String)> {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let seconds: f64 = first.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| {
        (
            (seconds * 1000.0).round() as u64,
            rest.trim_end().to_owned(),
        )
    })
}

/// Records beats under a state directory. Recording never fails the caller.
#[derive(Debug)]
pub struct Heartbeat {
    dir: PathBuf,
    state: Mutex<HeartbeatState>,
    /// Whether the last write failed: the first failure of a streak is a WARN (a heartbeat
    /// that cannot be written makes `status` call the daemon stalled), the recovery an INFO.
    failing: std::sync::atomic::AtomicBool,
    /// Whether this process has made sure no error file is left (once, then after each error).
    error_file_gone: std::sync::atomic::AtomicBool,
}

impl Heartbeat {
    /// A recorder writing under `state_dir`. Starts empty: a new process has not beaten yet.
    pub fn new(state_dir: &Path) -> Self {
        Self {
            dir: state_dir.to_path_buf(),
            state: Mutex::new(HeartbeatState::default()),
            failing: std::sync::atomic::AtomicBool::new(false),
            error_file_gone: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Record a beat from `trigger`. `success` marks a clean tick; otherwise `error` is the
    /// failure's text (or `None` for a liveness-only beat, e.g. before the first tick).
    pub fn record(&self, trigger: &str, success: bool, error: Option<&str>) {
        // Files are written under the lock, so beats from two threads land in order.
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = now_ms();
        let unchanged = success
            && state.trigger == trigger
            && state.last_error.is_none()
            && state
                .success_at_ms
                .is_some_and(|at| now.saturating_sub(at) < REWRITE_EVERY.as_millis() as u64);
        if unchanged && !self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            // The files say the same but a moment older: they are rewritten soon enough.
            return;
        }
        // The success file says it for a clean beat of the same trigger.
        if !success || state.trigger != trigger || state.alive_at_ms.is_none() {
            self.write(HEARTBEAT_FILE, &encode(now, Some(trigger)));
        }
        state.trigger = trigger.to_owned();
        state.alive_at_ms = Some(now);
        if success {
            state.success_at_ms = Some(now);
            self.write(SUCCESS_FILE, &encode(now, None));
            if state.last_error.take().is_some()
                || !self
                    .error_file_gone
                    .swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                self.remove(ERROR_FILE);
            }
        } else if let Some(error) = error {
            state.last_error = Some(error.to_owned());
            self.write(ERROR_FILE, &encode(now, Some(error)));
        }
    }

    /// The built-in ticker stands in for a provider that stopped driving the fires.
    pub fn record_fallback(&self, reason: &str) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.fallback = Some(reason.to_owned());
        self.write(FALLBACK_FILE, &encode(now_ms(), Some(reason)));
    }

    /// The provider drives the fires again.
    pub fn clear_fallback(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.fallback.take().is_some() {
            self.remove(FALLBACK_FILE);
        }
    }

    /// The beats recorded by this process.
    pub fn current(&self) -> HeartbeatState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Forget the previous daemon's beats (at start-up, so its files cannot pass for ours).
    pub fn reset(&self) {
        let _lock = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for file in [HEARTBEAT_FILE, SUCCESS_FILE, ERROR_FILE, FALLBACK_FILE] {
            self.remove(file);
        }
    }

    /// Read the heartbeat files under `state_dir`; every missing file is an unknown.
    pub fn read(state_dir: &Path) -> Option<HeartbeatState> {
        let read = |name: &str| {
            cronhost_core::fs::state_file::read_bounded(&state_dir.join(name), 64 * 1024)
                .ok()
                .flatten()
                .and_then(|bytes| decode(&String::from_utf8_lossy(&bytes)))
        };
        let heartbeat = read(HEARTBEAT_FILE);
        let success = read(SUCCESS_FILE);
        let error = read(ERROR_FILE);
        let fallback = read(FALLBACK_FILE);
        if heartbeat.is_none() && success.is_none() && error.is_none() {
            return None;
        }
        Some(HeartbeatState {
            trigger: heartbeat
                .as_ref()
                .map(|(_, t)| t.clone())
                .unwrap_or_default(),
            // A clean tick is a sign of life: the later of the two.
            alive_at_ms: heartbeat
                .as_ref()
                .map(|(at, _)| *at)
                .max(success.as_ref().map(|(at, _)| *at)),
            success_at_ms: success.map(|(at, _)| at),
            last_error: error.map(|(_, text)| text),
            fallback: fallback.map(|(_, text)| text),
        })
    }

    fn write(&self, name: &str, contents: &str) {
        use std::sync::atomic::Ordering;
        match write_atomically(&self.dir.join(name), contents) {
            Err(e) if !self.failing.swap(true, Ordering::SeqCst) => log::warn!(
                "heartbeat file {} not written: {e}; `cronhost status` will call this daemon stalled until it can be",
                self.dir.join(name).display()
            ),
            Err(e) => log::debug!(
                "heartbeat file {} not written: {e}",
                self.dir.join(name).display()
            ),
            Ok(()) if self.failing.swap(false, Ordering::SeqCst) => {
                log::info!("heartbeat files are written again")
            }
            Ok(()) => {}
        }
    }

    fn remove(&self, name: &str) {
        let _ = std::fs::remove_file(self.dir.join(name));
    }
}

/// Write `contents` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    cronhost_core::fs::create_private_dir(dir)?;
    let mut file = tempfile::Builder::new()
        .prefix(".hb_")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    file.write_all(contents.as_bytes())?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clean_tick_removes_the_error_file_and_fallback_is_separate() {
        let dir = tempfile::tempdir().unwrap();
        let heartbeat = Heartbeat::new(dir.path());
        heartbeat.record("builtin", false, Some("boom"));
        assert!(dir.path().join(ERROR_FILE).exists());
        heartbeat.record_fallback("provider `x` start failed");
        heartbeat.record("builtin", true, None);
        assert!(!dir.path().join(ERROR_FILE).exists());
        let state = Heartbeat::read(dir.path()).unwrap();
        assert_eq!(state.last_error, None);
        assert_eq!(
            state.fallback.as_deref(),
            Some("provider `x` start failed"),
            "a clean built-in tick keeps the fallback"
        );
        heartbeat.clear_fallback();
        assert_eq!(Heartbeat::read(dir.path()).unwrap().fallback, None);
    }

    #[test]
    fn a_clean_beat_writes_one_file_and_counts_as_a_sign_of_life() {
        let dir = tempfile::tempdir().unwrap();
        let heartbeat = Heartbeat::new(dir.path());
        heartbeat.record("builtin", false, None);
        let liveness = std::fs::read(dir.path().join(HEARTBEAT_FILE)).unwrap();
        heartbeat.record("builtin", true, None);
        assert_eq!(
            std::fs::read(dir.path().join(HEARTBEAT_FILE)).unwrap(),
            liveness,
            "the success file alone says it"
        );
        let state = Heartbeat::read(dir.path()).unwrap();
        assert!(state.success_at_ms.is_some());
        assert_eq!(state.alive_at_ms, state.success_at_ms);
        assert_eq!(state.trigger, "builtin");
        heartbeat.record("provider-x", true, None);
        assert_eq!(Heartbeat::read(dir.path()).unwrap().trigger, "provider-x");
    }

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
