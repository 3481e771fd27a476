//! The host's home directory: where config, job store, state and plugins live.

use std::path::{Path, PathBuf};

/// The home directory could not be found or created.
#[derive(Debug, thiserror::Error)]
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
    /// Running as root in a home others may write to would let them plant code and jobs.
    #[error("refusing to run as root with a world-writable home {path}: chmod o-w it (or run as another user)")]
    WorldWritable {
        /// The home.
        path: PathBuf,
    },
    /// The path exists but is not a directory.
    #[error("home {path} exists but is not a directory")]
    NotADirectory {
        /// The path.
        path: PathBuf,
    },
}

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
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, HomeError> {
        let root = root.into();
        if root.exists() && !root.is_dir() {
            return Err(HomeError::NotADirectory { path: root });
        }
        create_private_dir(&root).map_err(|source| HomeError::Create {
            path: root.clone(),
            source,
        })?;
        Ok(Self { root })
    }

    /// Refuse a world-writable home when running as root (the rule sshd applies to its files).
    pub fn check_safe_to_run(&self) -> Result<(), HomeError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // SAFETY: geteuid has no preconditions.
            let root = unsafe { libc::geteuid() } == 0;
            let mode = std::fs::metadata(&self.root)
                .map(|m| m.permissions().mode())
                .unwrap_or(0);
            if root && mode & 0o002 != 0 {
                return Err(HomeError::WorldWritable {
                    path: self.root.clone(),
                });
            }
        }
        Ok(())
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
        self.state_dir().join(crate::store::DB_FILE)
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

/// Create `dir` and its parents; a directory created here gets mode 0700.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}
