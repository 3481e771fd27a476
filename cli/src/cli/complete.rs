//! Shell completion: the registration script `cronhost completions SHELL` prints, and the
//! values completed by asking cronhost itself at each TAB (job names from the home's store,
//! zones, policy words).

use std::ffi::OsStr;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};

/// Complete `--name`-style job arguments with the names and ids in the home's store (the home
/// from `CRONHOST_HOME` or the default; the store is opened read-only).
pub fn jobs() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let Some(current) = current.to_str() else {
            return Vec::new();
        };
        // The home as `CRONHOST_HOME` or the default names it; nothing is created to find out.
        let root = match std::env::var_os("CRONHOST_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => std::path::PathBuf::from(dir),
            None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
                Some(home) => std::path::PathBuf::from(home).join(".cronhost"),
                None => return Vec::new(),
            },
        };
        let file = root.join("cron").join(cronhost::store::DB_FILE);
        if !file.is_file() {
            return Vec::new();
        }
        let Ok(store) = cronhost::store::Store::open_read_only(&file) else {
            return Vec::new();
        };
        // Walked row by row, keeping only the words that match: a million jobs complete in
        // constant memory.
        let mut words = Vec::new();
        let _ = store.each_job(true, |job| {
            words.extend(
                [job.name, job.id]
                    .into_iter()
                    // Only words a shell takes as they are: a name with spaces, quotes, `$`
                    // or globs would be inserted unquoted.
                    .filter(|word| {
                        word.starts_with(current)
                            && word
                                .chars()
                                .all(|c| c.is_alphanumeric() || "-_.:@+,=%/".contains(c))
                    })
                    .map(CompletionCandidate::new),
            );
            std::ops::ControlFlow::Continue(())
        });
        words
    })
}

/// Complete `--tz` with the IANA zone names.
pub fn zones() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let current = current.to_string_lossy();
        cronhost::schedule::zone_names()
            .filter(|zone| zone.starts_with(current.as_ref()))
            .map(CompletionCandidate::new)
            .collect()
    })
}

/// A parser for a policy word (`--catch-up`, `--overlap`): help lists the words, completion
/// completes them.
pub fn words<T>(names: &'static [&'static str]) -> impl TypedValueParser<Value = T>
where
    T: std::str::FromStr + Clone + Send + Sync + 'static,
{
    PossibleValuesParser::new(names).try_map(|word| word.parse::<T>().map_err(|_| "unreachable"))
}

/// Print the script that registers cronhost's completion with `shell`.
pub fn print_registration(shell: clap_complete::Shell) -> std::io::Result<()> {
    use clap_complete::env::EnvCompleter;
    // The shell completes `cronhost` by asking this very binary.
    let completer = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.to_str().map(str::to_owned))
        .unwrap_or_else(|| "cronhost".to_owned());
    let mut out = std::io::stdout().lock();
    let (var, name, bin) = ("COMPLETE", "cronhost", "cronhost");
    match shell {
        clap_complete::Shell::Bash => {
            clap_complete::env::Bash.write_registration(var, name, bin, &completer, &mut out)
        }
        clap_complete::Shell::Zsh => {
            clap_complete::env::Zsh.write_registration(var, name, bin, &completer, &mut out)
        }
        clap_complete::Shell::Fish => {
            clap_complete::env::Fish.write_registration(var, name, bin, &completer, &mut out)
        }
        clap_complete::Shell::Elvish => {
            clap_complete::env::Elvish.write_registration(var, name, bin, &completer, &mut out)
        }
        clap_complete::Shell::PowerShell => {
            clap_complete::env::Powershell.write_registration(var, name, bin, &completer, &mut out)
        }
        _ => Err(std::io::Error::other("this shell is not supported")),
    }
}
