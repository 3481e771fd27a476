//! The host services a provider calls back into: tick, fire_due, due ids, heartbeat, log, config,
//! the due occurrences, firing them one or a batch at a time, and when the next one is due.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use cronhost_core::text::panic_message;
use cronhost_provider_api::abi_stable::std_types::{RNone, ROption, RSome};
use cronhost_provider_api::abi_stable::{
    sabi_trait::TD_Opaque,
    std_types::{RArc, RErr, ROk, RResult, RSlice, RStr, RString, RVec},
};
use cronhost_provider_api::ffi::{
    HostServices, HostServicesBox, HostServices_TO, Occurrence, RunReport,
};
use cronhost_provider_api::{FireOutcome, LogLevel, TickReport};

use crate::heartbeat::Heartbeat;
use cronhost_core::engine::{self, Engine};
use cronhost_core::text::truncate;

/// The engine's tick report as it crosses the boundary.
pub fn tick_report(report: engine::TickReport) -> TickReport {
    TickReport {
        fired: report.fired,
        skipped: report.skipped,
        errors: report.errors,
    }
}

/// The engine's fire outcome as it crosses the boundary.
pub fn fire_outcome(outcome: engine::FireOutcome) -> FireOutcome {
    match outcome {
        engine::FireOutcome::Fired => FireOutcome::Fired,
        engine::FireOutcome::Skipped => FireOutcome::Skipped,
        engine::FireOutcome::NoSuchJob => FireOutcome::NoSuchJob,
        // An outcome added to the engine later reads as "not fired here" to a provider.
        _ => FireOutcome::ClaimLost,
    }
}

/// The longest log message a provider may write; longer ones are cut.
pub const MAX_PROVIDER_LOG_BYTES: usize = 4096;

/// The most log lines a provider may write in one second; the rest are counted and reported.
pub const MAX_PROVIDER_LOG_LINES_PER_SEC: u32 = 100;

/// A provider's log allowance: [`MAX_PROVIDER_LOG_LINES_PER_SEC`] per one-second window.
#[derive(Debug, Default)]
struct LogBudget {
    window: Option<std::time::Instant>,
    used: u32,
    suppressed: u64,
}

impl LogBudget {
    /// What to do with the next line.
    fn admit(&mut self) -> Admit {
        let now = std::time::Instant::now();
        if self
            .window
            .is_none_or(|start| now.duration_since(start).as_secs() >= 1)
        {
            self.window = Some(now);
            self.used = 0;
        }
        if self.used >= MAX_PROVIDER_LOG_LINES_PER_SEC {
            self.suppressed += 1;
            return if self.suppressed == 1 {
                Admit::StartSuppressing
            } else {
                Admit::Suppress
            };
        }
        self.used += 1;
        Admit::Write {
            suppressed_before: std::mem::take(&mut self.suppressed),
        }
    }
}

/// The verdict on one log line.
enum Admit {
    /// Write it; `suppressed_before` lines were dropped since the last one written.
    Write { suppressed_before: u64 },
    /// Drop it, and say that dropping has begun.
    StartSuppressing,
    /// Drop it.
    Suppress,
}

/// What every trigger shares: the engine it drives and the heartbeat it records.
pub struct Core {
    /// The engine.
    pub engine: Arc<dyn Engine>,
    /// The heartbeat recorder.
    pub heartbeat: Heartbeat,
}

/// The services handed to one provider. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    core: Arc<Core>,
    provider: Arc<str>,
    config_json: Arc<str>,
    log_budget: Arc<std::sync::Mutex<LogBudget>>,
    quarantine: Option<Arc<super::quarantine::Quarantine>>,
}

impl Services {
    /// Services for `provider`, whose config section is `config_json`.
    pub fn new(core: Arc<Core>, provider: &str, config_json: &str) -> Self {
        Self {
            core,
            provider: provider.into(),
            config_json: config_json.into(),
            log_budget: Arc::default(),
            quarantine: None,
        }
    }

    /// Refuse every firing service once `quarantine` is set: an abandoned provider must not
    /// fire anything behind the built-in ticker's back.
    pub fn gated_by(mut self, quarantine: Arc<super::quarantine::Quarantine>) -> Self {
        self.quarantine = Some(quarantine);
        self
    }

    fn refuse_if_quarantined(&self) -> Result<(), String> {
        match &self.quarantine {
            Some(q) if q.is_set() => Err(format!(
                "provider `{}` is quarantined ({}); the host no longer fires for it",
                self.provider,
                q.reason().unwrap_or_default()
            )),
            _ => Ok(()),
        }
    }

    /// As the trait object that crosses the boundary.
    pub fn to_ffi(&self) -> HostServicesBox {
        HostServices_TO::from_ptr(RArc::new(self.clone()), TD_Opaque)
    }

    /// Run `call` for the provider, containing a panic on the host side: this code runs
    /// under an `extern "C"` frame, where an unwinding panic would abort the process.
    fn contain<T>(
        &self,
        service: &str,
        call: impl FnOnce() -> Result<T, String>,
    ) -> RResult<T, RString> {
        match catch_unwind(AssertUnwindSafe(call)) {
            Ok(Ok(value)) => ROk(value),
            Ok(Err(message)) => RErr(message.into()),
            Err(payload) => {
                let message = format!("host {service} panicked: {}", panic_message(&*payload));
                log::error!("[{}] {message}", self.provider);
                RErr(message.into())
            }
        }
    }
}

impl HostServices for Services {
    fn tick(&self) -> RResult<TickReport, RString> {
        self.contain("tick", || {
            self.refuse_if_quarantined()?;
            self.core
                .engine
                .tick()
                .map(tick_report)
                .map_err(|e| e.to_string())
        })
    }

    fn fire_due(&self, job_id: RStr<'_>) -> RResult<FireOutcome, RString> {
        self.contain("fire_due", || {
            self.refuse_if_quarantined()?;
            self.core
                .engine
                .fire_due(job_id.as_str())
                .map(fire_outcome)
                .map_err(|e| e.to_string())
        })
    }

    fn due_job_ids(&self) -> RResult<RVec<RString>, RString> {
        self.contain("due_job_ids", || {
            self.core
                .engine
                .due_job_ids()
                .map(|ids| ids.into_iter().map(RString::from).collect())
                .map_err(|e| e.to_string())
        })
    }

    fn record_heartbeat(&self, success: bool, error: RStr<'_>) {
        let error = Some(error.as_str()).filter(|e| !e.is_empty());
        let _ = self.contain("record_heartbeat", || {
            self.refuse_if_quarantined()?;
            self.core.heartbeat.record(&self.provider, success, error);
            // The provider drives the fires again: the built-in ticker no longer stands in.
            self.core.heartbeat.clear_fallback();
            Ok(())
        });
    }

    fn log(&self, level: LogLevel, message: RStr<'_>) {
        let level = match level {
            LogLevel::Error => log::Level::Error,
            LogLevel::Warn => log::Level::Warn,
            LogLevel::Info => log::Level::Info,
            LogLevel::Debug => log::Level::Debug,
            LogLevel::Trace => log::Level::Trace,
        };
        let _ = self.contain("log", || {
            let verdict = self.log_budget.lock().unwrap_or_else(|p| p.into_inner()).admit();
            match verdict {
                Admit::Suppress => return Ok(()),
                Admit::StartSuppressing => {
                    log::warn!(target: "cronhost::provider", "[{}] more than {MAX_PROVIDER_LOG_LINES_PER_SEC} log lines in a second: suppressing its log lines for the rest of the second", self.provider);
                    return Ok(());
                }
                Admit::Write { suppressed_before } if suppressed_before > 0 => {
                    log::warn!(target: "cronhost::provider", "[{}] {suppressed_before} log line(s) were suppressed", self.provider);
                }
                Admit::Write { .. } => {}
            }
            let message = truncate(message.as_str(), MAX_PROVIDER_LOG_BYTES);
            log::log!(target: "cronhost::provider", level, "[{}] {message}", self.provider);
            Ok(())
        });
    }

    fn config_json(&self) -> RString {
        self.contain("config_json", || Ok(RString::from(&*self.config_json)))
            .unwrap_or_else(|_| RString::from("{}"))
    }
    fn due_occurrences(&self) -> RResult<RVec<Occurrence>, RString> {
        self.contain("due_occurrences", || {
            let due = self
                .core
                .engine
                .due_occurrences()
                .map_err(|e| e.to_string())?;
            Ok(due
                .into_iter()
                .map(|(job_id, at)| Occurrence {
                    job_id: job_id.into(),
                    scheduled_at_ms: at.timestamp_millis(),
                })
                .collect())
        })
    }

    fn fire_occurrence(
        &self,
        job_id: RStr<'_>,
        scheduled_at_ms: i64,
    ) -> RResult<FireOutcome, RString> {
        self.contain("fire_occurrence", || {
            self.refuse_if_quarantined()?;
            let at = instant(scheduled_at_ms)?;
            self.core
                .engine
                .fire_occurrence(job_id.as_str(), at)
                .map(fire_outcome)
                .map_err(|e| e.to_string())
        })
    }

    fn skip_occurrence(
        &self,
        job_id: RStr<'_>,
        scheduled_at_ms: i64,
        reason: RStr<'_>,
    ) -> RResult<FireOutcome, RString> {
        self.contain("skip_occurrence", || {
            self.refuse_if_quarantined()?;
            let at = instant(scheduled_at_ms)?;
            let reason = truncate(reason.as_str(), 512);
            self.core
                .engine
                .skip_occurrence(
                    job_id.as_str(),
                    at,
                    cronhost_core::store::RunReason::Provider(reason.into_owned()),
                )
                .map(fire_outcome)
                .map_err(|e| e.to_string())
        })
    }

    fn run_report(
        &self,
        job_id: RStr<'_>,
        scheduled_at_ms: i64,
    ) -> RResult<ROption<RunReport>, RString> {
        self.contain("run_report", || {
            let at = instant(scheduled_at_ms)?;
            let run = self
                .core
                .engine
                .run_report(job_id.as_str(), at)
                .map_err(|e| e.to_string())?;
            Ok(match run {
                Some(run) => RSome(RunReport {
                    status: run.status.as_str().into(),
                    exit_code: run.exit_code.into(),
                    started_at_ms: run.started_at.map(|t| t.timestamp_millis()).into(),
                    finished_at_ms: run.finished_at.map(|t| t.timestamp_millis()).into(),
                    error: run
                        .error
                        .or(run.reason.map(|reason| reason.to_string()))
                        .unwrap_or_default()
                        .into(),
                }),
                None => RNone,
            })
        })
    }

    fn fire_occurrences(
        &self,
        occurrences: RSlice<'_, Occurrence>,
    ) -> RResult<RVec<RResult<FireOutcome, RString>>, RString> {
        self.contain("fire_occurrences", || {
            self.refuse_if_quarantined()?;
            // An instant out of range is that occurrence's error, in its place; the rest fire.
            let instants: Vec<Result<_, String>> = occurrences
                .iter()
                .map(|o| instant(o.scheduled_at_ms))
                .collect();
            let valid: Vec<(String, chrono::DateTime<chrono::Utc>)> = occurrences
                .iter()
                .zip(&instants)
                .filter_map(|(o, at)| Some((o.job_id.to_string(), *at.as_ref().ok()?)))
                .collect();
            let mut fired = self.core.engine.fire_occurrences(&valid).into_iter();
            Ok(instants
                .into_iter()
                .map(|at| match at.map(|_| fired.next()) {
                    Ok(Some(Ok(outcome))) => ROk(fire_outcome(outcome)),
                    Ok(Some(Err(e))) => RErr(e.to_string().into()),
                    Ok(None) => {
                        RErr("the engine answered fewer occurrences than it was given".into())
                    }
                    Err(e) => RErr(e.into()),
                })
                .collect())
        })
    }

    fn next_due_in_ms(&self) -> RResult<ROption<u64>, RString> {
        self.contain("next_due_in_ms", || {
            let due = self.core.engine.next_due();
            Ok(due
                .map(|due| millis_until(due, cronhost_core::clock::system_now()))
                .into())
        })
    }
}

/// How long from now until `due`, in whole milliseconds rounded up (a provider that wakes
/// after this long finds the occurrence due, never a fraction of a millisecond early); zero
/// when it is due already.
pub fn millis_until(due: std::time::SystemTime, now: std::time::SystemTime) -> u64 {
    match due.duration_since(now) {
        Ok(wait) => u64::try_from(wait.as_micros().div_ceil(1000)).unwrap_or(u64::MAX),
        Err(_) => 0,
    }
}

fn instant(ms: i64) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| format!("{ms} is not a valid instant"))
}

#[cfg(test)]
mod tests {
    use super::millis_until;
    use std::time::{Duration, SystemTime};

    #[test]
    fn the_wait_until_the_next_due_instant_rounds_up_and_never_goes_negative() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert_eq!(millis_until(now + Duration::from_micros(1), now), 1);
        assert_eq!(millis_until(now + Duration::from_millis(250), now), 250);
        assert_eq!(millis_until(now, now), 0);
        assert_eq!(millis_until(now - Duration::from_secs(5), now), 0);
    }
}
