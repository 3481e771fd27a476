//! A crontab line's command: cron's `%` rule, and the shell line that keeps its meaning.
//!
//! As cronie reads it: the first `%` not escaped by a backslash ends the command, and the text
//! after it is the command's standard input, each further unescaped `%` a newline; `\%` is a
//! literal `%` (the backslash dropped); every other backslash stays as written.

/// A command split by cron's `%` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Split {
    /// The shell command line, `\%` read as `%`.
    pub command: String,
    /// Its standard input, when the line gives one (text after the first `%`, not empty).
    pub stdin: Option<String>,
}

/// Split `text` (a crontab line's command) at its first unescaped `%`.
pub(super) fn split(text: &str) -> Split {
    let mut command = String::with_capacity(text.len());
    let mut escaped = false;
    let mut input = None;
    for (at, ch) in text.char_indices() {
        if escaped {
            escaped = false;
            if ch == '%' {
                // `\%`: the `%` takes the backslash's place.
                command.pop();
            }
            command.push(ch);
            continue;
        }
        match ch {
            '\\' => {
                escaped = true;
                command.push(ch);
            }
            '%' => {
                input = Some(&text[at + ch.len_utf8()..]);
                break;
            }
            _ => command.push(ch),
        }
    }
    Split {
        command,
        stdin: input.filter(|rest| !rest.is_empty()).map(standard_input),
    }
}

/// The standard input cron writes for `rest` (the text after the first `%`): `%` becomes a
/// newline, `\%` a `%`; a backslash before anything else stays, and so does a last one.
fn standard_input(rest: &str) -> String {
    let mut out = String::with_capacity(rest.len());
    let mut escaped = false;
    for ch in rest.chars() {
        let ch = if escaped {
            if ch != '%' {
                out.push('\\');
            }
            ch
        } else if ch == '%' {
            '\n'
        } else {
            ch
        };
        escaped = ch == '\\';
        if !escaped {
            out.push(ch);
        }
    }
    if escaped {
        out.push('\\');
    }
    out
}

/// The one shell line that runs `split` as cron runs it: its command, with its standard input
/// (when it has one) written to the whole command by `printf` through a pipe. `None` when the
/// input holds a NUL byte, which no shell word can carry.
pub(super) fn shell_line(split: &Split) -> Option<String> {
    match &split.stdin {
        None => Some(split.command.clone()),
        Some(input) => {
            let quoted = shlex::try_quote(input).ok()?;
            // The command on lines of its own: a `# comment` at its end cannot swallow the `)`.
            Some(format!("printf '%s' {quoted} | (\n{}\n)", split.command))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str) -> (String, Option<String>) {
        let split = split(text);
        (split.command, split.stdin)
    }

    #[test]
    fn the_first_unescaped_percent_ends_the_command() {
        assert_eq!(parts("echo hi"), ("echo hi".into(), None));
        assert_eq!(
            parts("mail -s hi root%Dear root,%%bye"),
            ("mail -s hi root".into(), Some("Dear root,\n\nbye".into()))
        );
        assert_eq!(parts(r"date +\%Y-\%m"), ("date +%Y-%m".into(), None));
        assert_eq!(
            parts(r"cat%100\% sure%"),
            ("cat".into(), Some("100% sure\n".into()))
        );
        // A trailing `%` gives no input; other backslashes stay as written.
        assert_eq!(parts(r"echo a\tb%"), (r"echo a\tb".into(), None));
        assert_eq!(parts(r"echo \\%x"), (r"echo \\".into(), Some("x".into())));
        assert_eq!(parts(r"cat%a\b\"), ("cat".into(), Some(r"a\b\".into())));
        assert_eq!(parts(r"cat%a\\%b"), ("cat".into(), Some(r"a\%b".into())));
        assert_eq!(parts("cat%é%ü"), ("cat".into(), Some("é\nü".into())));
    }

    /// What `sh -c LINE` prints.
    fn sh(line: &str) -> String {
        let output = std::process::Command::new("sh")
            .args(["-c", line])
            .output()
            .unwrap();
        assert!(output.status.success(), "{line:?}: {output:?}");
        String::from_utf8(output.stdout).unwrap()
    }

    #[test]
    fn input_is_piped_to_the_whole_command() {
        let line = shell_line(&split(
            r"tr a-z A-Z; cat # a comment%it's $HOME `x` \\%s \%d%",
        ))
        .unwrap();
        assert!(line.starts_with("printf '%s' "), "{line}");
        // All of it read by the first command, none left for the second; the comment ends
        // at its line.
        assert_eq!(sh(&line), "IT'S $HOME `X` \\%S %D\n");
        let line = shell_line(&split("cat; echo end%no newline at the end")).unwrap();
        assert_eq!(sh(&line), "no newline at the endend\n");
        assert_eq!(shell_line(&split("true")).unwrap(), "true");
        assert_eq!(shell_line(&split("cat%a\0b")), None);
    }
}
