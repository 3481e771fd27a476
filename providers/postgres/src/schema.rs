//! The schema in PostgreSQL (schema `cronhost`), versioned and migrated under an advisory lock so
//! that hosts starting at once do not trip over each other.

use postgres::Client;

const MIGRATIONS: [&str; 1] = [r#"
CREATE TABLE cronhost.claims (
    cluster      text        NOT NULL,
    job_id       text        NOT NULL,
    scheduled_at bigint      NOT NULL,
    member       text        NOT NULL,
    claimed_at   timestamptz NOT NULL DEFAULT now(),
    lease_until  timestamptz NOT NULL,
    status       text        NOT NULL,
    started_at   bigint,
    finished_at  bigint,
    exit_code    integer,
    error        text,
    PRIMARY KEY (cluster, job_id, scheduled_at)
);
CREATE INDEX claims_open ON cronhost.claims (cluster, lease_until) WHERE status IN ('claimed', 'running');
CREATE INDEX claims_recent ON cronhost.claims (cluster, scheduled_at DESC);
CREATE TABLE cronhost.members (
    cluster    text        NOT NULL,
    member     text        NOT NULL,
    pid        integer     NOT NULL,
    version    text        NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    last_seen  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cluster, member)
);
"#];

/// Create or migrate the schema. Idempotent; concurrent callers serialise on an advisory lock.
pub fn migrate(client: &mut Client) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock(7262816354)", &[])?;
    tx.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS cronhost;
         CREATE TABLE IF NOT EXISTS cronhost.schema_version (version integer NOT NULL);",
    )?;
    let current: i32 = tx
        .query_opt("SELECT version FROM cronhost.schema_version", &[])?
        .map(|row| row.get(0))
        .unwrap_or(0);
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.batch_execute(migration)?;
        let version = index as i32 + 1;
        tx.execute("DELETE FROM cronhost.schema_version", &[])?;
        tx.execute(
            "INSERT INTO cronhost.schema_version (version) VALUES ($1)",
            &[&version],
        )?;
    }
    tx.commit()
}
