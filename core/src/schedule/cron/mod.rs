//! Cron expressions in the dialects people paste (Vixie/POSIX, Quartz, croniter/robfig,
//! Jenkins' `H`), matched on local wall-clock time, with cronhost's DST policy on top.
//!
//! `syntax` reads the text into parts, `matcher` resolves the parts for one job into bit sets
//! and finds the next matching local time, `describe` says it in words, and [`dst`] maps
//! local times to instants.
//!
//! [`dst`]: super::dst

mod describe;
mod error;
mod field;
mod matcher;
mod syntax;

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;

pub use error::CronError;
pub use field::CronField;

use super::dst;
use matcher::Matcher;
use syntax::Expression;

/// A parsed cron expression, resolved for one job (its `H` values picked from the job's id;
/// from an empty seed until [`CronSchedule::for_job`]).
///
/// ```
/// use cronhost_core::schedule::{parse_zone, CronSchedule};
///
/// let cron = CronSchedule::parse("30 9 * * MON-FRI")?;
/// let berlin = parse_zone("Europe/Berlin").unwrap();
/// assert_eq!(cron.describe(berlin), "at 09:30, Monday through Friday, Europe/Berlin");
/// let after = "2026-12-04T12:00:00Z".parse().unwrap(); // a Friday
/// assert_eq!(cron.next_after(after, berlin).unwrap().to_rfc3339(), "2026-12-07T08:30:00+00:00");
///
/// let err = CronSchedule::parse("0 25 * * *").unwrap_err();
/// assert_eq!(err.to_string(), "hour `25` is outside 0–23");
/// # Ok::<(), cronhost_core::schedule::CronError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CronSchedule {
    expression: String,
    parts: Expression,
    matcher: Matcher,
    seeded: bool,
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.expression == other.expression && self.matcher == other.matcher
    }
}

impl CronSchedule {
    /// Parse 5 fields (POSIX weekdays, 0 and 7 = Sunday), 6 (seconds first) or 7 (with a year
    /// last); lists, ranges, steps (`*/n`, `a/n`, `a-b/n`), names, `?`, `L`, `L-n`, `LW`,
    /// `nW`, `a-L`, `nL`, `n#k`, Jenkins' `H` / `H(a-b)` / `H/n`, and `@yearly @annually
    /// @monthly @weekly @daily @midnight @hourly`.
    pub fn parse(text: &str) -> Result<Self, CronError> {
        let text = text.trim();
        let expression = syntax::expand_nickname(text)?.unwrap_or(text);
        let fields: Vec<&str> = expression.split_whitespace().collect();
        let parts = syntax::parse(&fields)?;
        Ok(Self {
            expression: fields.join(" "),
            matcher: Matcher::new(&parts, ""),
            parts,
            seeded: false,
        })
    }

    /// This schedule for the job with `id`: Jenkins' `H` picks its values from a stable hash
    /// of the id, the same on every host and run.
    ///
    /// ```
    /// use cronhost_core::schedule::{parse_zone, CronSchedule};
    ///
    /// let hourly = CronSchedule::parse("H * * * *")?;
    /// let (a, b) = (hourly.clone().for_job("j1"), hourly.for_job("j2"));
    /// let utc = parse_zone("UTC").unwrap();
    /// let now = "2026-12-01T00:00:00Z".parse().unwrap();
    /// assert_ne!(a.next_after(now, utc), b.next_after(now, utc));
    /// assert!(a.describe(utc).starts_with("every hour at minute"));
    /// # Ok::<(), cronhost_core::schedule::CronError>(())
    /// ```
    pub fn for_job(mut self, id: &str) -> Self {
        if self.uses_hash() {
            self.matcher = Matcher::new(&self.parts, id);
            self.seeded = true;
        }
        self
    }

    /// Whether the expression uses Jenkins' `H`.
    pub fn uses_hash(&self) -> bool {
        self.parts.fields.iter().any(|f| f.is_hashed())
    }

    /// A caution for the operator about how the expression was read, when it may not be what
    /// was meant: today, weekday numbers in Quartz's form (with `?` or a year), which Quartz
    /// and AWS count from 1 = Sunday and cronhost, like cron, Spring and the libraries, from
    /// 0 = Sunday, 1 = Monday.
    ///
    /// ```
    /// use cronhost_core::schedule::CronSchedule;
    ///
    /// assert!(CronSchedule::parse("0 0 12 ? * 2")?.caution().is_some());
    /// assert!(CronSchedule::parse("0 0 12 ? * MON")?.caution().is_none());
    /// assert!(CronSchedule::parse("0 12 * * 2")?.caution().is_none());
    /// # Ok::<(), cronhost_core::schedule::CronError>(())
    /// ```
    pub fn caution(&self) -> Option<&'static str> {
        self.parts.quartz_weekday_numbers.then_some(
            "weekday numbers are read as cron reads them (0 or 7 = Sunday, 1 = Monday); Quartz and AWS count 1 = Sunday, 2 = Monday: if the expression came from them, write day names (`MON-FRI`)",
        )
    }

    /// The expression (nicknames expanded, whitespace normalised, otherwise as written).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// Whether the job fires at chosen hours (a fixed-time job: `30 2 * * *`, `0 9-17 * * *`,
    /// `0 */6 * * *`) rather than in every hour (`*`, `*/15 * * * *`: a job that runs around
    /// the clock and follows real time). Decides the DST policy, see [`dst`].
    pub fn is_fixed_hour(&self) -> bool {
        self.matcher.hours.len() < 24
    }

    /// The first fire instant strictly after `after`, in `zone`, under the DST policy.
    pub fn next_after(&self, after: DateTime<Utc>, zone: Tz) -> Option<DateTime<Utc>> {
        let next_local = |from: &NaiveDateTime| self.matcher.next_after(*from);
        dst::next_after(next_local, self.is_fixed_hour(), after, zone)
    }

    /// The schedule in plain words, ending with the zone its times are read in (`at 09:30,
    /// Monday through Friday, Europe/Berlin`). Values Jenkins' `H` picks are shown as picked
    /// for the job ([`CronSchedule::for_job`]), or described as picked per job before that.
    pub fn describe(&self, zone: Tz) -> String {
        describe::describe(&self.parts, &self.matcher, self.seeded, zone)
    }
}

#[cfg(test)]
mod tests;
