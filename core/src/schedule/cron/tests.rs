//! The dialects, their refusals, Jenkins' `H` and the words, through `CronSchedule`.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{CronError, CronField, CronSchedule};

const START: &str = "2026-01-01T00:00:00Z"; // a Thursday

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// The first `count` fires after `from`, in UTC, as `YYYY-MM-DD HH:MM[:SS]`.
fn fires(expression: &str, from: &str, count: usize) -> Vec<String> {
    let cron =
        CronSchedule::parse(expression).unwrap_or_else(|e| panic!("`{expression}` refused: {e}"));
    let mut at = utc(from);
    let mut out = vec![];
    for _ in 0..count {
        at = cron.next_after(at, chrono_tz::UTC).expect("fires");
        out.push(
            at.format(if at.timestamp() % 60 == 0 {
                "%F %H:%M"
            } else {
                "%F %T"
            })
            .to_string(),
        );
    }
    out
}

fn refusal(expression: &str) -> CronError {
    CronSchedule::parse(expression).expect_err(expression)
}

#[test]
fn steps_from_a_start_run_to_the_end_of_the_field() {
    assert_eq!(
        fires("0/15 * * * *", START, 4),
        [
            "2026-01-01 00:15",
            "2026-01-01 00:30",
            "2026-01-01 00:45",
            "2026-01-01 01:00"
        ]
    );
    assert_eq!(
        fires("5/15 * * * *", START, 5),
        [
            "2026-01-01 00:05",
            "2026-01-01 00:20",
            "2026-01-01 00:35",
            "2026-01-01 00:50",
            "2026-01-01 01:05"
        ]
    );
    assert_eq!(
        fires("0 4/6 * * *", START, 5),
        [
            "2026-01-01 04:00",
            "2026-01-01 10:00",
            "2026-01-01 16:00",
            "2026-01-01 22:00",
            "2026-01-02 04:00"
        ]
    );
    // A week ends on Saturday: Monday, Wednesday, Friday.
    assert_eq!(
        fires("0 0 * * Mon/2", START, 4),
        [
            "2026-01-02 00:00",
            "2026-01-05 00:00",
            "2026-01-07 00:00",
            "2026-01-09 00:00"
        ]
    );
    assert_eq!(
        fires("30/20 * * * * *", START, 3),
        [
            "2026-01-01 00:00:30",
            "2026-01-01 00:00:50",
            "2026-01-01 00:01:30"
        ]
    );
}

#[test]
fn quartz_day_fields_question_mark_last_and_nearest_weekday() {
    assert_eq!(fires("0 0 ? * MON", START, 1), ["2026-01-05 00:00"]);
    assert_eq!(fires("0 0 12 ? * MON", START, 1), ["2026-01-05 12:00"]);
    assert_eq!(
        fires("0 0 1-L/8 * *", START, 4),
        [
            "2026-01-09 00:00",
            "2026-01-17 00:00",
            "2026-01-25 00:00",
            "2026-02-01 00:00"
        ]
    );
    // February 2026 has 28 days: nothing from the 29th in it.
    assert_eq!(
        fires("0 0 29-L * *", START, 4),
        [
            "2026-01-29 00:00",
            "2026-01-30 00:00",
            "2026-01-31 00:00",
            "2026-03-29 00:00"
        ]
    );
    assert_eq!(
        fires("0 0 L-3 * *", START, 3),
        ["2026-01-28 00:00", "2026-02-25 00:00", "2026-03-28 00:00"]
    );
    // 2026-01-31 and 2026-02-28 are Saturdays.
    assert_eq!(
        fires("0 0 LW * *", START, 3),
        ["2026-01-30 00:00", "2026-02-27 00:00", "2026-03-31 00:00"]
    );
    // 15 Feb and 15 Mar 2026 are Sundays; 1 Aug 2026 a Saturday (stays in August).
    assert_eq!(
        fires("0 0 15W * *", START, 3),
        ["2026-01-15 00:00", "2026-02-16 00:00", "2026-03-16 00:00"]
    );
    assert_eq!(fires("0 0 1W 8 *", START, 1), ["2026-08-03 00:00"]);
    // A day the month lacks is its last: 2026-11-30 is a Monday, 2026-02-28 a Saturday.
    assert_eq!(fires("0 0 31W 11 *", START, 1), ["2026-11-30 00:00"]);
    assert_eq!(fires("0 0 30W 2 *", START, 1), ["2026-02-27 00:00"]);
    assert_eq!(
        fires("0 0 L 2 *", "2028-01-01T00:00:00Z", 1),
        ["2028-02-29 00:00"]
    );
}

#[test]
fn weekday_occurrences_in_the_month() {
    assert_eq!(
        fires("0 0 * * 5L", START, 2),
        ["2026-01-30 00:00", "2026-02-27 00:00"]
    );
    assert_eq!(fires("0 0 * * FRIL", START, 1), ["2026-01-30 00:00"]);
    assert_eq!(fires("0 0 * * 5#L", START, 1), ["2026-01-30 00:00"]);
    assert_eq!(fires("0 0 * * FRI#3", START, 1), ["2026-01-16 00:00"]);
    assert_eq!(
        fires("0 0 * * 1#2,5#1", START, 2),
        ["2026-01-02 00:00", "2026-01-12 00:00"]
    );
    // Sunday closes a range as 7.
    assert_eq!(
        fires("0 0 * * SAT-SUN", START, 3),
        ["2026-01-03 00:00", "2026-01-04 00:00", "2026-01-10 00:00"]
    );
    assert_eq!(fires("0 0 * * 7", START, 1), ["2026-01-04 00:00"]);
}

#[test]
fn lists_with_a_star_years_and_either_day_field() {
    assert_eq!(
        fires("*,0 * * * *", START, 2),
        ["2026-01-01 00:01", "2026-01-01 00:02"]
    );
    assert_eq!(fires("0 0 12 ? * MON 2027", START, 1), ["2027-01-04 12:00"]);
    assert_eq!(
        fires("0 0 12 1 1 * 2027-2099/10", START, 2),
        ["2027-01-01 12:00", "2037-01-01 12:00"]
    );
    // Both day fields restricted: either matches (13th or a Friday).
    assert_eq!(
        fires("0 0 13 * 5", START, 4),
        [
            "2026-01-02 00:00",
            "2026-01-09 00:00",
            "2026-01-13 00:00",
            "2026-01-16 00:00"
        ]
    );
    // A stepped `*` restricts too (robfig, croniter); cronie would read it as unrestricted.
    assert_eq!(
        fires("0 0 */10 * 5", START, 3),
        ["2026-01-02 00:00", "2026-01-09 00:00", "2026-01-11 00:00"]
    );
    // Nothing in 400 years: never.
    let never = CronSchedule::parse("0 0 30 2 *").unwrap();
    assert_eq!(never.next_after(utc(START), chrono_tz::UTC), None);
    let past = CronSchedule::parse("0 0 0 1 1 * 2020").unwrap();
    assert_eq!(past.next_after(utc(START), chrono_tz::UTC), None);
}

#[test]
fn refusals_name_the_field_the_value_as_written_and_what_is_allowed() {
    let says = |expression: &str| refusal(expression).to_string();
    assert_eq!(says("0 25 * * *"), "hour `25` is outside 0–23");
    assert_eq!(says("60 * * * *"), "minute `60` is outside 0–59");
    assert_eq!(says("0 0 32 * *"), "day of month `32` is outside 1–31");
    assert_eq!(says("0 0 * 13 *"), "month `13` is outside 1–12");
    assert_eq!(says("0 0 * * 8"), "day of week `8` is outside 0–7");
    assert_eq!(says("0 0 0 1 1 * 1969"), "year `1969` is outside 1970–2099");
    assert_eq!(
        says("0 0 * * 99999999999"),
        "day of week `99999999999` is outside 0–7"
    );
    // The text comes back as written, never upper-cased.
    let funday = says("0 0 * * funday");
    assert!(
        funday.starts_with("day of week `funday` is not understood; allowed: 0–7"),
        "{funday}"
    );
    assert!(funday.contains("SUN–SAT"), "{funday}");
    assert_eq!(
        says("0 22-2 * * *"),
        "hour range `22-2` runs backwards (22 is after 2); write it as two ranges, `22-23,0-2`"
    );
    assert_eq!(
        says("*/0 * * * *"),
        "minute `*/0`: a step must be 1 or more"
    );
    assert!(says("*/61 * * * *").contains("a step longer than the field's 60 values"));
    assert!(says("0 0 */32 * *").contains("field's 31 values"));
    assert!(
        CronSchedule::parse("*/60 * * * *").is_ok(),
        "as long as the field"
    );
    assert!(says("0 0 1, * *")
        .starts_with("day of month `1,` is not understood; allowed: no empty list items"));
    // Sunday as 7 opens a week as 0, and starts a stepped week again.
    assert_eq!(
        fires("0 0 * * 7-1", START, 2),
        ["2026-01-04 00:00", "2026-01-05 00:00"]
    );
    assert_eq!(
        fires("0 0 * * 7/3", START, 3),
        ["2026-01-03 00:00", "2026-01-04 00:00", "2026-01-07 00:00"]
    );
    assert!(matches!(
        refusal("0 0 * * MON-FRI#1"),
        CronError::Refused {
            field: CronField::DayOfWeek,
            ..
        }
    ));
    assert!(says("0 0 * * MON-FRI#1").contains("`#` and `L` take one weekday"));
    assert!(says("0 0 * * 1#6").contains("outside 1–5"));
    assert!(says("0 0 * * L").contains("write `SAT`"));
    assert!(says("0 ? * * *").contains("`?` (no specific value) belongs in the day"));
    assert!(says("0 0 L/2 * *").contains("not understood"));
    assert!(says("0 0 0 1 1 * H").contains("not years"));
    // Quartz counts weekdays from 1 = Sunday, everyone else from 0: numbers are read as cron
    // reads them, with a caution; names are plain.
    let quartz = CronSchedule::parse("0 0 12 ? * 2").unwrap();
    assert!(quartz
        .caution()
        .unwrap()
        .contains("Quartz and AWS count 1 = Sunday"));
    assert_eq!(
        fires("0 0 12 ? * 2", START, 1),
        ["2026-01-06 12:00"],
        "a Tuesday"
    );
    assert!(CronSchedule::parse("0 0 12 * * 1-5 2027")
        .unwrap()
        .caution()
        .is_some());
    assert!(CronSchedule::parse("0 0 12 ? * MON-FRI")
        .unwrap()
        .caution()
        .is_none());
    assert!(CronSchedule::parse("0 0 12 * * 1-5")
        .unwrap()
        .caution()
        .is_none());
    assert_eq!(refusal("@reboot"), CronError::Reboot);
    assert!(says("@fortnightly").contains("`@fortnightly` is not a cron nickname"));
    assert_eq!(refusal("* * * *"), CronError::FieldCount { found: 4 });
    for garbage in [
        "1,,2 * * * *",
        "a * * * *",
        "1-2-3 * * * *",
        "*/x * * * *",
        "H(5) * * * *",
        "H(1-70) * * * *",
    ] {
        assert!(CronSchedule::parse(garbage).is_err(), "{garbage} accepted");
    }
}

#[test]
fn h_picks_a_stable_value_per_job_within_its_range() {
    let hourly = CronSchedule::parse("H * * * *").unwrap();
    assert!(hourly.uses_hash());
    let minute_of = |id: &str| {
        let next = hourly
            .clone()
            .for_job(id)
            .next_after(utc(START), chrono_tz::UTC)
            .unwrap();
        i64::from(chrono::Timelike::minute(&next))
    };
    assert_eq!(minute_of("j1"), minute_of("j1"), "stable");
    let minutes: std::collections::BTreeSet<i64> =
        (0..200).map(|i| minute_of(&format!("j{i}"))).collect();
    assert!(
        minutes.len() > 40,
        "200 jobs spread over the hour: {minutes:?}"
    );
    assert!(minutes.iter().all(|m| (0..60).contains(m)));

    // H(0-29)/10: three minutes, 10 apart, all in the first half hour.
    let spread = CronSchedule::parse("H(0-29)/10 * * * *").unwrap();
    for i in 0..50 {
        let job = spread.clone().for_job(&format!("j{i}"));
        let got: Vec<u32> = job.matcher.minutes.values().collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(
            got[0] < 10 && got[1] == got[0] + 10 && got[2] == got[0] + 20,
            "{got:?}"
        );
    }
    // Days of the month stop at 28, so every month has the day.
    let monthly = CronSchedule::parse("H H H * *").unwrap();
    for i in 0..100 {
        let job = monthly.clone().for_job(&format!("j{i}"));
        let day = job.matcher.days.days.values().next().unwrap();
        assert!((1..=28).contains(&day), "{day}");
    }
    assert!(!CronSchedule::parse("0 0 * * *").unwrap().uses_hash());
    // A job at chosen hours is a fixed-time job, however the hours are written; one that
    // fires in every hour runs around the clock.
    for fixed in [
        "0 H/4 * * *",
        "0 H * * *",
        "0 */12 * * *",
        "30 1/12 * * *",
        "0 9-17 * * *",
    ] {
        assert!(
            CronSchedule::parse(fixed).unwrap().is_fixed_hour(),
            "{fixed}"
        );
    }
    for around in ["*/15 * * * *", "30 * * * *", "0 0/1 * * *", "0 0-23 * * *"] {
        assert!(
            !CronSchedule::parse(around).unwrap().is_fixed_hour(),
            "{around}"
        );
    }
}

fn words(expression: &str, zone: Tz) -> String {
    CronSchedule::parse(expression).unwrap().describe(zone)
}

#[test]
fn descriptions_say_the_schedule_in_plain_words() {
    let utc = chrono_tz::UTC;
    for (expression, expected) in [
        ("30 9 * * 1-5", "at 09:30, Monday through Friday, UTC"),
        ("0 0 * * *", "at 00:00 every day, UTC"),
        ("0 9,17 * * *", "at 09:00 and 17:00 every day, UTC"),
        ("15 10 * * * ", "at 10:15 every day, UTC"),
        ("30 15 10 * * *", "at 10:15:30 every day, UTC"),
        ("* * * * *", "every minute, UTC"),
        ("* * * * * *", "every second, UTC"),
        ("*/10 * * * * *", "every 10 seconds, UTC"),
        ("*/15 * * * *", "every 15 minutes, UTC"),
        ("5/15 * * * *", "every 15 minutes from minute 5, UTC"),
        ("0 * * * *", "every hour on the hour, UTC"),
        ("30 * * * *", "every hour at minute 30, UTC"),
        ("0 */2 * * *", "every 2 hours from 00:00, UTC"),
        ("0 9-17 * * *", "every hour from 09:00 to 17:00, UTC"),
        (
            "*/5 9-17 * * 1-5",
            "every 5 minutes, from 09:00 to 17:59, Monday through Friday, UTC",
        ),
        ("0,30 * * * *", "every 30 minutes, UTC"),
        ("5,20 * * * *", "every hour at minutes 5 and 20, UTC"),
        ("0 0 L * *", "at 00:00, on the last day of the month, UTC"),
        (
            "0 0 L-3 * *",
            "at 00:00, on the 4th-last day of the month, UTC",
        ),
        ("*/45 * * * *", "every hour at minutes 0 and 45, UTC"),
        (
            "*/30 */30 * * * *",
            "every 30 seconds, during minutes 0 and 30, UTC",
        ),
        (
            "0 0 0 1 1 * *",
            "at 00:00, on day 1 of the month, in January, UTC",
        ),
        (
            "0 0 0 1 1 * 2027-2030,2040",
            "at 00:00, on day 1 of the month, in January, in 2027 through 2030 and 2040, UTC",
        ),
        (
            "0 0 LW * *",
            "at 00:00, on the last weekday of the month, UTC",
        ),
        (
            "0 0 15W * *",
            "at 00:00, on the weekday nearest day 15 of the month, UTC",
        ),
        (
            "0 0 * * 5L",
            "at 00:00, on the last Friday of the month, UTC",
        ),
        (
            "0 0 * * 1#2",
            "at 00:00, on the second Monday of the month, UTC",
        ),
        ("0 0 * * 0,6", "at 00:00, on Sunday and Saturday, UTC"),
        (
            "0 0 * * 1,3,5",
            "at 00:00, on Monday, Wednesday and Friday, UTC",
        ),
        (
            "0 0 1,15 * 1",
            "at 00:00, on days 1 and 15 of the month or on Monday, UTC",
        ),
        (
            "0 12 1 */3 *",
            "at 12:00, on day 1 of the month, in January, April, July and October, UTC",
        ),
        (
            "0 0 1 1 *",
            "at 00:00, on day 1 of the month, in January, UTC",
        ),
        ("0 0 12 ? * MON 2027", "at 12:00, on Monday, in 2027, UTC"),
        (
            "H * * * *",
            "every hour at minutes picked per job by `H`, UTC",
        ),
        (
            "H(0-29)/10 * * * *",
            "every hour at minutes picked per job by `H(0-29)/10`, UTC",
        ),
        (
            "H,30 H * * *",
            "at minutes picked per job by `H,30`, at hours picked per job by `H`, UTC",
        ),
    ] {
        assert_eq!(words(expression, utc), expected, "{expression}");
    }
    let berlin: Tz = "Europe/Berlin".parse().unwrap();
    assert_eq!(
        words("30 9 * * MON-FRI", berlin),
        "at 09:30, Monday through Friday, Europe/Berlin"
    );
    let job = CronSchedule::parse("H 3 * * *").unwrap().for_job("j1");
    let minute = job.matcher.minutes.values().next().unwrap();
    assert_eq!(
        job.describe(utc),
        format!("at 03:{minute:02} every day, UTC")
    );
}

#[test]
fn the_end_of_time_is_no_panic() {
    let every_second = CronSchedule::parse("* * * * * *").unwrap();
    let last = chrono::NaiveDateTime::MAX.and_utc();
    assert_eq!(every_second.next_after(last, chrono_tz::UTC), None);
    let late = chrono::NaiveDate::from_ymd_opt(99_000, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    assert!(CronSchedule::parse("0 0 29 2 *")
        .unwrap()
        .next_after(late, chrono_tz::UTC)
        .is_some());
}
