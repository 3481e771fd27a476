//! The SDK's contract as the host sees it through the ABI: only `NAME`, `new` and `start` are
//! required, every other method has a safe default, and panics become error values.

use std::sync::{Arc, Mutex};

use cronhost_provider_api::abi_stable::sabi_trait::TD_Opaque;
use cronhost_provider_api::abi_stable::std_types::{
    RArc, RErr, ROk, RResult, RSlice, RStr, RString, RVec,
};
use cronhost_provider_api::ffi::{
    HostServices, HostServices_TO, Occurrence, StopSignal, StopSignal_TO,
};
use cronhost_provider_api::{
    into_provider_box, FireOutcome, Host, LogLevel, Provider, ProviderConfig, ProviderError,
    StartOptions, Stop, TickReport,
};

/// Implements only what is required.
struct Minimal;

impl Provider for Minimal {
    const NAME: &'static str = "minimal";

    fn new(_config: ProviderConfig) -> Result<Self, ProviderError> {
        Ok(Minimal)
    }

    fn start(&self, host: Host, _stop: Stop, _options: StartOptions) -> Result<(), ProviderError> {
        host.tick()?;
        Ok(())
    }
}

/// Panics wherever it can.
struct Exploding;

impl Provider for Exploding {
    const NAME: &'static str = "exploding";

    fn new(_config: ProviderConfig) -> Result<Self, ProviderError> {
        Ok(Exploding)
    }

    fn is_available(&self) -> bool {
        panic!("no availability today")
    }

    fn start(&self, _host: Host, _stop: Stop, _options: StartOptions) -> Result<(), ProviderError> {
        panic!("{} went off", Self::NAME)
    }
}

/// A host that records what the provider asked of it.
#[derive(Clone, Default)]
struct RecordingHost {
    calls: Arc<Mutex<Vec<String>>>,
    fail: bool,
}

impl HostServices for RecordingHost {
    fn tick(&self) -> RResult<TickReport, RString> {
        self.calls.lock().unwrap().push("tick".into());
        ROk(TickReport::default())
    }
    fn fire_due(&self, job_id: RStr<'_>) -> RResult<FireOutcome, RString> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("fire_due {job_id}"));
        if self.fail {
            RErr("store is locked".into())
        } else {
            ROk(FireOutcome::Fired)
        }
    }
    fn due_job_ids(&self) -> RResult<RVec<RString>, RString> {
        ROk(RVec::new())
    }
    fn record_heartbeat(&self, _success: bool, _error: RStr<'_>) {}
    fn log(&self, _level: LogLevel, _message: RStr<'_>) {}
    fn config_json(&self) -> RString {
        "{}".into()
    }
}

#[derive(Clone)]
struct NeverStop;

impl StopSignal for NeverStop {
    fn is_set(&self) -> bool {
        false
    }
    fn wait(&self, _timeout_ms: u64) -> bool {
        false
    }
}

fn host(recorder: &RecordingHost) -> cronhost_provider_api::ffi::HostServicesBox {
    HostServices_TO::from_ptr(RArc::new(recorder.clone()), TD_Opaque)
}

fn stop() -> cronhost_provider_api::ffi::StopSignalBox {
    StopSignal_TO::from_ptr(RArc::new(NeverStop), TD_Opaque)
}

const OPTIONS: StartOptions = StartOptions {
    tick_interval_ms: 1,
};

#[test]
fn a_minimal_provider_gets_safe_defaults() {
    const { assert!(<Minimal as Provider>::START_BLOCKS, "a ticker by default") };
    assert_eq!(<Minimal as Provider>::DESCRIPTION, "");
    let provider = into_provider_box(Minimal);
    assert_eq!(provider.name().as_str(), "minimal");
    assert_eq!(
        provider.is_available(),
        ROk(true),
        "available unless it says otherwise"
    );
    assert_eq!(provider.stop(), ROk(()));
    assert_eq!(provider.on_jobs_changed(), ROk(()));
    assert_eq!(provider.reconcile(), ROk(()));
    assert_eq!(provider.status_json(), ROk(RString::new()));
}

#[test]
fn the_default_fire_due_claims_through_the_host() {
    let provider = into_provider_box(Minimal);
    let recorder = RecordingHost::default();
    assert_eq!(
        provider.fire_due(host(&recorder), "j1".into()),
        ROk(FireOutcome::Fired)
    );
    assert_eq!(*recorder.calls.lock().unwrap(), ["fire_due j1"]);

    let failing = RecordingHost {
        fail: true,
        ..Default::default()
    };
    let RErr(message) = provider.fire_due(host(&failing), "j2".into()) else {
        panic!("a host error must reach the caller");
    };
    assert!(message.contains("store is locked"), "{message}");
}

#[test]
fn start_reaches_the_host() {
    let provider = into_provider_box(Minimal);
    let recorder = RecordingHost::default();
    assert_eq!(provider.start(host(&recorder), stop(), OPTIONS), ROk(()));
    assert_eq!(*recorder.calls.lock().unwrap(), ["tick"]);
}

#[test]
fn panics_become_error_values_with_the_message() {
    let provider = into_provider_box(Exploding);
    let RErr(message) = provider.is_available() else {
        panic!("expected an error")
    };
    assert_eq!(
        message.as_str(),
        "panicked in is_available: no availability today"
    );
    let RErr(message) = provider.start(host(&RecordingHost::default()), stop(), OPTIONS) else {
        panic!("expected an error")
    };
    assert_eq!(message.as_str(), "panicked in start: exploding went off");
    assert_eq!(provider.stop(), ROk(()), "still callable after a panic");
}

#[test]
fn config_sections_parse_and_bad_json_is_an_error() {
    #[derive(serde::Deserialize)]
    struct Settings {
        interval_ms: u64,
    }
    let config = ProviderConfig::from_json(r#"{"interval_ms": 250}"#).unwrap();
    assert_eq!(config.parse::<Settings>().unwrap().interval_ms, 250);
    assert!(ProviderConfig::from_json("")
        .unwrap()
        .as_json()
        .as_object()
        .unwrap()
        .is_empty());
    let error = ProviderConfig::from_json("{nope").unwrap_err();
    assert!(error.message().contains("not valid JSON"), "{error}");
    let error = ProviderConfig::from_json("{}")
        .unwrap()
        .parse::<Settings>()
        .err()
        .unwrap();
    assert!(error.message().contains("interval_ms"), "{error}");
}

/// Panics when dropped.
struct DropBomb;

impl Provider for DropBomb {
    const NAME: &'static str = "drop-bomb";

    fn new(_config: ProviderConfig) -> Result<Self, ProviderError> {
        Ok(DropBomb)
    }

    fn start(&self, _host: Host, _stop: Stop, _options: StartOptions) -> Result<(), ProviderError> {
        Ok(())
    }
}

impl Drop for DropBomb {
    fn drop(&mut self) {
        panic!("drop bomb");
    }
}

#[test]
fn a_panic_while_dropping_the_provider_is_contained() {
    // Dropping goes through an `extern "C"` vtable entry: an escaping panic would abort.
    let provider = into_provider_box(DropBomb);
    assert_eq!(provider.is_available(), ROk(true));
    drop(provider);
}

/// A host that says when the next occurrence is due (API 1.2), or fails to.
#[derive(Clone)]
struct Timed(Result<Option<u64>, &'static str>);

impl HostServices for Timed {
    fn tick(&self) -> RResult<TickReport, RString> {
        ROk(TickReport::default())
    }
    fn fire_due(&self, _job_id: RStr<'_>) -> RResult<FireOutcome, RString> {
        ROk(FireOutcome::ClaimLost)
    }
    fn due_job_ids(&self) -> RResult<RVec<RString>, RString> {
        ROk(RVec::new())
    }
    fn record_heartbeat(&self, _success: bool, _error: RStr<'_>) {}
    fn log(&self, _level: LogLevel, _message: RStr<'_>) {}
    fn config_json(&self) -> RString {
        "{}".into()
    }
    fn next_due_in_ms(
        &self,
    ) -> RResult<cronhost_provider_api::abi_stable::std_types::ROption<u64>, RString> {
        match self.0 {
            Ok(ms) => ROk(ms.into()),
            Err(e) => RErr(e.into()),
        }
    }
}

#[test]
fn next_due_in_is_a_duration_and_a_host_without_it_says_it_does_not_offer_it() {
    use std::time::Duration;
    let host = |services| Host::from_ffi(services);
    // A host that implements only the 1.0 services answers every later one with its default.
    let old = host(HostServices_TO::from_ptr(
        RArc::new(RecordingHost::default()),
        TD_Opaque,
    ));
    let error = old.next_due_in().unwrap_err();
    assert!(error.is_not_offered(), "{error}");
    assert!(error.to_string().contains("predates API 1.2"), "{error}");
    assert!(old.due_occurrences().unwrap_err().is_not_offered());

    let timed = |answer| {
        host(HostServices_TO::from_ptr(
            RArc::new(Timed(answer)),
            TD_Opaque,
        ))
    };
    assert_eq!(
        timed(Ok(Some(1_500))).next_due_in(),
        Ok(Some(Duration::from_millis(1_500)))
    );
    assert_eq!(timed(Ok(Some(0))).next_due_in(), Ok(Some(Duration::ZERO)));
    assert_eq!(timed(Ok(None)).next_due_in(), Ok(None));
    let failed = timed(Err("disk I/O error")).next_due_in().unwrap_err();
    assert!(!failed.is_not_offered(), "a failure is not an older host");
    assert_eq!(failed.message, "disk I/O error");
}

/// A host that fires occurrences one at a time (API 1.1) and, when `batches`, also a batch at
/// a time (API 1.3); it records each call.
#[derive(Clone, Default)]
struct Occurrences {
    batches: bool,
    calls: Arc<Mutex<Vec<String>>>,
}

impl Occurrences {
    fn answer(job_id: &str) -> RResult<FireOutcome, RString> {
        match job_id {
            "gone" => ROk(FireOutcome::NoSuchJob),
            "locked" => RErr("store is locked".into()),
            _ => ROk(FireOutcome::Fired),
        }
    }
}

impl HostServices for Occurrences {
    fn tick(&self) -> RResult<TickReport, RString> {
        ROk(TickReport::default())
    }
    fn fire_due(&self, _job_id: RStr<'_>) -> RResult<FireOutcome, RString> {
        ROk(FireOutcome::ClaimLost)
    }
    fn due_job_ids(&self) -> RResult<RVec<RString>, RString> {
        ROk(RVec::new())
    }
    fn record_heartbeat(&self, _success: bool, _error: RStr<'_>) {}
    fn log(&self, _level: LogLevel, _message: RStr<'_>) {}
    fn config_json(&self) -> RString {
        "{}".into()
    }
    fn fire_occurrence(&self, job_id: RStr<'_>, at_ms: i64) -> RResult<FireOutcome, RString> {
        let call = format!("one {job_id}@{at_ms}");
        self.calls.lock().unwrap().push(call);
        Self::answer(job_id.as_str())
    }
    fn fire_occurrences(
        &self,
        occurrences: RSlice<'_, Occurrence>,
    ) -> RResult<RVec<RResult<FireOutcome, RString>>, RString> {
        if !self.batches {
            return RErr(cronhost_provider_api::ffi::NOT_OFFERED_1_3.into());
        }
        let call = format!("batch of {}", occurrences.len());
        self.calls.lock().unwrap().push(call);
        let answers = occurrences.iter().map(|o| Self::answer(o.job_id.as_str()));
        ROk(answers.collect())
    }
}

#[test]
fn a_batch_of_occurrences_goes_in_one_call_or_one_at_a_time_to_an_older_host() {
    let batch: Vec<(String, i64)> = ["a", "gone", "locked", "b"]
        .iter()
        .zip(1..)
        .map(|(job, at)| (job.to_string(), at))
        .collect();
    for batches in [true, false] {
        let services = Occurrences {
            batches,
            ..Occurrences::default()
        };
        let host = Host::from_ffi(HostServices_TO::from_ptr(
            RArc::new(services.clone()),
            TD_Opaque,
        ));
        let outcomes = host.fire_occurrences(&batch).unwrap();
        assert_eq!(outcomes.len(), 4);
        assert_eq!(outcomes[0], Ok(FireOutcome::Fired));
        assert_eq!(outcomes[1], Ok(FireOutcome::NoSuchJob));
        let locked = outcomes[2].as_ref().unwrap_err();
        assert_eq!(locked.message, "store is locked");
        assert!(!locked.is_not_offered());
        assert_eq!(outcomes[3], Ok(FireOutcome::Fired));
        let calls = services.calls.lock().unwrap().clone();
        match batches {
            true => assert_eq!(calls, ["batch of 4"]),
            false => assert_eq!(calls, ["one a@1", "one gone@2", "one locked@3", "one b@4"]),
        }
    }
}

/// A host that answers one outcome however many occurrences it is given.
#[derive(Clone)]
struct ShortAnswer;

impl HostServices for ShortAnswer {
    fn tick(&self) -> RResult<TickReport, RString> {
        ROk(TickReport::default())
    }
    fn fire_due(&self, _job_id: RStr<'_>) -> RResult<FireOutcome, RString> {
        ROk(FireOutcome::ClaimLost)
    }
    fn due_job_ids(&self) -> RResult<RVec<RString>, RString> {
        ROk(RVec::new())
    }
    fn record_heartbeat(&self, _success: bool, _error: RStr<'_>) {}
    fn log(&self, _level: LogLevel, _message: RStr<'_>) {}
    fn config_json(&self) -> RString {
        "{}".into()
    }
    fn fire_occurrences(
        &self,
        _occurrences: RSlice<'_, Occurrence>,
    ) -> RResult<RVec<RResult<FireOutcome, RString>>, RString> {
        ROk(vec![ROk(FireOutcome::Fired)].into())
    }
}

#[test]
fn a_short_answer_still_gives_one_outcome_per_occurrence() {
    let host = Host::from_ffi(HostServices_TO::from_ptr(RArc::new(ShortAnswer), TD_Opaque));
    let batch = [
        ("a".to_string(), 1),
        ("b".to_string(), 2),
        ("c".to_string(), 3),
    ];
    let outcomes = host.fire_occurrences(&batch).unwrap();
    assert_eq!(outcomes.len(), 3);
    assert_eq!(outcomes[0], Ok(FireOutcome::Fired));
    for missing in &outcomes[1..] {
        let error = missing.as_ref().unwrap_err();
        assert_eq!(
            error.message,
            "the host answered 1 outcomes for 3 occurrences"
        );
    }
}
