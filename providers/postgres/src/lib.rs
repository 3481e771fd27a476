//! cronhost-provider-postgres: several cronhost hosts share one job set through PostgreSQL, and
//! each occurrence runs exactly once.
//!
//! ```toml
//! [cron]
//! provider = "postgres"
//!
//! [providers.postgres]
//! url = "postgres://cron@db.internal/cron"   # required
//! cluster = "default"                         # several clusters may share one database
//! lease_secs = 30                             # how soon a dead member's runs count as lost
//! on_db_down = "pause"                        # or "local": keep firing alone, loudly
//! ```
//!
//! Every host holds the same jobs (`cronhost jobs export` / `jobs import` keep ids). Each scan, a
//! host lists its due occurrences (job id, nominal instant) and claims each in PostgreSQL with
//! an insert on that unique key: the winner fires it, the others move past it. Claims key on the
//! nominal instant, never on a host's wall clock, and leases run on the database's clock, so
//! skewed clocks cannot make an occurrence run twice.
//!
//! A host scans when its next occurrence is due (the host service `next_due_in`, API 1.2), when
//! its job set changes (the host nudges the stop signal), and at least every `poll_ms` (and
//! every `cron.tick_interval_ms`, which paces the heartbeat) for the housekeeping: membership,
//! lease renewals and expiry, outcomes written back, reconnecting to a database that was away.
//! On a host older than 1.2 it scans every `poll_ms`, as before. The live members deal each
//! scan's occurrences out among themselves (`share.rs`) so that the firing spreads; the unique
//! key still decides every claim.
//!
//! It does not LISTEN for other hosts' changes: each host learns of changes to its own job set
//! from its own store, and the database holds claims, not jobs, so a NOTIFY would tell a host
//! nothing it needs in order to wake on time.

mod coordinator;
mod pace;
mod schema;
mod settings;
mod share;

use cronhost_provider_api::{
    export_provider, Host, LogLevel, Provider, ProviderConfig, ProviderError, StartOptions, Stop,
};
use serde_json::json;
use std::time::Duration;

use coordinator::{connect, Coordinator};
use pace::{Pace, Source};
use settings::Settings;

/// How many cluster runs `status` reports.
const STATUS_RUNS: i64 = 500;

/// The provider.
pub struct PostgresProvider {
    settings: Settings,
    member: String,
}

impl Provider for PostgresProvider {
    const NAME: &'static str = "postgres";
    const DESCRIPTION: &'static str =
        "several hosts share one job set through PostgreSQL; each occurrence runs exactly once";

    fn new(config: ProviderConfig) -> Result<Self, ProviderError> {
        let settings = Settings::from_config(&config)?;
        let member = settings.member_name();
        Ok(Self { settings, member })
    }

    /// Available exactly when a url is configured; never touches the network.
    fn is_available(&self) -> bool {
        !self.settings.url.trim().is_empty()
    }

    fn start(&self, host: Host, stop: Stop, options: StartOptions) -> Result<(), ProviderError> {
        host.log(
            LogLevel::Info,
            &format!(
                "postgres provider: cluster `{}`, member `{}`, lease {}s, on_db_down {:?}",
                self.settings.cluster,
                self.member,
                self.settings.lease_secs,
                self.settings.on_db_down
            ),
        );
        host.record_heartbeat(false, None);
        let mut coordinator =
            Coordinator::new(self.settings.clone(), self.member.clone(), host.clone());
        // The heartbeat must come at least once per tick interval, whatever `poll_ms` says.
        let beat = Duration::from_millis(options.tick_interval_ms.max(1));
        let mut pace = Pace::new(self.settings.poll().min(beat));
        let mut said_cadence = false;
        while !stop.is_set() {
            let scanned = match coordinator.cycle() {
                Ok(()) => {
                    host.record_heartbeat(true, None);
                    true
                }
                Err(error) => {
                    host.log(LogLevel::Error, &error);
                    host.record_heartbeat(false, Some(&error));
                    false
                }
            };
            // Sleep until the next occurrence is due (the host nudges `stop` when the job set
            // changes, which ends the wait early), at most `poll_ms`.
            let (wait, source) = pace.wait(scanned, host.next_due_in());
            if source == Source::NotOffered && !said_cadence {
                host.log(
                    LogLevel::Info,
                    &format!(
                        "this host predates API 1.2 and cannot say when the next job is due: scanning every {} ms",
                        self.settings.poll().min(beat).as_millis()
                    ),
                );
                said_cadence = true;
            }
            stop.wait(wait.min(coordinator.longest_sleep()));
        }
        coordinator.leave();
        Ok(())
    }

    /// The cluster as the database sees it: members with their heartbeat ages, and the latest
    /// runs with the member that ran each.
    fn status(&self) -> Result<Option<serde_json::Value>, ProviderError> {
        let mut client = connect(&self.settings.url).map_err(ProviderError::new)?;
        let members = client
            .query(
                "SELECT member, pid, version, extract(epoch FROM now() - last_seen)::float8
                 FROM cronhost.members WHERE cluster = $1 ORDER BY member",
                &[&self.settings.cluster],
            )
            .map_err(|e| ProviderError::new(e.to_string()))?;
        let runs = client
            .query(
                "SELECT job_id, scheduled_at, member, status, started_at, finished_at, exit_code, error
                 FROM cronhost.claims WHERE cluster = $1 ORDER BY scheduled_at DESC, job_id LIMIT $2",
                &[&self.settings.cluster, &STATUS_RUNS],
            )
            .map_err(|e| ProviderError::new(e.to_string()))?;
        Ok(Some(json!({
            "cluster": self.settings.cluster,
            "members": members.iter().map(|row| json!({
                "member": row.get::<_, String>(0),
                "pid": row.get::<_, i32>(1),
                "version": row.get::<_, String>(2),
                "last_seen_age_secs": row.get::<_, f64>(3),
            })).collect::<Vec<_>>(),
            "runs": runs.iter().map(|row| json!({
                "job_id": row.get::<_, String>(0),
                "scheduled_at_ms": row.get::<_, i64>(1),
                "member": row.get::<_, String>(2),
                "status": row.get::<_, String>(3),
                "started_at_ms": row.get::<_, Option<i64>>(4),
                "finished_at_ms": row.get::<_, Option<i64>>(5),
                "exit_code": row.get::<_, Option<i32>>(6),
                "error": row.get::<_, Option<String>>(7),
            })).collect::<Vec<_>>(),
        })))
    }
}

export_provider!(PostgresProvider);
