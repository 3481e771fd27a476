//! Intervals and durations: `every 30s`, `every hour`, bare `30m`, and `10m` in `in 10m`.

use std::time::Duration;

/// The longest interval or delay accepted: 100 years.
const MAX_SECS: u64 = 100 * 366 * 86_400;

/// Parse a duration: a count and a unit (`30s`, `5 m`, `2h`, `1d`, `90 seconds`), or a bare unit
/// (`hour`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let body = text.trim();
    let split = body
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(body.len());
    let (digits, unit) = body.split_at(split);
    let count: u64 = if digits.is_empty() {
        1
    } else {
        digits
            .parse()
            .map_err(|_| format!("`{text}` is too large"))?
    };
    let unit_secs = match unit.trim() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => {
            return Err(format!(
                "`{text}` is not a duration such as 30s, 5m, 2h or 1d"
            ))
        }
    };
    if count == 0 {
        return Err(format!("`{text}` is zero; an interval must be at least 1s"));
    }
    count
        .checked_mul(unit_secs)
        .filter(|secs| *secs <= MAX_SECS)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too large: at most 100 years"))
}

/// `Some(result)` when `text` (lower case) is meant as an interval: `every <duration>` or a bare
/// duration with a count (`30m`); `None` when it is some other form.
pub fn parse_interval(text: &str) -> Option<Result<Duration, String>> {
    if let Some(rest) = text.strip_prefix("every ") {
        // `every day at 9am` and `every monday, wednesday at 21:00` are phrases.
        if rest.contains(" at ") || rest.contains(',') {
            return None;
        }
        return Some(parse_duration(rest));
    }
    let bare = !text.contains(char::is_whitespace)
        && text.starts_with(|c: char| c.is_ascii_digit())
        && text.ends_with(|c: char| c.is_ascii_alphabetic());
    // A bare token that is not a duration may still be a timestamp.
    bare.then(|| parse_duration(text).ok().map(Ok)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5 m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("hour"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        for bad in [
            "",
            "0s",
            "5 parsecs",
            "99999999999999999999s",
            "9000000000000s",
            "-5m",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn intervals_versus_other_forms() {
        assert_eq!(
            parse_interval("every 30s"),
            Some(Ok(Duration::from_secs(30)))
        );
        assert_eq!(
            parse_interval("every hour"),
            Some(Ok(Duration::from_secs(3600)))
        );
        assert_eq!(
            parse_interval("every 1d"),
            Some(Ok(Duration::from_secs(86_400)))
        );
        assert_eq!(parse_interval("30m"), Some(Ok(Duration::from_secs(1800))));
        assert_eq!(parse_interval("every day at 9am"), None);
        assert_eq!(parse_interval("every monday, wednesday at 21:00"), None);
        assert_eq!(parse_interval("*/5 * * * *"), None);
        assert_eq!(parse_interval("0 9 * * *"), None);
        assert!(matches!(parse_interval("every fortnight"), Some(Err(_))));
    }
}
