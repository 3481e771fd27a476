//! Intervals that divide the clock fire on it, in the job's zone: `every 15s` at :00, :15, :30
//! and :45 of each minute, `every 15m` on the quarter hours, `every hour` on the hour,
//! `every 2h` at 00:00, 02:00, ..., `every day` at midnight, `every week` on Monday at
//! midnight. Such an interval is stored as the cron expression it amounts to, so the stored
//! form says how it fires and the cron DST policy ([`super::dst`]) applies. Any other interval
//! (`every 7m`, `every 90m`, `every 2d`) counts elapsed time from when the job was added.

use std::time::Duration;

const MINUTE: u64 = 60;
const HOUR: u64 = 3600;
const DAY: u64 = 86_400;
const WEEK: u64 = 7 * DAY;

/// The cron expression that fires every `period` on the clock, when `period` divides it: a
/// divisor of a minute in seconds, of an hour in minutes, of a day in hours, a day or a week.
pub fn on_the_clock(period: Duration) -> Option<String> {
    let secs = period.as_secs();
    // `n` units of `unit` fit a whole number of times into `whole`, more than once.
    let divides = |n: u64, whole: u64| n > 0 && n < whole && whole.is_multiple_of(n);
    let step = |n: u64| match n {
        1 => "*".to_owned(),
        n => format!("*/{n}"),
    };
    if period.subsec_nanos() != 0 {
        return None;
    }
    Some(match secs {
        WEEK => "0 0 * * 1".to_owned(),
        DAY => "0 0 * * *".to_owned(),
        s if divides(s, MINUTE) => format!("{} * * * * *", step(s)),
        s if s.is_multiple_of(MINUTE) && divides(s / MINUTE, MINUTE) => {
            format!("{} * * * *", step(s / MINUTE))
        }
        s if s.is_multiple_of(HOUR) && divides(s / HOUR, DAY / HOUR) => {
            format!("0 {} * * *", step(s / HOUR))
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divisors_of_the_clock_become_cron_the_rest_stay_intervals() {
        let on = |secs| on_the_clock(Duration::from_secs(secs));
        let cases = [
            (1, Some("* * * * * *")),
            (15, Some("*/15 * * * * *")),
            (30, Some("*/30 * * * * *")),
            (60, Some("* * * * *")),
            (120, Some("*/2 * * * *")),
            (900, Some("*/15 * * * *")),
            (1800, Some("*/30 * * * *")),
            (3600, Some("0 * * * *")),
            (7200, Some("0 */2 * * *")),
            (8 * 3600, Some("0 */8 * * *")),
            (12 * 3600, Some("0 */12 * * *")),
            (86_400, Some("0 0 * * *")),
            (604_800, Some("0 0 * * 1")),
            (7, None),
            (45, None),
            (90, None),
            (420, None),
            (5400, None),
            (5 * 3600, None),
            (25 * 3600, None),
            (2 * 86_400, None),
            (14 * 86_400, None),
        ];
        for (secs, expected) in cases {
            assert_eq!(on(secs).as_deref(), expected, "{secs}s");
        }
    }
}
