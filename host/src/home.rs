//! The host's home directory: where config, job store, state and plugins live, and the policy
//! on who may write them.

use std::path::{Path, PathBuf};

use cronhost_core::fs::{self as policy, create_private_dir, PolicyError};

/// The home directory could not be found or created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HomeError {
    /// No `--home`, no `CRONHOST_HOME` and no `HOME` to derive `~/.cronhost` from.
    #[error("no home directory: pass --home DIR or set CRONHOST_HOME")]
    Unknown,
    /// Creating the directory failed.
    #[error("cannot create home directory {path}: {source}")]
    Create {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A home (or a directory above it, or a state file in it) that another user could write
    /// would let them plant jobs that cronhost then runs as this user.
    #[error("refusing to use the home {home}: {source}")]
    Unsafe {
        /// The home.
        home: PathBuf,
        /// The path that breaks the policy and how to fix it.
        #[source]
        source: PolicyError,
    },
    /// The path exists but is not a directory.
    #[error("home {path} exists but is not a directory")]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
}

/// The daemon lock's file name under the state directory (see [`crate::lock`]).
pub const LOCK_FILE: &str = "daemon.lock";

/// A cronhost home: `cronhost.toml`, `plugins.d/` and `cron/` (job store, heartbeat, output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// The explicit directory, else `CRONHOST_HOME`, else `~/.cronhost`; created (mode 0700)
    /// when missing.
    pub fn resolve(explicit: Option<&Path>) -> Result<Self, HomeError> {
        let root = match explicit {
            Some(dir) => dir.to_path_buf(),
            None => match std::env::var_os("CRONHOST_HOME").filter(|v| !v.is_empty()) {
                Some(dir) => PathBuf::from(dir),
                None => std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|home| PathBuf::from(home).join(".cronhost"))
                    .ok_or(HomeError::Unknown)?,
            },
        };
        Self::open(root)
    }

    /// Use `root` as the home, creating it (mode 0700) when missing.
    ///
    /// A symbolic link on the way to it must be owned by root or us (nothing is created
    /// through a link another user planted); the home is then used by its resolved path, so
    /// every file in it is reached without links.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, HomeError> {
        let root = root.into();
        if root.exists() && !root.is_dir() {
            return Err(HomeError::NotADirectory { path: root });
        }
        policy::check_links(&root).map_err(|source| HomeError::Unsafe {
            home: root.clone(),
            source,
        })?;
        create_private_dir(&root).map_err(|source| HomeError::Create {
            path: root.clone(),
            source,
        })?;
        let root = root.canonicalize().map_err(|source| HomeError::Create {
            path: root.clone(),
            source,
        })?;
        Ok(Self { root })
    }

    /// Check the home against the policy (see [`cronhost_core::fs`]): the home and every directory
    /// above it, the state and output directories, the config file and the state files must
    /// be owned by root or this user and writable by nobody else, and no state file may be a
    /// symbolic link. Every command that runs or records jobs checks this first, as root or
    /// not; the error names the path and the `chmod`/`chown` that fixes it.
    pub fn check_policy(&self) -> Result<(), HomeError> {
        self.check(true)
    }

    /// [`Home::check_policy`] without the config file: what a running daemon checks again
    /// every few seconds. The config is read only at start and at a reload, which check it
    /// then; saving it with a loose mode must not stop a running daemon.
    pub fn check_state_policy(&self) -> Result<(), HomeError> {
        self.check(false)
    }

    fn check(&self, with_config: bool) -> Result<(), HomeError> {
        let state = self.state_dir();
        let store = self.store_file();
        let [wal, shm] = cronhost_core::store::journal_files(&store);
        let files = [store, wal, shm, state.join(LOCK_FILE)];
        let config = self.config_file();
        policy::check_tree(
            &self.root,
            with_config.then_some(config.as_path()),
            &[state, self.output_dir()],
            &files,
        )
        .map_err(|source| HomeError::Unsafe {
            home: self.root.clone(),
            source,
        })
    }

    /// The engine over this home's store and output directory, with `settings` (the host's
    /// come from `[cron]`: [`CronConfig::engine_settings`](crate::config::CronConfig::engine_settings)).
    pub fn open_engine(
        &self,
        settings: cronhost_core::engine::CronEngineSettings,
    ) -> Result<cronhost_core::engine::CronEngine, cronhost_core::store::StoreError> {
        cronhost_core::engine::CronEngine::open(&self.store_file(), &self.output_dir(), settings)
    }

    /// The home directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `HOME/cronhost.toml`.
    pub fn config_file(&self) -> PathBuf {
        self.root.join("cronhost.toml")
    }

    /// `HOME/cron/cronhost.db`, the job store.
    pub fn store_file(&self) -> PathBuf {
        self.state_dir().join(cronhost_core::store::DB_FILE)
    }

    /// `HOME/cron/output`, job output files.
    pub fn output_dir(&self) -> PathBuf {
        self.state_dir().join("output")
    }

    /// `HOME/cron/plugins-probe.json`, what the plugin probe found out, per file version.
    pub fn probe_cache_file(&self) -> PathBuf {
        self.state_dir().join("plugins-probe.json")
    }

    /// `HOME/cron`, the host's state directory.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join("cron")
    }
}
