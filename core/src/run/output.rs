//! Where a run's output goes: its own file up to a cap (created at the first byte, so a run
//! that writes nothing costs no file), and, when forwarded, line by line to this process's
//! stdout and stderr, prefixed with the job's name.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

/// Where the output of a job's command goes, and how much of it is kept.
///
/// ```
/// use cronhost_core::run::{Forward, OutputSettings};
///
/// // What a container wants: every line on the daemon's stdout/stderr, no files.
/// let mut settings = OutputSettings::default();
/// settings.keep_files = false;
/// settings.forward = Forward::Prefixed;
/// assert_eq!(settings.max_bytes, 10 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutputSettings {
    /// Each run's output goes to `output/<job-id>/<scheduled-instant>.log` (`cronhost logs`).
    pub keep_files: bool,
    /// Whether (and how) lines are copied to this process's stdout and stderr.
    pub forward: Forward,
    /// The most bytes of one run's output kept (stdout and stderr together); what comes after
    /// is counted and discarded, and a marker line says so.
    pub max_bytes: u64,
}

impl Default for OutputSettings {
    /// Files kept, nothing forwarded, 10 MiB per run.
    fn default() -> Self {
        Self {
            keep_files: true,
            forward: Forward::Off,
            max_bytes: 10 * 1024 * 1024,
        }
    }
}

/// How a run's output lines are copied to this process's stdout (the command's stdout) and
/// stderr (its stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Forward {
    /// Not copied.
    #[default]
    Off,
    /// Each line as `[NAME] line`: what a daemon under journald or in a container wants, where
    /// many jobs share one stream.
    Prefixed,
    /// Each line as the command wrote it: what `cronhost jobs run` at a terminal wants.
    Plain,
}

/// Which of the command's streams a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// The longest line held back waiting for its newline before it is forwarded as it is.
const LONGEST_LINE: usize = 64 * 1024;

/// Why a run's output file could not be opened: the output is then not kept (and logged);
/// the run itself goes on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputFileError {
    /// Its directory could not be created.
    #[error("cannot create {path}: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A directory on its way breaks the ownership policy.
    #[error("output: {0}")]
    UnsafeDir(#[source] crate::fs::PolicyError),
    /// The file could not be opened.
    #[error("cannot open the output file {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Where a run's output file goes, opened when the first byte comes.
#[derive(Debug, Clone)]
pub(crate) struct OutputFile {
    /// The output directory of every job.
    pub(crate) root: PathBuf,
    /// `root/<job-id>/<scheduled-instant>.log`.
    pub(crate) path: PathBuf,
}

impl OutputFile {
    /// Create the job's private directory, check both directories against the ownership
    /// policy, and open the file for appending (never through a link).
    fn open(&self) -> Result<File, OutputFileError> {
        let dir = self.path.parent().unwrap_or(&self.root);
        crate::fs::create_private_dir(dir).map_err(|source| OutputFileError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        for dir in [self.root.as_path(), dir] {
            crate::fs::check_directory(dir).map_err(OutputFileError::UnsafeDir)?;
        }
        crate::fs::state_file::open(&self.path, crate::fs::state_file::Access::Append).map_err(
            |source| OutputFileError::Open {
                path: self.path.clone(),
                source,
            },
        )
    }
}

/// The run's file, through its life.
enum FileSlot {
    /// Files are not kept.
    Off,
    /// Kept, but nothing written yet: no file exists.
    Deferred(OutputFile),
    /// Open for appending.
    Open(File),
    /// It could not be written (a full disk; logged once): the rest is not kept.
    Lost,
    /// It could not be opened (a link in its place, an unsafe directory): nothing is kept,
    /// and the run fails, as it did when this was found before the start.
    Refused(String),
}

/// One run's output on its way out.
pub(crate) struct Sink {
    file: FileSlot,
    forward: Forward,
    /// `[NAME] `, the job's name with control characters escaped.
    prefix: String,
    max_bytes: u64,
    kept: u64,
    discarded: u64,
    /// Whether the file's last byte ends a line (a note then needs no newline before it).
    at_line_start: bool,
    /// Forwarded text of each stream still waiting for its newline.
    pending: [Vec<u8>; 2],
}

impl Sink {
    /// A sink writing to `file` (when files are kept), opened at the first byte, and
    /// forwarding as `settings` say.
    pub(crate) fn new(file: Option<OutputFile>, job_name: &str, settings: &OutputSettings) -> Self {
        Self {
            file: file.map_or(FileSlot::Off, FileSlot::Deferred),
            forward: settings.forward,
            prefix: format!("[{}] ", crate::text::for_terminal(job_name)),
            max_bytes: settings.max_bytes,
            kept: 0,
            discarded: 0,
            at_line_start: true,
            pending: [Vec::new(), Vec::new()],
        }
    }

    /// A sink that keeps nothing (for a hook whose run has no output of its own).
    pub(crate) fn discard() -> Self {
        Self::new(
            None,
            "",
            &OutputSettings {
                keep_files: false,
                forward: Forward::Off,
                max_bytes: 0,
            },
        )
    }

    /// Whether anything is done with the output at all.
    pub(crate) fn wants_output(&self) -> bool {
        !matches!(self.file, FileSlot::Off) || self.forward != Forward::Off
    }

    /// Why the run's output file could not be opened, if it could not: the run then fails.
    pub(crate) fn refused(&self) -> Option<&str> {
        match &self.file {
            FileSlot::Refused(why) => Some(why),
            _ => None,
        }
    }

    /// The run's status and error once its output is judged: a run whose output file could
    /// not be made (a link in its place, an unsafe directory) fails, whatever its command or
    /// handler did, as that is no place to write to; the reason is added to its error.
    pub(crate) fn judge(
        &self,
        status: crate::store::RunStatus,
        error: Option<String>,
    ) -> (crate::store::RunStatus, Option<String>) {
        use crate::store::RunStatus;
        match (self.refused(), status) {
            (None, status) => (status, error),
            (Some(why), RunStatus::Succeeded) => (
                RunStatus::Failed,
                Some(format!("its output could not be kept: {why}")),
            ),
            (Some(why), status) => (
                status,
                Some(format!(
                    "{}; its output could not be kept: {why}",
                    error.unwrap_or_default()
                )),
            ),
        }
    }

    /// The open file, opening it now if nothing was written yet; `None` when files are not
    /// kept or it cannot be (said once in the log).
    pub(crate) fn file(&mut self) -> Option<&mut File> {
        if let FileSlot::Deferred(target) = &self.file {
            self.file = match target.open() {
                Ok(file) => FileSlot::Open(file),
                Err(e) => {
                    log::warn!("{e}; this run's output is not kept");
                    FileSlot::Refused(e.to_string())
                }
            };
        }
        match &mut self.file {
            FileSlot::Open(file) => Some(file),
            _ => None,
        }
    }

    /// Take `bytes` the command wrote to `stream`.
    pub(crate) fn take(&mut self, stream: Stream, bytes: &[u8]) {
        let room = self.max_bytes.saturating_sub(self.kept);
        let (kept, rest) =
            bytes.split_at(bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX)));
        if !kept.is_empty() {
            self.kept += kept.len() as u64;
            self.write_file(kept);
            self.forward_bytes(stream, kept);
        }
        if !rest.is_empty() {
            if self.discarded == 0 {
                let marker = format!(
                    "[cronhost: output truncated: this run wrote more than {} bytes \
                     (cron.output_max_bytes); the rest is discarded]",
                    self.max_bytes
                );
                self.note(&marker);
            }
            self.discarded += rest.len() as u64;
        }
    }

    /// The command's output has ended: forward what waits for a newline, and say how much was
    /// discarded.
    pub(crate) fn finish(&mut self) {
        for stream in [Stream::Stdout, Stream::Stderr] {
            let rest = std::mem::take(&mut self.pending[stream as usize]);
            if !rest.is_empty() {
                self.emit_line(stream, &rest);
            }
        }
        if self.discarded > 0 {
            let summary = format!("[cronhost: {} more bytes discarded]", self.discarded);
            self.note(&summary);
        }
        if let FileSlot::Open(file) = &mut self.file {
            let _ = file.flush();
        }
    }

    /// A line of cronhost's own in the output: on a line of its own in the file, and on stderr
    /// when forwarded.
    pub(crate) fn note(&mut self, text: &str) {
        let line = if self.at_line_start {
            format!("{text}\n")
        } else {
            format!("\n{text}\n")
        };
        if let Some(file) = self.file() {
            let _ = file.write_all(line.as_bytes());
        }
        self.at_line_start = true;
        if self.forward != Forward::Off {
            // What waits for its newline goes first, as the line it is.
            let pending = std::mem::take(&mut self.pending[Stream::Stderr as usize]);
            if !pending.is_empty() {
                self.emit_line(Stream::Stderr, &pending);
            }
            self.emit_line(Stream::Stderr, text.as_bytes());
        }
    }

    fn write_file(&mut self, bytes: &[u8]) {
        if let Some(last) = bytes.last() {
            self.at_line_start = *last == b'\n';
        }
        if let Some(file) = self.file() {
            // A full disk loses output, never the run: the outcome is recorded in the store.
            if let Err(e) = file.write_all(bytes) {
                log::warn!("cannot write job output: {e}; the rest of it is not kept");
                self.file = FileSlot::Lost;
            }
        }
    }

    fn forward_bytes(&mut self, stream: Stream, bytes: &[u8]) {
        if self.forward == Forward::Off {
            return;
        }
        let mut pending = std::mem::take(&mut self.pending[stream as usize]);
        pending.extend_from_slice(bytes);
        let mut start = 0;
        while let Some(end) = pending[start..].iter().position(|&b| b == b'\n') {
            self.emit_line(stream, &pending[start..start + end]);
            start += end + 1;
        }
        pending.drain(..start);
        if pending.len() > LONGEST_LINE {
            self.emit_line(stream, &pending);
            pending.clear();
        }
        self.pending[stream as usize] = pending;
    }

    /// One whole line to this process's stream: written at once, so lines of runs going at the
    /// same time never interleave inside a line. A closed stream is not an error of the run.
    /// Prefixed lines (a daemon's) go through the forwarder's queue, so a reader that stalls
    /// never stalls the run; plain ones (`jobs run` at a terminal) are written here.
    fn emit_line(&self, stream: Stream, line: &[u8]) {
        let mut text = Vec::with_capacity(self.prefix.len() + line.len() + 1);
        if self.forward == Forward::Prefixed {
            text.extend_from_slice(self.prefix.as_bytes());
        }
        text.extend_from_slice(line);
        text.push(b'\n');
        if self.forward == Forward::Prefixed {
            forwarder().send(stream, text);
            return;
        }
        let _ = write_to(stream, &text);
    }
}

fn write_to(stream: Stream, text: &[u8]) -> std::io::Result<()> {
    match stream {
        Stream::Stdout => std::io::stdout().lock().write_all(text),
        Stream::Stderr => std::io::stderr().lock().write_all(text),
    }
}

/// Most forwarded lines waiting to be written; beyond them, lines are dropped and counted.
const FORWARD_QUEUE: usize = 10_000;

/// The one thread that writes forwarded lines to this process's stdout and stderr.
struct Forwarder {
    queue: std::sync::mpsc::SyncSender<(Stream, Vec<u8>)>,
    /// Lines sent and not yet written.
    waiting: std::sync::atomic::AtomicUsize,
    /// Lines dropped since the last report.
    dropped: std::sync::atomic::AtomicU64,
}

fn forwarder() -> &'static Forwarder {
    use std::sync::atomic::Ordering;
    static FORWARDER: std::sync::OnceLock<Forwarder> = std::sync::OnceLock::new();
    FORWARDER.get_or_init(|| {
        let (queue, lines) = std::sync::mpsc::sync_channel::<(Stream, Vec<u8>)>(FORWARD_QUEUE);
        let spawned = std::thread::Builder::new()
            .name("forward-output".into())
            .spawn(move || {
                let this = forwarder();
                for (stream, text) in lines {
                    let _ = write_to(stream, &text);
                    this.waiting.fetch_sub(1, Ordering::SeqCst);
                    let dropped = this.dropped.swap(0, Ordering::SeqCst);
                    if dropped > 0 {
                        let _ = write_to(
                            Stream::Stderr,
                            format!("[cronhost: {dropped} forwarded line(s) dropped: this process's output was not read fast enough]\n").as_bytes(),
                        );
                    }
                }
            });
        if let Err(e) = spawned {
            log::warn!("cannot start the thread that forwards job output: {e}");
        }
        Forwarder {
            queue,
            waiting: Default::default(),
            dropped: Default::default(),
        }
    })
}

impl Forwarder {
    /// Queue a line; when the queue is full (the reader stalls), drop and count it.
    fn send(&self, stream: Stream, text: Vec<u8>) {
        use std::sync::atomic::Ordering;
        self.waiting.fetch_add(1, Ordering::SeqCst);
        if self.queue.try_send((stream, text)).is_err() {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            self.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Wait until the forwarded lines queued so far are written, or `deadline` passes (at
/// shutdown, so the last lines of the last runs are not lost).
pub(crate) fn flush_forwarded(deadline: std::time::Instant) {
    use std::sync::atomic::Ordering;
    while forwarder().waiting.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink_into(path: &std::path::Path, max_bytes: u64) -> Sink {
        let settings = OutputSettings {
            max_bytes,
            ..OutputSettings::default()
        };
        let file = OutputFile {
            root: path.parent().unwrap().to_path_buf(),
            path: path.to_path_buf(),
        };
        Sink::new(Some(file), "job", &settings)
    }

    #[test]
    fn a_run_that_writes_nothing_leaves_no_file_and_the_first_byte_creates_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job").join("out.log");
        let mut silent = sink_into(&path, 100);
        silent.finish();
        assert!(!path.exists(), "a silent run made a file");
        assert!(
            !path.parent().unwrap().exists(),
            "a silent run made a directory"
        );
        let mut speaking = sink_into(&path, 100);
        speaking.take(Stream::Stderr, b"x");
        speaking.finish();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "x");
    }

    #[test]
    fn an_output_directory_that_is_a_link_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("job")).unwrap();
        let path = dir.path().join("job").join("out.log");
        let mut sink = sink_into(&path, 100);
        sink.take(Stream::Stdout, b"secret\n");
        sink.finish();
        assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
    }

    #[test]
    fn output_past_the_cap_is_discarded_with_a_marker_and_a_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        let mut sink = sink_into(&path, 10);
        sink.take(Stream::Stdout, b"0123456");
        sink.take(Stream::Stderr, b"789abcdef");
        sink.take(Stream::Stdout, b"ghij");
        sink.finish();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("0123456789\n[cronhost: output truncated"),
            "{text}"
        );
        assert!(text.contains("more than 10 bytes"), "{text}");
        assert!(
            text.ends_with("[cronhost: 10 more bytes discarded]\n"),
            "{text}"
        );
    }

    #[test]
    fn output_under_the_cap_is_kept_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        let mut sink = sink_into(&path, 100);
        sink.take(Stream::Stdout, b"a\nb");
        sink.take(Stream::Stderr, b"c\n");
        sink.finish();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nbc\n");
    }
}
