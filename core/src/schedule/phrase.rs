//! Phrases: `every day at 9am`, `weekdays at 9:30`, `every monday, wednesday at 21:00`, `noon`,
//! `midnight` — each translated to a 5-field cron expression.

const DAYS: [(&str, u8); 7] = [
    ("sunday", 0),
    ("monday", 1),
    ("tuesday", 2),
    ("wednesday", 3),
    ("thursday", 4),
    ("friday", 5),
    ("saturday", 6),
];

/// `Some(expression)` for a phrase (lower case), `Some(Err)` for a phrase with a bad part,
/// `None` when the text is not a phrase at all.
pub fn to_cron(text: &str) -> Option<Result<String, String>> {
    let text = text.trim();
    match text {
        "noon" => return Some(Ok("0 12 * * *".into())),
        "midnight" => return Some(Ok("0 0 * * *".into())),
        _ => {}
    }
    let (days, time) = text.split_once(" at ")?;
    let days = days.trim();
    let days = days.strip_prefix("every ").unwrap_or(days).trim();
    let day_field = match days {
        "day" | "daily" => "*".to_owned(),
        "weekday" | "weekdays" => "1-5".to_owned(),
        "weekend" | "weekends" => "0,6".to_owned(),
        list => match parse_day_list(list) {
            Ok(field) => field,
            Err(e) => return Some(Err(e)),
        },
    };
    Some(parse_time(time.trim()).map(|(hour, minute)| format!("{minute} {hour} * * {day_field}")))
}

fn parse_day_list(list: &str) -> Result<String, String> {
    let mut numbers = Vec::new();
    for word in list
        .split([',', ' '])
        .map(str::trim)
        .filter(|w| !w.is_empty() && *w != "and")
    {
        let singular = word.strip_suffix('s').unwrap_or(word);
        let day = DAYS
            .iter()
            .find(|(name, _)| *name == word || *name == singular || name.get(..3) == Some(word))
            .map(|(_, n)| *n)
            .ok_or_else(|| format!("`{word}` is not a day of the week"))?;
        if !numbers.contains(&day) {
            numbers.push(day);
        }
    }
    if numbers.is_empty() {
        return Err("no day given before `at`".into());
    }
    numbers.sort_unstable();
    Ok(numbers
        .iter()
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(","))
}

/// `9am`, `9:30`, `21:00`, `12pm`, `9:30 pm`, `noon`, `midnight` → (hour, minute).
fn parse_time(text: &str) -> Result<(u32, u32), String> {
    match text {
        "noon" => return Ok((12, 0)),
        "midnight" => return Ok((0, 0)),
        _ => {}
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let (clock, meridiem) = if let Some(c) = compact.strip_suffix("am") {
        (c, Some(false))
    } else if let Some(c) = compact.strip_suffix("pm") {
        (c, Some(true))
    } else {
        (compact.as_str(), None)
    };
    let (hour, minute) = match clock.split_once(':') {
        Some((h, m)) => (h, m),
        None => (clock, "0"),
    };
    let bad = || format!("`{text}` is not a time of day such as 9am, 9:30 or 21:00");
    let mut hour: u32 = hour.parse().map_err(|_| bad())?;
    let minute: u32 = minute.parse().map_err(|_| bad())?;
    if minute > 59 {
        return Err(bad());
    }
    match meridiem {
        Some(pm) => {
            if !(1..=12).contains(&hour) {
                return Err(bad());
            }
            hour = match (hour, pm) {
                (12, false) => 0,
                (12, true) => 12,
                (h, true) => h + 12,
                (h, false) => h,
            };
        }
        None if hour > 23 => return Err(bad()),
        None => {}
    }
    Ok((hour, minute))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cron(text: &str) -> String {
        to_cron(text).unwrap().unwrap()
    }

    #[test]
    fn phrases_translate_to_cron() {
        assert_eq!(cron("every day at 9am"), "0 9 * * *");
        assert_eq!(cron("weekdays at 9:30"), "30 9 * * 1-5");
        assert_eq!(cron("every monday, wednesday at 21:00"), "0 21 * * 1,3");
        assert_eq!(cron("every friday and monday at 12pm"), "0 12 * * 1,5");
        assert_eq!(cron("noon"), "0 12 * * *");
        assert_eq!(cron("midnight"), "0 0 * * *");
        assert_eq!(cron("every day at 12am"), "0 0 * * *");
        assert_eq!(cron("every sunday at 9:05 pm"), "5 21 * * 0");
    }

    #[test]
    fn bad_phrases_say_what_is_wrong() {
        assert!(to_cron("every funday at 9am")
            .unwrap()
            .unwrap_err()
            .contains("funday"));
        assert!(to_cron("every day at 25:00")
            .unwrap()
            .unwrap_err()
            .contains("25:00"));
        assert!(to_cron("every day at 13pm").unwrap().is_err());
        assert_eq!(to_cron("*/5 * * * *"), None);
    }
}
