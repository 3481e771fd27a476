//! Small text files an operator hands cronhost (`cronhost.toml`, a job file, a crontab), read
//! safely: without blocking on a fifo, a regular file only, bounded, and never cut short.

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
    if metadata.len() > limit {
        return Err(too_big(limit));
    }
    // It may grow while read.
    read_text(file, limit).map(Some)
}

/// The text on standard input, at most `limit` bytes (a whole number of MiB): more is an
/// error (never read in part), and so is text that is not UTF-8.
pub(crate) fn read_stdin_bounded(limit: u64) -> std::io::Result<String> {
    read_text(std::io::stdin().lock(), limit)
}

/// All of `reader`'s text, refused when over `limit` bytes or not UTF-8.
fn read_text(reader: impl Read, limit: u64) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_big(limit));
    }
    String::from_utf8(bytes).map_err(|_| std::io::Error::other("not UTF-8 text"))
}

fn too_big(limit: u64) -> std::io::Error {
    std::io::Error::other(format!(
        "it is larger than {} MiB, the most it may be",
        limit >> 20
    ))
}
