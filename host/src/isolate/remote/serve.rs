//! Host services answered for an isolated provider: each request off the reader's thread, on
//! a thread kept for reuse, at most a bounded number at once, through the same guarded
//! services an in-process provider gets.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use cronhost_provider_api::abi_stable::std_types::RString;
use cronhost_provider_api::ffi::{HostServices, Occurrence};

use super::connection::Connection;
use crate::isolate::protocol::{
    Run, Service, ServiceAnswer, ToChild, MAX_OCCURRENCES_PER_MESSAGE, MAX_OUTCOME_ERROR_BYTES,
};
use crate::provider::Services;
use cronhost_core::text::truncate;

/// How many host-service requests of one child are answered at once; more get "busy".
const MAX_SERVICE_REQUESTS_IN_FLIGHT: u64 = 64;

impl Connection {
    /// Answer a service request off the reader's thread (an idle server, or a new one when
    /// all are busy), so a slow tick never holds up the conversation (pongs, log lines, other
    /// answers).
    pub(super) fn serve(self: &Arc<Self>, id: u64, service: Service) {
        // A child flooding requests gets "busy" answers, not a host full of threads.
        if self.serving.fetch_add(1, Ordering::SeqCst) >= MAX_SERVICE_REQUESTS_IN_FLIGHT {
            self.serving.fetch_sub(1, Ordering::SeqCst);
            self.send(&ToChild::Served {
                id,
                result: Err(format!(
                    "the host is busy: {MAX_SERVICE_REQUESTS_IN_FLIGHT} requests of this provider are in flight"
                )),
            });
            return;
        }
        let connection = Arc::clone(self);
        let spawned = self.servers.spawn(move |idle| {
            let result = match connection.services() {
                Some(services) => perform(&services, service),
                None => {
                    Err("host services are handed to a provider only once it is started".into())
                }
            };
            let result = result.map_err(|e| truncate(&e, 4096).into_owned());
            // Idle before the answer leaves: the child's next request finds this thread.
            idle();
            // The provider waits for an answer: if this one cannot be sent (over the frame
            // limit), it gets an error instead.
            if !connection.send(&ToChild::Served { id, result }) {
                connection.send(&ToChild::Served {
                    id,
                    result: Err("the host's answer is over the 1 MiB frame limit".into()),
                });
            }
            connection.serving.fetch_sub(1, Ordering::SeqCst);
        });
        if let Err(e) = spawned {
            log::error!("cannot start thread isolate-serve: {e}");
            self.serving.fetch_sub(1, Ordering::SeqCst);
            self.send(&ToChild::Served {
                id,
                result: Err("the host cannot start a thread to answer".into()),
            });
        }
    }
}

/// Perform one host service for the child.
fn perform(services: &Services, service: Service) -> Result<ServiceAnswer, String> {
    let text = |s: &str| RString::from(s);
    match service {
        Service::Tick => HostServices::tick(services)
            .into_result()
            .map(ServiceAnswer::Ticked),
        Service::FireDue { job_id } => HostServices::fire_due(services, text(&job_id).as_rstr())
            .into_result()
            .map(ServiceAnswer::Outcome),
        Service::DueJobIds => HostServices::due_job_ids(services)
            .into_result()
            .map(|ids| ServiceAnswer::Ids(ids.into_iter().map(RString::into_string).collect())),
        Service::DueOccurrences => {
            HostServices::due_occurrences(services)
                .into_result()
                .map(|due| {
                    ServiceAnswer::Occurrences(
                        due.into_iter()
                            .map(|o| (o.job_id.into_string(), o.scheduled_at_ms))
                            .collect(),
                    )
                })
        }
        Service::FireOccurrence { job_id, at_ms } => {
            HostServices::fire_occurrence(services, text(&job_id).as_rstr(), at_ms)
                .into_result()
                .map(ServiceAnswer::Outcome)
        }
        Service::SkipOccurrence {
            job_id,
            at_ms,
            reason,
        } => HostServices::skip_occurrence(
            services,
            text(&job_id).as_rstr(),
            at_ms,
            text(&reason).as_rstr(),
        )
        .into_result()
        .map(ServiceAnswer::Outcome),
        Service::RunReport { job_id, at_ms } => {
            HostServices::run_report(services, text(&job_id).as_rstr(), at_ms)
                .into_result()
                .map(|run| ServiceAnswer::Run(run.into_option().map(Run::from)))
        }
        Service::NextDueIn => HostServices::next_due_in_ms(services)
            .into_result()
            .map(|ms| ServiceAnswer::NextDueIn(ms.into_option())),
        Service::FireOccurrences(occurrences)
            if occurrences.len() > MAX_OCCURRENCES_PER_MESSAGE =>
        {
            Err(RString::from(format!(
                "{} occurrences in one message; at most {MAX_OCCURRENCES_PER_MESSAGE} are allowed",
                occurrences.len()
            )))
        }
        Service::FireOccurrences(occurrences) => {
            let occurrences: Vec<Occurrence> = occurrences
                .into_iter()
                .map(|(job_id, scheduled_at_ms)| Occurrence {
                    job_id: job_id.into(),
                    scheduled_at_ms,
                })
                .collect();
            HostServices::fire_occurrences(services, occurrences.as_slice().into())
                .into_result()
                .map(|outcomes| {
                    ServiceAnswer::Outcomes(
                        outcomes
                            .into_iter()
                            .map(|outcome| {
                                outcome.into_result().map_err(|e| {
                                    truncate(e.as_str(), MAX_OUTCOME_ERROR_BYTES).into_owned()
                                })
                            })
                            .collect(),
                    )
                })
        }
    }
    .map_err(RString::into_string)
}
