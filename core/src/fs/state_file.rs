//! State files under the home (lock, output, heartbeat, probe cache, crash-guard marker and
//! verdicts): opened without following a symlink and checked to be a regular file of ours
//! before a byte is read or written; small JSON files read bounded and replaced atomically.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

/// How [`open`] opens a state file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access {
    /// Read only; the file must exist.
    Read,
    /// Read and write, created (mode 0600) when missing.
    ReadWrite,
    /// Appended to, created (mode 0600) when missing.
    Append,
}

/// Open the state file `path` with `O_NOFOLLOW` and `O_CLOEXEC` (and `O_NONBLOCK`, so a fifo
/// planted in its place cannot hang us), then check through the descriptor that it is a
/// regular file with one link, owned by root or this user and writable by nobody else. A
/// symlink, a fifo, a device, a hard link to another file or someone else's file is an error:
/// cronhost never writes through one.
pub fn open(path: &Path, access: Access) -> std::io::Result<File> {
    let options = |create_new: bool| {
        let mut options = std::fs::OpenOptions::new();
        match access {
            Access::Read => options.read(true),
            Access::ReadWrite => options.read(true).write(true),
            Access::Append => options.append(true),
        };
        options.create_new(create_new);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
        }
        options
    };
    // A new file is created exclusively (`O_EXCL`: nothing planted in its place is opened);
    // an existing one is opened without `O_CREAT`, then checked.
    let opened = match access {
        Access::Read => options(false).open(path),
        Access::ReadWrite | Access::Append => match options(true).open(path) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => options(false).open(path),
            other => other,
        },
    };
    let file = opened.map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            std::io::Error::other(format!(
                "{} is a symbolic link; cronhost does not follow links in its state directory",
                path.display()
            ))
        } else {
            e
        }
    })?;
    check_opened(path, &file)?;
    Ok(file)
}

/// The checks of [`open`] on an open descriptor.
fn check_opened(path: &Path, file: &File) -> std::io::Result<()> {
    let meta = file.metadata()?;
    let refuse = |what: String| {
        Err(std::io::Error::other(format!(
            "{} {what}; cronhost writes only regular files of its own in its state directory",
            path.display()
        )))
    };
    if !meta.is_file() {
        return refuse("is not a regular file".into());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let uid = meta.uid();
        if uid != 0 && uid != super::effective_uid() {
            return refuse(format!("is owned by uid {uid}"));
        }
        if meta.mode() & 0o022 != 0 {
            return refuse(format!(
                "is writable by others (mode {:o})",
                meta.mode() & 0o777
            ));
        }
        if meta.nlink() > 1 {
            return refuse(format!("has {} hard links", meta.nlink()));
        }
    }
    Ok(())
}

/// Read the JSON file `path` (at most `limit` bytes); `Ok(None)` when it does not exist. A
/// symlink, a fifo or another non-regular file is an error, never followed or waited on.
pub fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    limit: u64,
) -> std::io::Result<Option<T>> {
    match read_bounded(path, limit)? {
        Some(text) => serde_json::from_slice(&text)
            .map(Some)
            .map_err(std::io::Error::other),
        None => Ok(None),
    }
}

/// Read the state file `path` (opened as by [`open`]), at most `limit` bytes; `Ok(None)` when
/// it does not exist.
pub fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let file = match open(path, Access::Read) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut text = Vec::new();
    file.take(limit + 1).read_to_end(&mut text)?;
    if text.len() as u64 > limit {
        return Err(std::io::Error::other(format!(
            "{} is over {limit} bytes",
            path.display()
        )));
    }
    Ok(Some(text))
}

/// Replace `path` with `value` as JSON: written to a temporary file beside it, synced, and
/// renamed over it, so a reader sees the old file or the new one, never half of one.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    super::create_private_dir(dir)?;
    let mut temporary = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer(&mut temporary, value)?;
    temporary.flush()?;
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|e| e.error)?;
    Ok(())
}
