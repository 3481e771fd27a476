//! The schema and its migrations, versioned with `PRAGMA user_version`.

use rusqlite::Transaction;

use super::{sql, StoreError};

/// The schema version this build writes.
pub const VERSION: i64 = 3;

/// Each migration takes the schema from version `index` to `index + 1`.
const MIGRATIONS: [&str; 3] = [
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
