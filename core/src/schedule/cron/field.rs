//! The fields of a cron expression: their names, bounds and the words they accept.

use std::fmt;

/// One field of a cron expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CronField {
    /// 0–59, first of 6 or 7 fields.
    Second,
    /// 0–59.
    Minute,
    /// 0–23.
    Hour,
    /// 1–31.
    DayOfMonth,
    /// 1–12 or `JAN`–`DEC`.
    Month,
    /// 0–7 (0 and 7 are Sunday) or `SUN`–`SAT`.
    DayOfWeek,
    /// 1970–2099, last of 7 fields.
    Year,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

impl CronField {
    /// The smallest and largest value the field accepts.
    pub fn bounds(self) -> (u32, u32) {
        match self {
            Self::Second | Self::Minute => (0, 59),
            Self::Hour => (0, 23),
            Self::DayOfMonth => (1, 31),
            Self::Month => (1, 12),
            Self::DayOfWeek => (0, 7),
            Self::Year => (1970, 2099),
        }
    }

    /// The range Jenkins' `H` picks from: every value, except that days of the month stop at
    /// 28 (so the day exists in every month) and Sunday is 0 only.
    pub(super) fn hash_bounds(self) -> (u32, u32) {
        match self {
            Self::DayOfMonth => (1, 28),
            Self::DayOfWeek => (0, 6),
            other => other.bounds(),
        }
    }

    /// What a value of this field may be, for error messages.
    pub(super) fn allowed(self) -> String {
        let (min, max) = self.bounds();
        let words = match self {
            Self::Month => " or JAN–DEC",
            Self::DayOfWeek => " (0 and 7 are Sunday) or SUN–SAT",
            _ => "",
        };
        let specials = match self {
            Self::DayOfMonth => {
                ", `?`, `L` (last day), `L-3`, `LW` (last weekday), `15W` (nearest weekday), `H`"
            }
            Self::DayOfWeek => ", `?`, `5L` (last Friday of the month), `1#2` (second Monday), `H`",
            Self::Year => "",
            _ => ", `H`",
        };
        format!("{min}–{max}{words}, `*`, lists `a,b`, ranges `a-b`, steps `*/n` `a/n` `a-b/n`{specials}")
    }

    /// A value written as a number or (months, weekdays) a three-letter name.
    pub(super) fn value(self, word: &str) -> Option<u32> {
        if !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit()) {
            return word.parse().ok();
        }
        let names: &[&str] = match self {
            Self::Month => &MONTHS,
            Self::DayOfWeek => &WEEKDAYS,
            _ => return None,
        };
        let index = names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(word))? as u32;
        Some(if self == Self::Month {
            index + 1
        } else {
            index
        })
    }
}

impl fmt::Display for CronField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Second => "second",
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::DayOfMonth => "day of month",
            Self::Month => "month",
            Self::DayOfWeek => "day of week",
            Self::Year => "year",
        })
    }
}

/// The English name of a month (1–12).
pub(super) fn month_name(month: u32) -> &'static str {
    [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ][(month as usize).clamp(1, 12) - 1]
}

/// The English name of a weekday (0–6, 0 = Sunday).
pub(super) fn weekday_name(day: u32) -> &'static str {
    [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ][(day % 7) as usize]
}
