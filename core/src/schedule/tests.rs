//! Schedule tests: parsing every accepted form, refusals, and whole years of fires across DST
//! transitions in America/New_York, Europe/Berlin and Australia/Lord_Howe (a 30-minute shift).

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use std::collections::BTreeMap;
use std::time::Duration;

use super::*;

const NEW_YORK: Tz = chrono_tz::America::New_York;
const BERLIN: Tz = chrono_tz::Europe::Berlin;
const LORD_HOWE: Tz = chrono_tz::Australia::Lord_Howe;

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn parse(text: &str) -> Schedule {
    Schedule::parse(text, chrono_tz::UTC, utc("2026-01-01T00:00:00Z"))
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Every fire in calendar year 2026 (local), in order.
fn year_of_fires(schedule: &Schedule, zone: Tz) -> Vec<DateTime<Utc>> {
    let start = zone
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
        - chrono::Duration::seconds(1);
    let end = zone
        .with_ymd_and_hms(2027, 1, 1, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc);
    let mut fires = Vec::new();
    let mut at = start;
    while let Some(next) = schedule.next_after(at, zone) {
        if next >= end {
            break;
        }
        assert!(next > at, "fires must strictly increase: {at} -> {next}");
        fires.push(next);
        at = next;
    }
    fires
}

fn local(at: DateTime<Utc>, zone: Tz) -> chrono::DateTime<Tz> {
    zone.from_utc_datetime(&at.naive_utc())
}

fn per_local_day(fires: &[DateTime<Utc>], zone: Tz) -> BTreeMap<NaiveDate, usize> {
    let mut days = BTreeMap::new();
    for at in fires {
        *days.entry(local(*at, zone).date_naive()).or_default() += 1;
    }
    days
}

#[test]
fn every_accepted_form_parses() {
    let now = utc("2026-03-01T12:00:00Z");
    let cases = [
        ("*/5 * * * *", "cron:*/5 * * * *"),
        ("0 9 * * MON-FRI", "cron:0 9 * * MON-FRI"),
        ("0 0 1 JAN *", "cron:0 0 1 JAN *"),
        ("*/10 * * * * *", "cron:*/10 * * * * *"),
        ("0 0 12 * * * 2027", "cron:0 0 12 * * * 2027"),
        ("0 0 L * *", "cron:0 0 L * *"),
        ("0 0 15W * *", "cron:0 0 15W * *"),
        ("0 0 * * 5#2", "cron:0 0 * * 5#2"),
        ("@daily", "cron:0 0 * * *"),
        ("@hourly", "cron:0 * * * *"),
        // Intervals that divide the clock fire on it (align.rs); the others count elapsed time.
        ("every 30s", "cron:*/30 * * * * *"),
        ("every second", "cron:* * * * * *"),
        ("every minute", "cron:* * * * *"),
        ("every 5m", "cron:*/5 * * * *"),
        ("every 15m", "cron:*/15 * * * *"),
        ("every hour", "cron:0 * * * *"),
        ("every 60m", "cron:0 * * * *"),
        ("every 2h", "cron:0 */2 * * *"),
        ("every day", "cron:0 0 * * *"),
        ("every 1d", "cron:0 0 * * *"),
        ("every 24h", "cron:0 0 * * *"),
        ("every week", "cron:0 0 * * 1"),
        ("30m", "cron:*/30 * * * *"),
        ("every 45s", "every:45"),
        ("every 7m", "every:420"),
        ("every 90m", "every:5400"),
        ("every 1h30m", "every:5400"),
        ("every 5h", "every:18000"),
        ("every 2d", "every:172800"),
        ("1h30m", "every:5400"),
        ("in 10m", "once:2026-03-01T12:10:00+00:00"),
        ("2026-03-02T09:00:00Z", "once:2026-03-02T09:00:00+00:00"),
        (
            "2026-03-02T09:00:00+01:00",
            "once:2026-03-02T08:00:00+00:00",
        ),
        ("every day at 9am", "cron:0 9 * * *"),
        ("weekdays at 9:30", "cron:30 9 * * 1-5"),
        ("every monday, wednesday at 21:00", "cron:0 21 * * 1,3"),
        ("noon", "cron:0 12 * * *"),
        ("midnight", "cron:0 0 * * *"),
    ];
    for (text, canonical) in cases {
        let schedule =
            Schedule::parse(text, chrono_tz::UTC, now).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(schedule.canonical(), canonical, "{text}");
        assert_eq!(
            Schedule::from_canonical(&schedule.canonical()).unwrap(),
            schedule,
            "{text} round-trips"
        );
    }
}

#[test]
fn a_naive_timestamp_is_read_in_the_jobs_zone() {
    let now = utc("2026-06-01T00:00:00Z");
    let schedule = Schedule::parse("2026-06-02 09:00", BERLIN, now).unwrap();
    assert_eq!(schedule, Schedule::Once(utc("2026-06-02T07:00:00Z")));
}

#[test]
fn posix_weekdays_zero_and_seven_are_sunday() {
    let sunday = utc("2026-03-01T00:00:00Z"); // a Sunday
    for text in ["0 12 * * 0", "0 12 * * 7", "0 12 * * SUN"] {
        let next = parse(text)
            .next_after(sunday - chrono::Duration::hours(1), chrono_tz::UTC)
            .unwrap();
        assert_eq!(next, utc("2026-03-01T12:00:00Z"), "{text}");
    }
}

#[test]
fn cron_special_characters_pick_the_right_days() {
    let start = utc("2026-02-01T00:00:00Z");
    let next = |text: &str| parse(text).next_after(start, chrono_tz::UTC).unwrap();
    assert_eq!(
        next("0 0 L * *"),
        utc("2026-02-28T00:00:00Z"),
        "last day of February"
    );
    assert_eq!(
        next("0 0 * * 5#2"),
        utc("2026-02-13T00:00:00Z"),
        "second Friday"
    );
    assert_eq!(
        next("0 0 14W * *"),
        utc("2026-02-13T00:00:00Z"),
        "the 14th is a Saturday: Friday"
    );
    assert_eq!(
        next("0 0 12 * * * 2027"),
        utc("2027-01-01T12:00:00Z"),
        "7th field is the year"
    );
}

#[test]
fn refusals_list_the_accepted_forms_and_name_the_input() {
    let now = utc("2026-03-01T12:00:00Z");
    for bad in ["every fortnight", "tomorrow-ish", "every day at 25:00", ""] {
        let error = Schedule::parse(bad, chrono_tz::UTC, now)
            .unwrap_err()
            .to_string();
        assert!(error.contains(&format!("`{bad}`")), "{error}");
        assert!(error.contains("accepted schedules:"), "{error}");
    }
    // Text meant as cron gets the cron parser's own refusal, naming the field.
    for (bad, says) in [
        ("61 * * * *", "minute `61` is outside 0–59"),
        ("* * *", "a cron expression has 5 fields"),
    ] {
        let error = Schedule::parse(bad, chrono_tz::UTC, now).unwrap_err();
        assert!(matches!(error, ScheduleError::Cron { .. }), "{error}");
        let error = error.to_string();
        assert!(
            error.contains(&format!("`{bad}`")) && error.contains(says),
            "{error}"
        );
    }
    let past = Schedule::parse("2026-03-01T11:00:00Z", chrono_tz::UTC, now).unwrap_err();
    assert!(matches!(past, ScheduleError::InThePast { .. }), "{past}");
    assert!(
        Schedule::parse("2026-03-01T11:59:00Z", chrono_tz::UTC, now).is_ok(),
        "within 120 s is fine"
    );
    assert!(parse_zone("Mars/Olympus")
        .unwrap_err()
        .to_string()
        .contains("Mars/Olympus"));
    assert!(matches!(
        Schedule::parse("0 0 30 2 *", chrono_tz::UTC, now),
        Err(ScheduleError::NeverFires(_))
    ));
    for huge in [
        "every 9000000000000s",
        "in 9000000000000s",
        "9000000000000s",
    ] {
        assert!(
            Schedule::parse(huge, chrono_tz::UTC, now).is_err(),
            "{huge} accepted"
        );
    }
    // A stored interval too large to add never panics: it just never fires again.
    let stored = Schedule::from_canonical("every:9000000000000").unwrap();
    assert_eq!(stored.next_after(now, chrono_tz::UTC), None);
}

/// A daily fixed-time job runs exactly once every local day of the year.
fn assert_daily_once_all_year(expression: &str, zone: Tz) -> Vec<DateTime<Utc>> {
    let fires = year_of_fires(&parse(expression), zone);
    let days = per_local_day(&fires, zone);
    assert_eq!(days.len(), 365, "{expression} in {zone}: a fire every day");
    assert!(
        days.values().all(|n| *n == 1),
        "{expression} in {zone}: exactly once a day"
    );
    fires
}

#[test]
fn new_york_spring_gap_runs_once_at_the_end_of_the_gap_and_fall_back_once() {
    let fires = assert_daily_once_all_year("30 2 * * *", NEW_YORK);
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist → 03:00 EDT = 07:00 UTC.
    assert!(
        fires.contains(&utc("2026-03-08T07:00:00Z")),
        "end of the gap"
    );
    let fires = assert_daily_once_all_year("30 1 * * *", NEW_YORK);
    // 2026-11-01: 01:30 happens twice; it runs once, at the first (EDT, 05:30 UTC).
    assert!(fires.contains(&utc("2026-11-01T05:30:00Z")));
    assert!(!fires.contains(&utc("2026-11-01T06:30:00Z")));
}

#[test]
fn berlin_spring_gap_and_fall_back_run_once() {
    let fires = assert_daily_once_all_year("30 2 * * *", BERLIN);
    // 2026-03-29: 02:00 CET → 03:00 CEST: 02:30 runs at 03:00 CEST = 01:00 UTC.
    assert!(fires.contains(&utc("2026-03-29T01:00:00Z")));
    // 2026-10-25: 02:30 happens twice: once, at 02:30 CEST = 00:30 UTC.
    assert!(fires.contains(&utc("2026-10-25T00:30:00Z")));
    assert!(!fires.contains(&utc("2026-10-25T01:30:00Z")));
}

#[test]
fn lord_howe_half_hour_shift_runs_once() {
    // Spring 2026-10-04: 02:00 → 02:30 (+10:30 → +11). 02:15 runs at 02:30 LHDT = 15:30 UTC the day before.
    let fires = assert_daily_once_all_year("15 2 * * *", LORD_HOWE);
    assert!(
        fires.contains(&utc("2026-10-03T15:30:00Z")),
        "end of the 30-minute gap"
    );
    // Fall 2026-04-05: 02:00 → 01:30: 01:45 happens twice; once, at the first (+11) = 14:45 UTC.
    let fires = assert_daily_once_all_year("45 1 * * *", LORD_HOWE);
    assert!(fires.contains(&utc("2026-04-04T14:45:00Z")));
    assert!(!fires.contains(&utc("2026-04-04T15:15:00Z")));
}

#[test]
fn several_fixed_times_inside_the_gap_collapse_into_one_run() {
    let fires = year_of_fires(&parse("0,20,40 2 * * *"), NEW_YORK);
    let days = per_local_day(&fires, NEW_YORK);
    assert_eq!(
        days[&NaiveDate::from_ymd_opt(2026, 3, 8).unwrap()],
        1,
        "the gap day"
    );
    assert_eq!(
        days[&NaiveDate::from_ymd_opt(2026, 3, 9).unwrap()],
        3,
        "an ordinary day"
    );
}

#[test]
fn around_the_clock_jobs_follow_real_time_through_both_transitions() {
    for zone in [NEW_YORK, BERLIN] {
        let fires = year_of_fires(&parse("0 * * * *"), zone);
        assert_eq!(fires.len(), 8760, "{zone}: one fire per real hour of 2026");
        for pair in fires.windows(2) {
            assert_eq!(
                pair[1] - pair[0],
                chrono::Duration::hours(1),
                "{zone}: {} -> {}",
                pair[0],
                pair[1]
            );
        }
    }
    let fires = year_of_fires(&parse("*/15 * * * *"), NEW_YORK);
    assert!(fires
        .windows(2)
        .all(|p| p[1] - p[0] == chrono::Duration::minutes(15)));
}

#[test]
fn weekly_and_monthly_jobs_across_a_year() {
    let fires = year_of_fires(&parse("0 9 * * 1"), BERLIN);
    assert_eq!(fires.len(), 52);
    assert!(fires
        .iter()
        .all(|f| local(*f, BERLIN).hour() == 9
            && local(*f, BERLIN).weekday() == chrono::Weekday::Mon));
    let fires = year_of_fires(&parse("0 0 L * *"), LORD_HOWE);
    assert_eq!(fires.len(), 12);
}

#[test]
fn intervals_follow_elapsed_real_time_across_dst() {
    let schedule = parse("every 90m");
    let mut at = utc("2026-03-08T00:00:00Z");
    for _ in 0..48 {
        let next = schedule.next_after(at, NEW_YORK).unwrap();
        assert_eq!((next - at).num_seconds(), 5400);
        at = next;
    }
}

#[test]
fn intervals_that_divide_the_clock_fire_on_it_in_the_jobs_zone() {
    let now = utc("2026-03-01T12:07:31Z");
    let first = |text: &str, zone: Tz| {
        Schedule::parse(text, zone, now)
            .unwrap()
            .next_after(now, zone)
            .unwrap()
    };
    assert_eq!(
        first("every 15m", chrono_tz::UTC),
        utc("2026-03-01T12:15:00Z")
    );
    assert_eq!(
        first("every 15s", chrono_tz::UTC),
        utc("2026-03-01T12:07:45Z")
    );
    assert_eq!(
        first("every hour", chrono_tz::UTC),
        utc("2026-03-01T13:00:00Z")
    );
    // On the hour in the job's zone: India is UTC+5:30.
    let kolkata = chrono_tz::Asia::Kolkata;
    assert_eq!(first("every hour", kolkata), utc("2026-03-01T12:30:00Z"));
    assert_eq!(first("every day", BERLIN), utc("2026-03-01T23:00:00Z"));
    assert_eq!(
        first("every week", chrono_tz::UTC),
        utc("2026-03-02T00:00:00Z")
    );
    // The rest count from when the job is added.
    assert_eq!(
        first("every 7m", chrono_tz::UTC),
        utc("2026-03-01T12:14:31Z")
    );
    // `every day` is local midnight all year, across both DST transitions.
    let fires = year_of_fires(&parse("every day"), NEW_YORK);
    assert_eq!(fires.len(), 365);
    assert!(fires.iter().all(|f| local(*f, NEW_YORK).hour() == 0));
}

#[test]
fn exports_of_earlier_versions_keep_their_plain_intervals() {
    let now = utc("2026-03-01T12:00:00Z");
    let forms = |text: &str| -> Vec<String> {
        Schedule::stored_forms(text, chrono_tz::UTC, now)
            .unwrap()
            .iter()
            .map(Schedule::canonical)
            .collect()
    };
    assert_eq!(forms("every 1h"), ["cron:0 * * * *", "every:3600"]);
    assert_eq!(forms("30m"), ["cron:*/30 * * * *", "every:1800"]);
    assert_eq!(forms("every 7m"), ["every:420"]);
    assert_eq!(forms("0 9 * * *"), ["cron:0 9 * * *"]);
    // A stored interval reads back as the interval it always was.
    assert_eq!(
        Schedule::from_canonical("every:3600").unwrap(),
        Schedule::Every(Duration::from_secs(3600))
    );
}

#[test]
fn lateness_grace_is_half_the_period_clamped() {
    assert_eq!(
        on_time_grace(Some(Duration::from_secs(1))),
        Duration::from_secs(120)
    );
    assert_eq!(
        on_time_grace(Some(Duration::from_secs(3600))),
        Duration::from_secs(1800)
    );
    assert_eq!(
        on_time_grace(Some(Duration::from_secs(86_400))),
        Duration::from_secs(7200)
    );
    assert_eq!(on_time_grace(None), Duration::from_secs(120));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]

    /// Whatever an operator types, parsing answers with a schedule or an error, never a panic.
    #[test]
    fn parsing_never_panics(text in ".{0,40}") {
        let _ = Schedule::parse(&text, NEW_YORK, utc("2026-03-08T06:30:00Z"));
    }

    /// Cron-shaped input, with the special characters, in a DST zone: parse and walk a little.
    #[test]
    fn cron_shaped_input_never_panics(fields in proptest::collection::vec("[0-9*/,LW#?A-Z-]{1,6}", 5..=7)) {
        let text = fields.join(" ");
        if let Ok(schedule) = Schedule::parse(&text, LORD_HOWE, utc("2026-04-04T14:00:00Z")) {
            let mut at = utc("2026-04-04T14:00:00Z");
            for _ in 0..3 {
                match schedule.next_after(at, LORD_HOWE) {
                    Some(next) => { proptest::prop_assert!(next > at); at = next; }
                    None => break,
                }
            }
        }
    }

    /// Stored forms read back from a damaged store never panic either.
    #[test]
    fn canonical_forms_never_panic(text in "(cron|every|once|x):.{0,30}") {
        if let Ok(schedule) = Schedule::from_canonical(&text) {
            let _ = schedule.next_after(utc("2026-01-01T00:00:00Z"), chrono_tz::UTC);
        }
    }
}

/// Pacific/Apia skipped 2011-12-30 (23:59:59 -10:00 on the 29th, then 00:00 +14:00 on the
/// 31st): a date that never existed is not carried over, so no job runs twice on one date.
#[test]
fn a_date_that_never_existed_is_skipped_not_run_twice_the_next_day() {
    let apia: Tz = "Pacific/Apia".parse().unwrap();
    let from = utc("2011-12-29T00:00:00Z"); // 2011-12-28 14:00 in Apia
    let local_fires = |expression: &str| -> Vec<String> {
        let schedule = parse(expression);
        let mut at = from;
        (0..3)
            .map(|_| {
                at = schedule.next_after(at, apia).unwrap();
                local(at, apia).format("%F %H:%M").to_string()
            })
            .collect()
    };
    assert_eq!(
        local_fires("0 12 * * *"),
        ["2011-12-29 12:00", "2011-12-31 12:00", "2012-01-01 12:00"]
    );
    assert_eq!(
        local_fires("0 0 * * *"),
        ["2011-12-29 00:00", "2011-12-31 00:00", "2012-01-01 00:00"]
    );
    // A one-shot on the missing date runs when the clocks resume.
    let once = parse_instant("2011-12-30 12:00", apia).unwrap();
    assert_eq!(
        local(once, apia).format("%F %H:%M").to_string(),
        "2011-12-31 00:00"
    );
}

/// Red-team findings around DST, each once wrong.
#[test]
fn chosen_hours_run_once_in_a_repeated_hour_and_a_gap_into_the_next_date_still_runs() {
    let once_per_local_time = |expression: &str, zone: &str, from: &str, to: &str| {
        let zone: Tz = zone.parse().unwrap();
        let schedule = parse(expression);
        let (mut at, end) = (utc(from), utc(to));
        let mut seen = BTreeMap::new();
        while let Some(next) = schedule.next_after(at, zone).filter(|n| *n < end) {
            *seen.entry(local(next, zone).naive_local()).or_insert(0) += 1;
            at = next;
        }
        assert!(
            seen.values().all(|n| *n == 1),
            "{expression} in {zone}: {seen:?}"
        );
        seen.len()
    };
    // Havana falls back from 01:00 to 00:00: midnight is repeated; `*/12` is chosen hours.
    once_per_local_time(
        "0 */12 * * *",
        "America/Havana",
        "2026-10-31T12:00:00Z",
        "2026-11-03T00:00:00Z",
    );
    once_per_local_time(
        "30 1/12 * * *",
        "America/New_York",
        "2026-10-31T12:00:00Z",
        "2026-11-03T00:00:00Z",
    );
    // Nuuk springs forward at 23:00 on a Saturday to 00:00 on Sunday: that Saturday existed,
    // so its 23:30 runs at the end of the gap.
    let nuuk: Tz = "America/Nuuk".parse().unwrap();
    let saturday = parse("30 23 * * SAT");
    let next = saturday
        .next_after(utc("2024-03-30T12:00:00Z"), nuuk)
        .unwrap();
    assert_eq!(local(next, nuuk).to_rfc3339(), "2024-03-31T00:00:00-01:00");
    // The last occurrence of a bounded schedule near a change is still found.
    let new_york: Tz = "America/New_York".parse().unwrap();
    let last = parse("0 0 3 1 11 ? 2026");
    assert_eq!(
        last.next_after(utc("2026-11-01T04:00:00Z"), new_york),
        Some(utc("2026-11-01T08:00:00Z"))
    );
}
