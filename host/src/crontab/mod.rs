//! Crontabs (crontab(5), as cronie and Vixie cron read them), read into the declared jobs
//! `cronhost jobs import-crontab` adds. Reading the text is free of I/O ([`Crontab::parse`]);
//! [`Crontab::read`] reads a file or standard input first.
//!
//! What a crontab says, and what its jobs get:
//! - `m h dom mon dow command`, `@yearly` ... `@hourly`: the schedule as written, for the
//!   store to parse as `jobs add` does; `@reboot` is refused (no schedule means "at start").
//! - `VAR=value`: the environment of the jobs below it. `SHELL` also picks their shell (a job
//!   runs `$SHELL -c LINE`; the default, `/bin/sh`, is a job with `shell` set), `HOME` the
//!   directory they run in (cron runs jobs in the home; the account's by default), `CRON_TZ`
//!   (else `TZ`) their zone. `CRON_TZ`, `MAILTO` and `MAILFROM` speak to cron, not to the job:
//!   they are left out of its environment, and no mail is sent (a warning says so).
//! - cron's `%` rule (`command.rs`): the text after the first unescaped `%` is the command's
//!   standard input, written to it by `printf` through a pipe.
//! - the system form (`/etc/crontab`, `/etc/cron.d`): a user column after the time fields; a
//!   job runs as the user running cronhost, so only that user's lines are taken.
//!
//! A job's name is a slug of its program and a hash of its definition (schedule, zone, command,
//! environment, directory): importing the same crontab again finds every job by its name.

mod account;
mod command;
mod problem;
mod variable;

pub use problem::{CrontabError, LineError, LineProblem, LineWarning, Warning};

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use cronhost_core::schedule::parse_zone;
use cronhost_core::store::{stable_hash, Declared, JobSpec};

use self::variable::is_blank;

/// The longest crontab read.
const CRONTAB_LIMIT: u64 = 1024 * 1024;

/// The schedule aliases a crontab may use (`@reboot` aside, which is refused).
const ALIASES: [&str; 7] = [
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

/// The shell cron runs commands with when no `SHELL=` line names another: a job with `shell`.
const DEFAULT_SHELL: &str = "/bin/sh";

/// The name standard input goes by in messages.
const STDIN_NAME: &str = "<stdin>";

/// How to read a crontab: its form, and the account importing it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrontabOptions {
    system: bool,
    user: Option<String>,
    home: Option<String>,
}

impl CrontabOptions {
    /// A user's crontab (the `crontab -e` form) read for no account in particular: system
    /// lines match no user, and jobs run where cronhost runs them unless `HOME=` says.
    pub fn new() -> Self {
        Self::default()
    }

    /// The options for the user running this process (its name and home directory from the
    /// password database; a home that is not a directory is left out), in the system form
    /// when `system`.
    pub fn for_current_user(system: bool) -> Self {
        let options = Self::new().system(system);
        match account::current() {
            // A home that is not there is no place to run jobs (cron's would fail to start).
            Some((user, home)) if Path::new(&home).is_dir() => options.account(&user, &home),
            Some((user, _)) => options.account(&user, ""),
            None => options,
        }
    }

    /// The system form (`/etc/crontab`, `/etc/cron.d`): a user column after the time fields.
    pub fn system(mut self, system: bool) -> Self {
        self.system = system;
        self
    }

    /// The account importing: its user name (the only one a system line may name) and its
    /// home directory (where its jobs run, as cron runs them, unless `HOME=` says otherwise;
    /// one that is not absolute is left out).
    pub fn account(mut self, user: &str, home: &str) -> Self {
        self.user = Some(user.to_owned());
        self.home = Some(home.to_owned()).filter(|home| home.starts_with('/'));
        self
    }
}

/// One job line of a crontab.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CrontabJob {
    /// Its line number (1 for the first).
    pub line: usize,
    /// The job it declares, named.
    pub declared: Declared,
}

/// A crontab, read into jobs.
///
/// ```
/// use cronhost::{Crontab, CrontabOptions};
///
/// let crontab = Crontab::parse(
///     "# nightly\nCRON_TZ=Europe/Berlin\n30 2 * * * backup.sh --all\n@hourly date >> /tmp/t%\n",
///     "my.crontab",
///     &CrontabOptions::new(),
/// )?;
/// let jobs = crontab.jobs();
/// assert_eq!((jobs[0].line, jobs[1].line), (3, 4));
/// let backup = &jobs[0].declared.spec;
/// assert_eq!(backup.schedule, "30 2 * * *");
/// assert_eq!(backup.timezone.as_deref(), Some("Europe/Berlin"));
/// assert_eq!(backup.command, ["backup.sh --all"]);
/// assert!(backup.shell);
/// assert!(backup.name.as_deref().unwrap().starts_with("backup-sh-"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Crontab {
    file: String,
    jobs: Vec<CrontabJob>,
    warnings: Vec<LineWarning>,
}

/// What the `VAR=value` lines above a job line have set.
#[derive(Debug, Clone, Default)]
struct Settings {
    env: BTreeMap<String, String>,
    cron_tz: Option<String>,
    tz: Option<String>,
    shell: Option<String>,
    home: Option<String>,
}

impl Settings {
    /// Take `NAME=value`; a warning when cronhost does not do what it asks.
    fn set(&mut self, name: String, value: String) -> Result<Option<Warning>, LineProblem> {
        match name.as_str() {
            "CRON_TZ" => {
                self.cron_tz = zone(&name, &value)?;
                return Ok(None);
            }
            "MAILTO" | "MAILFROM" => {
                // Empty: no mail, which is what cronhost does anyway.
                return Ok((!value.is_empty()).then_some(Warning::Mail {
                    variable: name,
                    value,
                }));
            }
            // `TZ=:Europe/Berlin` is the POSIX way to name a zone file.
            "TZ" => self.tz = zone(&name, value.strip_prefix(':').unwrap_or(&value))?,
            "SHELL" => self.shell = Some(value.clone()).filter(|shell| !shell.is_empty()),
            "HOME" => {
                if !value.starts_with('/') {
                    return Err(LineProblem::RelativeHome(value));
                }
                self.home = Some(value.clone());
            }
            _ => {}
        }
        self.env.insert(name, value);
        Ok(None)
    }
}

/// `value` as the zone `variable` names: `None` when empty (the host's zone), else an IANA
/// zone.
fn zone(variable: &str, value: &str) -> Result<Option<String>, LineProblem> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    parse_zone(value).map_err(|source| LineProblem::Zone {
        variable: variable.to_owned(),
        source,
    })?;
    Ok(Some(value.to_owned()))
}

/// The next blank-separated field of `text` and what follows it.
fn next_field(text: &str) -> (&str, &str) {
    let text = text.trim_start_matches(is_blank);
    text.split_at(text.find(is_blank).unwrap_or(text.len()))
}

/// A job line read: its definition (unnamed), the program its name starts with, and a
/// warning when cronhost reads it differently.
struct JobLine {
    spec: JobSpec,
    program: String,
    warning: Option<Warning>,
}

/// Read a job line (`text` without its leading blanks) under `settings`.
fn job_line(
    text: &str,
    options: &CrontabOptions,
    settings: &Settings,
) -> Result<JobLine, LineProblem> {
    let incomplete = || LineProblem::Incomplete {
        found: text.split(is_blank).filter(|w| !w.is_empty()).count(),
        system: options.system,
    };
    let (first, mut rest) = next_field(text);
    let mut warning = None;
    let schedule = if first.starts_with('@') {
        let alias = first.to_ascii_lowercase();
        if alias == "@reboot" {
            return Err(LineProblem::Reboot);
        }
        if !ALIASES.contains(&alias.as_str()) {
            return Err(LineProblem::UnknownAlias(first.to_owned()));
        }
        alias
    } else {
        let mut fields = vec![first];
        for _ in 1..5 {
            let (field, after) = next_field(rest);
            if field.is_empty() {
                return Err(incomplete());
            }
            fields.push(field);
            rest = after;
        }
        let (day_of_month, day_of_week) = (fields[2], fields[4]);
        // cronie reads a day field that starts with `*` as unrestricted when combining the
        // two (AND); cronhost, like most crons, reads `*/2` as restricted (OR).
        if day_of_month != "*"
            && day_of_week != "*"
            && (day_of_month.starts_with('*') || day_of_week.starts_with('*'))
        {
            warning = Some(Warning::DaysCombined {
                day_of_month: day_of_month.to_owned(),
                day_of_week: day_of_week.to_owned(),
            });
        }
        fields.join(" ")
    };
    let user = if options.system {
        let (user, after) = next_field(rest);
        rest = after;
        Some(user)
    } else {
        None
    };
    let command = rest.trim_start_matches(is_blank);
    if command.is_empty() {
        return Err(incomplete());
    }
    if let Some(user) = user {
        if options.user.as_deref() != Some(user) {
            return Err(LineProblem::OtherUser {
                user: user.to_owned(),
                importing: options.user.clone(),
            });
        }
    }
    let split = command::split(command);
    if split.command.trim_matches(is_blank).is_empty() {
        return Err(LineProblem::EmptyCommand);
    }
    let line = command::shell_line(&split).ok_or(LineProblem::Nul)?;
    let mut spec = match settings.shell.as_deref() {
        Some(shell) if shell != DEFAULT_SHELL => JobSpec::new(&schedule, [shell, "-c", &line]),
        _ => {
            let mut spec = JobSpec::new(&schedule, [line]);
            spec.shell = true;
            spec
        }
    };
    spec.env = settings.env.clone();
    spec.timezone = settings.cron_tz.clone().or_else(|| settings.tz.clone());
    spec.workdir = settings.home.clone().or_else(|| options.home.clone());
    Ok(JobLine {
        spec,
        program: program(&split.command),
        warning,
    })
}

/// The program a command line starts with, for a job's name: its first word that is not a
/// `VAR=value`, without quotes or directories.
fn program(command: &str) -> String {
    command
        .split(is_blank)
        .find(|word| !word.is_empty() && !word.contains('='))
        .unwrap_or_default()
        .trim_matches(['"', '\''])
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A readable, stable job name: a slug of `program` and a hash of the definition.
fn job_name(program: &str, spec: &JobSpec) -> String {
    let mut slug = String::new();
    for c in program.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(32);
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() { "job" } else { slug };
    format!("{slug}-{:08x}", fingerprint(spec) & 0xffff_ffff)
}

/// A stable hash of what a crontab line defines: its schedule, zone, command, environment and
/// directory.
fn fingerprint(spec: &JobSpec) -> u64 {
    let command_count = spec.command.len().to_string();
    let mut parts: Vec<&str> = vec![
        &spec.schedule,
        spec.timezone.as_deref().unwrap_or_default(),
        if spec.shell { "shell" } else { "argv" },
        spec.workdir.as_deref().unwrap_or_default(),
        &command_count,
    ];
    parts.extend(spec.command.iter().map(String::as_str));
    for (key, value) in &spec.env {
        parts.extend([key.as_str(), value.as_str()]);
    }
    // Each part with its length first: no two definitions give the same text.
    let key: String = parts
        .iter()
        .map(|part| format!("{}:{part};", part.len()))
        .collect();
    stable_hash(&key)
}

impl Crontab {
    /// Read the crontab at `path` (`-`: standard input), at most 1 MiB of UTF-8 text.
    pub fn read(path: &Path, options: &CrontabOptions) -> Result<Self, CrontabError> {
        let (file, text) = if path.as_os_str() == "-" {
            (
                STDIN_NAME.to_owned(),
                crate::text_file::read_stdin_bounded(CRONTAB_LIMIT),
            )
        } else {
            (
                path.display().to_string(),
                crate::text_file::read_bounded(path, CRONTAB_LIMIT).and_then(|text| {
                    text.ok_or_else(|| {
                        std::io::Error::new(std::io::ErrorKind::NotFound, "no such file")
                    })
                }),
            )
        };
        let text = text.map_err(|source| CrontabError::Read {
            file: file.clone(),
            source,
        })?;
        Self::parse(&text, &file, options)
    }

    /// Read crontab text; `file` names it in messages. Every line that cannot be imported is
    /// reported, each with its number. Schedules are not checked here: the store checks them
    /// as it checks `jobs add`'s.
    pub fn parse(text: &str, file: &str, options: &CrontabOptions) -> Result<Self, CrontabError> {
        let mut settings = Settings::default();
        let mut jobs = Vec::new();
        let mut warnings = Vec::new();
        let mut errors = Vec::new();
        // The first line of each name, and how many lines had it.
        let mut seen: HashMap<String, (usize, usize)> = HashMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let text = raw.trim_start_matches(is_blank);
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            let mut refuse = |problem| errors.push(LineError { line, problem });
            if text.contains('\0') {
                refuse(LineProblem::Nul);
                continue;
            }
            if let Some(assignment) = variable::parse(text) {
                match assignment.and_then(|(name, value)| settings.set(name, value)) {
                    Ok(Some(warning)) => warnings.push(LineWarning { line, warning }),
                    Ok(None) => {}
                    Err(problem) => refuse(problem),
                }
                continue;
            }
            let job = match job_line(text, options, &settings) {
                Ok(job) => job,
                Err(problem) => {
                    refuse(problem);
                    continue;
                }
            };
            if let Some(warning) = job.warning {
                warnings.push(LineWarning { line, warning });
            }
            let mut spec = job.spec;
            let base = job_name(&job.program, &spec);
            let (first, count) = seen.entry(base.clone()).or_insert((line, 0));
            *count += 1;
            spec.name = Some(if *count == 1 {
                base
            } else {
                warnings.push(LineWarning {
                    line,
                    warning: Warning::Repeated { first: *first },
                });
                format!("{base}-{count}")
            });
            jobs.push(CrontabJob {
                line,
                declared: Declared::new(spec),
            });
        }
        if !errors.is_empty() {
            return Err(CrontabError::Lines {
                file: file.to_owned(),
                errors,
            });
        }
        Ok(Self {
            file: file.to_owned(),
            jobs,
            warnings,
        })
    }

    /// The file it was read from (`<stdin>` for standard input), as messages name it.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Its jobs, in the order of their lines.
    pub fn jobs(&self) -> &[CrontabJob] {
        &self.jobs
    }

    /// Its jobs as the store's declared jobs ([`Store::apply_jobs`]), in the same order.
    ///
    /// [`Store::apply_jobs`]: cronhost_core::store::Store::apply_jobs
    pub fn declared(&self) -> Vec<Declared> {
        self.jobs.iter().map(|job| job.declared.clone()).collect()
    }

    /// Lines whose meaning cronhost keeps only in part, in order.
    pub fn warnings(&self) -> &[LineWarning] {
        &self.warnings
    }
}
