//! The cronhost column of the DST comparison table (docs/dst-comparison.md), one test per row,
//! through the public schedule API only. Each test walks `next_after` from a start instant and
//! compares the whole sequence, as UTC and as local time with its offset, with the table.

use chrono::{DateTime, TimeZone, Utc};
use cronhost_core::schedule::{parse_zone, CronSchedule};

/// The first `count` fires of `expression` in `zone` strictly after `start` (UTC, `YYYY-MM-DD
/// HH:MM`), each rendered as `UTC = local offset`.
fn fires(expression: &str, zone: &str, start: &str, count: usize) -> Result<Vec<String>, String> {
    let schedule = CronSchedule::parse(expression).map_err(|e| e.to_string())?;
    let tz = parse_zone(zone).map_err(|e| e.to_string())?;
    let naive = chrono::NaiveDateTime::parse_from_str(start, "%Y-%m-%d %H:%M")
        .map_err(|e| format!("start `{start}`: {e}"))?;
    let mut after: DateTime<Utc> = Utc.from_utc_datetime(&naive);
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let next = schedule
            .next_after(after, tz)
            .ok_or_else(|| format!("`{expression}` in {zone}: no fire after {after}"))?;
        if next <= after {
            return Err(format!("`{expression}`: {next} is not after {after}"));
        }
        out.push(format!(
            "{} = {}",
            next.format("%Y-%m-%d %H:%MZ"),
            next.with_timezone(&tz).format("%Y-%m-%d %H:%M %:z")
        ));
        after = next;
    }
    Ok(out)
}

fn check(expression: &str, zone: &str, start: &str, expected: &[&str]) -> Result<(), String> {
    let got = fires(expression, zone, start, expected.len())?;
    assert_eq!(
        got, expected,
        "`{expression}` in {zone}, fires after {start}Z"
    );
    Ok(())
}

/// Row 1: a fixed time in the spring-forward gap runs once, at the end of the gap, that day.
#[test]
fn row1_fixed_time_in_the_gap_runs_at_the_end_of_the_gap() -> Result<(), String> {
    // New York, 2026-03-08: 02:00 EST -> 03:00 EDT.
    check(
        "30 2 * * *",
        "America/New_York",
        "2026-03-07 12:00",
        &[
            "2026-03-08 07:00Z = 2026-03-08 03:00 -04:00",
            "2026-03-09 06:30Z = 2026-03-09 02:30 -04:00",
        ],
    )?;
    // Berlin, 2026-03-29: 02:00 CET -> 03:00 CEST.
    check(
        "30 2 * * *",
        "Europe/Berlin",
        "2026-03-28 12:00",
        &[
            "2026-03-29 01:00Z = 2026-03-29 03:00 +02:00",
            "2026-03-30 00:30Z = 2026-03-30 02:30 +02:00",
        ],
    )
}

/// Row 2: several times in the gap collapse into one run at the end of the gap.
#[test]
fn row2_several_times_in_the_gap_run_once_at_the_end_of_the_gap() -> Result<(), String> {
    check(
        "0,15,30,45 2 * * *",
        "America/New_York",
        "2026-03-07 12:00",
        &[
            "2026-03-08 07:00Z = 2026-03-08 03:00 -04:00",
            "2026-03-09 06:00Z = 2026-03-09 02:00 -04:00",
            "2026-03-09 06:15Z = 2026-03-09 02:15 -04:00",
            "2026-03-09 06:30Z = 2026-03-09 02:30 -04:00",
            "2026-03-09 06:45Z = 2026-03-09 02:45 -04:00",
        ],
    )
}

/// Row 3: a fixed time in the repeated hour runs once, in the first pass, and not in the
/// second even when the schedule is read from inside the second pass.
#[test]
fn row3_fixed_time_in_the_repeated_hour_runs_once_in_the_first_pass() -> Result<(), String> {
    // New York, 2026-11-01: 02:00 EDT -> 01:00 EST; 01:xx happens at -04:00, then at -05:00.
    check(
        "30 1 * * *",
        "America/New_York",
        "2026-10-31 12:00",
        &[
            "2026-11-01 05:30Z = 2026-11-01 01:30 -04:00",
            "2026-11-02 06:30Z = 2026-11-02 01:30 -05:00",
        ],
    )?;
    // From 01:00 EST (second pass, before its 01:30): the second 01:30 is not run either.
    check(
        "30 1 * * *",
        "America/New_York",
        "2026-11-01 06:00",
        &["2026-11-02 06:30Z = 2026-11-02 01:30 -05:00"],
    )
}

/// Row 4: around-the-clock jobs follow real time and run in both passes of the repeated hour.
#[test]
fn row4_wildcard_hour_runs_in_both_passes_of_the_repeated_hour() -> Result<(), String> {
    check(
        "30 * * * *",
        "America/New_York",
        "2026-11-01 04:00",
        &[
            "2026-11-01 04:30Z = 2026-11-01 00:30 -04:00",
            "2026-11-01 05:30Z = 2026-11-01 01:30 -04:00",
            "2026-11-01 06:30Z = 2026-11-01 01:30 -05:00",
            "2026-11-01 07:30Z = 2026-11-01 02:30 -05:00",
        ],
    )?;
    check(
        "*/15 * * * *",
        "America/New_York",
        "2026-11-01 04:50",
        &[
            "2026-11-01 05:00Z = 2026-11-01 01:00 -04:00",
            "2026-11-01 05:15Z = 2026-11-01 01:15 -04:00",
            "2026-11-01 05:30Z = 2026-11-01 01:30 -04:00",
            "2026-11-01 05:45Z = 2026-11-01 01:45 -04:00",
            "2026-11-01 06:00Z = 2026-11-01 01:00 -05:00",
            "2026-11-01 06:15Z = 2026-11-01 01:15 -05:00",
            "2026-11-01 06:30Z = 2026-11-01 01:30 -05:00",
            "2026-11-01 06:45Z = 2026-11-01 01:45 -05:00",
            "2026-11-01 07:00Z = 2026-11-01 02:00 -05:00",
        ],
    )
}

/// Row 4, the other side: in the spring-forward gap the same jobs skip the times that do not
/// exist (the table's row 4 is about the repeated hour; this pins the around-the-clock rule).
#[test]
fn row4_wildcard_hour_skips_the_gap() -> Result<(), String> {
    check(
        "*/15 * * * *",
        "America/New_York",
        "2026-03-08 06:40",
        &[
            "2026-03-08 06:45Z = 2026-03-08 01:45 -05:00",
            "2026-03-08 07:00Z = 2026-03-08 03:00 -04:00",
            "2026-03-08 07:15Z = 2026-03-08 03:15 -04:00",
        ],
    )
}

/// Row 5: Pacific/Apia skipped 2011-12-30 (23:59:59 -10:00 on the 29th, then 00:00 +14:00 on
/// the 31st). A daily noon job runs on the 29th and the 31st at 12:00, once each: the missing
/// noon of the 30th is not carried over to 00:00 on the 31st (a later local date).
#[test]
fn row5_apia_daily_noon_skips_the_missing_day() -> Result<(), String> {
    check(
        "0 12 * * *",
        "Pacific/Apia",
        "2011-12-28 23:00",
        &[
            "2011-12-29 22:00Z = 2011-12-29 12:00 -10:00",
            "2011-12-30 22:00Z = 2011-12-31 12:00 +14:00",
            "2011-12-31 22:00Z = 2012-01-01 12:00 +14:00",
        ],
    )
}

/// Row 5: a daily midnight job runs at 00:00 on the 29th and the 31st, once each.
#[test]
fn row5_apia_daily_midnight_runs_once_on_the_31st() -> Result<(), String> {
    check(
        "0 0 * * *",
        "Pacific/Apia",
        "2011-12-28 23:00",
        &[
            "2011-12-29 10:00Z = 2011-12-29 00:00 -10:00",
            "2011-12-30 10:00Z = 2011-12-31 00:00 +14:00",
            "2011-12-31 10:00Z = 2012-01-01 00:00 +14:00",
        ],
    )
}

/// Row 5, note: a job dated on the missing day itself (noon, 30 December) does not run in
/// 2011: it is not carried into the 31st.
#[test]
fn row5_apia_noon_dated_on_the_missing_day_waits_a_year() -> Result<(), String> {
    check(
        "0 12 30 12 *",
        "Pacific/Apia",
        "2011-12-28 23:00",
        &["2012-12-29 22:00Z = 2012-12-30 12:00 +14:00"],
    )
}

/// Row 5, note: likewise at midnight, 30 December: the end of that gap is 00:00 on the 31st, a
/// later local date, so the occurrence is skipped.
#[test]
fn row5_apia_midnight_dated_on_the_missing_day_waits_a_year() -> Result<(), String> {
    check(
        "0 0 30 12 *",
        "Pacific/Apia",
        "2011-12-28 23:00",
        &["2012-12-29 10:00Z = 2012-12-30 00:00 +14:00"],
    )
}
