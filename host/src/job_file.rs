//! Job files: a job set declared in TOML (the way operators keep jobs in git), read into the
//! declared jobs `cronhost apply` makes the store match.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use cronhost_core::store::{CatchUp, Declared, JobSpec, Overlap, Repeat};

/// A job file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobFileError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not TOML, or not a job file; the message points at the place.
    #[error("{path} is not a valid job file:\n{message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and where (the TOML parser's message, with its caret).
        message: String,
    },
}

/// The longest job file read.
const JOB_FILE_LIMIT: u64 = 16 * 1024 * 1024;

/// A job file.
///
/// ```
/// use cronhost::JobFile;
///
/// let file = JobFile::parse(
///     r#"
///     [jobs.backup]
///     schedule = "0 3 * * *"
///     command = ["backup.sh", "--all"]
///     timezone = "Europe/Berlin"
///
///     [jobs.rotate]
///     schedule = "every 1h"
///     command = "find /var/log/app -mtime +7 -delete"   # a string runs through sh -c
///     "#,
///     "/etc/cronhost".as_ref(),
/// )?;
/// let declared = file.declared();
/// assert_eq!(declared.len(), 2);
/// assert!(declared[1].spec.shell);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct JobFile {
    jobs: BTreeMap<String, JobEntry>,
    base: PathBuf,
}

/// The document as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(default)]
    jobs: BTreeMap<String, JobEntry>,
}

/// One `[jobs.NAME]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobEntry {
    schedule: String,
    command: Command,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    workdir: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    timeout: Option<DurationEntry>,
    #[serde(default)]
    repeat: Option<RepeatEntry>,
    #[serde(default)]
    catch_up: Option<String>,
    #[serde(default)]
    overlap: Option<String>,
    #[serde(default)]
    paused: Option<bool>,
    #[serde(default)]
    retries: Option<u32>,
    #[serde(default)]
    retry_delay: Option<DurationEntry>,
    #[serde(default)]
    jitter: Option<DurationEntry>,
    #[serde(default)]
    on_failure: Option<String>,
    #[serde(default)]
    run_retention: Option<u32>,
    #[serde(default)]
    run_retention_days: Option<u32>,
}

/// A duration: a number of seconds (`600`) or a duration (`"10m"`, `"1h30m"`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum DurationEntry {
    Seconds(u64),
    Text(String),
}

impl DurationEntry {
    fn parse(&self) -> Result<std::time::Duration, String> {
        match self {
            Self::Seconds(secs) => Ok(std::time::Duration::from_secs(*secs)),
            Self::Text(text) if text.trim() == "0" => Ok(std::time::Duration::ZERO),
            Self::Text(text) => cronhost_core::schedule::parse_duration(text),
        }
    }
}

/// `command = ["prog", "arg"]` (run as is) or `command = "a shell line"` (through `sh -c`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum Command {
    Argv(Vec<String>),
    Shell(String),
}

/// `repeat = "forever"`, `"once"` or a number.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum RepeatEntry {
    Times(u32),
    Word(String),
}

impl JobFile {
    /// Read the job file at `path`; relative paths in it are relative to its directory.
    pub fn read(path: &Path) -> Result<Self, JobFileError> {
        let read_error = |source| JobFileError::Read {
            path: path.to_path_buf(),
            source,
        };
        let text = crate::text_file::read_bounded(path, JOB_FILE_LIMIT)
            .map_err(read_error)?
            .ok_or_else(|| read_error(std::io::ErrorKind::NotFound.into()))?;
        let base = std::path::absolute(path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        Self::parse(&text, &base).map_err(|e| match e {
            JobFileError::Invalid { message, .. } => JobFileError::Invalid {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })
    }

    /// Parse a job file's text; relative paths in it are relative to `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Self, JobFileError> {
        let invalid = |message: String| JobFileError::Invalid {
            path: PathBuf::from("the job file"),
            message,
        };
        let document: Document =
            toml::from_str(text).map_err(|e| invalid(e.to_string().trim_end().to_owned()))?;
        for (name, entry) in &document.jobs {
            let wrong = |key: &str, value: &str, allowed: &str| {
                invalid(format!(
                    "job `{name}`: {key} = `{value}` is not one of: {allowed}"
                ))
            };
            if let Some(text) = &entry.catch_up {
                text.parse::<CatchUp>()
                    .map_err(|_| wrong("catch_up", text, "once, skip, all"))?;
            }
            if let Some(text) = &entry.overlap {
                text.parse::<Overlap>()
                    .map_err(|_| wrong("overlap", text, "skip, allow, queue-one"))?;
            }
            if let Some(RepeatEntry::Word(text)) = &entry.repeat {
                text.parse::<Repeat>()
                    .map_err(|_| wrong("repeat", text, "forever, once, or a number"))?;
            }
            for (key, value) in [
                ("timeout", &entry.timeout),
                ("retry_delay", &entry.retry_delay),
                ("jitter", &entry.jitter),
            ] {
                if let Some(Err(e)) = value.as_ref().map(DurationEntry::parse) {
                    return Err(invalid(format!(
                        "job `{name}`: {key}: {e} (give seconds, `600`, or a duration, `10m`)"
                    )));
                }
            }
        }
        Ok(Self {
            jobs: document.jobs,
            base: base.to_path_buf(),
        })
    }

    /// The declared jobs, by name.
    pub fn declared(&self) -> Vec<Declared> {
        self.jobs
            .iter()
            .map(|(name, entry)| {
                let (command, shell) = match &entry.command {
                    Command::Argv(argv) => (argv.clone(), false),
                    Command::Shell(line) => (vec![line.clone()], true),
                };
                let workdir = entry.workdir.as_ref().map(|dir| self.anchored(dir));
                let command = if shell {
                    command
                } else {
                    self.anchor_program(command, workdir.as_deref())
                };
                let mut spec = JobSpec::new(&entry.schedule, command);
                spec.name = Some(name.clone());
                spec.shell = shell;
                spec.workdir = workdir;
                spec.env = entry.env.clone();
                spec.timezone = entry.timezone.clone();
                let duration =
                    |entry: &Option<DurationEntry>| entry.as_ref().and_then(|d| d.parse().ok());
                spec.timeout_secs = duration(&entry.timeout).map(|d| d.as_secs());
                spec.retries = entry.retries.unwrap_or_default();
                if let Some(delay) = duration(&entry.retry_delay) {
                    spec.retry_delay_secs = delay.as_secs();
                }
                spec.jitter_ms = duration(&entry.jitter)
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                spec.on_failure = entry.on_failure.clone();
                spec.run_retention = entry.run_retention;
                spec.run_retention_days = entry.run_retention_days;
                spec.repeat = entry.repeat.as_ref().and_then(|r| match r {
                    RepeatEntry::Times(n) => Some(Repeat::Times(*n)),
                    RepeatEntry::Word(text) => text.parse().ok(),
                });
                spec.catch_up = entry
                    .catch_up
                    .as_deref()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or_default();
                spec.overlap = entry
                    .overlap
                    .as_deref()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or_default();
                let mut declared = Declared::new(spec);
                declared.paused = entry.paused;
                declared
            })
            .collect()
    }

    /// A path from the file, absolute: relative ones are taken from the file's directory.
    fn anchored(&self, path: &str) -> String {
        if Path::new(path).is_absolute() {
            path.to_owned()
        } else {
            self.base.join(path).to_string_lossy().into_owned()
        }
    }

    /// A relative program path against the workdir, else the file's directory.
    fn anchor_program(&self, mut argv: Vec<String>, workdir: Option<&str>) -> Vec<String> {
        if let Some(program) = argv.first_mut() {
            let base = workdir.map_or_else(|| self.base.clone(), PathBuf::from);
            *program = anchored_program(program, &base);
        }
        argv
    }
}

/// A relative program path (one with a `/`: `./run.sh`, `bin/x`) made absolute against
/// `base`, where the operator meant it; a bare name (`rsync`) is left to `PATH`, an absolute
/// path as it is.
///
/// ```
/// use cronhost::anchored_program;
///
/// assert_eq!(anchored_program("./run.sh", "/srv".as_ref()), "/srv/run.sh");
/// assert_eq!(anchored_program("rsync", "/srv".as_ref()), "rsync");
/// ```
pub fn anchored_program(program: &str, base: &Path) -> String {
    let path = Path::new(program);
    if !program.contains('/') || path.is_absolute() {
        return program.to_owned();
    }
    let joined: PathBuf = base
        .join(path)
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    joined.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_wrong_words_are_named() {
        let base = Path::new("/srv");
        let error = JobFile::parse(
            "[jobs.a]\nschedule = \"every 1h\"\ncommand = [\"true\"]\ntimout = 5\n",
            base,
        )
        .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("timout") && message.contains("line 4"),
            "{message}"
        );
        assert!(message.contains('^'), "the caret stays: {message}");
        let error = JobFile::parse(
            "[jobs.a]\nschedule = \"every 1h\"\ncommand = [\"true\"]\noverlap = \"queue\"\n",
            base,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("skip, allow, queue-one"),
            "{error}"
        );
    }

    #[test]
    fn durations_retries_jitter_and_the_hook_are_read() {
        let file = JobFile::parse(
            "[jobs.a]\nschedule = \"every 1h\"\ncommand = [\"true\"]\ntimeout = \"10m\"\nretries = 3\nretry_delay = \"30s\"\njitter = \"1m30s\"\non_failure = \"echo failed\"\n[jobs.b]\nschedule = \"every 1h\"\ncommand = [\"true\"]\ntimeout = 600\n",
            Path::new("/srv"),
        )
        .unwrap();
        let declared = file.declared();
        let a = &declared[0].spec;
        assert_eq!(a.timeout_secs, Some(600));
        assert_eq!(
            (a.retries, a.retry_delay_secs, a.jitter_ms),
            (3, 30, 90_000)
        );
        assert_eq!(a.on_failure.as_deref(), Some("echo failed"));
        assert_eq!(declared[1].spec.timeout_secs, Some(600));
        assert_eq!(declared[1].spec.retries, 0);
        let error = JobFile::parse(
            "[jobs.a]\nschedule = \"every 1h\"\ncommand = [\"true\"]\njitter = \"soon\"\n",
            Path::new("/srv"),
        )
        .unwrap_err();
        assert!(error.to_string().contains("jitter"), "{error}");
    }

    #[test]
    fn relative_paths_are_taken_from_the_file_directory() {
        let file = JobFile::parse(
            "[jobs.a]\nschedule = \"every 1h\"\ncommand = [\"./run.sh\", \"x\"]\n[jobs.b]\nschedule = \"every 1h\"\nworkdir = \"data\"\ncommand = [\"bin/tool\"]\n[jobs.c]\nschedule = \"every 1h\"\ncommand = [\"rsync\"]\n",
            Path::new("/srv/jobs"),
        )
        .unwrap();
        let declared = file.declared();
        assert_eq!(declared[0].spec.command, ["/srv/jobs/run.sh", "x"]);
        assert_eq!(declared[1].spec.workdir.as_deref(), Some("/srv/jobs/data"));
        assert_eq!(declared[1].spec.command, ["/srv/jobs/data/bin/tool"]);
        assert_eq!(declared[2].spec.command, ["rsync"]);
    }
}
