//! The one validator of a job's definition, serving `jobs add` and `jobs import` alike: every
//! text bounded and printable where it is shown, every number within the range the host can
//! compute with, a shell command given as one line.

use std::collections::BTreeMap;

use crate::text::is_hidden;

use super::StoreError;

/// Longest job name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Most bytes of a command (all its arguments together).
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;
/// Most arguments of a command.
pub const MAX_ARGUMENTS: usize = 4096;
/// Most environment variables of a job.
pub const MAX_ENV_VARS: usize = 256;
/// Most bytes of a job's environment (keys and values together).
pub const MAX_ENV_BYTES: usize = 64 * 1024;
/// Longest working directory, in bytes (the OS's `PATH_MAX`).
pub const MAX_WORKDIR_BYTES: usize = 4096;
/// Longest schedule text, in bytes.
pub const MAX_SCHEDULE_BYTES: usize = 1024;
/// Longest free text a job carries (pause reason), in characters.
pub const MAX_NOTE_CHARS: usize = 1024;
/// Longest timeout: 365 days.
pub const MAX_TIMEOUT_SECS: u64 = 365 * 86_400;
/// Most runs a retention keeps per job (`run_retention`; 0 means no count limit). Pruning
/// counts a job's newest runs down an index, so the count stays within what it walks quickly.
pub const MAX_RUN_RETENTION: u32 = 1_000_000;
/// Longest age a retention keeps runs for, in days (`run_retention_days`; 0 means no age
/// limit): 100 years, as for `cron.completed_retention_days`.
pub const MAX_RUN_RETENTION_DAYS: u32 = 36_500;

/// A job's definition as both `jobs add` and `jobs import` hand it in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Definition<'a> {
    pub name: Option<&'a str>,
    pub schedule_text: &'a str,
    pub command: &'a [String],
    pub shell: bool,
    pub workdir: Option<&'a str>,
    pub env: &'a BTreeMap<String, String>,
    pub timeout_secs: Option<u64>,
    pub repeat_limit: Option<u32>,
    pub run_retention: Option<u32>,
    pub run_retention_days: Option<u32>,
    pub retries: u32,
    pub retry_delay_secs: u64,
    pub jitter_ms: u64,
    pub on_failure: Option<&'a str>,
    pub handler: Option<&'a str>,
}

/// Most retries of one occurrence.
pub const MAX_RETRIES: u32 = 100;
/// Longest first retry delay: an hour, the backoff's own cap.
pub const MAX_RETRY_DELAY_SECS: u64 = 3_600;
/// Widest jitter window: a day.
pub const MAX_JITTER_MS: u64 = 86_400_000;

fn invalid(message: String) -> Result<(), StoreError> {
    Err(StoreError::Invalid(message))
}

/// Check a definition; the error names the field, what was wrong and what is allowed.
pub(crate) fn check(definition: &Definition<'_>) -> Result<(), StoreError> {
    if let Some(name) = definition.name {
        check_name(name)?;
    }
    let schedule = definition.schedule_text;
    if schedule.trim().is_empty()
        || schedule.len() > MAX_SCHEDULE_BYTES
        || schedule.chars().any(is_hidden)
    {
        return invalid(format!(
            "schedule is not allowed: use 1 to {MAX_SCHEDULE_BYTES} bytes without control characters"
        ));
    }
    match definition.handler {
        None => check_command(definition.command, definition.shell)?,
        Some(handler) => check_handler(handler, definition.command, definition.shell)?,
    }
    if let Some(dir) = definition.workdir {
        if dir.is_empty() || dir.len() > MAX_WORKDIR_BYTES || dir.contains('\0') {
            return invalid(format!(
                "workdir is not allowed: use an absolute path of 1 to {MAX_WORKDIR_BYTES} bytes"
            ));
        }
        if !dir.starts_with('/') {
            return invalid(format!(
                "workdir `{}` is relative; give an absolute path (`jobs add` resolves a relative one against the directory it runs in)",
                dir.escape_debug()
            ));
        }
    }
    check_env(definition.env)?;
    if let Some(timeout) = definition.timeout_secs {
        if !(1..=MAX_TIMEOUT_SECS).contains(&timeout) {
            return invalid(format!(
                "timeout {timeout} is out of range: allowed 1 to {MAX_TIMEOUT_SECS} seconds (365 days)"
            ));
        }
    }
    if definition.repeat_limit == Some(0) {
        return invalid(
            "repeat 0 is not allowed: use `forever`, `once` or a positive number".into(),
        );
    }
    if let Some(runs) = definition.run_retention {
        if runs > MAX_RUN_RETENTION {
            return invalid(format!(
                "run retention {runs} is out of range: allowed 0 (no count limit) to {MAX_RUN_RETENTION} runs"
            ));
        }
    }
    if let Some(days) = definition.run_retention_days {
        if days > MAX_RUN_RETENTION_DAYS {
            return invalid(format!(
                "run retention of {days} days is out of range: allowed 0 (no age limit) to {MAX_RUN_RETENTION_DAYS} days"
            ));
        }
    }
    if definition.retries > MAX_RETRIES {
        return invalid(format!(
            "retries {} is out of range: allowed 0 to {MAX_RETRIES}",
            definition.retries
        ));
    }
    if !(1..=MAX_RETRY_DELAY_SECS).contains(&definition.retry_delay_secs) {
        return invalid(format!(
            "retry delay {}s is out of range: allowed 1 to {MAX_RETRY_DELAY_SECS} seconds (an hour)",
            definition.retry_delay_secs
        ));
    }
    if definition.jitter_ms > MAX_JITTER_MS {
        return invalid(format!(
            "jitter {}ms is out of range: allowed 0 to {MAX_JITTER_MS} ms (a day)",
            definition.jitter_ms
        ));
    }
    if let Some(hook) = definition.on_failure {
        if hook.trim().is_empty() || hook.len() > MAX_COMMAND_BYTES || hook.contains('\0') {
            return invalid(format!(
                "on-failure command is not allowed: use one shell line of 1 to {MAX_COMMAND_BYTES} bytes"
            ));
        }
    }
    Ok(())
}

/// A job's name: see [`check_visible_name`].
pub(crate) fn check_name(name: &str) -> Result<(), StoreError> {
    check_visible_name("job name", name)
}

/// A name (`what`: a job's, a handler's): 1 to [`MAX_NAME_CHARS`] characters, not blank, none
/// of them hidden.
fn check_visible_name(what: &str, name: &str) -> Result<(), StoreError> {
    if name.trim().is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(is_hidden)
    {
        return invalid(format!(
            "{what} `{}` is not allowed: use 1 to {MAX_NAME_CHARS} visible characters (no control, zero-width or direction-changing characters)",
            name.escape_debug()
        ));
    }
    Ok(())
}

/// An in-process job: a handler name and no command.
fn check_handler(handler: &str, command: &[String], shell: bool) -> Result<(), StoreError> {
    check_handler_name(handler)?;
    if !command.is_empty() || shell {
        return invalid(format!(
            "a job runs a command or a handler, not both: handler `{}` was given with a command",
            handler.escape_debug()
        ));
    }
    Ok(())
}

/// A handler's name: the rules of a job's name ([`check_visible_name`]).
pub(crate) fn check_handler_name(handler: &str) -> Result<(), StoreError> {
    check_visible_name("handler name", handler)
}

fn check_command(command: &[String], shell: bool) -> Result<(), StoreError> {
    let Some(program) = command.first().filter(|p| !p.trim().is_empty()) else {
        return invalid("the job has no command: give it after `--`".into());
    };
    if command.len() > MAX_ARGUMENTS
        || command.iter().map(String::len).sum::<usize>() > MAX_COMMAND_BYTES
    {
        return invalid(format!(
            "the command is too long: at most {MAX_ARGUMENTS} arguments and {MAX_COMMAND_BYTES} bytes (put a long script in a file and run that)"
        ));
    }
    if command.iter().any(|arg| arg.contains('\0')) {
        return invalid("the command contains a NUL byte, which no program can receive".into());
    }
    if shell && command.len() > 1 {
        // `sh -c` takes one command line; joining several arguments with spaces loses their
        // quoting (`rm -rf "/x/my dir"` would become `rm -rf /x/my dir`).
        let quoted = shlex::try_join(command.iter().map(String::as_str))
            .unwrap_or_else(|_| command.join(" "));
        let suggestion = shlex::try_quote(&quoted)
            .map(|q| q.into_owned())
            .unwrap_or(quoted);
        return invalid(format!(
            "--shell takes the whole command line as one argument, but {} were given; quote it: `--shell -- {suggestion}` (or drop --shell to run `{}` with its arguments directly)",
            command.len(),
            program.escape_debug()
        ));
    }
    Ok(())
}

fn check_env(env: &BTreeMap<String, String>) -> Result<(), StoreError> {
    if env.len() > MAX_ENV_VARS
        || env.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() > MAX_ENV_BYTES
    {
        return invalid(format!(
            "the environment is too large: at most {MAX_ENV_VARS} variables and {MAX_ENV_BYTES} bytes"
        ));
    }
    for (key, value) in env {
        if key.is_empty() || key.contains(['=', '\0']) || key.chars().any(is_hidden) {
            return invalid(format!(
                "environment variable name `{}` is not allowed: use a non-empty name without `=` or control characters",
                key.escape_debug()
            ));
        }
        if value.contains('\0') {
            return invalid(format!("environment variable {key} contains a NUL byte"));
        }
    }
    Ok(())
}

/// Free text stored with a job (a pause reason): bounded, without hidden characters.
pub(crate) fn check_note(what: &str, text: &str) -> Result<(), StoreError> {
    if text.chars().count() > MAX_NOTE_CHARS || text.chars().any(is_hidden) {
        return invalid(format!(
            "{what} is not allowed: use at most {MAX_NOTE_CHARS} characters without control characters"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn definition<'a>(command: &'a [String], env: &'a BTreeMap<String, String>) -> Definition<'a> {
        Definition {
            name: Some("backup"),
            schedule_text: "0 3 * * *",
            command,
            shell: false,
            workdir: None,
            env,
            timeout_secs: None,
            repeat_limit: None,
            run_retention: None,
            run_retention_days: None,
            retries: 0,
            retry_delay_secs: 10,
            jitter_ms: 0,
            on_failure: None,
            handler: None,
        }
    }

    #[test]
    fn each_bound_is_named_and_a_good_definition_passes() {
        let command = vec!["true".to_owned()];
        let env = BTreeMap::new();
        check(&definition(&command, &env)).unwrap();
        let message = |d: Definition<'_>| check(&d).unwrap_err().to_string();
        let base = definition(&command, &env);
        assert!(message(Definition {
            timeout_secs: Some(u64::MAX),
            ..base
        })
        .contains("allowed 1 to"));
        assert!(message(Definition {
            timeout_secs: Some(0),
            ..base
        })
        .contains("allowed 1 to"));
        assert!(message(Definition {
            repeat_limit: Some(0),
            ..base
        })
        .contains("repeat 0"));
        assert!(message(Definition {
            run_retention: Some(MAX_RUN_RETENTION + 1),
            ..base
        })
        .contains("allowed 0 (no count limit) to 1000000 runs"));
        assert!(message(Definition {
            run_retention_days: Some(MAX_RUN_RETENTION_DAYS + 1),
            ..base
        })
        .contains("allowed 0 (no age limit) to 36500 days"));
        check(&Definition {
            run_retention: Some(0),
            run_retention_days: Some(MAX_RUN_RETENTION_DAYS),
            ..base
        })
        .unwrap();
        assert!(message(Definition {
            workdir: Some("rel/dir"),
            ..base
        })
        .contains("relative"));
        let two = vec!["echo".to_owned(), "a;touch Z".to_owned()];
        let error = message(Definition {
            command: &two,
            shell: true,
            ..base
        });
        assert!(
            error.contains(r#"`--shell -- "echo 'a;touch Z'"`"#),
            "{error}"
        );
        let huge = vec!["x".repeat(MAX_COMMAND_BYTES + 1)];
        assert!(message(Definition {
            command: &huge,
            ..base
        })
        .contains("too long"));
    }

    #[test]
    fn names_count_characters_and_refuse_hidden_ones() {
        check_name(&"é".repeat(150)).unwrap();
        assert!(check_name(&"é".repeat(201)).is_err());
        for hidden in [
            "a\u{200b}b",
            "evil\u{202e}txt",
            "bell\u{7}",
            "esc\u{1b}[31m",
        ] {
            let error = check_name(hidden).unwrap_err().to_string();
            assert!(error.contains("visible characters"), "{error}");
            assert!(
                !error.contains('\u{1b}'),
                "the error itself is escaped: {error:?}"
            );
        }
    }
}
