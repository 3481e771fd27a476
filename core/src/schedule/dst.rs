//! The DST policy: one rule for every cron and phrase schedule, tested over whole years.
//!
//! Schedules are matched against local wall-clock time in the job's zone, then mapped to UTC:
//! - **Fixed-time jobs** (the hour field names hours, e.g. `30 2 * * *`): a time that falls in
//!   the spring-forward gap runs once, at the end of the gap, that day; a time in the repeated
//!   fall-back hour runs once, at its first occurrence. A date that never existed at all (the
//!   clocks jumped over it, as Pacific/Apia's 2011-12-30) is not carried into the next one:
//!   its times are not run, so a daily job does not run twice on the next date. (A gap that
//!   only ends on the next date, as America/Nuuk's 23:00 on a Saturday, runs at its end.)
//! - **Around-the-clock jobs** (hour field `*` or `*/N`, e.g. `*/15 * * * *`): they follow real
//!   time. Local times in the gap do not exist and are not run; the repeated hour is run in both
//!   passes, so a `*/15` job keeps its 15-minute rhythm through both transitions.
//! - Intervals that do not divide the clock (`every 7m`, `every 90m`) do not come here: they
//!   follow elapsed real time. Those that do (`every 15m`) are stored as cron expressions.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// Offsets change by at most this much around a transition (real zones: ≤ 2 h).
const SLACK: Duration = Duration::hours(3);

/// No instant is computed past this year: chrono's calendar ends at year 262,143, and the
/// offsets and search windows need room before it.
const LAST_YEAR: i32 = 100_000;

/// Safety bound on the candidates examined for one answer.
const MAX_CANDIDATES: usize = 100_000;

/// The UTC instants at which local time `local` fires, under the policy.
pub fn instants(zone: Tz, local: NaiveDateTime, fixed_hour: bool) -> Vec<DateTime<Utc>> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) => vec![at.with_timezone(&Utc)],
        LocalResult::Ambiguous(first, second) => {
            let (first, second) = (first.with_timezone(&Utc), second.with_timezone(&Utc));
            let (early, late) = (first.min(second), first.max(second));
            if fixed_hour {
                vec![early]
            } else {
                vec![early, late]
            }
        }
        LocalResult::None if fixed_hour => end_of_gap(zone, local)
            .filter(|end| !date_never_existed(zone, local, *end))
            .into_iter()
            .collect(),
        LocalResult::None => Vec::new(),
    }
}

/// A fixed local time read in `zone`: the end of the gap if it is skipped, the first occurrence
/// if it is repeated.
/// (A one-shot's date that never existed runs when the clocks resume, unlike a recurring time.)
pub fn resolve_fixed(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match zone.from_local_datetime(&local) {
        LocalResult::None => end_of_gap(zone, local),
        _ => instants(zone, local, true).into_iter().next(),
    }
}

/// Whether the whole local date of `local` (a time in the gap that ends at `end`) was skipped:
/// the clocks jumped from an earlier date straight to a later one (Pacific/Apia, 2011-12-30).
fn date_never_existed(zone: Tz, local: NaiveDateTime, end: DateTime<Utc>) -> bool {
    let date_at = |at: DateTime<Utc>| zone.from_utc_datetime(&at.naive_utc()).date_naive();
    date_at(end) > local.date() && date_at(end - Duration::seconds(1)) < local.date()
}

/// The instant the clocks jump to, for a local time inside a spring-forward gap.
fn end_of_gap(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    use chrono::Timelike;
    let mut probe = local.with_second(0)?.with_nanosecond(0)?;
    for _ in 0..(24 * 60) {
        probe += Duration::minutes(1);
        match zone.from_local_datetime(&probe) {
            LocalResult::Single(at) => return Some(at.with_timezone(&Utc)),
            LocalResult::Ambiguous(a, b) => {
                return Some(a.with_timezone(&Utc).min(b.with_timezone(&Utc)))
            }
            LocalResult::None => {}
        }
    }
    None
}

/// The first fire strictly after `after`: walk local candidates from a little before `after`'s
/// local time (the repeated hour lies "behind" it), map each to UTC, keep the earliest.
pub fn next_after(
    next_local: impl Fn(&NaiveDateTime) -> Option<NaiveDateTime>,
    fixed_hour: bool,
    after: DateTime<Utc>,
    zone: Tz,
) -> Option<DateTime<Utc>> {
    use chrono::Datelike;
    if after.year() > LAST_YEAR {
        return None;
    }
    let local_after = zone.from_utc_datetime(&after.naive_utc()).naive_local();
    // Fast path: no offset change within SLACK of `after` means no repeated hour lies behind
    // it, and beyond it local and UTC order agree: the first candidate with an instant is the
    // answer. (A per-second job would otherwise walk hours of candidates on every call.)
    // A change forward (a gap) keeps local and UTC order too; only a change back (a repeated
    // hour) needs the slow walk.
    let offset_at = |at: DateTime<Utc>| zone.offset_from_utc_datetime(&at.naive_utc()).fix();
    let (before, beyond) = (offset_at(after - SLACK), offset_at(after + SLACK));
    if before.local_minus_utc() <= beyond.local_minus_utc() {
        let mut cursor = local_after;
        for _ in 0..MAX_CANDIDATES {
            let candidate = next_local(&cursor)?;
            if let Some(at) = instants(zone, candidate, fixed_hour)
                .into_iter()
                .find(|at| *at > after)
            {
                return Some(at);
            }
            cursor = candidate;
        }
        return None;
    }
    // The repeated stretch is as long as the change; a local time before it maps before
    // `after`. A candidate read at the larger offset is the earliest it can be.
    let fold = Duration::seconds(i64::from(
        before.local_minus_utc() - beyond.local_minus_utc(),
    ));
    let largest = Duration::seconds(i64::from(before.local_minus_utc()));
    let mut cursor = local_after - fold;
    let mut best: Option<DateTime<Utc>> = None;
    for _ in 0..MAX_CANDIDATES {
        // No more candidates: the best found so far (if any) is the answer.
        let Some(candidate) = next_local(&cursor) else {
            break;
        };
        if best.is_some_and(|best| (candidate - largest).and_utc() > best) {
            break;
        }
        for at in instants(zone, candidate, fixed_hour) {
            if at > after && best.is_none_or(|b| at < b) {
                best = Some(at);
            }
        }
        cursor = candidate;
    }
    best
}
