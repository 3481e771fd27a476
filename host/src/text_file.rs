//! Small text files an operator hands cronhost (`cronhost.toml`, a job file), read safely:
//! without blocking on a fifo, a regular file only, bounded, and never cut short.

use std::io::Read;
use std::path::Path;

/// The text of the file at `path`, at most `limit` bytes (a whole number of MiB); `None` when
/// there is none. A fifo, a device or a directory is an error, never a hang; so is a file over
/// the limit (never read in part) or one that is not UTF-8. A symlink is followed.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Option<String>> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a fifo, a device or a directory)",
        ));
    }
    let too_big = || {
        std::io::Error::other(format!(
            "it is larger than {} MiB, the most it may be",
            limit >> 20
        ))
    };
    if metadata.len() > limit {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        // It grew while read.
        return Err(too_big());
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| std::io::Error::other("not UTF-8 text"))
}
