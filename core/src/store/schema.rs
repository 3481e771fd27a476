//! The schema and its migrations, versioned with `PRAGMA user_version`.

use rusqlite::Transaction;

use super::{sql, StoreError};

/// The schema version this build writes.
pub const VERSION: i64 = 8;

/// Each migration takes the schema from version `index` to `index + 1`.
const MIGRATIONS: [&str; 8] = [
    r#"
CREATE TABLE sequence (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO sequence (name, value) VALUES ('job', 0);
CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    name_key        TEXT NOT NULL UNIQUE,
    command         TEXT NOT NULL,
    shell           INTEGER NOT NULL DEFAULT 0,
    workdir         TEXT,
    env             TEXT NOT NULL DEFAULT '{}',
    schedule_text   TEXT NOT NULL,
    schedule        TEXT NOT NULL,
    timezone        TEXT NOT NULL,
    repeat_limit    INTEGER,
    completed_count INTEGER NOT NULL DEFAULT 0,
    enabled         INTEGER NOT NULL DEFAULT 1,
    paused_at       INTEGER,
    pause_reason    TEXT,
    next_run        INTEGER,
    last_run        INTEGER,
    last_status     TEXT,
    last_error      TEXT,
    failure_streak  INTEGER NOT NULL DEFAULT 0,
    timeout_secs    INTEGER,
    catch_up        TEXT NOT NULL,
    overlap         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    completed_at    INTEGER
);
CREATE INDEX jobs_due ON jobs (next_run) WHERE next_run IS NOT NULL;
CREATE TABLE runs (
    id           TEXT PRIMARY KEY,
    job_id       TEXT NOT NULL,
    scheduled_at INTEGER NOT NULL,
    claimed_at   INTEGER NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER,
    status       TEXT NOT NULL,
    reason       TEXT,
    exit_code    INTEGER,
    error        TEXT,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    child_pid    INTEGER,
    lateness_ms  INTEGER,
    UNIQUE (job_id, scheduled_at)
);
CREATE INDEX runs_by_job ON runs (job_id, scheduled_at);
CREATE INDEX runs_open ON runs (status) WHERE status IN ('claimed', 'running', 'queued');
"#,
    r#"
-- Version 2: the claim's "is a run of this job still going" lookups used runs_by_job and read
-- every run the job ever had (a claim took 2 ms after 20,000 runs); the partial runs_open index
-- was never chosen, because a query's IN list must match the index's exactly.
CREATE INDEX runs_by_job_status ON runs (job_id, status);
DROP INDEX runs_open;
CREATE INDEX runs_by_status ON runs (status);
"#,
    r#"
-- Version 3: bounded run history. A job's own retention (NULL: the host's cron.run_retention
-- and cron.run_retention_days), and per job the newest scheduled instant whose run row was
-- pruned: every occurrence up to it counts as claimed, as its row did (see store/history.rs).
-- The table outlives the job, as its runs do, so a job imported again under its id cannot
-- run a pruned occurrence a second time.
ALTER TABLE jobs ADD COLUMN run_retention INTEGER;
ALTER TABLE jobs ADD COLUMN run_retention_days INTEGER;
CREATE TABLE pruned_runs (job_id TEXT PRIMARY KEY, through INTEGER NOT NULL) WITHOUT ROWID;
-- runs_by_job was the same index as the one UNIQUE (job_id, scheduled_at) makes; every run
-- inserted and pruned paid for both.
DROP INDEX runs_by_job;
"#,
    r#"
-- Version 4: retries, jitter and the failure hook. A job's pending retry (its instant, its
-- attempt number and the occurrence it retries) lives on the job row, so the due scan finds
-- it as it finds the next run; each attempt is a run of its own, keyed by its own instant.
ALTER TABLE jobs ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN retry_delay_secs INTEGER NOT NULL DEFAULT 10;
ALTER TABLE jobs ADD COLUMN jitter_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN on_failure TEXT;
ALTER TABLE jobs ADD COLUMN retry_at INTEGER;
ALTER TABLE jobs ADD COLUMN retry_attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN retry_of INTEGER;
CREATE INDEX jobs_retry ON jobs (retry_at) WHERE retry_at IS NOT NULL;
ALTER TABLE runs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN retry_of INTEGER;
"#,
    r#"
-- Version 5: the job set in id order (ids are `j` and base-36 digits without leading zeros, so
-- shorter ids come first), for `jobs list --limit/--after` pages that each cost one index
-- range however many jobs there are. Ids never change, so a job keeps its place between pages.
CREATE INDEX jobs_in_id_order ON jobs (length(id), id);
-- Housekeeping deletes completed one-shots every minute: through this index it reads only
-- the completed jobs, not every job while holding the write lock.
CREATE INDEX jobs_completed ON jobs (completed_at) WHERE completed_at IS NOT NULL;
"#,
    r#"
-- Version 6: in-process jobs. A job with a handler is run by the handler of that name that the
-- embedding application registered (`Host::handle`), not as a command; its command is empty.
ALTER TABLE jobs ADD COLUMN handler TEXT;
"#,
    r#"
-- Version 7 (open runs index): runs_by_job_status and runs_by_status held every run ever kept,
-- and each claim, start and end rewrote an entry in both. One partial index of the open runs
-- (claimed, running, queued: the only ones any claim decision reads) replaces them: a claim
-- adds one entry, a start moves it, an end removes it, and ended runs (nearly all) cost
-- nothing. A query uses it only when its WHERE has this exact term,
-- `status IN ('claimed', 'running', 'queued')` (store/runs.rs, store/claim.rs; the plans are
-- checked by `open_runs_index_tests`).
DROP INDEX runs_by_job_status;
DROP INDEX runs_by_status;
CREATE INDEX runs_open ON runs (job_id, status) WHERE status IN ('claimed', 'running', 'queued');
"#,
    r#"
-- Version 8 (one key per run): a run's id is `JOB@INSTANT` (store/runs.rs, run_id), the same key
-- as UNIQUE (job_id, scheduled_at), yet it had a unique index of its own (the TEXT PRIMARY
-- KEY). Every claim wrote an entry into both, each on a page of its own: a third of the log
-- pages a claim writes. The table is rebuilt without it; a run is found by its id through the
-- (job, instant) key, which keeps claims exactly once as before.
CREATE TABLE runs_by_key (
    id           TEXT NOT NULL,
    job_id       TEXT NOT NULL,
    scheduled_at INTEGER NOT NULL,
    claimed_at   INTEGER NOT NULL,
    started_at   INTEGER,
    finished_at  INTEGER,
    status       TEXT NOT NULL,
    reason       TEXT,
    exit_code    INTEGER,
    error        TEXT,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    child_pid    INTEGER,
    lateness_ms  INTEGER,
    attempt      INTEGER NOT NULL DEFAULT 0,
    retry_of     INTEGER,
    UNIQUE (job_id, scheduled_at)
);
INSERT INTO runs_by_key (id, job_id, scheduled_at, claimed_at, started_at, finished_at, status,
                         reason, exit_code, error, host, pid, child_pid, lateness_ms, attempt, retry_of)
    SELECT id, job_id, scheduled_at, claimed_at, started_at, finished_at, status,
           reason, exit_code, error, host, pid, child_pid, lateness_ms, attempt, retry_of
    FROM runs ORDER BY rowid;
DROP TABLE runs;
ALTER TABLE runs_by_key RENAME TO runs;
CREATE INDEX runs_open ON runs (job_id, status) WHERE status IN ('claimed', 'running', 'queued');
"#,
];

/// Bring the schema up to [`VERSION`], inside the caller's transaction.
pub fn migrate(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let current: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sql)?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(migration).map_err(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)
            .map_err(sql)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store file at schema `version`, holding the old job `j1` (named `old`) and the
    /// rows `sql` adds, in a directory that lives as long as the returned guard.
    fn store_at_version(version: usize, sql: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cronhost.db");
        let conn = rusqlite::Connection::open(&path).unwrap();
        for migration in &MIGRATIONS[..version] {
            conn.execute_batch(migration).unwrap();
        }
        conn.pragma_update(None, "user_version", version as i64)
            .unwrap();
        conn.execute_batch(
            "INSERT INTO jobs (id, name, name_key, command, schedule_text, schedule, timezone,
                               catch_up, overlap, created_at)
             VALUES ('j1', 'old', 'old', '[\"true\"]', 'every 1s', 'every:1', 'UTC',
                     'once', 'skip', 0);
             UPDATE sequence SET value = 1 WHERE name = 'job';",
        )
        .unwrap();
        conn.execute_batch(sql).unwrap();
        (dir, path)
    }

    /// Every query that reads open runs, as the store writes it (`store/claim.rs`,
    /// `store/runs.rs`): each must find them through `runs_open` (schema 7).
    const OPEN_RUN_QUERIES: [&str; 9] = [
        "SELECT count(*) FILTER (WHERE status IN ('claimed', 'running')), count(*) FILTER (WHERE status = 'queued')
         FROM runs WHERE job_id = ?1 AND status IN ('claimed', 'running', 'queued')",
        "SELECT count(*) FROM runs WHERE status IN ('claimed', 'running', 'queued') AND status IN ('claimed', 'running')",
        "SELECT next_run FROM jobs j INDEXED BY jobs_due WHERE next_run IS NOT NULL AND (next_run > ?1 OR NOT EXISTS (
             SELECT 1 FROM runs r WHERE r.job_id = j.id AND r.status IN ('claimed', 'running', 'queued')
                           AND r.status IN ('claimed', 'running')))
         ORDER BY next_run LIMIT 1",
        "SELECT id FROM runs INDEXED BY runs_open WHERE job_id = ?1 AND status IN ('claimed', 'running', 'queued')
         AND status = 'queued' AND host = ?2 AND pid = ?3
         AND NOT EXISTS (SELECT 1 FROM runs WHERE job_id = ?1 AND status IN ('claimed', 'running', 'queued')
                         AND status IN ('claimed', 'running'))
         ORDER BY scheduled_at LIMIT 1",
        "SELECT DISTINCT q.job_id FROM runs q WHERE q.status IN ('claimed', 'running', 'queued')
         AND q.status = 'queued' AND q.host = ?1 AND q.pid = ?2
         AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.job_id = q.job_id AND r.status IN ('claimed', 'running', 'queued')
                         AND r.status IN ('claimed', 'running'))",
        "SELECT count(*) FROM runs WHERE status IN ('claimed', 'running', 'queued') AND status = 'queued' AND host = ?1 AND pid = ?2",
        "UPDATE runs SET pid = ?3 WHERE status IN ('claimed', 'running', 'queued') AND status = 'queued' AND host = ?1 AND pid = ?2",
        "SELECT id FROM runs WHERE status IN ('claimed', 'running', 'queued')",
        "SELECT 1 FROM runs WHERE job_id = ?1 AND status IN ('claimed', 'running', 'queued') AND status IN ('claimed', 'running')",
    ];

    /// A new store, migrated, and a plain connection to it.
    fn fresh_store() -> (tempfile::TempDir, rusqlite::Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cronhost.db");
        drop(super::super::Store::open(&path).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        (dir, conn)
    }

    /// The names of the runs' indexes that `which` selects (`sql IS NULL`: the keys SQLite
    /// made for UNIQUE and PRIMARY KEY; `sql IS NOT NULL`: the indexes the schema created).
    fn runs_indexes(conn: &rusqlite::Connection, which: &str) -> Vec<String> {
        conn.prepare(&format!(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'runs' AND {which}"
        ))
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    /// The steps of `query`'s plan, its parameters unbound.
    fn query_plan(conn: &rusqlite::Connection, query: &str) -> Vec<String> {
        let mut explain = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
            .unwrap();
        let unbound = vec![rusqlite::types::Null; explain.parameter_count()];
        explain
            .query_map(rusqlite::params_from_iter(unbound), |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn every_query_of_open_runs_reads_the_open_runs_index_and_never_scans_the_runs() {
        let (_dir, conn) = fresh_store();
        assert_eq!(
            runs_indexes(&conn, "sql IS NOT NULL"),
            ["runs_open"],
            "the runs' own indexes (besides their keys)"
        );
        for query in OPEN_RUN_QUERIES {
            let plan = query_plan(&conn, query);
            assert!(
                plan.iter().any(|step| step.contains("runs_open")),
                "{query}: {plan:?}"
            );
            // Every step that reads runs (as `runs`, `q` or `r`) reads them through it.
            let reads_runs = |step: &&String| {
                (step.starts_with("SCAN") || step.starts_with("SEARCH"))
                    && [" runs", " q ", " r "].iter().any(|t| step.contains(t))
            };
            assert!(
                plan.iter()
                    .filter(reads_runs)
                    .all(|step| step.contains("runs_open")),
                "{query}: {plan:?}"
            );
        }
    }

    #[test]
    fn a_run_has_one_key_and_is_found_by_its_id_through_it() {
        let (_dir, conn) = fresh_store();
        // Schema 8: the (job, instant) key only; the id had a second unique index before.
        let keys = runs_indexes(&conn, "sql IS NULL");
        assert_eq!(keys.len(), 1, "{keys:?}");
        let plan = query_plan(
            &conn,
            "SELECT * FROM runs WHERE job_id = ?1 AND scheduled_at = ?2",
        );
        assert!(
            plan.iter()
                .any(|step| step.starts_with("SEARCH runs USING INDEX") && step.contains(&keys[0])),
            "{plan:?}"
        );
    }

    #[test]
    fn a_version_7_store_keeps_its_runs_findable_by_id_and_claimed_once() {
        let (_dir, path) = store_at_version(
            7,
            "INSERT INTO runs (id, job_id, scheduled_at, claimed_at, finished_at, status, host, pid, attempt)
             VALUES ('j1@1000', 'j1', 1000, 1000, 1000, 'failed', 'h', 1, 0),
             ('j1@2000', 'j1', 2000, 2000, NULL, 'running', 'h', 1, 0);
             UPDATE jobs SET next_run = 2000 WHERE id = 'j1';",
        );
        let store = super::super::Store::open(&path).unwrap();
        let old = store.run("j1@1000").unwrap().expect("the ended run");
        assert_eq!(
            (old.status, old.job_id.as_str()),
            (super::super::RunStatus::Failed, "j1")
        );
        assert_eq!(store.runs(Some("j1"), 10).unwrap().len(), 2);
        // The occurrence at 2000 has its run: claiming it again is refused by the key.
        let at = super::super::from_ms(2000);
        let claimer = super::super::Claimer {
            host: "h".into(),
            pid: 2,
            max_parallel: 0,
        };
        let claimed = store
            .claim_occurrence("j1", at, at + chrono::Duration::seconds(1), &claimer)
            .unwrap();
        assert!(
            !matches!(claimed, super::super::ClaimOutcome::Run(_)),
            "{claimed:?}"
        );
        // Its end is recorded through the id.
        store
            .finish_run(
                "j1@2000",
                super::super::RunStatus::Succeeded,
                Some(0),
                None,
                at,
            )
            .unwrap();
        let ended = store.run("j1@2000").unwrap().expect("the run");
        assert_eq!(ended.status, super::super::RunStatus::Succeeded);
        assert_eq!(
            store.job("j1").unwrap().last_status,
            Some(super::super::RunStatus::Succeeded)
        );
    }

    #[test]
    fn a_version_5_store_keeps_its_open_runs_findable_through_the_new_index() {
        let (_dir, path) = store_at_version(
            5,
            "INSERT INTO runs (id, job_id, scheduled_at, claimed_at, finished_at, status, host, pid)
             VALUES ('j1@1000', 'j1', 1000, 1000, 1000, 'succeeded', 'h', 1),
             ('j1@2000', 'j1', 2000, 2000, NULL, 'running', 'h', 1);",
        );
        let store = super::super::Store::open(&path).unwrap();
        let settled = store
            .settle_orphaned_runs(|_| false, chrono::Utc::now())
            .unwrap();
        let ids: Vec<&str> = settled.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["j1@2000"], "only the open run is settled");
        assert_eq!(store.runs(Some("j1"), 10).unwrap().len(), 2);
    }

    #[test]
    fn a_version_2_store_gains_run_retention_and_keeps_its_jobs_and_runs() {
        let (_dir, path) = store_at_version(
            2,
            "INSERT INTO runs (id, job_id, scheduled_at, claimed_at, finished_at, status, host, pid)
             VALUES ('j1@1000', 'j1', 1000, 1000, 1000, 'succeeded', 'h', 1),
             ('j1@2000', 'j1', 2000, 2000, 2000, 'succeeded', 'h', 1);",
        );
        let store = super::super::Store::open(&path).unwrap();
        let job = store.job("old").unwrap();
        assert_eq!((job.run_retention, job.run_retention_days), (None, None));
        let now = chrono::Utc::now();
        let defaults = super::super::RunRetention::new(1, 0);
        let prunable = store.prunable_runs("j1", defaults, now, 10).unwrap();
        assert_eq!(prunable.runs().len(), 1);
        assert_eq!(store.delete_runs(&prunable).unwrap(), 1);
        assert_eq!(store.runs(Some("j1"), 10).unwrap().len(), 1);
    }

    #[test]
    fn a_version_5_store_gains_handlers_and_its_jobs_still_run_their_commands() {
        let (_dir, path) = store_at_version(5, "");
        let store = super::super::Store::open(&path).unwrap();
        let job = store.job("old").unwrap();
        assert_eq!((job.handler, job.command), (None, vec!["true".to_owned()]));
        let spec = super::super::JobSpec::handled_by("every 1m", "greet");
        let added = store.add_job(&spec, "UTC", chrono::Utc::now()).unwrap();
        assert_eq!(added.handler.as_deref(), Some("greet"));
    }
}
