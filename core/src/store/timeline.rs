//! A job's timeline: its schedule, in its zone, shifted by its jitter offset. Every next
//! occurrence the store computes for a stored job comes from here, so the offset is applied
//! once and the same way everywhere.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::Job;
use crate::schedule::{Schedule, ScheduleError};

/// When a job's occurrences are: its schedule's instants plus its fixed jitter offset.
#[derive(Debug, Clone)]
pub(crate) struct Timeline {
    schedule: Schedule,
    zone: Tz,
    shift: Duration,
}

impl Timeline {
    /// The timeline of `job` as stored.
    pub(crate) fn of(job: &Job) -> Result<Self, ScheduleError> {
        Ok(Self {
            schedule: job.parsed_schedule()?,
            zone: job.zone(),
            shift: job.jitter(),
        })
    }

    /// The first occurrence strictly after `at`.
    pub(crate) fn next_after(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.schedule
            .next_after(at - self.shift, self.zone)
            .map(|next| next + self.shift)
    }

    /// The first occurrence after `now` on the grid through `from` (see
    /// [`Schedule::next_future`]).
    pub(crate) fn next_future(
        &self,
        from: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        self.schedule
            .next_future(from - self.shift, now - self.shift, self.zone)
            .map(|next| next + self.shift)
    }

    /// The first occurrence strictly after `at` on the grid of an interval that has an
    /// occurrence at `anchor` (before or after `at`); other schedules ignore the anchor.
    pub(crate) fn next_on_grid(
        &self,
        anchor: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let Schedule::Every(period) = &self.schedule else {
            return self.next_after(at);
        };
        let period_ms = (period.as_millis() as i64).max(1);
        let steps = (at - anchor).num_milliseconds().div_euclid(period_ms) + 1;
        anchor.checked_add_signed(Duration::try_milliseconds(steps.checked_mul(period_ms)?)?)
    }

    /// The period around the occurrence at `at` (for the on-time grace).
    pub(crate) fn period_around(&self, at: DateTime<Utc>) -> Option<std::time::Duration> {
        self.schedule.period_around(at - self.shift, self.zone)
    }
}
