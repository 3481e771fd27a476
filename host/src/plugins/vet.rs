//! Vetting a plugin file before it is opened: loading a shared library runs its initialisers,
//! so every check comes first, on the very file that will be loaded.
//!
//! The rules (those of sshd and sudo for files they trust): the plugins directory and the file
//! are owned by root or by the user running the host, and writable by nobody else; only regular
//! files directly inside the directory qualify (a symlink may point only inside it); with an
//! allowlist, the file's SHA-256 must be on it. On Linux the file is opened once, checked and
//! hashed through that descriptor, and loaded through `/proc/self/fd/N`, so the bytes checked
//! are the bytes loaded.

use std::collections::HashSet;
use std::fs::{File, Metadata};
use std::io::Read;
use std::path::{Path, PathBuf};

/// What vetting accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VetPolicy {
    /// `cron.plugin_allowlist`: SHA-256 digests (lower-case hex); empty means any digest.
    pub allowlist: HashSet<String>,
}

/// What identifies one version of a file without reading it: device, inode, size,
/// modification and change times. Any write, rename over or `chmod` changes the change time,
/// which no user can set, so an unchanged identity means unchanged bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FileIdentity {
    /// The device.
    pub dev: u64,
    /// The inode.
    pub ino: u64,
    /// The size in bytes.
    pub size: u64,
    /// Last modification, nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// Last change of the inode (content, mode, owner, links), nanoseconds since the epoch.
    pub ctime_ns: i128,
}

impl FileIdentity {
    /// The identity of an open file's metadata.
    pub fn of(meta: &Metadata) -> Self {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
            Self {
                dev: meta.dev(),
                ino: meta.ino(),
                size: meta.size(),
                mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
                ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
            }
        }
        #[cfg(not(unix))]
        {
            let ns = |t: std::io::Result<std::time::SystemTime>| {
                t.ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_nanos() as i128)
            };
            Self {
                dev: 0,
                ino: 0,
                size: meta.len(),
                mtime_ns: ns(meta.modified()),
                ctime_ns: ns(meta.created()),
            }
        }
    }
}

/// A file that passed vetting, held open until it is loaded.
#[derive(Debug)]
pub struct Vetted {
    /// The file's SHA-256, lower-case hex.
    pub sha256: String,
    /// The identity of the file that was checked (and is held open).
    pub identity: FileIdentity,
    load_path: PathBuf,
    file: File,
}

impl Vetted {
    /// The open file that was checked.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The path to hand to the loader (`/proc/self/fd/N` on Linux). The descriptor stays open
    /// for the life of the process: the loader remembers libraries by path, so a descriptor
    /// number used again for another file would hand back the library loaded before.
    pub fn into_load_path(self) -> PathBuf {
        std::mem::forget(self.file);
        self.load_path
    }
}

fn euid() -> u32 {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() }
    }
    #[cfg(not(unix))]
    0
}

/// Owner and mode rules shared by the directory and the file.
fn check_owner_and_mode(what: &str, meta: &Metadata) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let (uid, mode) = (meta.uid(), meta.mode());
        if uid != 0 && uid != euid() {
            return Err(format!(
                "{what} is owned by uid {uid}, neither root nor the user running cronhost (uid {}); chown it",
                euid()
            ));
        }
        if mode & 0o022 != 0 {
            return Err(format!(
                "{what} is writable by group or others (mode {:o}); chmod go-w it",
                mode & 0o7777
            ));
        }
    }
    let _ = (what, meta);
    Ok(())
}

/// Check the plugins directory itself.
pub fn vet_dir(dir: &Path) -> Result<(), String> {
    // The way to it counts too: a directory above it that another user can write could swap
    // the whole directory for one of their choosing.
    cronhost_core::fs::check_ancestors(dir)
        .map_err(|e| format!("the way to the plugins directory: {e}"))?;
    let meta =
        std::fs::metadata(dir).map_err(|e| format!("cannot read the plugins directory: {e}"))?;
    if !meta.is_dir() {
        return Err("the plugins directory is not a directory".into());
    }
    check_owner_and_mode("the plugins directory", &meta)
}

/// Vet `path`, an entry of `dir` (already vetted with [`vet_dir`]).
pub fn vet_file(dir: &Path, path: &Path, policy: &VetPolicy) -> Result<Vetted, String> {
    vet_file_known(dir, path, policy, |_| None)
}

/// [`vet_file`], taking the digest from `known` instead of reading the file when `known`
/// remembers the file's very [`FileIdentity`] (a cache of earlier vetting).
pub fn vet_file_known(
    dir: &Path,
    path: &Path,
    policy: &VetPolicy,
    known: impl FnOnce(&FileIdentity) -> Option<String>,
) -> Result<Vetted, String> {
    let link = std::fs::symlink_metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    let target = if link.file_type().is_symlink() {
        let target = std::fs::canonicalize(path).map_err(|e| format!("broken symlink: {e}"))?;
        let dir = std::fs::canonicalize(dir)
            .map_err(|e| format!("cannot resolve the plugins directory: {e}"))?;
        if target.parent() != Some(dir.as_path()) {
            return Err(format!(
                "symlink to {}, outside the plugins directory",
                target.display()
            ));
        }
        target
    } else {
        path.to_path_buf()
    };
    let file = open_without_blocking(&target).map_err(|e| format!("cannot open: {e}"))?;
    // Everything below is checked on the open file, not on a path that could be swapped.
    let meta = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file (a directory, device, fifo or socket)".into());
    }
    check_owner_and_mode("the file", &meta)?;
    let identity = FileIdentity::of(&meta);
    let sha256 = match known(&identity) {
        Some(sha256) => sha256,
        None => hash(&file).map_err(|e| format!("cannot read: {e}"))?,
    };
    if !policy.allowlist.is_empty() && !policy.allowlist.contains(&sha256) {
        return Err(format!(
            "its SHA-256 {sha256} is not in cron.plugin_allowlist"
        ));
    }
    Ok(Vetted {
        load_path: load_path(&file, &target),
        sha256,
        identity,
        file,
    })
}

fn open_without_blocking(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A fifo must not block the scan; a symlink swapped in after the check is not followed.
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW);
    }
    options.open(path)
}

fn hash(mut file: &File) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(target_os = "linux")]
fn load_path(file: &File, _path: &Path) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

#[cfg(not(target_os = "linux"))]
fn load_path(_file: &File, path: &Path) -> PathBuf {
    path.to_path_buf()
}
