//! Cron expressions through the `croner` crate, with cronhost's own DST policy on top.

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

use super::dst;

/// A parsed cron expression.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expression: String,
    cron: Cron,
    fixed_hour: bool,
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.expression == other.expression
    }
}

/// `@nickname` → its 5-field expression.
fn expand_nickname(text: &str) -> Option<&'static str> {
    Some(match text.to_ascii_lowercase().as_str() {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => return None,
    })
}

impl CronSchedule {
    /// Parse 5 fields (POSIX weekdays, 0 and 7 = Sunday), 6 (seconds first) or 7 (with a year);
    /// lists, ranges, steps, names, `L`, `W`, `#`, and `@yearly @monthly @weekly @daily @hourly`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let expression = expand_nickname(text).unwrap_or(text).to_owned();
        let fields: Vec<&str> = expression.split_whitespace().collect();
        if !(5..=7).contains(&fields.len()) {
            return Err(format!(
                "a cron expression has 5, 6 or 7 fields, this has {}",
                fields.len()
            ));
        }
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Optional)
            .build();
        let cron = parser.parse(&expression).map_err(|e| e.to_string())?;
        let hour_field = fields[if fields.len() == 5 { 1 } else { 2 }];
        Ok(Self {
            fixed_hour: !hour_field.starts_with('*'),
            expression: fields.join(" "),
            cron,
        })
    }

    /// The expression (nicknames expanded, whitespace normalised).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// Whether the hour field names hours (a fixed-time job) rather than `*` or `*/N` (a job
    /// that runs around the clock). Decides the DST policy, see [`dst`].
    pub fn is_fixed_hour(&self) -> bool {
        self.fixed_hour
    }

    /// The first fire instant strictly after `after`, in `zone`, under the DST policy.
    pub fn next_after(&self, after: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        let next_local = |from: &NaiveDateTime| self.cron.find_next_occurrence(from, false).ok();
        dst::next_after(next_local, self.fixed_hour, after, zone)
    }
}
