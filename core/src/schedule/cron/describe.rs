//! A cron expression in plain words (`at 09:30, Monday through Friday, Europe/Berlin`), from
//! the same resolved sets the matcher fires on, so the words cannot drift from the instants.

use chrono_tz::Tz;

use super::field::{month_name, weekday_name, CronField};
use super::matcher::{Bits, Matcher};
use super::syntax::Expression;

/// What one field amounts to, for words.
#[derive(Debug, Clone, Copy)]
enum Set<'a> {
    /// These values.
    Values(Bits),
    /// Picked by `H` per job, not yet for a job: the field as written.
    Picked(&'a str),
}

pub(super) fn describe(parts: &Expression, matcher: &Matcher, seeded: bool, zone: Tz) -> String {
    let set = |field: CronField, bits: Bits| match parts.get(field) {
        Some(f) if f.is_hashed() && !seeded => Set::Picked(&f.text),
        _ => Set::Values(bits),
    };
    let seconds = set(CronField::Second, matcher.seconds);
    let minutes = set(CronField::Minute, matcher.minutes);
    let hours = set(CronField::Hour, matcher.hours);
    let mut pieces = vec![];
    let (time, at_times) = time_of_day(seconds, minutes, hours);
    pieces.push(time);
    let picked_days = |field| !seeded && parts.get(field).is_some_and(|f| f.is_hashed());
    let days = day_words(
        matcher,
        picked_days(CronField::DayOfMonth),
        picked_days(CronField::DayOfWeek),
    );
    let months = (matcher.months.len() < 12).then(|| {
        if picked_days(CronField::Month) {
            "in a month picked per job".to_owned()
        } else {
            format!(
                "in {}",
                runs_in_words(matcher.months, |m| month_name(m).to_owned())
            )
        }
    });
    let (first_year, last_year) = CronField::Year.bounds();
    let years = matcher
        .years
        .as_ref()
        .filter(|years| years.len() < (last_year - first_year + 1) as usize)
        .map(|years| format!("in {}", year_words(years)));
    match (&days, &months, &years) {
        (None, None, None) if at_times => pieces[0].push_str(" every day"),
        _ => pieces.extend([days, months, years].into_iter().flatten()),
    }
    pieces.push(zone.name().to_owned());
    pieces.join(", ")
}

/// The time-of-day part, and whether it names times of day (so "every day" reads well).
fn time_of_day(seconds: Set<'_>, minutes: Set<'_>, hours: Set<'_>) -> (String, bool) {
    if let (Set::Values(s), Set::Values(m), Set::Values(h)) = (seconds, minutes, hours) {
        if let (Some(s), Some(m)) = (single(s), single(m)) {
            let clock = |hour: u32| match s {
                0 => format!("{hour:02}:{m:02}"),
                s => format!("{hour:02}:{m:02}:{s:02}"),
            };
            if h.len() <= 6 && h.len() < 24 {
                let times: Vec<String> = h.values().map(clock).collect();
                return (format!("at {}", join(&times)), true);
            }
            if h.len() == 24 {
                return (
                    match (m, s) {
                        (0, 0) => "every hour on the hour".to_owned(),
                        (m, 0) => format!("every hour at minute {m}"),
                        (m, s) => format!("every hour at minute {m}, second {s}"),
                    },
                    false,
                );
            }
            if let Some((from, step)) = progression(h, 24) {
                return (format!("every {step} hours from {}", clock(from)), false);
            }
            if let Some((from, to)) = one_run(h) {
                return (
                    format!("every hour from {} to {}", clock(from), clock(to)),
                    false,
                );
            }
        }
    }
    let seconds = match seconds {
        Set::Values(s) if s.len() == 1 && s.contains(0) => None,
        other => Some(unit_words(other, "second", 60)),
    };
    let minutes = match minutes {
        Set::Values(m) if m.len() == 60 && seconds.is_some() => None,
        // Within a minute's seconds, the minutes are where they happen.
        Set::Values(m) if seconds.is_some() => Some(format!(
            "during minute{} {}",
            if m.len() == 1 { "" } else { "s" },
            runs_in_words(m, |v| v.to_string())
        )),
        other => Some(unit_words(other, "minute", 60)),
    };
    let hours = match hours {
        Set::Values(h) if h.len() == 24 => None,
        Set::Values(h) => Some(match (single(h), one_run(h), progression(h, 24)) {
            (Some(h), _, _) => format!("from {h:02}:00 to {h:02}:59"),
            (_, Some((from, to)), _) => format!("from {from:02}:00 to {to:02}:59"),
            (_, _, Some((from, step))) => {
                format!("in every {} hour from {from:02}:00", ordinal(step))
            }
            _ => format!(
                "during hours {}",
                join(&h.values().map(|h| format!("{h:02}")).collect::<Vec<_>>())
            ),
        }),
        picked => Some(unit_words(picked, "hour", 24)),
    };
    let minutes = match (&seconds, minutes, &hours) {
        (None, Some(at), None) if at.starts_with("at ") => Some(format!("every hour {at}")),
        (_, minutes, _) => minutes,
    };
    let words: Vec<String> = [seconds, minutes, hours].into_iter().flatten().collect();
    (words.join(", "), false)
}

/// One field's values in words: `every minute`, `every 15 minutes`, `at minutes 5 and 35`.
/// `size` is how many values the field has.
fn unit_words(set: Set<'_>, unit: &str, size: u32) -> String {
    let bits = match set {
        Set::Picked(text) => return format!("at {unit}s picked per job by `{text}`"),
        Set::Values(bits) => bits,
    };
    if bits.len() == size {
        return format!("every {unit}");
    }
    if let Some(at) = single(bits) {
        return format!("at {unit} {at}");
    }
    match progression(bits, size) {
        Some((0, step)) => format!("every {step} {unit}s"),
        Some((from, step)) => format!("every {step} {unit}s from {unit} {from}"),
        None => match one_run(bits) {
            Some((from, to)) => format!("every {unit} from {unit} {from} to {to}"),
            None => format!(
                "at {unit}s {}",
                join(&bits.values().map(|v| v.to_string()).collect::<Vec<_>>())
            ),
        },
    }
}

fn day_words(matcher: &Matcher, picked_day: bool, picked_weekday: bool) -> Option<String> {
    let days = &matcher.days;
    let of_month = (!days.any_day).then(|| {
        if picked_day {
            return "on a day of the month picked per job".to_owned();
        }
        let mut nouns = vec![];
        if days.days.len() > 0 {
            nouns.push(match (single(days.days), progression(days.days, 31)) {
                (Some(day), _) => format!("day {day}"),
                (None, Some((from, step))) if days.days.len() > 3 => {
                    format!("every {} day from day {from}", ordinal(step))
                }
                _ => format!("days {}", runs_in_words(days.days, |d| d.to_string())),
            });
        }
        nouns.extend(days.before_last.values().map(|minus| match minus {
            0 => "the last day".to_owned(),
            n => format!("the {}-last day", ordinal(n + 1)),
        }));
        if days.last_weekday {
            nouns.push("the last weekday".to_owned());
        }
        nouns.extend(
            days.nearest_weekday
                .values()
                .map(|n| format!("the weekday nearest day {n}")),
        );
        format!("on {} of the month", join(&nouns))
    });
    let of_week = (!days.any_weekday).then(|| {
        if picked_weekday {
            return "on a day of the week picked per job".to_owned();
        }
        let mut phrases = vec![];
        if days.weekdays.len() > 0 {
            let plain = runs_in_words(days.weekdays, |d| weekday_name(d).to_owned());
            phrases.push(match one_run(days.weekdays) {
                Some((from, to)) if to > from + 1 => plain,
                _ => format!("on {plain}"),
            });
        }
        for (weekday, nth) in days.nth.iter().enumerate() {
            for k in (0..6).filter(|k| nth & (1 << k) != 0) {
                let which = ["first", "second", "third", "fourth", "fifth", "last"][k];
                phrases.push(format!(
                    "on the {which} {} of the month",
                    weekday_name(weekday as u32)
                ));
            }
        }
        join(&phrases)
    });
    match (of_month, of_week) {
        (Some(a), Some(b)) => Some(format!("{a} or {b}")),
        (a, b) => a.or(b),
    }
}

/// The one value of a set of one.
fn single(bits: Bits) -> Option<u32> {
    (bits.len() == 1).then(|| bits.values().next()).flatten()
}

/// `(start, step)` when the set is every `step`th value, `step` above 1, evenly around the
/// field's `size` values too (so "every 15 minutes" is true across the hour: `*/45` is not
/// "every 45 minutes", it fires at :00 and :45).
fn progression(bits: Bits, size: u32) -> Option<(u32, u32)> {
    let values: Vec<u32> = bits.values().collect();
    let (&first, &second) = (values.first()?, values.get(1)?);
    let step = second - first;
    let even = values.windows(2).all(|w| w[1] - w[0] == step);
    let around = size.is_multiple_of(step) && values.len() as u32 == size / step;
    (step > 1 && even && around).then_some((first, step))
}

/// `(from, to)` when the set is one unbroken run of values.
fn one_run(bits: Bits) -> Option<(u32, u32)> {
    let first = bits.values().next()?;
    let last = bits.values().last()?;
    (last - first + 1 == bits.len()).then_some((first, last))
}

/// Values with runs of three or more as `a through b`.
fn runs_in_words(bits: Bits, name: impl Fn(u32) -> String) -> String {
    let mut phrases = vec![];
    let values: Vec<u32> = bits.values().collect();
    let mut i = 0;
    while i < values.len() {
        let mut j = i;
        while j + 1 < values.len() && values[j + 1] == values[j] + 1 {
            j += 1;
        }
        if j >= i + 2 {
            phrases.push(format!("{} through {}", name(values[i]), name(values[j])));
        } else {
            phrases.extend(values[i..=j].iter().map(|v| name(*v)));
        }
        i = j + 1;
    }
    join(&phrases)
}

/// Years with runs of three or more as `a through b`.
fn year_words(years: &[i32]) -> String {
    let mut phrases = vec![];
    let mut i = 0;
    while i < years.len() {
        let mut j = i;
        while j + 1 < years.len() && years[j + 1] == years[j] + 1 {
            j += 1;
        }
        if j >= i + 2 {
            phrases.push(format!("{} through {}", years[i], years[j]));
        } else {
            phrases.extend(years[i..=j].iter().map(i32::to_string));
        }
        i = j + 1;
    }
    join(&phrases)
}

/// `a`, `a and b`, `a, b and c`.
fn join(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}
