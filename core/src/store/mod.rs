//! The job store: one SQLite file (`HOME/cron/cronhost.db`, WAL) shared by the daemon and any
//! number of CLI processes. Every mutation is one transaction.

mod batch;
mod checkpoint;
mod claim;
mod edit;
mod export;
mod history;
mod import;
mod jobs;
mod pause;
mod policy;
mod preview;
mod runs;
mod scan;
mod schema;
mod spread;
mod timeline;
mod validate;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

pub use checkpoint::Checkpointed;
pub use claim::{Claim, ClaimOutcome, Claimer};
pub use policy::{ManualRefusal, CATCH_UP_ALL_CAP};

pub use crate::schedule::stable_hash;
pub use edit::{changes, spec_of, Applied, Change, Declared, Edited, JobField};
pub use export::{ExportError, ExportedJob, JobsExport, EXPORT_FORMAT, EXPORT_VERSION};
pub use history::{PrunableRun, PruneBatch, RunRetention, RECENT_RUN_GRACE};
pub use import::{Import, Imported};
pub use jobs::{
    is_job_id, CatchUp, Job, JobSpec, Overlap, PendingRetry, Repeat, DEFAULT_RETRY_DELAY_SECS,
};
pub use pause::StateChange;
pub use runs::{run_id, Finished, Run, RunReason, RunRecord, RunStatus, UnknownRunStatus};
pub use scan::{JobCounts, JobsInTrouble, JobsPage, MAX_PAGE};
pub use spread::{jitter_offset, retry_backoff, MAX_RETRY_DELAY};
pub(crate) use validate::check_handler_name;
pub use validate::{
    MAX_ARGUMENTS, MAX_COMMAND_BYTES, MAX_ENV_BYTES, MAX_ENV_VARS, MAX_JITTER_MS, MAX_NAME_CHARS,
    MAX_NOTE_CHARS, MAX_RETRIES, MAX_RETRY_DELAY_SECS, MAX_RUN_RETENTION, MAX_RUN_RETENTION_DAYS,
    MAX_SCHEDULE_BYTES, MAX_TIMEOUT_SECS, MAX_WORKDIR_BYTES,
};

/// The store's file name under the state directory.
pub const DB_FILE: &str = "cronhost.db";

/// A store operation failed. Nothing was written unless it says so.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file cannot be opened or is not a cronhost database; it was not modified.
    #[error("cannot use the job store {path}: {message}. The file was not modified; restore it from a backup, or stop the daemon (`cronhost status` shows it) before moving it aside to start afresh")]
    Unusable {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        message: String,
    },
    /// The file was written by a newer cronhost.
    #[error("the job store {path} has schema version {found}, newer than this cronhost understands ({supported}); upgrade cronhost")]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// Ours.
        supported: i64,
    },
    /// No job has that id or name.
    #[error("no job `{0}`: give a job id or name (see `cronhost jobs list`)")]
    NoSuchJob(String),
    /// A name matches more than one job.
    #[error("job name `{name}` is ambiguous: it matches {ids}; give the id instead")]
    Ambiguous {
        /// The name given.
        name: String,
        /// The matching ids.
        ids: String,
    },
    /// A job with that name (case-insensitively) or id exists already.
    #[error("a job named `{0}` already exists; choose another name or remove it first")]
    NameTaken(String),
    /// The input is not valid; nothing was stored.
    #[error("{0}")]
    Invalid(String),
    /// A schedule or zone was refused, or a stored schedule cannot be read.
    #[error(transparent)]
    Schedule(#[from] crate::schedule::ScheduleError),
    /// One job of a declared job set ([`Store::apply_jobs`]) was refused; nothing was applied.
    #[error("job `{}`: {source}; nothing was applied", name.escape_debug())]
    Declared {
        /// Its place among the declared jobs (0 for the first), so the caller can point at
        /// where it was declared.
        index: usize,
        /// Its name.
        name: String,
        /// Why it was refused.
        #[source]
        source: Box<StoreError>,
    },
    /// A manual run the job's state refuses (paused, completed, running).
    #[error(transparent)]
    Refused(#[from] policy::ManualRefusal),
    /// SQLite failed.
    #[error("job store {path}: {message}")]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        message: String,
    },
}

/// Why the file at the store's path is no longer the store this handle writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreLost {
    /// Nothing is at the path any more (deleted, or moved away).
    #[error("the job store {0} was deleted or moved away while cronhost had it open")]
    Gone(PathBuf),
    /// Another file is at the path (moved aside and recreated, or replaced).
    #[error("the job store {0} was replaced by another file while cronhost had it open")]
    Replaced(PathBuf),
    /// SQLite's write-ahead log or shared-memory file beside the store was deleted or
    /// replaced: this process's latest changes are where no other process will see them.
    #[error("{0} (the job store's write-ahead log) was deleted or replaced while cronhost had the store open")]
    JournalLost(PathBuf),
    /// The file is there but cannot be used: its mode shuts other commands out, or SQLite can
    /// no longer read it through a fresh connection.
    #[error("the job store {path} cannot be used: {problem}")]
    Unusable {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}

/// The file identity (device, inode) of an open store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

fn file_id(meta: &std::fs::Metadata) -> FileId {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        FileId { dev: 0, ino: 0 }
    }
}

/// How often [`Store::check_readable`] reads the file through a fresh connection.
const READ_CHECK_EVERY: Duration = Duration::from_secs(5);

/// The least time between two `PRAGMA quick_check` reads of the whole file; a large store's
/// check is spaced further, [`DEEP_CHECK_SHARE`] of the time at most.
const DEEP_CHECK_EVERY: Duration = Duration::from_secs(60);

/// The next whole-file check waits this many times as long as the last one took: it costs at
/// most 1% of one core, however large the store (a million jobs' store takes about a second).
const DEEP_CHECK_SHARE: u32 = 100;

/// The store. Cheap to share behind an `Arc`; calls serialise on one connection.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    /// The identity of the file this handle opened, to notice it being moved or replaced.
    identity: Option<FileId>,
    /// The identities of the `-wal` and `-shm` files beside it, once seen: they live as long
    /// as this handle's connection.
    journal: Mutex<Option<Vec<FileId>>>,
    /// When the file is next read through a fresh connection.
    read_every: crate::clock::Every,
    /// When the next fresh-connection read may read the whole file ([`DEEP_CHECK_EVERY`],
    /// [`DEEP_CHECK_SHARE`]).
    deep_after: Mutex<std::time::Instant>,
    /// What the last fresh-connection read found.
    read_verdict: Mutex<Result<(), StoreLost>>,
    conn: Mutex<Connection>,
    /// Who copies the write-ahead log back, and when ([`Store::checkpoint_if_due`]).
    checkpoints: checkpoint::Checkpoints,
    /// Job-set changes made through this handle: SQLite's `data_version` only moves for
    /// commits of *other* connections, so an embedding app's own edits are counted here.
    job_changes: std::sync::atomic::AtomicU64,
}

impl Store {
    /// Open (creating it when missing) and migrate the store at `path`. A file that is not a
    /// cronhost database is refused, never overwritten.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            crate::fs::create_private_dir(dir).map_err(|e| StoreError::Unusable {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        }
        let unusable = |e: rusqlite::Error| StoreError::Unusable {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        // The store is a state file: a symlink in its place is refused, never followed.
        if let Ok(meta) = path.symlink_metadata() {
            if !meta.is_file() {
                return Err(StoreError::Unusable {
                    path: path.to_path_buf(),
                    message: "it is not a regular file (a symbolic link, a directory or a device); cronhost opens only a regular file as its store".into(),
                });
            }
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let conn = Connection::open_with_flags(path, flags).map_err(unusable)?;
        conn.set_prepared_statement_cache_capacity(64);
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(unusable)?;
        // Reading the schema makes SQLite validate the header before anything is written, so a
        // file that is not a database is refused untouched.
        conn.query_row("PRAGMA schema_version", [], |row| row.get::<_, i64>(0))
            .map_err(unusable)?;
        set_wal(&conn).map_err(unusable)?;
        conn.pragma_update(None, "synchronous", "normal")
            .map_err(unusable)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        }
        let store = Self::over(path, conn);
        // Check and migrate in one write transaction: processes opening a fresh store at once
        // queue here, and each sees the schema either absent or complete.
        store.write(|tx| {
            let version: i64 = tx
                .query_row("PRAGMA user_version", [], |row| row.get(0))
                .map_err(sql)?;
            if version == 0 {
                let tables: i64 = tx
                    .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
                    .map_err(sql)?;
                if tables > 0 {
                    return Err(StoreError::Unusable {
                        path: path.to_path_buf(),
                        message: "it is an SQLite database, but not a cronhost job store".into(),
                    });
                }
            }
            if version > schema::VERSION {
                return Err(StoreError::TooNew {
                    path: path.to_path_buf(),
                    found: version,
                    supported: schema::VERSION,
                });
            }
            schema::migrate(tx)
        })?;
        Ok(store)
    }

    /// Open the store only to read it, for listings on a home that cannot be written (a
    /// read-only mount, a read-only directory). Nothing is created or migrated; a store of
    /// another schema version is refused. Where SQLite cannot even take its read locks (no
    /// writable `-shm` beside the file), the file is read as immutable: nothing can write it
    /// then anyway.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let unusable = |e: rusqlite::Error| StoreError::Unusable {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        if !path.symlink_metadata().is_ok_and(|m| m.is_file()) {
            return Err(StoreError::Unusable {
                path: path.to_path_buf(),
                message: "there is no job store file to read".into(),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW
            | OpenFlags::SQLITE_OPEN_URI;
        let version_of = |conn: &Connection| {
            conn.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))
        };
        let conn = match Connection::open_with_flags(path, flags)
            .and_then(|conn| version_of(&conn).map(|_| conn))
        {
            Ok(conn) => conn,
            Err(_) => {
                let mut uri = url_path(path);
                uri.push_str("?immutable=1");
                let conn = Connection::open_with_flags(&uri, flags).map_err(unusable)?;
                version_of(&conn).map_err(unusable)?;
                conn
            }
        };
        let version = version_of(&conn).map_err(unusable)?;
        if version != schema::VERSION {
            return Err(StoreError::Unusable {
                path: path.to_path_buf(),
                message: format!(
                    "it has schema version {version}, and this cronhost reads version {} without writing; open it once where it can be written",
                    schema::VERSION
                ),
            });
        }
        Ok(Self::over(path, conn))
    }

    /// The handle over `conn`, the open file at `path`.
    fn over(path: &Path, conn: Connection) -> Self {
        Self {
            path: path.to_path_buf(),
            identity: path.symlink_metadata().ok().map(|m| file_id(&m)),
            journal: Mutex::new(None),
            read_every: crate::clock::Every::starting_now(READ_CHECK_EVERY),
            deep_after: Mutex::new(std::time::Instant::now() + DEEP_CHECK_EVERY),
            read_verdict: Mutex::new(Ok(())),
            conn: Mutex::new(conn),
            checkpoints: checkpoint::Checkpoints::new(),
            job_changes: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file at the store's path is still the one this handle opened, and usable by
    /// the other cronhost processes: it was not deleted, moved away or replaced, its `-wal` and
    /// `-shm` are the ones open, its owner can still read and write it, and the last
    /// [`Store::check_readable`] found it readable. Cheap (a few `stat`s): the daemon checks it
    /// on every tick and supervision round.
    pub fn check_identity(&self) -> Result<(), StoreLost> {
        let Some(identity) = self.identity else {
            return Ok(());
        };
        let meta = match self.path.symlink_metadata() {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreLost::Gone(self.path.clone()))
            }
            Err(e) => {
                return Err(StoreLost::Unusable {
                    path: self.path.clone(),
                    problem: e.to_string(),
                })
            }
        };
        if file_id(&meta) != identity || !meta.is_file() {
            return Err(StoreLost::Replaced(self.path.clone()));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode();
            if mode & 0o600 != 0o600 {
                return Err(StoreLost::Unusable {
                    path: self.path.clone(),
                    problem: format!(
                        "its mode is {:o}, so no other cronhost command can open it; `chmod 600 {}`",
                        mode & 0o777,
                        self.path.display()
                    ),
                });
            }
        }
        self.check_journal()?;
        // What the last read through a fresh connection found ([`Store::check_readable`]);
        // never reading here, so a tick is never held up by it.
        self.read_verdict
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The `-wal` and `-shm` files are the ones this handle's connection has open (both exist
    /// for as long as it is open, in WAL mode).
    fn check_journal(&self) -> Result<(), StoreLost> {
        let paths = journal_files(&self.path);
        let now: Vec<Option<FileId>> = paths
            .iter()
            .map(|p| p.symlink_metadata().ok().map(|m| file_id(&m)))
            .collect();
        let mut known = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        match &*known {
            None => {
                if now.iter().all(Option::is_some) {
                    *known = Some(now.into_iter().flatten().collect());
                }
                Ok(())
            }
            Some(seen) => match paths
                .iter()
                .zip(seen.iter().zip(&now))
                .find(|(_, (seen, now))| now.as_ref() != Some(*seen))
            {
                Some((path, _)) => Err(StoreLost::JournalLost(path.clone())),
                None => Ok(()),
            },
        }
    }

    /// Read the file's header through a fresh SQLite connection, at most every
    /// 5 s: this handle's own connection serves page 1 from its cache and
    /// would never notice the file overwritten in place. Never with a plain `File::open`:
    /// closing any descriptor of the file drops this process's POSIX locks on it, SQLite's
    /// included, letting another process write in the middle of our transaction; SQLite's own
    /// connections share the locks and defer those closes.
    ///
    /// The daemon calls this from its supervision thread, off the ticker's path (the check
    /// reads the whole file once a minute, less often for a store whose check takes longer than
    /// 0.6 s); [`Store::check_identity`] reports what it found.
    pub fn check_readable(&self) -> Result<(), StoreLost> {
        if !self.read_every.due() {
            return self
                .read_verdict
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let mut deep_after = self.deep_after.lock().unwrap_or_else(|p| p.into_inner());
        let began = std::time::Instant::now();
        let deep = began >= *deep_after;
        let unusable = |problem: String| StoreLost::Unusable {
            path: self.path.clone(),
            problem,
        };
        let verdict = Connection::open_with_flags(&self.path, flags)
            .and_then(|conn| {
                conn.query_row("PRAGMA schema_version", [], |r| r.get::<_, i64>(0))?;
                // Now and then the whole file: a database copied over the store in place
                // (a backup restored under a running daemon) reads fine page by page but no
                // longer matches its own indexes.
                if deep {
                    conn.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0))
                } else {
                    Ok("ok".to_owned())
                }
            })
            .map_err(|e| unusable(format!("SQLite cannot read it any more: {e}")))
            .and_then(|check| match check.as_str() {
                "ok" => Ok(()),
                damage => Err(unusable(format!(
                    "it is damaged ({damage}); was it written by something other than cronhost, such as a backup copied over it while cronhost ran?"
                ))),
            });
        if deep {
            let took = began.elapsed();
            *deep_after = std::time::Instant::now() + DEEP_CHECK_EVERY.max(took * DEEP_CHECK_SHARE);
        }
        drop(deep_after);
        *self.read_verdict.lock().unwrap_or_else(|p| p.into_inner()) = verdict.clone();
        verdict
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sqlite(&self, e: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Run `body` in one write transaction (taken at once, so writers queue instead of failing
    /// halfway); commit when it returns `Ok`.
    pub(crate) fn write<T>(
        &self,
        body: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.in_transaction(body, true)
    }

    /// Run `body` in a write transaction and roll it back: what a change would do, without
    /// doing it (`apply --dry-run`).
    pub(crate) fn write_then_roll_back<T>(
        &self,
        body: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.in_transaction(body, false)
    }

    /// [`Store::write`] (`commit`) or [`Store::write_then_roll_back`].
    fn in_transaction<T>(
        &self,
        body: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
        commit: bool,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.sqlite(e))?;
        let value = body(&tx)?;
        if commit {
            tx.commit().map_err(|e| self.sqlite(e))?;
        }
        // Otherwise dropping the transaction rolls it back.
        Ok(value)
    }

    /// Run `body` with a read connection.
    pub(crate) fn read<T>(
        &self,
        body: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        body(&self.lock())
    }

    /// A marker that changes when the job set may have changed: SQLite's data version (moved
    /// by other connections' commits) and the job-set writes made through this handle. Cheap
    /// to poll.
    pub fn change_marker(&self) -> Result<(i64, u64), StoreError> {
        let version = self
            .lock()
            .row_cached("PRAGMA data_version", [], |row| row.get(0))
            .map_err(|e| self.sqlite(e))?;
        Ok((
            version,
            self.job_changes.load(std::sync::atomic::Ordering::SeqCst),
        ))
    }

    /// A write that changes the job set (add, pause, resume, remove, prune, import).
    pub(crate) fn write_jobs<T>(
        &self,
        body: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let value = self.write(body)?;
        self.note_job_change();
        Ok(value)
    }

    /// Count a job-set change made through this handle.
    pub(crate) fn note_job_change(&self) {
        self.job_changes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Statements run through SQLite's prepared-statement cache: the fire path runs the same dozen
/// statements for every claim, and parsing them each time cost more than running them.
pub(crate) trait Cached {
    /// `execute`, with the statement from the cache.
    fn exec_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    /// `query_row`, with the statement from the cache.
    fn row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
}

impl Cached for Connection {
    fn exec_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// Switch to WAL. Changing the journal mode needs a moment alone with the file, which the busy
/// handler does not always wait for; retry while another process holds it.
fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let mut attempt = 0;
    loop {
        match conn.pragma_update(None, "journal_mode", "wal") {
            Err(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::DatabaseBusy && attempt < 200 =>
            {
                attempt += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// SQLite's write-ahead log and shared-memory file beside the store at `store` (`-wal`,
/// `-shm`): they exist as long as a connection has it open.
pub fn journal_files(store: &Path) -> [PathBuf; 2] {
    ["-wal", "-shm"].map(|suffix| {
        let mut name = store.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    })
}

/// `path` as an SQLite `file:` URI (`%`, `?` and `#` escaped).
fn url_path(path: &Path) -> String {
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri
}

/// Map an SQLite error inside a transaction body.
pub(crate) fn sql(e: rusqlite::Error) -> StoreError {
    StoreError::Sqlite {
        path: PathBuf::from("(job store)"),
        message: e.to_string(),
    }
}

/// Milliseconds since the epoch, as stored.
pub(crate) fn to_ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// An instant from stored milliseconds.
pub(crate) fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

#[cfg(test)]
mod edit_tests;
#[cfg(test)]
mod retry_tests;
#[cfg(test)]
mod scan_tests;
#[cfg(test)]
mod tests;
