//! The daemon lock: `HOME/cron/daemon.lock`, held exclusively by the running daemon for its whole
//! life with its pid inside. How `status` knows the daemon runs, and why a second one refuses.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub use crate::home::LOCK_FILE;

/// The lock could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another daemon holds it.
    #[error("another cronhost daemon (pid {pid}) already runs on this home ({path}); stop it first, or use another --home")]
    Held {
        /// Its pid, as written in the file (0 if unreadable).
        pid: u32,
        /// The lock file.
        path: PathBuf,
    },
    /// The file could not be opened or written.
    #[error("cannot use the daemon lock {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// The lock this daemon holds is no longer the file at the lock's path: another daemon could
/// take a new lock beside it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockLost {
    /// The held file cannot be examined.
    #[error("cannot examine the daemon lock {path}: {source}")]
    Unreadable {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Nothing is at the path any more.
    #[error("the daemon lock {0} was deleted or moved away")]
    Gone(PathBuf),
    /// Another file is at the path.
    #[error("the daemon lock {0} was replaced by another file")]
    Replaced(PathBuf),
}

/// The held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct DaemonLock {
    file: File,
    path: PathBuf,
}

fn open(path: &Path) -> std::io::Result<File> {
    cronhost_core::fs::state_file::open(path, cronhost_core::fs::state_file::Access::ReadWrite)
}

fn read_pid(file: &mut File) -> u32 {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut text);
    text.trim().parse().unwrap_or(0)
}

impl DaemonLock {
    /// Take the lock under `state_dir` and write our pid into it.
    pub fn acquire(state_dir: &Path) -> Result<Self, LockError> {
        let path = state_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        cronhost_core::fs::create_private_dir(state_dir).map_err(io)?;
        let mut file = open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    pid: read_pid(&mut file),
                    path,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Self { file, path })
    }

    /// Whether the lock file at its path is still the one this lock holds. When it was
    /// deleted (`rm -rf cron/`), moved or replaced, another daemon could take a new lock beside
    /// this one: the holder must stop.
    pub fn check_still_held(&self) -> Result<(), LockLost> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let held = self
                .file
                .metadata()
                .map_err(|source| LockLost::Unreadable {
                    path: self.path.clone(),
                    source,
                })?;
            let Ok(current) = self.path.symlink_metadata() else {
                return Err(LockLost::Gone(self.path.clone()));
            };
            if (held.dev(), held.ino()) != (current.dev(), current.ino()) {
                return Err(LockLost::Replaced(self.path.clone()));
            }
        }
        Ok(())
    }

    /// When the daemon holding the lock started (the lock file is rewritten at start-up).
    pub fn started_at(state_dir: &Path) -> Option<std::time::SystemTime> {
        std::fs::symlink_metadata(state_dir.join(LOCK_FILE))
            .ok()?
            .modified()
            .ok()
    }

    /// The pid of the daemon holding the lock under `state_dir`, or `None` when no daemon runs.
    pub fn holder(state_dir: &Path) -> Option<u32> {
        let path = state_dir.join(LOCK_FILE);
        let mut file =
            cronhost_core::fs::state_file::open(&path, cronhost_core::fs::state_file::Access::Read)
                .ok()?;
        match file.try_lock_shared() {
            Ok(()) => {
                let _ = file.unlock();
                None
            }
            Err(TryLockError::WouldBlock) => Some(read_pid(&mut file)),
            Err(TryLockError::Error(_)) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_the_holder_is_visible() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(DaemonLock::holder(dir.path()), None);
        let lock = DaemonLock::acquire(dir.path()).unwrap();
        assert_eq!(DaemonLock::holder(dir.path()), Some(std::process::id()));
        let error = DaemonLock::acquire(dir.path()).unwrap_err();
        assert!(
            matches!(error, LockError::Held { pid, .. } if pid == std::process::id()),
            "{error}"
        );
        drop(lock);
        assert_eq!(DaemonLock::holder(dir.path()), None);
        DaemonLock::acquire(dir.path()).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_lock_that_is_a_symlink_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("victim");
        std::fs::write(&target, "precious").unwrap();
        let state = dir.path().join("cron");
        std::fs::create_dir(&state).unwrap();
        std::os::unix::fs::symlink(&target, state.join(LOCK_FILE)).unwrap();
        let error = DaemonLock::acquire(&state).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious");
    }
}
