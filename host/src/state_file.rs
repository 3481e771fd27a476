//! Small JSON state files under the home (probe cache, crash-guard marker and verdicts): read
//! bounded and without following a symlink, replaced atomically.

use std::io::{Read, Write};
use std::path::Path;

/// Read the JSON file `path` (at most `limit` bytes); `Ok(None)` when it does not exist. A
/// symlink, a fifo or another non-regular file is an error, never followed or waited on.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    limit: u64,
) -> std::io::Result<Option<T>> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut text = Vec::new();
    file.take(limit + 1).read_to_end(&mut text)?;
    if text.len() as u64 > limit {
        return Err(std::io::Error::other(format!("over {limit} bytes")));
    }
    serde_json::from_slice(&text)
        .map(Some)
        .map_err(std::io::Error::other)
}

/// Replace `path` with `value` as JSON: written to a temporary file beside it, synced, and
/// renamed over it, so a reader sees the old file or the new one, never half of one.
pub(crate) fn write_json(path: &Path, value: &impl serde::Serialize) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::home::create_private_dir(dir)?;
    let mut temporary = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer(&mut temporary, value)?;
    temporary.flush()?;
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|e| e.error)?;
    Ok(())
}
