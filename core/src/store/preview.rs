//! What a stored job will do: its next occurrences from any instant, and its schedule in
//! plain words, from the same timeline the claims use (its `H` values and jitter included).

use chrono::{DateTime, Utc};

use super::timeline::Timeline;
use super::Job;
use crate::schedule::{Schedule, ScheduleError};

impl Job {
    /// Up to `count` of the job's occurrences strictly after `after`, as its timeline has
    /// them: the values its `H` picks, its jitter offset, an interval's phase, and no more than
    /// the runs its repeat limit leaves. None for a completed job. (A paused job's are those
    /// it would have; retries are not occurrences.)
    ///
    /// ```
    /// use cronhost_core::store::{JobSpec, Store};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(&dir.path().join("cronhost.db"))?;
    /// let now = "2026-12-01T00:00:00Z".parse()?;
    /// let job = store.add_job(&JobSpec::new("30 9 * * MON-FRI", ["true"]), "Europe/Berlin", now)?;
    /// let from = "2026-12-04T12:00:00Z".parse()?; // a Friday afternoon
    /// let next = job.occurrences_after(from, 2)?;
    /// assert_eq!(next[0].to_rfc3339(), "2026-12-07T08:30:00+00:00");
    /// assert_eq!(next[1].to_rfc3339(), "2026-12-08T08:30:00+00:00");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn occurrences_after(
        &self,
        after: DateTime<Utc>,
        count: usize,
    ) -> Result<Vec<DateTime<Utc>>, ScheduleError> {
        if self.completed_at.is_some() {
            return Ok(Vec::new());
        }
        let left = self.repeat_limit.map_or(usize::MAX, |limit| {
            limit.saturating_sub(self.completed_count) as usize
        });
        let timeline = Timeline::of(self)?;
        let interval = matches!(self.parsed_schedule()?, Schedule::Every(_));
        // An interval keeps the phase of the job's next run (or its creation).
        let anchor = self.next_run.unwrap_or(self.created_at);
        let mut out = Vec::new();
        let mut at = after;
        while out.len() < count.min(left) {
            let next = if interval {
                timeline.next_on_grid(anchor, at)
            } else {
                timeline.next_after(at)
            };
            let Some(next) = next else { break };
            out.push(next);
            at = next;
        }
        Ok(out)
    }

    /// The job's schedule in plain words, in its zone, with its jitter (`at 09:30, Monday
    /// through Friday, Europe/Berlin`); what is wrong if the stored schedule cannot be read.
    pub fn describe_schedule(&self) -> String {
        match self.parsed_schedule() {
            Ok(schedule) => {
                let words = schedule.describe(self.zone());
                match self.jitter().num_milliseconds() {
                    0 => words,
                    ms => format!("{words}; each run {ms} ms later (its jitter offset)"),
                }
            }
            Err(e) => format!("cannot be read: {e}"),
        }
    }
}
