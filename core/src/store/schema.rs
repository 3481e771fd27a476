//! The schema and its migrations, versioned with `PRAGMA user_version`.

use rusqlite::Transaction;

use super::{sql, StoreError};

/// The schema version this build writes.
pub const VERSION: i64 = 6;

/// Each migration takes the schema from version `index` to `index + 1`.
const MIGRATIONS: [&str; 6] = [
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

    #[test]
    fn a_version_2_store_gains_run_retention_and_keeps_its_jobs_and_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cronhost.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(MIGRATIONS[1]).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute_batch(
                "INSERT INTO jobs (id, name, name_key, command, schedule_text, schedule, timezone,
                                   catch_up, overlap, created_at)
                 VALUES ('j1', 'old', 'old', '[\"true\"]', 'every 1s', 'every:1', 'UTC',
                         'once', 'skip', 0);
                 INSERT INTO runs (id, job_id, scheduled_at, claimed_at, finished_at, status, host, pid)
                 VALUES ('j1@1000', 'j1', 1000, 1000, 1000, 'succeeded', 'h', 1),
                        ('j1@2000', 'j1', 2000, 2000, 2000, 'succeeded', 'h', 1);",
            )
            .unwrap();
        }
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
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cronhost.db");
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            for migration in &MIGRATIONS[..5] {
                conn.execute_batch(migration).unwrap();
            }
            conn.pragma_update(None, "user_version", 5).unwrap();
            conn.execute_batch(
                "INSERT INTO jobs (id, name, name_key, command, schedule_text, schedule, timezone,
                                   catch_up, overlap, created_at)
                 VALUES ('j1', 'old', 'old', '[\"true\"]', 'every 1s', 'every:1', 'UTC',
                         'once', 'skip', 0);
                 UPDATE sequence SET value = 1 WHERE name = 'job';",
            )
            .unwrap();
        }
        let store = super::super::Store::open(&path).unwrap();
        let job = store.job("old").unwrap();
        assert_eq!((job.handler, job.command), (None, vec!["true".to_owned()]));
        let spec = super::super::JobSpec::handled_by("every 1m", "greet");
        let added = store.add_job(&spec, "UTC", chrono::Utc::now()).unwrap();
        assert_eq!(added.handler.as_deref(), Some("greet"));
    }
}
