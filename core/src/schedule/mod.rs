//! Schedules: parsing what an operator writes, and computing the next fire instant.
//!
//! Accepted forms (anything else is refused with [`ScheduleError`], which lists them):
//! cron expressions in the common dialects (5 fields, 6 with seconds first, 7 with a year;
//! Quartz's `?` `L` `W` `#`, croniter's `N/step`, Jenkins' `H`; `@daily` and friends),
//! intervals (`every 30s`, `every 1h30m`, `every hour`, bare `30m`; whole seconds, 1s at the
//! least), one-shots (`in 10m`, an RFC 3339 / ISO 8601 timestamp) and phrases
//! (`every day at 9am`, `weekdays at 9:30`, `every monday, wednesday at 21:00`, `noon`,
//! `midnight`).
//!
//! Time policy: instants are UTC; cron and phrase schedules are read in the job's IANA zone.
//! See [`dst`] for what happens when a local time is skipped or repeated. An interval that
//! divides the clock (`every 15m`, `every hour`, `every day`) fires on it, as the cron
//! expression it amounts to; any other interval counts elapsed time from the job's creation.

mod align;
mod cron;
pub mod dst;
mod hash;
mod interval;
mod phrase;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
/// A time zone from the IANA database, as jobs carry them.
pub use chrono_tz::Tz;
use std::time::Duration;

pub use cron::{CronError, CronField, CronSchedule};
pub use hash::stable_hash;
pub use interval::{parse_duration, parse_seconds, MIN_INTERVAL};

/// How far in the past a one-shot may be and still be accepted (clock skew, typing time).
pub const ONE_SHOT_PAST_TOLERANCE: Duration = Duration::from_secs(120);

/// The forms `jobs add` accepts, shown in every schedule error.
pub const ACCEPTED_FORMS: &str = "accepted schedules: a cron expression (`*/5 * * * *`, 6 fields with seconds first, 7 with a year last; `?`, `L`, `W`, `#`, Jenkins' `H`; @yearly @monthly @weekly @daily @hourly); an interval of whole seconds, 1s at the least (`every 30s`, `every 5m`, `every 1h30m`, `every 2h`, `every 1d`, `every hour`, `30m`); a one-shot (`in 10m`, `2026-12-01T09:00:00Z`, or `2026-12-01 09:00` in the job's zone); a phrase (`every day at 9am`, `weekdays at 9:30`, `every monday, wednesday at 21:00`, `noon`, `midnight`)";

/// A schedule was refused; nothing was stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The text matches no accepted form.
    #[error("schedule `{text}` is not understood: {detail}; {ACCEPTED_FORMS}")]
    Unrecognised {
        /// What was given.
        text: String,
        /// What the closest parser said.
        detail: String,
    },
    /// A cron expression was refused: the field, the value as written and what is allowed.
    #[error("schedule `{text}`: {source}")]
    Cron {
        /// What was given.
        text: String,
        /// Which field and value, and why.
        #[source]
        source: CronError,
    },
    /// A one-shot lies too far in the past.
    #[error("schedule `{text}` is {ago_secs}s in the past (more than {}s): a one-shot must be in the future", ONE_SHOT_PAST_TOLERANCE.as_secs())]
    InThePast {
        /// What was given.
        text: String,
        /// How long ago it is.
        ago_secs: i64,
    },
    /// The zone name is not an IANA zone.
    #[error("time zone `{0}` is not an IANA zone name (for example `Europe/Berlin`, `America/New_York`, `UTC`)")]
    UnknownZone(String),
    /// The cron expression never fires.
    #[error("schedule `{0}` never fires")]
    NeverFires(String),
    /// A stored (canonical) schedule cannot be read back: the store was edited by hand, or
    /// written by another version.
    #[error("stored schedule `{text}` cannot be read: {detail}")]
    Stored {
        /// The stored text.
        text: String,
        /// What is wrong with it.
        detail: String,
    },
}

/// A parsed schedule, in a form that round-trips through the store.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Schedule {
    /// A cron expression (phrases are translated to one), read in the job's zone.
    Cron(Box<CronSchedule>),
    /// A fixed interval of elapsed real time.
    Every(Duration),
    /// One instant.
    Once(DateTime<Utc>),
}

/// Parse an IANA zone name.
pub fn parse_zone(name: &str) -> Result<Tz, ScheduleError> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| ScheduleError::UnknownZone(name.to_owned()))
}

impl Schedule {
    /// Parse what an operator wrote. `now` anchors `in 10m`; `zone` reads naive timestamps.
    pub fn parse(text: &str, zone: Tz, now: DateTime<Utc>) -> Result<Self, ScheduleError> {
        let trimmed = text.trim();
        let lower = trimmed.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("in ") {
            let delay = parse_duration(rest).map_err(|detail| unrecognised(text, detail))?;
            let delay =
                chrono::Duration::from_std(delay).map_err(|e| unrecognised(text, e.to_string()))?;
            let at = now
                .checked_add_signed(delay)
                .ok_or_else(|| unrecognised(text, "that is too far in the future".into()))?;
            return Ok(Self::Once(whole_millis(at)));
        }
        if let Some(period) = interval::parse_interval(&lower) {
            let period = period.map_err(|detail| unrecognised(text, detail))?;
            return match align::on_the_clock(period) {
                Some(expression) => CronSchedule::parse(&expression)
                    .map(|cron| Self::Cron(Box::new(cron)))
                    .map_err(|e| unrecognised(text, e.to_string())),
                None => Ok(Self::Every(period)),
            };
        }
        if let Some(at) = parse_timestamp(trimmed, zone) {
            let ago = (now - at).num_seconds();
            if ago > ONE_SHOT_PAST_TOLERANCE.as_secs() as i64 {
                return Err(ScheduleError::InThePast {
                    text: text.to_owned(),
                    ago_secs: ago,
                });
            }
            return Ok(Self::Once(whole_millis(at)));
        }
        let expression = match phrase::to_cron(&lower) {
            Some(result) => result.map_err(|detail| unrecognised(text, detail))?,
            None => trimmed.to_owned(),
        };
        let cron = CronSchedule::parse(&expression).map_err(|source| {
            if looks_like_cron(trimmed) {
                ScheduleError::Cron {
                    text: text.to_owned(),
                    source,
                }
            } else {
                unrecognised(text, source.to_string())
            }
        })?;
        // With `H` the values are the job's, so whether it fires is asked for the job (the
        // store does, once the job has its id).
        if !cron.uses_hash()
            && cron.next_after(Utc::now(), zone).is_none()
            && cron.next_after(now, zone).is_none()
        {
            return Err(ScheduleError::NeverFires(text.to_owned()));
        }
        Ok(Self::Cron(Box::new(cron)))
    }

    /// The forms `text` may be stored as: what it parses to now (first) and, for an interval
    /// that divides the clock, also the plain interval earlier versions stored for it
    /// (`every 1h` was `every:3600`, counted from the job's creation), so their exports still
    /// import with the meaning they had.
    pub fn stored_forms(
        text: &str,
        zone: Tz,
        now: DateTime<Utc>,
    ) -> Result<Vec<Self>, ScheduleError> {
        let mut forms = vec![Self::parse(text, zone, now)?];
        if let Some(Ok(period)) = interval::parse_interval(&text.trim().to_ascii_lowercase()) {
            if align::on_the_clock(period).is_some() {
                forms.push(Self::Every(period));
            }
        }
        Ok(forms)
    }

    /// The stored, canonical form: `cron:EXPR`, `every:SECONDS` or `once:RFC3339`.
    pub fn canonical(&self) -> String {
        match self {
            Self::Cron(cron) => format!("cron:{}", cron.expression()),
            Self::Every(period) => format!("every:{}", period.as_secs()),
            Self::Once(at) => format!("once:{}", at.to_rfc3339()),
        }
    }

    /// The first occurrence strictly after `now`, walking from `from` (a period schedule keeps
    /// its phase from `from`).
    pub fn next_future(
        &self,
        from: DateTime<Utc>,
        now: DateTime<Utc>,
        zone: Tz,
    ) -> Option<DateTime<Utc>> {
        match self {
            Self::Every(period) => {
                let period_ms = (period.as_millis() as i64).max(1);
                let behind = (now - from).num_milliseconds().max(0);
                let ahead = (behind / period_ms + 1).checked_mul(period_ms)?;
                from.checked_add_signed(chrono::Duration::try_milliseconds(ahead)?)
            }
            _ => self.next_after(now.max(from), zone),
        }
    }

    /// Read back a canonical form.
    pub fn from_canonical(text: &str) -> Result<Self, ScheduleError> {
        let stored = |detail: String| ScheduleError::Stored {
            text: text.escape_debug().to_string(),
            detail,
        };
        let (kind, body) = text
            .split_once(':')
            .ok_or_else(|| stored("it has no kind".into()))?;
        let parsed = match kind {
            "cron" => CronSchedule::parse(body)
                .map(|c| Self::Cron(Box::new(c)))
                .map_err(|e| e.to_string()),
            "every" => body
                .parse::<u64>()
                .ok()
                .filter(|s| *s > 0)
                .map(|s| Self::Every(Duration::from_secs(s)))
                .ok_or_else(|| format!("stored interval `{body}` is invalid")),
            "once" => DateTime::parse_from_rfc3339(body)
                .map(|t| Self::Once(t.with_timezone(&Utc)))
                .map_err(|e| format!("stored instant `{body}`: {e}")),
            other => Err(format!("stored schedule kind `{other}` is unknown")),
        };
        parsed.map_err(|detail| stored(detail.escape_debug().to_string()))
    }

    /// This schedule for the job with `id`: what Jenkins' `H` picks comes from the id (see
    /// [`CronSchedule::for_job`]); other schedules are the same for every job.
    pub fn for_job(self, id: &str) -> Self {
        match self {
            Self::Cron(cron) => Self::Cron(Box::new(cron.for_job(id))),
            other => other,
        }
    }

    /// The schedule in plain words (`at 09:30, Monday through Friday, Europe/Berlin`, `every
    /// 90 minutes`, `once, at 2026-12-01 09:00:00 CET`).
    ///
    /// ```
    /// use cronhost_core::schedule::{parse_zone, Schedule};
    ///
    /// let utc = parse_zone("UTC").unwrap();
    /// let now = "2026-12-01T00:00:00Z".parse().unwrap();
    /// let describe = |text| Schedule::parse(text, utc, now).unwrap().describe(utc);
    /// assert_eq!(describe("0 0 1 * *"), "at 00:00, on day 1 of the month, UTC");
    /// assert_eq!(describe("*/15 * * * *"), "every 15 minutes, UTC");
    /// assert_eq!(describe("every 90m"), "every 1h 30m of elapsed time");
    /// ```
    pub fn describe(&self, zone: Tz) -> String {
        match self {
            Self::Cron(cron) => cron.describe(zone),
            Self::Every(period) => format!(
                "every {} of elapsed time",
                humantime::format_duration(*period)
            ),
            Self::Once(at) => format!("once, at {}", format_local(*at, zone)),
        }
    }

    /// A caution about how the schedule was read, when it may not be what was meant (see
    /// [`CronSchedule::caution`]).
    pub fn caution(&self) -> Option<&'static str> {
        match self {
            Self::Cron(cron) => cron.caution(),
            _ => None,
        }
    }

    /// Whether the schedule fires once only.
    pub fn is_one_shot(&self) -> bool {
        matches!(self, Self::Once(_))
    }

    /// The first fire instant strictly after `after`. For intervals, `after` is the previous
    /// scheduled instant (or the creation time), so fires follow elapsed real time.
    pub fn next_after(&self, after: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        match self {
            Self::Cron(cron) => cron.next_after(after, zone),
            Self::Every(period) => chrono::Duration::from_std(*period)
                .ok()
                .and_then(|p| after.checked_add_signed(p)),
            Self::Once(at) => (*at > after).then_some(*at),
        }
    }

    /// The typical gap between fires around `at`, for the lateness grace.
    pub fn period_around(&self, at: DateTime<Utc>, zone: Tz) -> Option<Duration> {
        match self {
            Self::Every(period) => Some(*period),
            Self::Once(_) => None,
            Self::Cron(cron) => {
                let next = cron.next_after(at, zone)?;
                let after = cron.next_after(next, zone)?;
                (after - next).to_std().ok()
            }
        }
    }
}

/// How late a fire may be and still count as on time: clamp(period / 2, 120 s, 2 h).
pub fn on_time_grace(period: Option<Duration>) -> Duration {
    let (low, high) = (Duration::from_secs(120), Duration::from_secs(7200));
    period.map(|p| (p / 2).clamp(low, high)).unwrap_or(low)
}

/// Whether the text is meant as a cron expression (a nickname, or fields that start like one),
/// so that its refusal is the cron parser's, field by field.
fn looks_like_cron(text: &str) -> bool {
    text.starts_with('@')
        || text.split_whitespace().count() >= 5
        || text
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, '*' | '?' | 'H'))
}

/// Instants are stored to the millisecond; one-shots are cut to it so that what is stored is
/// exactly what was scheduled.
fn whole_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    at.trunc_subsecs(3)
}

fn unrecognised(text: &str, detail: String) -> ScheduleError {
    ScheduleError::Unrecognised {
        text: text.to_owned(),
        detail,
    }
}

/// A time, past or future: RFC 3339 with an offset, or a date-time read in `zone` (DST policy
/// applies), with or without seconds, with or without the zone abbreviation the listings print
/// after it (`2026-12-01 09:00:00 CET`).
///
/// ```
/// use cronhost_core::schedule::{parse_instant, parse_zone};
///
/// let berlin = parse_zone("Europe/Berlin")?;
/// let at = parse_instant("2026-12-01 09:00:00 CET", berlin).unwrap();
/// assert_eq!(at.to_rfc3339(), "2026-12-01T08:00:00+00:00");
/// assert_eq!(parse_instant("2026-12-01T08:00:00Z", berlin), Some(at));
/// // The abbreviation must be the zone's at that time, and picks the pass of a repeated hour.
/// assert_eq!(parse_instant("2026-12-01 09:00:00 CEST", berlin), None);
/// let new_york = parse_zone("America/New_York")?;
/// let second_pass = parse_instant("2026-11-01 01:10:00 EST", new_york).unwrap();
/// assert_eq!(second_pass.to_rfc3339(), "2026-11-01T06:10:00+00:00");
/// # Ok::<(), cronhost_core::schedule::ScheduleError>(())
/// ```
pub fn parse_instant(text: &str, zone: Tz) -> Option<DateTime<Utc>> {
    let text = text.trim();
    parse_timestamp(text, zone).or_else(|| {
        // The abbreviation picks the pass of a repeated hour (`01:30 EST`), and must be one
        // the zone uses then: a time is never read in an offset other than the one named.
        let (rest, abbreviation) = text.rsplit_once(' ')?;
        let local = parse_naive(rest)?;
        let named = |at: &DateTime<Tz>| at.format("%Z").to_string() == abbreviation;
        match zone.from_local_datetime(&local) {
            chrono::LocalResult::Single(at) => named(&at).then_some(at),
            chrono::LocalResult::Ambiguous(first, second) => {
                [first, second].into_iter().find(|at| named(at))
            }
            chrono::LocalResult::None => None,
        }
        .map(|at| at.with_timezone(&Utc))
    })
}

/// RFC 3339 with an offset, or a naive ISO 8601 date-time read in `zone` (DST policy applies).
fn parse_timestamp(text: &str, zone: Tz) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    dst::resolve_fixed(zone, parse_naive(text)?)
}

/// An ISO 8601 date-time without an offset, with or without seconds.
fn parse_naive(text: &str) -> Option<NaiveDateTime> {
    const NAIVE: [&str; 4] = [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ];
    NAIVE
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
}

/// The name of every zone `--tz` accepts (the IANA database cronhost is built with).
pub fn zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|zone| zone.name())
}

/// Format an instant in `zone`, for people.
pub fn format_local(at: DateTime<Utc>, zone: Tz) -> String {
    zone.from_utc_datetime(&at.naive_utc())
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

#[cfg(test)]
mod tests;
