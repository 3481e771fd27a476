//! The coordinator: each scan, claim this host's due occurrences in PostgreSQL and fire only
//! those it won; skip the ones another member won; then keep the membership row fresh, expire
//! dead members' leases, renew its own and write outcomes back; ride out a database outage.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use cronhost_provider_api::{FireOutcome, Host, HostError, LogLevel};
use postgres::Client;

use crate::settings::{OnDbDown, Settings};
use crate::share::{split, Place};

/// How often the `local` fallback repeats its warning.
const LOCAL_WARNING_EVERY: Duration = Duration::from_secs(10);

/// The longest time between two rounds of membership upkeep (the member row, the sweep of
/// expired leases, this member's lease renewals): far less often than a scan runs (every due
/// instant and every `poll_ms`).
const MAX_UPKEEP_EVERY: Duration = Duration::from_secs(1);

/// How long apart the membership upkeep runs for a lease of `lease_secs`: a quarter of the
/// lease, at most [`MAX_UPKEEP_EVERY`]. While runs are in flight the provider wakes at least
/// that often ([`Coordinator::longest_sleep`]), so their leases are renewed about four times
/// in a lease.
fn upkeep_every(lease_secs: u64) -> Duration {
    (Duration::from_secs(lease_secs) / 4).min(MAX_UPKEEP_EVERY)
}

/// Connect with a bounded wait.
pub fn connect(url: &str) -> Result<Client, String> {
    let mut config: postgres::Config = url.parse().map_err(|e| format!("invalid url: {e}"))?;
    config.connect_timeout(Duration::from_secs(3));
    config.application_name("cronhost");
    // A database that stops answering (packets dropped, not refused) must surface as an error
    // within seconds, not after the kernel's retransmission timeout: bound unacknowledged data
    // and probe idle connections.
    config.tcp_user_timeout(Duration::from_secs(10));
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(5));
    config.keepalives_interval(Duration::from_secs(2));
    config.keepalives_retries(3);
    config.connect(postgres::NoTls).map_err(|e| e.to_string())
}

/// The member holding an occurrence's claim, and the claim's status.
type Holder = (String, String);

/// An occurrence this host claimed and fired, whose outcome is still to be written back.
struct InFlight {
    job_id: String,
    scheduled_at: i64,
}

/// The state of one running provider.
pub struct Coordinator {
    settings: Settings,
    member: String,
    host: Host,
    client: Option<Client>,
    inflight: Vec<InFlight>,
    last_local_warning: Option<Instant>,
    down_since: Option<Instant>,
    place: Place,
    /// When the membership upkeep last went through on the current connection.
    upkept_at: Option<Instant>,
}

impl Coordinator {
    /// A coordinator for `member`, not yet connected.
    pub fn new(settings: Settings, member: String, host: Host) -> Self {
        Self {
            settings,
            member,
            host,
            client: None,
            inflight: Vec::new(),
            last_local_warning: None,
            down_since: None,
            place: Place::default(),
            upkept_at: None,
        }
    }

    /// One scan. `Err` carries what went wrong, for the heartbeat (the ticker stays alive).
    pub fn cycle(&mut self) -> Result<(), String> {
        if self.client.is_none() {
            match connect(&self.settings.url).and_then(|mut client| {
                crate::schema::migrate(&mut client).map_err(|e| e.to_string())?;
                Ok(client)
            }) {
                Ok(client) => {
                    self.host.log(
                        LogLevel::Info,
                        &format!(
                            "connected to the database: cluster `{}` as member `{}`",
                            self.settings.cluster, self.member
                        ),
                    );
                    self.client = Some(client);
                    self.upkept_at = None;
                }
                Err(error) => return self.database_down(&error),
            }
        }
        match self.coordinate() {
            Ok(()) => {
                self.down_since = None;
                Ok(())
            }
            Err(error) => {
                // Drop the connection; the next scan reconnects.
                self.client = None;
                self.database_down(&error.to_string())
            }
        }
    }

    fn database_down(&mut self, error: &str) -> Result<(), String> {
        let since = *self.down_since.get_or_insert_with(Instant::now);
        // `local` only once the database has stayed away for a lease: a dropped connection that
        // comes straight back must not make this host fire occurrences others already won.
        let local_now = self.settings.on_db_down == OnDbDown::Local
            && since.elapsed() >= Duration::from_secs(self.settings.lease_secs);
        match local_now {
            false => Err(format!(
                "database unreachable ({error}); paused: no job runs without a claim"
            )),
            true => {
                if self
                    .last_local_warning
                    .is_none_or(|at| at.elapsed() >= LOCAL_WARNING_EVERY)
                {
                    self.host.log(
                        LogLevel::Warn,
                        &format!(
                            "DATABASE UNREACHABLE ({error}): firing on this host alone, without claims (on_db_down = \"local\"); other members may run the same occurrences"
                        ),
                    );
                    self.last_local_warning = Some(Instant::now());
                }
                self.host.tick().map_err(|e| e.to_string())?;
                Err(format!(
                    "database unreachable ({error}); firing locally without claims"
                ))
            }
        }
    }

    /// How long the provider may sleep before the next scan, whatever is due: while runs of
    /// this member are in flight, their leases need renewing every [`upkeep_every`].
    pub fn longest_sleep(&self) -> Duration {
        match self.inflight.is_empty() {
            true => Duration::MAX,
            false => upkeep_every(self.settings.lease_secs),
        }
    }

    /// Claims first, so that firing waits on nothing else; then the membership upkeep on its
    /// own slower cadence ([`upkeep_every`]), which renews the leases of the runs just fired
    /// before the lost occurrences are moved past; then the outcomes, at every scan.
    fn coordinate(&mut self) -> Result<(), postgres::Error> {
        let lost = self.claim_due()?;
        let every = upkeep_every(self.settings.lease_secs);
        if self.upkept_at.is_none_or(|at| at.elapsed() >= every) {
            self.keep_membership()?;
            self.upkept_at = Some(Instant::now());
        }
        self.move_past(lost)?;
        self.write_back_outcomes()
    }

    /// Claim this host's due occurrences and fire the ones won: first this member's share
    /// (`share.rs`) in one statement, fire what it won, then the rest in another. One statement
    /// per batch is one commit (one WAL flush) however many occurrences are due at once, and
    /// the shares spread the firing over the members. Returns the occurrences lost to another
    /// member, moved past ([`Coordinator::move_past`]) after every won one has been fired, so
    /// losing costs the winners nothing.
    fn claim_due(&mut self) -> Result<Vec<(String, i64)>, postgres::Error> {
        let due = self.host.due_occurrences().unwrap_or_else(|e| {
            self.host.log(LogLevel::Error, &e.to_string());
            Vec::new()
        });
        let (mine, rest) = split(due, self.place);
        let mut lost = Vec::new();
        for batch in [mine, rest] {
            let won = self.claim(&batch)?;
            let (won, not_won): (Vec<_>, Vec<_>) = batch
                .into_iter()
                .partition(|occurrence| won.contains(occurrence));
            self.fire_won(&won)?;
            lost.extend(not_won);
        }
        Ok(lost)
    }

    /// Move past the occurrences this member did not win: each is recorded here as skipped,
    /// naming the member that holds it; one whose claim turns out to be ours after all (the
    /// reply to our insert was lost) is fired.
    fn move_past(&mut self, lost: Vec<(String, i64)>) -> Result<(), postgres::Error> {
        let holders = self.holders(&lost)?;
        let member = self.member.clone();
        // Our own claim whose reply was lost (the connection dropped after the insert) is
        // ours to run; the rest another member holds, or nobody any more.
        let (ours, theirs): (Vec<_>, Vec<_>) = lost.into_iter().partition(|occurrence| {
            holders
                .get(occurrence)
                .is_some_and(|(owner, status)| *owner == member && status == "claimed")
        });
        self.fire_won(&ours)?;
        for (job_id, at) in theirs {
            let owner = holders
                .get(&(job_id.clone(), at))
                .map_or("(unknown)", |(owner, _)| owner.as_str());
            let reason = format!("claimed by member {owner}");
            if let Err(e) = self.host.skip_occurrence(&job_id, at, &reason) {
                self.host.log(LogLevel::Warn, &format!("job {job_id}: {e}"));
            }
        }
        Ok(())
    }

    /// Who holds the claim of each of `occurrences`, and in what status: one statement.
    fn holders(
        &mut self,
        occurrences: &[(String, i64)],
    ) -> Result<HashMap<(String, i64), Holder>, postgres::Error> {
        if occurrences.is_empty() {
            return Ok(HashMap::new());
        }
        let (jobs, instants): (Vec<&str>, Vec<i64>) = occurrences
            .iter()
            .map(|(job, at)| (job.as_str(), *at))
            .unzip();
        let client = self.client.as_mut().expect("connected");
        let rows = client.query(
            "SELECT job_id, scheduled_at, member, status FROM cronhost.claims
             WHERE cluster = $1
             AND (job_id, scheduled_at) IN (SELECT * FROM unnest($2::text[], $3::bigint[]))",
            &[&self.settings.cluster, &jobs, &instants],
        )?;
        Ok(rows
            .iter()
            .map(|row| ((row.get(0), row.get(1)), (row.get(2), row.get(3))))
            .collect())
    }

    /// Insert the claims of `batch` (in its order: every member inserts in the same order, so
    /// two batches never wait on each other in a cycle) in one statement; the ones inserted
    /// are won.
    fn claim(
        &mut self,
        batch: &[(String, i64)],
    ) -> Result<std::collections::HashSet<(String, i64)>, postgres::Error> {
        if batch.is_empty() {
            return Ok(Default::default());
        }
        let (jobs, instants): (Vec<&str>, Vec<i64>) =
            batch.iter().map(|(job, at)| (job.as_str(), *at)).unzip();
        let client = self.client.as_mut().expect("connected");
        let rows = client.query(
            "INSERT INTO cronhost.claims (cluster, job_id, scheduled_at, member, lease_until, status)
             SELECT $1, d.job_id, d.scheduled_at, $2, now() + make_interval(secs => $3), 'claimed'
             FROM unnest($4::text[], $5::bigint[]) WITH ORDINALITY AS d(job_id, scheduled_at, n)
             ORDER BY d.n
             ON CONFLICT DO NOTHING
             RETURNING job_id, scheduled_at",
            &[
                &self.settings.cluster,
                &self.member,
                &(self.settings.lease_secs as f64),
                &jobs,
                &instants,
            ],
        )?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    /// Fire the occurrences whose claims this member won, in one call to the host (which
    /// claims them locally in shared transactions and starts them side by side), and settle
    /// each claim by its outcome. The runs that started are in flight before any statement
    /// runs, so a statement that fails never loses one; a failure that may hide a run
    /// started here (a call that failed part way, an answer lost) never gives a claim back
    /// while this host has a run of it.
    fn fire_won(&mut self, won: &[(String, i64)]) -> Result<(), postgres::Error> {
        if won.is_empty() {
            return Ok(());
        }
        let outcomes = match self.host.fire_occurrences(won) {
            Ok(outcomes) => outcomes,
            Err(e) => won.iter().map(|_| Err(e.clone())).collect(),
        };
        let outcomes: Vec<_> = won
            .iter()
            .zip(outcomes)
            .map(|((job_id, at), outcome)| match outcome {
                Err(e) if self.ran_here(job_id, *at) => {
                    self.host.log(
                        LogLevel::Warn,
                        &format!("job {job_id}: {e}; it has a run here, so its claim is kept"),
                    );
                    Ok(FireOutcome::Fired)
                }
                // Not due here because it ran here already (fired locally while the database
                // was away, say): the claim is its, and the run's outcome goes back.
                Ok(FireOutcome::ClaimLost) if self.ran_here(job_id, *at) => Ok(FireOutcome::Fired),
                other => other,
            })
            .collect();
        for ((job_id, at), outcome) in won.iter().zip(&outcomes) {
            if let Ok(FireOutcome::Fired) = outcome {
                self.inflight.push(InFlight {
                    job_id: job_id.clone(),
                    scheduled_at: *at,
                });
            }
        }
        for ((job_id, at), outcome) in won.iter().zip(outcomes) {
            self.settle_fired(job_id, *at, outcome)?;
        }
        Ok(())
    }

    /// Whether this host has a run of the occurrence; when it cannot tell, it says yes: a
    /// claim kept by mistake ends as `lost`, one given back by mistake could run twice.
    fn ran_here(&self, job_id: &str, at: i64) -> bool {
        !matches!(self.host.run_report(job_id, at), Ok(None))
    }

    /// Settle the claim of an occurrence this member tried to fire by what that came to.
    fn settle_fired(
        &mut self,
        job_id: &str,
        at: i64,
        outcome: Result<FireOutcome, HostError>,
    ) -> Result<(), postgres::Error> {
        let cluster = self.settings.cluster.clone();
        let member = self.member.clone();
        let client = self.client.as_mut().expect("connected");
        let settle = |client: &mut Client, status: &str, error: &str| {
            client.execute(
                "UPDATE cronhost.claims SET status = $4, error = $5
                 WHERE cluster = $1 AND job_id = $2 AND scheduled_at = $3",
                &[&cluster, &job_id, &at, &status, &error],
            )
        };
        let release = |client: &mut Client| {
            client.execute(
                "DELETE FROM cronhost.claims WHERE cluster = $1 AND job_id = $2 AND scheduled_at = $3 AND member = $4",
                &[&cluster, &job_id, &at, &member],
            )
        };
        match outcome {
            // In flight already (`fire_won`); its outcome is written back when it ends.
            Ok(FireOutcome::Fired) => {}
            Ok(FireOutcome::Skipped) => {
                settle(
                    client,
                    "skipped",
                    &format!("skipped on member {member} by the job's overlap policy"),
                )?;
            }
            Ok(FireOutcome::NoSuchJob) => {
                self.host.log(
                    LogLevel::Warn,
                    &format!(
                        "job {job_id} is unknown on this host; its claim is recorded as skipped"
                    ),
                );
                settle(
                    client,
                    "skipped",
                    &format!("job unknown on member {member}"),
                )?;
            }
            // Not due here after all, or the local claim failed: give the occurrence back so
            // a later scan (here or elsewhere) can run it.
            Ok(FireOutcome::ClaimLost) => {
                release(client)?;
            }
            Err(e) => {
                self.host.log(
                    LogLevel::Warn,
                    &format!("job {job_id}: {e}; the claim is released"),
                );
                release(client)?;
            }
        }
        Ok(())
    }

    /// Keep the membership row fresh, mark the runs of members whose leases expired as lost,
    /// and renew the leases of this process's runs in flight.
    fn keep_membership(&mut self) -> Result<(), postgres::Error> {
        let cluster = self.settings.cluster.clone();
        let member = self.member.clone();
        let lease = self.settings.lease_secs as f64;
        let client = self.client.as_mut().expect("connected");
        client.execute(
            "INSERT INTO cronhost.members (cluster, member, pid, version) VALUES ($1, $2, $3, $4)
             ON CONFLICT (cluster, member) DO UPDATE SET last_seen = now(), pid = EXCLUDED.pid, version = EXCLUDED.version",
            &[&cluster, &member, &(std::process::id() as i32), &env!("CARGO_PKG_VERSION")],
        )?;
        // A member that stopped renewing its leases is gone: its runs are lost, never re-run.
        for row in client.query(
            "UPDATE cronhost.claims SET status = 'lost',
                    error = 'lease expired: member ' || member || ' stopped renewing it (it died or lost the database mid-run)'
             WHERE cluster = $1 AND status IN ('claimed', 'queued', 'running') AND lease_until < now()
             RETURNING job_id, scheduled_at, member",
            &[&cluster],
        )? {
            let (job_id, at, owner): (String, i64, String) = (row.get(0), row.get(1), row.get(2));
            self.host.log(
                LogLevel::Warn,
                &format!("run of job {job_id} scheduled at {at} on member {owner} is lost: its lease expired"),
            );
        }
        // The live members, for dealing out the next scan's occurrences.
        let members: Vec<String> = client
            .query(
                "SELECT member FROM cronhost.members
                 WHERE cluster = $1 AND last_seen > now() - make_interval(secs => $2)
                 ORDER BY member",
                &[&cluster, &lease],
            )?
            .iter()
            .map(|row| row.get(0))
            .collect();
        self.place = Place::among(&members, &member);
        // Renew exactly the claims this process has in flight (not every claim bearing its
        // member name, which a restarted or namesake member would keep alive forever).
        let (jobs, instants): (Vec<&str>, Vec<i64>) = self
            .inflight
            .iter()
            .map(|run| (run.job_id.as_str(), run.scheduled_at))
            .unzip();
        client.execute(
            "UPDATE cronhost.claims SET lease_until = now() + make_interval(secs => $3)
             WHERE cluster = $1 AND member = $2 AND status IN ('claimed', 'queued', 'running')
             AND (job_id, scheduled_at) IN (SELECT * FROM unnest($4::text[], $5::bigint[]))",
            &[&cluster, &member, &lease, &jobs, &instants],
        )?;
        Ok(())
    }

    /// Copy the outcome of this host's in-flight runs into PostgreSQL.
    fn write_back_outcomes(&mut self) -> Result<(), postgres::Error> {
        let cluster = self.settings.cluster.clone();
        // A member cut off past its lease had its runs marked lost; it may still correct them
        // with what really happened (they were never re-run elsewhere).
        let member = self.member.clone();
        let client = self.client.as_mut().expect("connected");
        let mut still = Vec::new();
        for run in std::mem::take(&mut self.inflight) {
            let report = match self.host.run_report(&run.job_id, run.scheduled_at) {
                Ok(Some(report)) => report,
                Ok(None) => continue,
                Err(e) => {
                    self.host.log(LogLevel::Warn, &e.to_string());
                    still.push(run);
                    continue;
                }
            };
            let status = report.status.as_str();
            let error = Some(report.error.as_str()).filter(|e| !e.is_empty());
            client.execute(
                "UPDATE cronhost.claims SET status = $4, started_at = $5, finished_at = $6, exit_code = $7, error = $8
                 WHERE cluster = $1 AND job_id = $2 AND scheduled_at = $3
                 AND (status IN ('claimed', 'queued', 'running') OR (status = 'lost' AND member = $9))",
                &[
                    &cluster,
                    &run.job_id,
                    &run.scheduled_at,
                    &status,
                    &report.started_at_ms.into_option(),
                    &report.finished_at_ms.into_option(),
                    &report.exit_code.into_option(),
                    &error,
                    &member,
                ],
            )?;
            if matches!(status, "claimed" | "queued" | "running") {
                still.push(run);
            }
        }
        self.inflight = still;
        Ok(())
    }

    /// Leave the cluster cleanly (the member row goes; claims stay as history).
    /// Runs still going get a moment (half a lease, at most 5 s) to finish so their outcomes
    /// reach the database.
    pub fn leave(&mut self) {
        let patience =
            Duration::from_secs(self.settings.lease_secs).min(Duration::from_secs(10)) / 2;
        let until = Instant::now() + patience;
        while !self.inflight.is_empty() && Instant::now() < until && self.client.is_some() {
            if self.write_back_outcomes().is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.write_back_outcomes();
        if let Some(client) = self.client.as_mut() {
            let _ = client.execute(
                "DELETE FROM cronhost.members WHERE cluster = $1 AND member = $2",
                &[&self.settings.cluster, &self.member],
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cronhost_e2e::postgres::{database_url, unique_cluster};
    use cronhost_provider_api::abi_stable::sabi_trait::TD_Opaque;
    use cronhost_provider_api::abi_stable::std_types::{
        RArc, RErr, RNone, ROk, ROption, RResult, RSlice, RSome, RStr, RString, RVec,
    };
    use cronhost_provider_api::ffi::{HostServices, HostServices_TO, Occurrence, RunReport};
    use cronhost_provider_api::{ProviderConfig, TickReport};

    /// A host with one due occurrence whose batch call fails as a whole, as one does when the
    /// host panicked or the answer was lost part way; `ran` says whether the occurrence's run
    /// had started here all the same.
    #[derive(Clone)]
    struct FailingBatch {
        ran: bool,
    }

    impl HostServices for FailingBatch {
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
        fn due_occurrences(&self) -> RResult<RVec<Occurrence>, RString> {
            let due = Occurrence {
                job_id: "jbatch".into(),
                scheduled_at_ms: 1_000,
            };
            ROk(vec![due].into())
        }
        fn fire_occurrences(
            &self,
            _occurrences: RSlice<'_, Occurrence>,
        ) -> RResult<RVec<RResult<FireOutcome, RString>>, RString> {
            RErr("host fire_occurrences panicked: boom".into())
        }
        fn skip_occurrence(
            &self,
            _job_id: RStr<'_>,
            _at: i64,
            _reason: RStr<'_>,
        ) -> RResult<FireOutcome, RString> {
            ROk(FireOutcome::Skipped)
        }
        fn run_report(&self, _job_id: RStr<'_>, _at: i64) -> RResult<ROption<RunReport>, RString> {
            let running = RunReport {
                status: "running".into(),
                exit_code: RNone,
                started_at_ms: RSome(1_001),
                finished_at_ms: RNone,
                error: RString::new(),
            };
            ROk(if self.ran { RSome(running) } else { RNone })
        }
    }

    /// A batch call that failed gives a claim back only when no run of it started here: one
    /// that started stays claimed and in flight (before, every claim of a failed batch was
    /// given back, and another member could run the occurrence a second time).
    #[test]
    fn a_failed_batch_keeps_the_claims_whose_runs_started_here() {
        for ran in [true, false] {
            let cluster = unique_cluster("failed-batch");
            let config = serde_json::json!({ "url": database_url(), "cluster": cluster });
            let config = ProviderConfig::from_json(&config.to_string()).unwrap();
            let settings = Settings::from_config(&config).unwrap();
            let services = HostServices_TO::from_ptr(RArc::new(FailingBatch { ran }), TD_Opaque);
            let mut coordinator =
                Coordinator::new(settings, "member-a".into(), Host::from_ffi(services));
            coordinator.cycle().unwrap();
            let mut client = connect(database_url()).unwrap();
            let claim = client
                .query_opt(
                    "SELECT member, status FROM cronhost.claims
                     WHERE cluster = $1 AND job_id = 'jbatch' AND scheduled_at = 1000",
                    &[&cluster],
                )
                .unwrap()
                .map(|row| (row.get::<_, String>(0), row.get::<_, String>(1)));
            match ran {
                true => {
                    assert_eq!(claim, Some(("member-a".into(), "running".into())));
                    assert_eq!(coordinator.inflight.len(), 1);
                }
                false => {
                    assert_eq!(claim, None, "given back for a later scan to run");
                    assert!(coordinator.inflight.is_empty());
                }
            }
        }
    }

    #[test]
    fn the_upkeep_runs_a_quarter_lease_apart_and_at_most_a_second_apart() {
        assert_eq!(upkeep_every(1), Duration::from_millis(250));
        assert_eq!(upkeep_every(2), Duration::from_millis(500));
        assert_eq!(upkeep_every(4), Duration::from_secs(1));
        assert_eq!(upkeep_every(30), Duration::from_secs(1));
        assert_eq!(upkeep_every(86_400), Duration::from_secs(1));
    }
}
