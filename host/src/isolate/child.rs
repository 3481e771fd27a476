//! The child side of isolation: `cronhost provider-host` loads one provider library and serves
//! it to the host over the protocol on its standard input and output.
//!
//! Whatever the provider does to this process (segfault, abort, endless loop), the host only
//! loses the child. The child exits at once when the host closes its end of the pipe.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;
use std::sync::{Arc, Mutex};

use cronhost_provider_api::abi_stable::std_types::{
    RErr, RNone, ROk, ROption, RResult, RSlice, RSome, RStr, RString, RVec,
};
use cronhost_provider_api::ffi::{into_rresult, AnyProvider, HostServices, Occurrence, RunReport};
use cronhost_provider_api::{FireOutcome, LogLevel, StartOptions, TickReport};

use super::pending::Pending;
use super::protocol::{
    read_frame, write_frame, Answer, Call, FromChild, Init, Service, ServiceAnswer, ToChild,
    MAX_OCCURRENCES_PER_MESSAGE, PROTOCOL_VERSION,
};
use crate::plugins::{load_library, vet_dir, vet_file, VetPolicy};
use crate::provider::{bound_status, StopFlag, MAX_ERROR_BYTES, MAX_PROVIDER_LOG_BYTES};
use crate::subprocess::{exit_now, protocol_pipes};
use crate::workers::Workers;
use cronhost_core::text::truncate;

/// The first argument that makes the `cronhost` binary serve a provider to its parent instead
/// of running the command line. An application embedding the host checks for it at the top of
/// `main` (see [`serve_if_asked`]).
pub const CHILD_COMMAND: &str = "provider-host";

/// How many threads that ran provider calls the child keeps waiting for the next one.
const MAX_IDLE_CALLERS: usize = 4;

/// If this process was started as an isolated provider's child (its first argument is
/// `provider-host`) or as a plugin probe ([`crate::plugins::PROBE_COMMAND`]), serve the
/// provider or the probe and exit; otherwise return. Call it first thing in
/// `main` of any program that runs providers with `isolation = "process"`.
///
/// ```no_run
/// // First thing in `main`:
/// cronhost::serve_if_asked();
/// // ... the application proper
/// ```
pub fn serve_if_asked() {
    let first = std::env::args_os().nth(1);
    if first.as_deref() == Some(CHILD_COMMAND.as_ref()) {
        exit_now(serve_stdio());
    }
    if first.as_deref() == Some(crate::plugins::PROBE_COMMAND.as_ref()) {
        exit_now(crate::plugins::probe::serve_probe());
    }
}

/// Serve one provider over stdin/stdout; returns the exit code.
pub fn serve_stdio() -> i32 {
    let (input, output) = match protocol_pipes() {
        Ok(pipes) => pipes,
        Err(e) => {
            eprintln!("cronhost provider-host: cannot set up the protocol pipes: {e}");
            return 2;
        }
    };
    let mut input = BufReader::new(input);
    let link = Link {
        out: Arc::new(Mutex::new(output)),
        pending: Arc::default(),
    };
    let init = match read_frame::<ToChild>(&mut input) {
        Ok(ToChild::Init(init)) => init,
        Ok(other) => {
            link.send(&FromChild::Refused(format!(
                "expected Init as the first message, got {other:?}"
            )));
            return 2;
        }
        Err(e) => {
            eprintln!("cronhost provider-host: no Init message: {e}");
            return 2;
        }
    };
    let (provider, start_blocks) = match construct(&init, &link) {
        Ok(built) => built,
        Err(message) => {
            link.send(&FromChild::Refused(
                truncate(&message, MAX_ERROR_BYTES).into_owned(),
            ));
            return 1;
        }
    };
    link.send(&FromChild::Hello {
        protocol: PROTOCOL_VERSION,
        start_blocks,
    });
    let served = Served {
        provider: Arc::new(provider),
        host: RemoteHost {
            link: link.clone(),
            config_json: init.config_json.into(),
        },
        stop: StopFlag::new(),
    };
    // Calls run off this thread (it must keep reading: answers to the provider's service
    // requests, pings, stop), on threads kept for reuse: a blocking `start` holds one, and
    // other calls never wait behind it.
    let callers = Workers::new("provider-call", MAX_IDLE_CALLERS);
    loop {
        match read_frame::<ToChild>(&mut input) {
            Ok(ToChild::Call { id, call }) => {
                let served = served.clone();
                let spawned = callers.spawn(move |idle| {
                    let result = served.answer(call);
                    // Idle before the answer leaves: the host's next call finds this thread.
                    idle();
                    let link = &served.host.link;
                    if !link.send(&FromChild::Done { id, result }) {
                        // Over the frame limit (or the host is gone): answer all the same.
                        link.send(&FromChild::Done {
                            id,
                            result: Err("the provider's answer is too large to send".into()),
                        });
                    }
                });
                if let Err(e) = spawned {
                    link.send(&FromChild::Done {
                        id,
                        result: Err(format!("the provider process cannot start a thread: {e}")),
                    });
                }
            }
            Ok(ToChild::Served { id, result }) => link.pending.settle(id, result),
            Ok(ToChild::Stop) => served.stop.set(),
            Ok(ToChild::Ping(n)) => {
                link.send(&FromChild::Pong(n));
            }
            Ok(ToChild::Init(_)) => {
                eprintln!("cronhost provider-host: a second Init; closing");
                return 2;
            }
            // The host closed the pipe (it stopped or died) or spoke nonsense: nothing left to
            // serve.
            Err(_) => return 0,
        }
    }
}

/// Vet the library again (it must still have the digest the host vetted), load it and
/// construct the provider.
fn construct(init: &Init, link: &Link) -> Result<(AnyProvider, bool), String> {
    if init.protocol != PROTOCOL_VERSION {
        return Err(format!(
            "the host speaks isolation protocol {}, this provider-host speaks {PROTOCOL_VERSION}; run the same cronhost binary on both sides",
            init.protocol
        ));
    }
    let (dir, path) = (Path::new(&init.plugins_dir), Path::new(&init.library));
    vet_dir(dir)?;
    let policy = VetPolicy {
        allowlist: [init.sha256.clone()].into_iter().collect(),
    };
    let vetted = vet_file(dir, path, &policy).map_err(|e| {
        format!(
            "{}: {e} (the file changed since the host vetted it?)",
            path.display()
        )
    })?;
    let library = load_library(path, vetted).map_err(|e| format!("{}: {e}", path.display()))?;
    let start_blocks = library
        .metadata
        .providers
        .iter()
        .find(|info| info.name.as_str() == init.provider)
        .map(|info| info.start_blocks)
        .ok_or_else(|| format!("{} offers no provider `{}`", path.display(), init.provider))?;
    // The library stays loaded for the life of this process.
    let library = Box::leak(Box::new(library));
    link.send(&FromChild::Loaded);
    let provider = library
        .new_provider(&init.provider, &init.config_json)
        .map_err(|e| format!("provider `{}` constructor failed: {e}", init.provider))?;
    Ok((provider, start_blocks))
}

/// The child's end of the pipe: frames out, and answers to its service requests in.
#[derive(Clone)]
struct Link {
    out: Arc<Mutex<File>>,
    pending: Arc<Pending<Result<ServiceAnswer, String>>>,
}

impl Link {
    /// Send one frame; a broken pipe means the host is gone, and the reader loop ends the
    /// process when it sees that.
    fn send(&self, message: &FromChild) -> bool {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        write_frame(&mut *out, message).is_ok()
    }

    /// Ask the host for a service and wait for its answer.
    fn ask(&self, service: Service) -> Result<ServiceAnswer, String> {
        let (id, answered) = self.pending.register();
        if !self.send(&FromChild::Service { id, service }) {
            self.pending
                .settle(id, Err("the request could not be sent to the host".into()));
        }
        answered
            .recv()
            .unwrap_or_else(|_| Err("the host closed the connection".into()))
    }
}

/// The provider and what it is handed.
#[derive(Clone)]
struct Served {
    provider: Arc<AnyProvider>,
    host: RemoteHost,
    stop: StopFlag,
}

impl Served {
    fn answer(&self, call: Call) -> Result<Answer, String> {
        let provider = &self.provider;
        let result = match call {
            Call::IsAvailable => provider.is_available().map(Answer::Available),
            Call::Start { tick_interval_ms } => provider
                .start(
                    &self.host,
                    crate::provider::stop_signal(&self.stop),
                    StartOptions { tick_interval_ms },
                )
                .map(|()| Answer::Done),
            Call::Stop => provider.stop().map(|()| Answer::Done),
            Call::OnJobsChanged => {
                // As in the host process, where the daemon nudges the stop flag it hands an
                // in-process provider: a provider waiting for the next due instant looks again.
                self.stop.nudge();
                provider.on_jobs_changed().map(|()| Answer::Done)
            }
            Call::FireDue { job_id } => provider
                .fire_due(&self.host, RStr::from_str(&job_id))
                .map(Answer::Fired),
            Call::Reconcile => provider.reconcile().map(|()| Answer::Done),
            Call::Status => match provider.status_json() {
                ROk(text) => {
                    bound_status(text.into_string()).map_or_else(RErr, |t| ROk(Answer::Status(t)))
                }
                RErr(e) => RErr(e),
            },
        };
        result
            .into_result()
            .map_err(|e| truncate(&e, MAX_ERROR_BYTES).into_owned())
    }
}

/// The host services, as seen from the child: each one a request over the pipe.
#[derive(Clone)]
struct RemoteHost {
    link: Link,
    config_json: Arc<str>,
}

impl RemoteHost {
    fn ask(&self, service: Service) -> Result<ServiceAnswer, RString> {
        self.link.ask(service).map_err(RString::from)
    }
}

fn unexpected<T>(answer: ServiceAnswer) -> RResult<T, RString> {
    RErr(unexpected_answer(answer))
}

fn unexpected_answer(answer: ServiceAnswer) -> RString {
    format!("the host sent an unexpected answer: {answer:?}").into()
}

fn outcome(answer: Result<ServiceAnswer, RString>) -> RResult<FireOutcome, RString> {
    match answer {
        Ok(ServiceAnswer::Outcome(outcome)) => ROk(outcome),
        Ok(other) => unexpected(other),
        Err(e) => RErr(e),
    }
}

impl HostServices for RemoteHost {
    fn tick(&self) -> RResult<TickReport, RString> {
        match self.ask(Service::Tick) {
            Ok(ServiceAnswer::Ticked(report)) => ROk(report),
            Ok(other) => unexpected(other),
            Err(e) => RErr(e),
        }
    }

    fn fire_due(&self, job_id: RStr<'_>) -> RResult<FireOutcome, RString> {
        outcome(self.ask(Service::FireDue {
            job_id: truncate(job_id.as_str(), MAX_ERROR_BYTES).into_owned(),
        }))
    }

    fn due_job_ids(&self) -> RResult<RVec<RString>, RString> {
        match self.ask(Service::DueJobIds) {
            Ok(ServiceAnswer::Ids(ids)) => ROk(ids.into_iter().map(RString::from).collect()),
            Ok(other) => unexpected(other),
            Err(e) => RErr(e),
        }
    }

    fn record_heartbeat(&self, success: bool, error: RStr<'_>) {
        self.link.send(&FromChild::Heartbeat {
            success,
            error: truncate(error.as_str(), MAX_ERROR_BYTES).into_owned(),
        });
    }

    fn log(&self, level: LogLevel, message: RStr<'_>) {
        let message = truncate(message.as_str(), MAX_PROVIDER_LOG_BYTES).into_owned();
        self.link.send(&FromChild::Log(level, message));
    }

    fn config_json(&self) -> RString {
        RString::from(&*self.config_json)
    }

    fn due_occurrences(&self) -> RResult<RVec<Occurrence>, RString> {
        match self.ask(Service::DueOccurrences) {
            Ok(ServiceAnswer::Occurrences(due)) => ROk(due
                .into_iter()
                .map(|(job_id, scheduled_at_ms)| Occurrence {
                    job_id: job_id.into(),
                    scheduled_at_ms,
                })
                .collect()),
            Ok(other) => unexpected(other),
            Err(e) => RErr(e),
        }
    }

    fn fire_occurrence(&self, job_id: RStr<'_>, at_ms: i64) -> RResult<FireOutcome, RString> {
        outcome(self.ask(Service::FireOccurrence {
            job_id: truncate(job_id.as_str(), MAX_ERROR_BYTES).into_owned(),
            at_ms,
        }))
    }

    fn skip_occurrence(
        &self,
        job_id: RStr<'_>,
        at_ms: i64,
        reason: RStr<'_>,
    ) -> RResult<FireOutcome, RString> {
        outcome(self.ask(Service::SkipOccurrence {
            job_id: truncate(job_id.as_str(), MAX_ERROR_BYTES).into_owned(),
            at_ms,
            reason: truncate(reason.as_str(), MAX_ERROR_BYTES).into_owned(),
        }))
    }

    fn run_report(&self, job_id: RStr<'_>, at_ms: i64) -> RResult<ROption<RunReport>, RString> {
        let job_id = truncate(job_id.as_str(), MAX_ERROR_BYTES).into_owned();
        match self.ask(Service::RunReport { job_id, at_ms }) {
            Ok(ServiceAnswer::Run(run)) => ROk(match run {
                Some(run) => RSome(RunReport::from(run)),
                None => RNone,
            }),
            Ok(other) => unexpected(other),
            Err(e) => RErr(e),
        }
    }

    fn next_due_in_ms(&self) -> RResult<ROption<u64>, RString> {
        match self.ask(Service::NextDueIn) {
            Ok(ServiceAnswer::NextDueIn(ms)) => ROk(ms.into()),
            Ok(other) => unexpected(other),
            Err(e) => RErr(e),
        }
    }

    /// In messages of at most [`MAX_OCCURRENCES_PER_MESSAGE`]; a message that fails fails
    /// its own occurrences, each in its place, and the rest still go.
    fn fire_occurrences(
        &self,
        occurrences: RSlice<'_, Occurrence>,
    ) -> RResult<RVec<RResult<FireOutcome, RString>>, RString> {
        let mut outcomes = RVec::with_capacity(occurrences.len());
        for chunk in occurrences.chunks(MAX_OCCURRENCES_PER_MESSAGE) {
            let message = chunk
                .iter()
                .map(|o| {
                    let job_id = truncate(o.job_id.as_str(), MAX_ERROR_BYTES).into_owned();
                    (job_id, o.scheduled_at_ms)
                })
                .collect();
            let failed = match self.ask(Service::FireOccurrences(message)) {
                Ok(ServiceAnswer::Outcomes(answers)) if answers.len() == chunk.len() => {
                    outcomes.extend(answers.into_iter().map(into_rresult));
                    continue;
                }
                Ok(other) => unexpected_answer(other),
                Err(e) => e,
            };
            outcomes.extend(chunk.iter().map(|_| RErr(failed.clone())));
        }
        ROk(outcomes)
    }
}
