//! Checkpoints off the write path: copying the write-ahead log back into the store file (and
//! the two `fsync`s that go with it) on a connection and thread of the caller's own, instead
//! of inside whichever claim's commit happens to cross SQLite's 1,000-page mark.
//!
//! SQLite checkpoints automatically in the commit that grows the log past
//! `wal_autocheckpoint` pages: on the daemon's ticker or a fire worker, in the middle of a
//! burst, with the disk's `fsync` latency added to that chunk's claims. The first call of
//! [`Store::checkpoint_if_due`] takes that job over: from then on it checkpoints on its own
//! cadence, in `PASSIVE` mode (it never waits for or blocks a writer or a reader), and a
//! commit checkpoints only past [`BACKSTOP_PAGES`], should the caller stop calling. A process
//! that never calls it (a short command, an embedding without a daemon) keeps SQLite's
//! automatic checkpoints.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{Store, StoreError};

/// How often the log is copied back, and synced: what a power loss can take is the commits of
/// about this long. Between two checkpoints a page written many times (a job's row, an index
/// leaf) is copied once, so a longer cadence costs less CPU (at 1,000 fires a minute, SQLite's
/// own threshold checkpointed about every 7 s, and 2 s measured 5 % more CPU per fire); the
/// log grows by what is written meanwhile (about 5 MiB at that rate) and is reused from its
/// start once copied.
pub(super) const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);

/// Past this many log pages (40 MiB of 4 KiB pages), a commit checkpoints by itself again: the
/// log stays bounded even if nobody calls [`Store::checkpoint_if_due`] any more.
pub(super) const BACKSTOP_PAGES: i64 = 10_000;

/// How long a checkpoint waits for a lock another connection holds before it gives up until
/// the next cadence.
const CHECKPOINT_PATIENCE: Duration = Duration::from_secs(1);

/// The checkpoint state of one store handle.
#[derive(Debug)]
pub(super) struct Checkpoints {
    every: crate::clock::Every,
    /// The checkpoints' own connection, opened at the first call.
    conn: Mutex<Option<Connection>>,
    /// Whether the write connection's automatic checkpoints were moved to the backstop.
    taken_over: AtomicBool,
}

impl Checkpoints {
    pub(super) fn new() -> Self {
        Self {
            every: crate::clock::Every::starting_now(CHECKPOINT_EVERY),
            conn: Mutex::new(None),
            taken_over: AtomicBool::new(false),
        }
    }
}

/// What one checkpoint found, in log pages (frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpointed {
    /// Pages in the log.
    pub log_pages: u32,
    /// Of those, the pages now in the store file. Fewer than `log_pages` while a reader still
    /// reads an older snapshot; the rest are copied at a later checkpoint.
    pub copied_pages: u32,
}

impl Store {
    /// Copy the write-ahead log into the store file when 10 s have passed since the last time
    /// (else `Ok(None)` at once), on a connection of its own: the caller's thread pays for the
    /// copy and its `fsync`s, never a claim's commit. The first call takes the checkpoints
    /// over from the write path: from then on a commit checkpoints only past 10,000 log pages,
    /// should the caller stop calling. The daemon calls this from its supervising thread.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = cronhost_core::store::Store::open(&dir.path().join("cronhost.db")).unwrap();
    /// // The first call is due at once; the log holds what opening the store wrote.
    /// let first = store.checkpoint_if_due().unwrap().expect("due at the first call");
    /// assert_eq!(first.copied_pages, first.log_pages);
    /// // The next waits for the cadence.
    /// assert_eq!(store.checkpoint_if_due().unwrap(), None);
    /// ```
    pub fn checkpoint_if_due(&self) -> Result<Option<Checkpointed>, StoreError> {
        if !self.checkpoints.every.due() {
            return Ok(None);
        }
        if !self.checkpoints.taken_over.swap(true, Ordering::SeqCst) {
            if let Err(e) = self.set_autocheckpoint(BACKSTOP_PAGES) {
                self.checkpoints.taken_over.store(false, Ordering::SeqCst);
                return Err(e);
            }
        }
        let mut conn = self
            .checkpoints
            .conn
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let open = match &mut *conn {
            Some(open) => open,
            closed @ None => {
                let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX
                    | OpenFlags::SQLITE_OPEN_NOFOLLOW;
                let opened =
                    Connection::open_with_flags(&self.path, flags).map_err(|e| self.sqlite(e))?;
                // A command that holds the store's lock a moment (switching a fresh store to
                // WAL, say) is waited for, not reported as a failed checkpoint.
                opened
                    .busy_timeout(CHECKPOINT_PATIENCE)
                    .map_err(|e| self.sqlite(e))?;
                closed.insert(opened)
            }
        };
        let checked = open.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
            ))
        });
        match checked {
            Ok((_busy, log, copied)) => Ok(Some(Checkpointed {
                log_pages: u32::try_from(log.max(0)).unwrap_or(u32::MAX),
                copied_pages: u32::try_from(copied.max(0)).unwrap_or(u32::MAX),
            })),
            Err(e) => {
                // Opened afresh at the next call: the file may have been replaced under it.
                *conn = None;
                Err(self.sqlite(e))
            }
        }
    }

    /// The write connection's automatic checkpoint threshold, in log pages.
    fn set_autocheckpoint(&self, pages: i64) -> Result<(), StoreError> {
        self.lock()
            .pragma_update(None, "wal_autocheckpoint", pages)
            .map_err(|e| self.sqlite(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::JobSpec;

    /// Frames in the store's log now, as its file's length says (the log is reused from its
    /// start after a full checkpoint, so its length is the most it held).
    fn log_frames(store: &Store) -> u64 {
        let wal = &crate::store::journal_files(store.path())[0];
        let page = store
            .lock()
            .query_row("PRAGMA page_size", [], |r| r.get::<_, u64>(0))
            .unwrap();
        std::fs::metadata(wal).map_or(0, |m| m.len()) / (page + 24)
    }

    /// Commits writing well past SQLite's automatic threshold of 1,000 log pages.
    fn write_past_the_threshold(store: &Store, from: usize) {
        let now = chrono::Utc::now();
        for i in from..from + 600 {
            let mut spec = JobSpec::new("every 1h", ["true"]);
            spec.name = Some(format!("job-{i}"));
            store.add_job(&spec, "UTC", now).unwrap();
        }
    }

    #[test]
    fn once_taken_over_commits_leave_the_log_to_the_checkpoints_up_to_the_backstop() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("cronhost.db")).unwrap();
        // Left alone, a commit checkpoints past 1,000 pages and the log starts over.
        write_past_the_threshold(&store, 0);
        let alone = log_frames(&store);
        assert!(
            alone < 1_100,
            "SQLite checkpointed on commit: {alone} frames"
        );
        // Taken over: the log grows past the threshold, up to the backstop...
        store
            .checkpoint_if_due()
            .unwrap()
            .expect("due at the first call");
        write_past_the_threshold(&store, 600);
        write_past_the_threshold(&store, 1_200);
        let held = log_frames(&store);
        assert!(
            held > 1_100 && held < BACKSTOP_PAGES as u64,
            "the log holds {held} frames"
        );
        // ...until the checkpoint, due again (as after its cadence), copies it all back, on
        // its own connection.
        assert_eq!(store.checkpoint_if_due().unwrap(), None, "not due yet");
        store.checkpoints.every = crate::clock::Every::starting_now(CHECKPOINT_EVERY);
        let copied = store
            .checkpoint_if_due()
            .unwrap()
            .expect("due after the cadence");
        assert!(u64::from(copied.log_pages) > 1_100, "{copied:?}");
        assert_eq!(copied.copied_pages, copied.log_pages);
        // What was written is in the file itself: a reader of the file alone (`immutable`
        // reads no log) sees every job.
        let file_alone = Connection::open_with_flags(
            format!("file:{}?immutable=1", store.path().display()),
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
        )
        .unwrap();
        let jobs: u64 = file_alone
            .query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(jobs, 1_800);
    }
}
