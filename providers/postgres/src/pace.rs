//! When the coordinator looks again: at the host's next due instant (API 1.2's
//! `next_due_in`), never later than the poll cadence that lease renewals, outcome write-backs
//! and database-down handling need, and after a failed scan the whole cadence.

use std::time::Duration;

use cronhost_provider_api::HostError;

/// The first wait when a scan leaves an occurrence due at once. Doubled each time it happens
/// again in a row, up to the cadence: an occurrence this host can neither claim nor move past
/// (another member holds it and the local skip failed, say) must not spin the scan.
const FIRST_RESCAN: Duration = Duration::from_millis(1);

/// The pacing of one coordinator.
#[derive(Debug)]
pub struct Pace {
    cadence: Duration,
    rescan: Duration,
}

/// Where the next wait came from, for the provider's one-time log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The host said when the next occurrence is due (or that none is).
    NextDue,
    /// The host does not offer `next_due_in` (it predates API 1.2): the cadence.
    NotOffered,
    /// The host failed to answer, or the scan failed: the cadence.
    Cadence,
}

impl Pace {
    /// Pacing capped at `cadence` (`poll_ms`).
    pub fn new(cadence: Duration) -> Self {
        Self {
            cadence,
            rescan: FIRST_RESCAN,
        }
    }

    /// How long to wait after a scan: `scanned` is whether it went through, `next_due` the
    /// host's answer to `next_due_in` asked after it.
    pub fn wait(
        &mut self,
        scanned: bool,
        next_due: Result<Option<Duration>, HostError>,
    ) -> (Duration, Source) {
        // After a failure (the database is away, say) occurrences stay due: waking for them
        // would retry at full speed. The cadence paces retries, as before 1.2.
        if !scanned {
            self.rescan = FIRST_RESCAN;
            return (self.cadence, Source::Cadence);
        }
        match next_due {
            Ok(Some(wait)) if wait.is_zero() => {
                let now = self.rescan.min(self.cadence);
                self.rescan = (self.rescan * 2).min(self.cadence);
                (now, Source::NextDue)
            }
            Ok(Some(wait)) => {
                self.rescan = FIRST_RESCAN;
                (wait.min(self.cadence), Source::NextDue)
            }
            Ok(None) => {
                self.rescan = FIRST_RESCAN;
                (self.cadence, Source::NextDue)
            }
            Err(e) if e.is_not_offered() => (self.cadence, Source::NotOffered),
            Err(_) => (self.cadence, Source::Cadence),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn failed(message: &str) -> Result<Option<Duration>, HostError> {
        Err(HostError {
            service: "next_due_in_ms",
            message: message.into(),
        })
    }

    #[test]
    fn it_sleeps_until_the_next_due_instant_but_never_past_the_cadence() {
        let mut pace = Pace::new(ms(5_000));
        assert_eq!(
            pace.wait(true, Ok(Some(ms(120)))),
            (ms(120), Source::NextDue)
        );
        assert_eq!(
            pace.wait(true, Ok(Some(ms(9_000)))),
            (ms(5_000), Source::NextDue)
        );
        assert_eq!(pace.wait(true, Ok(None)), (ms(5_000), Source::NextDue));
    }

    #[test]
    fn an_older_host_or_a_failure_keeps_the_cadence() {
        let mut pace = Pace::new(ms(100));
        let older = failed(cronhost_provider_api::ffi::NOT_OFFERED_1_2);
        assert_eq!(pace.wait(true, older), (ms(100), Source::NotOffered));
        assert_eq!(
            pace.wait(true, failed("disk I/O error")),
            (ms(100), Source::Cadence)
        );
        // A failed scan leaves its occurrences due: no rescan at once.
        assert_eq!(
            pace.wait(false, Ok(Some(ms(0)))),
            (ms(100), Source::Cadence)
        );
    }

    #[test]
    fn an_occurrence_that_stays_due_backs_off_to_the_cadence() {
        let mut pace = Pace::new(ms(10));
        let waits: Vec<Duration> = (0..6)
            .map(|_| pace.wait(true, Ok(Some(Duration::ZERO))).0)
            .collect();
        assert_eq!(waits, [ms(1), ms(2), ms(4), ms(8), ms(10), ms(10)]);
        // Once the host names a later instant, the next due-now rescans at once again.
        assert_eq!(pace.wait(true, Ok(Some(ms(3)))).0, ms(3));
        assert_eq!(pace.wait(true, Ok(Some(Duration::ZERO))).0, ms(1));
    }
}
