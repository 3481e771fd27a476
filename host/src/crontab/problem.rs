//! What can be wrong with a crontab (its lines' problems, each with what is allowed) and what
//! cronhost keeps of it only in part (warnings).

use cronhost_core::schedule::ScheduleError;

/// A crontab that cannot be imported; nothing was.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrontabError {
    /// The file (or standard input) cannot be read.
    #[error("cannot read {file}: {source}")]
    Read {
        /// The file, or `<stdin>`.
        file: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Lines that cannot be imported, one message each (`FILE:LINE: what is wrong`).
    #[error("{}", each_line(.file, .errors))]
    Lines {
        /// The file, or `<stdin>`.
        file: String,
        /// Every line refused, in order.
        errors: Vec<LineError>,
    },
}

fn each_line(file: &str, errors: &[LineError]) -> String {
    errors
        .iter()
        .map(|error| format!("{file}:{}: {}", error.line, error.problem))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A line of a crontab that cannot be imported.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {problem}")]
#[non_exhaustive]
pub struct LineError {
    /// Its number (1 for the first line).
    pub line: usize,
    /// What is wrong with it.
    #[source]
    pub problem: LineProblem,
}

/// What is wrong with a line of a crontab, and what is allowed instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LineProblem {
    /// `@reboot`: cronhost has no schedule for "when the daemon starts".
    #[error("`@reboot` cannot be imported: cronhost has no schedule for \"when the daemon starts\"; start that command from a systemd unit (or the session's autostart) instead, and remove the line")]
    Reboot,
    /// An `@word` that is no schedule alias.
    #[error("`{0}` is not a crontab schedule: use five time fields (minute hour day-of-month month day-of-week) or one of @yearly @annually @monthly @weekly @daily @midnight @hourly")]
    UnknownAlias(String),
    /// Fewer fields than a job line needs.
    #[error("{}", incomplete(*.found, *.system))]
    Incomplete {
        /// How many fields the line has.
        found: usize,
        /// Whether a user column was expected.
        system: bool,
    },
    /// Nothing before the first `%`.
    #[error("the command before the first unescaped `%` is empty (a `%` starts the command's standard input; write `\\%` for a `%`)")]
    EmptyCommand,
    /// A NUL byte, which no command or variable can carry.
    #[error("the line contains a NUL byte, which no command or variable can carry")]
    Nul,
    /// `CRON_TZ` or `TZ` names no IANA zone.
    #[error("{variable}: {source}")]
    Zone {
        /// The variable.
        variable: String,
        /// What the zone parser said.
        #[source]
        source: ScheduleError,
    },
    /// `HOME` is not an absolute path.
    #[error("HOME=`{0}` is not an absolute path: cron runs the jobs below it there, so give one starting with `/`")]
    RelativeHome(String),
    /// A quoted value without its closing quote, or with text after it.
    #[error("`{name}=`: the quoted value is not closed, or text follows its closing quote; write NAME=value, NAME = \"value\" or NAME = 'value'")]
    Quoting {
        /// The variable.
        name: String,
    },
    /// An empty variable name, or one with control characters.
    #[error("`{}` is not a variable name: write NAME=value, with a name of visible characters", .name.escape_debug())]
    VariableName {
        /// What was written as the name.
        name: String,
    },
    /// A system crontab line for a user other than the one importing it.
    #[error("the line runs as `{user}`, but cronhost runs every job as the user running it ({}) and has no per-job user; import that user's lines as that user (`sudo -u {user} cronhost jobs import-crontab --system FILE`), or remove the line", importing_user(.importing))]
    OtherUser {
        /// The user the line names.
        user: String,
        /// The user importing, when known.
        importing: Option<String>,
    },
}

fn incomplete(found: usize, system: bool) -> String {
    let user = if system { " user" } else { "" };
    format!(
        "a job line is `minute hour day-of-month month day-of-week{user} command` (or `@daily{user} command`), but this one has only {found} field{}",
        if found == 1 { "" } else { "s" }
    )
}

fn importing_user(user: &Option<String>) -> String {
    user.as_ref().map_or_else(
        || "a user the password database does not know".to_owned(),
        |user| format!("`{user}`"),
    )
}

/// A line whose meaning cronhost keeps only in part.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// `MAILTO` or `MAILFROM` with an address: cronhost sends no mail.
    Mail {
        /// The variable.
        variable: String,
        /// Its value.
        value: String,
    },
    /// Both day fields restricted, one starting with `*`: cronie runs the job on days that
    /// match both, cronhost on days that match either.
    DaysCombined {
        /// The day-of-month field.
        day_of_month: String,
        /// The day-of-week field.
        day_of_week: String,
    },
    /// The same job as an earlier line: cron runs it twice, and two jobs are added.
    Repeated {
        /// The earlier line.
        first: usize,
    },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Mail { variable, value } => write!(
                f,
                "{variable}={value} is not used: cronhost sends no mail. It keeps each run's output (`cronhost logs JOB`), and an on-failure hook can mail a failure: `cronhost jobs edit JOB --on-failure 'mail -s \"$CRONHOST_JOB_NAME failed\" {value} < \"$CRONHOST_OUTPUT_FILE\"'`"
            ),
            Self::DaysCombined {
                day_of_month,
                day_of_week,
            } => write!(
                f,
                "day-of-month `{day_of_month}` and day-of-week `{day_of_week}` are both restricted and one starts with `*`: cron (cronie, Vixie) runs the job only on days matching both, cronhost on days matching either; name the days in one field and test the other in the command if both must hold"
            ),
            Self::Repeated { first } => write!(
                f,
                "the same job as line {first}: cron runs both, so two jobs are added"
            ),
        }
    }
}

/// A warning and the line it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LineWarning {
    /// The line's number (1 for the first).
    pub line: usize,
    /// What differs.
    pub warning: Warning,
}
