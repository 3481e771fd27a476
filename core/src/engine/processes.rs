//! What the engine asks of the operating system about processes: whether a run's claimer or
//! its command's process group still lives, and which process group a run's command is in
//! when its start was never stored (found through the `CRONHOST_RUN_ID` its command carries).

use std::collections::HashMap;

use chrono::Utc;

/// Whether the process that claimed a run at `claimed_at` with `pid` still runs: a process
/// with that pid exists and started before the claim.
pub(super) fn owner_alive(pid: u32, claimed_at: chrono::DateTime<Utc>) -> bool {
    #[cfg(unix)]
    {
        // SAFETY: signal 0 only checks for existence and permission.
        let exists = unsafe { libc::kill(pid as i32, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if !exists {
            return false;
        }
    }
    !started_after(pid, claimed_at)
}

/// Whether process `pid` is known to have started after `at` (with a second of slack for the
/// clock's granularity): then it is not the process that was there at `at`, its pid reused.
fn started_after(pid: u32, at: chrono::DateTime<Utc>) -> bool {
    process_started_at(pid).is_some_and(|started| started > at + chrono::Duration::seconds(1))
}

/// Whether the process group `group` that a run's command started at `started_at` still has
/// a live member (zombies waiting for a reaper do not count). When a process with the group's
/// id exists, it must have started by then (else the id was reused by an unrelated process).
pub(super) fn group_alive(group: u32, started_at: chrono::DateTime<Utc>) -> bool {
    if group <= 1 {
        return false;
    }
    if started_after(group, started_at) {
        return false;
    }
    #[cfg(target_os = "linux")]
    {
        live_group_members(group) > 0
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        // SAFETY: signal 0 to a process group only checks that it has members.
        unsafe { libc::kill(-(group as i32), 0) == 0 }
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = started_at;
        false
    }
}

/// How many processes in `/proc` belong to process group `group` and are not zombies.
#[cfg(target_os = "linux")]
fn live_group_members(group: u32) -> usize {
    processes()
        .filter(|dir| live_group(dir) == Some(group))
        .count()
}

/// The `/proc/PID` directories of the processes there are now.
#[cfg(target_os = "linux")]
fn processes() -> impl Iterator<Item = std::path::PathBuf> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|entry| entry.path())
}

/// The process group of the process at `/proc/PID` (`dir`), unless it is a zombie or gone.
#[cfg(target_os = "linux")]
fn live_group(dir: &std::path::Path) -> Option<u32> {
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    let mut fields = stat_fields(&stat);
    let state = fields.next();
    let group = fields.nth(1)?.parse::<u32>().ok()?;
    (!matches!(state, Some("Z" | "X"))).then_some(group)
}

/// The fields of a `/proc/PID/stat` line from field 3 (the state) on: those after the `)`
/// that closes the command name, which may itself hold spaces and parentheses.
fn stat_fields(stat: &str) -> std::str::SplitWhitespace<'_> {
    stat.rfind(')')
        .map_or("", |at| &stat[at + 1..])
        .split_whitespace()
}

/// When process `pid` started, from /proc (Linux); `None` where that is not known.
fn process_started_at(pid: u32) -> Option<chrono::DateTime<Utc>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22: starttime, in clock ticks since boot.
    let ticks: u64 = stat_fields(&stat).nth(19)?.parse().ok()?;
    let boot: i64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if per_second <= 0 {
        return None;
    }
    let millis = boot * 1000 + (ticks as i64 * 1000) / per_second as i64;
    chrono::DateTime::from_timestamp_millis(millis)
}

/// The process group of each live process started as a run's command, by the
/// `CRONHOST_RUN_ID` every command is started with (Linux; elsewhere none is found). What
/// keeps the overlap slot of a run whose daemon died in the few milliseconds between starting
/// its command and storing its start: the command is found by its environment, and its live
/// group stands in for the stored one. Processes whose environment cannot be read (another
/// user's, a set-uid program) are not found; zombies do not count.
pub(super) fn run_groups() -> HashMap<String, u32> {
    let mut found = HashMap::new();
    #[cfg(target_os = "linux")]
    {
        const KEY: &[u8] = b"CRONHOST_RUN_ID=";
        for dir in processes() {
            let Ok(environ) = std::fs::read(dir.join("environ")) else {
                continue;
            };
            let Some(run_id) = environ
                .split(|b| *b == 0)
                .find_map(|var| var.strip_prefix(KEY))
                .and_then(|id| std::str::from_utf8(id).ok())
            else {
                continue;
            };
            if let Some(group) = live_group(&dir) {
                found.insert(run_id.to_owned(), group);
            }
        }
    }
    found
}
