//! Durations and intervals, read by the `humantime` crate: `every 30s`, `every 1h30m`,
//! `every hour`, bare `30m`, `10m` in `in 10m`, and `--timeout 10m`.

use std::time::Duration;

/// The longest interval, delay or timeout read: 100 years.
const MAX: Duration = Duration::from_secs(100 * 366 * 86_400);

/// The shortest interval. Intervals are stored in whole seconds, and a second is the finest
/// a cron expression (6 fields) or the ticker's schedule goes.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The longest text read as a duration, and the most digits in one of its numbers: they bound
/// what the parser adds up (far above 100 years, far below overflow).
const MAX_TEXT: usize = 64;
const MAX_DIGITS: usize = 12;

/// What a duration looks like, for errors.
const EXAMPLES: &str = "30s, 5m, 1h30m, 2h, 1d, 1w or 90 seconds";

/// Units whose length varies (`humantime` counts a month as 30.44 days): refused.
const CALENDAR_UNITS: [&str; 7] = ["month", "months", "y", "yr", "yrs", "year", "years"];

/// Parse a duration: numbers with units, summed (`30s`, `5 m`, `1h30m`, `1.5h`, `500ms`,
/// `90 seconds`), or a bare unit (`hour`). Case-insensitive (`5M` is five minutes). Refused:
/// zero, more than 100 years, months and years (no fixed length).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let body = text.trim().to_lowercase();
    if body.len() > MAX_TEXT {
        return Err(format!(
            "`{text}` is too long for a duration (at most {MAX_TEXT} characters)"
        ));
    }
    let longest_number = body
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0);
    if longest_number > MAX_DIGITS {
        return Err(format!("`{text}` is too large: at most 100 years"));
    }
    let words = || {
        body.split(|c: char| !c.is_alphabetic())
            .filter(|w| !w.is_empty())
    };
    if let Some(unit) = words().find(|w| CALENDAR_UNITS.contains(w)) {
        return Err(format!(
            "`{text}`: `{unit}` has no fixed length; use a cron expression such as `0 0 1 * *` (monthly) or `@yearly`"
        ));
    }
    // `hour`, `day`: one of them.
    let body = if longest_number == 0 && words().count() == 1 {
        format!("1{}", body.trim())
    } else {
        body
    };
    let duration = humantime::parse_duration(&body).map_err(|error| {
        let detail = match error {
            humantime::DurationError::UnknownUnit { unit, .. } if unit.is_empty() => {
                "a number needs a unit".to_owned()
            }
            humantime::DurationError::UnknownUnit { unit, .. } => {
                format!("`{unit}` is not a unit (s, m, h, d, w, ms, or their names)")
            }
            humantime::DurationError::NumberOverflow => "it is too large".to_owned(),
            other => other.to_string(),
        };
        format!("`{text}` is not a duration such as {EXAMPLES}: {detail}")
    })?;
    if duration.is_zero() {
        return Err(format!("`{text}` is zero; a duration must be longer"));
    }
    if duration > MAX {
        return Err(format!("`{text}` is too large: at most 100 years"));
    }
    Ok(duration)
}

/// A duration that must be whole seconds, at least one (a timeout): `what` names it in the
/// error. A plain number is seconds (`--timeout 600`).
pub fn parse_seconds(text: &str, what: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let duration = if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        let secs = trimmed
            .parse::<u64>()
            .ok()
            .filter(|s| *s <= MAX.as_secs())
            .ok_or_else(|| format!("`{text}` is too large: at most 100 years"))?;
        Duration::from_secs(secs)
    } else {
        parse_duration(text)?
    };
    whole_seconds(text, duration, what)
}

/// `duration` (read from `text`) if it is whole seconds, 1s at the least.
fn whole_seconds(text: &str, duration: Duration, what: &str) -> Result<Duration, String> {
    if duration < MIN_INTERVAL {
        return Err(format!(
            "`{text}` is shorter than 1s: {what} is whole seconds, 1s at the least"
        ));
    }
    if duration.subsec_nanos() != 0 {
        return Err(format!(
            "`{text}` is not a whole number of seconds: {what} is whole seconds, 1s at the least"
        ));
    }
    Ok(duration)
}

/// `Some(result)` when `text` (lower case) is meant as an interval: `every <duration>` or a bare
/// duration with a count (`30m`); `None` when it is some other form. An interval is whole
/// seconds, 1s at the least.
pub fn parse_interval(text: &str) -> Option<Result<Duration, String>> {
    let interval = |text: &str, duration| whole_seconds(text, duration, "an interval");
    if let Some(rest) = text.strip_prefix("every ") {
        // `every day at 9am` and `every monday, wednesday at 21:00` are phrases.
        if rest.contains(" at ") || rest.contains(',') {
            return None;
        }
        return Some(parse_duration(rest).and_then(|duration| interval(rest, duration)));
    }
    let bare = !text.contains(char::is_whitespace)
        && text.starts_with(|c: char| c.is_ascii_digit())
        && text.ends_with(|c: char| c.is_alphabetic());
    // A bare token that is not a duration may still be a timestamp.
    let duration = parse_duration(text).ok().filter(|_| bare)?;
    Some(interval(text, duration))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let secs = Duration::from_secs;
        for (text, expected) in [
            ("30s", secs(30)),
            ("5 m", secs(300)),
            ("5M", secs(300)),
            ("hour", secs(3600)),
            ("1d", secs(86_400)),
            ("1h30m", secs(5400)),
            ("1h 30m", secs(5400)),
            ("1.5h", secs(5400)),
            ("90 seconds", secs(90)),
            ("2 weeks", secs(14 * 86_400)),
            ("500ms", Duration::from_millis(500)),
        ] {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
        for bad in [
            "",
            "0s",
            "5 parsecs",
            "5",
            "99999999999999999999s",
            "9000000000000s",
            "101 years",
            "1 month",
            "2y",
            "-5m",
            "18446744073709551615s 1000ms",
            &"1s ".repeat(30),
        ] {
            let error = parse_duration(bad).unwrap_err();
            assert!(error.contains(&format!("`{bad}`")), "{bad:?}: {error}");
        }
        assert!(parse_duration("1 month").unwrap_err().contains("cron"));
    }

    #[test]
    fn whole_seconds_for_intervals_and_timeouts() {
        assert_eq!(
            parse_seconds("600", "a timeout"),
            Ok(Duration::from_secs(600))
        );
        assert_eq!(
            parse_seconds("10m", "a timeout"),
            Ok(Duration::from_secs(600))
        );
        assert_eq!(parse_seconds("2000ms", "x"), Ok(Duration::from_secs(2)));
        let short = parse_seconds("500ms", "a timeout").unwrap_err();
        assert!(
            short.contains("shorter than 1s") && short.contains("a timeout"),
            "{short}"
        );
        let odd = parse_seconds("1500ms", "an interval").unwrap_err();
        assert!(odd.contains("whole number of seconds"), "{odd}");
        assert!(parse_seconds("99999999999999999999", "x").is_err());
    }

    #[test]
    fn intervals_versus_other_forms() {
        let secs = |s| Some(Ok(Duration::from_secs(s)));
        assert_eq!(parse_interval("every 30s"), secs(30));
        assert_eq!(parse_interval("every hour"), secs(3600));
        assert_eq!(parse_interval("every 1d"), secs(86_400));
        assert_eq!(parse_interval("every 1h30m"), secs(5400));
        assert_eq!(parse_interval("30m"), secs(1800));
        assert_eq!(parse_interval("1h30m"), secs(5400));
        assert_eq!(parse_interval("every day at 9am"), None);
        assert_eq!(parse_interval("every monday, wednesday at 21:00"), None);
        assert_eq!(parse_interval("*/5 * * * *"), None);
        assert_eq!(parse_interval("0 9 * * *"), None);
        assert_eq!(parse_interval("2026-12-01t09:00:00z"), None);
        assert!(matches!(parse_interval("every fortnight"), Some(Err(_))));
        for sub_second in ["every 500ms", "500ms", "every 1500ms"] {
            let error = parse_interval(sub_second).unwrap().unwrap_err();
            assert!(error.contains("1s at the least"), "{sub_second}: {error}");
        }
    }
}
