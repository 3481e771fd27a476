//! `VAR=value` lines of a crontab, read as cronie reads them: spaces around the `=`, a value
//! in single or double quotes (taken as written, nothing after the closing quote) or bare
//! (to the end of the line, trailing blanks dropped).

use super::LineProblem;

/// A tab or a space: what separates a crontab's fields.
pub(super) fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// `line` (without its leading blanks) read as `NAME=value`: `None` when it is not one (a
/// job's line), an error when it is one whose value is quoted wrong.
pub(super) fn parse(line: &str) -> Option<Result<(String, String), LineProblem>> {
    let (name, rest) = match line.chars().next() {
        Some(quote @ ('"' | '\'')) => {
            let body = &line[1..];
            let end = body.find(quote)?;
            (&body[..end], &body[end + 1..])
        }
        _ => {
            let end = line
                .find(|c: char| is_blank(c) || c == '=')
                .unwrap_or(line.len());
            line.split_at(end)
        }
    };
    let value = rest.trim_start_matches(is_blank).strip_prefix('=')?;
    let value = value.trim_start_matches(is_blank);
    let value = match value.chars().next() {
        Some(quote @ ('"' | '\'')) => {
            let body = &value[1..];
            match body.find(quote) {
                Some(end) if body[end + 1..].trim_matches(is_blank).is_empty() => &body[..end],
                _ => {
                    return Some(Err(LineProblem::Quoting {
                        name: name.to_owned(),
                    }))
                }
            }
        }
        _ => value.trim_end_matches(is_blank),
    };
    if name.is_empty() || name.chars().any(char::is_control) {
        return Some(Err(LineProblem::VariableName {
            name: name.to_owned(),
        }));
    }
    Some(Ok((name.to_owned(), value.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(line: &str) -> Option<(String, String)> {
        parse(line).map(|result| result.unwrap())
    }

    #[test]
    fn values_bare_and_quoted_as_cronie_reads_them() {
        let pair = |name: &str, value: &str| Some((name.to_owned(), value.to_owned()));
        assert_eq!(
            assignment("PATH=/usr/bin:/bin"),
            pair("PATH", "/usr/bin:/bin")
        );
        assert_eq!(
            assignment("GREETING = hello world  "),
            pair("GREETING", "hello world")
        );
        assert_eq!(
            assignment("A = \"  spaced # kept \"  "),
            pair("A", "  spaced # kept ")
        );
        assert_eq!(assignment("B='it\"s'"), pair("B", "it\"s"));
        assert_eq!(assignment("MAILTO=\"\""), pair("MAILTO", ""));
        assert_eq!(assignment("EMPTY="), pair("EMPTY", ""));
        assert_eq!(assignment("\"QUOTED NAME\"=x"), pair("QUOTED NAME", "x"));
        assert_eq!(assignment("X=a=b"), pair("X", "a=b"));
    }

    #[test]
    fn job_lines_are_not_assignments_and_bad_quotes_are_named() {
        assert_eq!(assignment("0 3 * * * FOO=bar backup"), None);
        assert_eq!(assignment("@daily X=1 run"), None);
        assert_eq!(assignment("*/5 * * * * a=b"), None);
        assert!(matches!(
            parse("A=\"open"),
            Some(Err(LineProblem::Quoting { .. }))
        ));
        assert!(matches!(
            parse("A='x' y"),
            Some(Err(LineProblem::Quoting { .. }))
        ));
        assert!(matches!(
            parse("=x"),
            Some(Err(LineProblem::VariableName { .. }))
        ));
    }
}
