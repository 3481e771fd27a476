//! Text that comes from outside (provider messages, library errors, job names and commands):
//! bounded before it reaches a log line or a status report, and escaped before it reaches a
//! terminal.

use std::borrow::Cow;

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Whether `c` would change how a terminal shows the text around it: control characters
/// (escape sequences, bells, carriage returns) and invisible format characters (zero-width
/// spaces and joiners, bidirectional overrides).
pub fn is_hidden(c: char) -> bool {
    c.is_control() || c.general_category() == GeneralCategory::Format
}

/// `text` with every hidden character (see [`is_hidden`]) written as an escape (`\u{1b}`,
/// `\n`), so a job name, command or error from the store can never move the cursor, recolour
/// or reorder what the operator reads.
///
/// ```
/// assert_eq!(cronhost_core::text::for_terminal("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
/// assert_eq!(cronhost_core::text::for_terminal("plain"), "plain");
/// ```
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if is_hidden(c) {
                c.escape_default().collect()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// `text` cut to at most `limit` bytes (on a character boundary), saying how much was cut.
pub fn truncate(text: &str, limit: usize) -> Cow<'_, str> {
    if text.len() <= limit {
        return text.into();
    }
    let mut cut = limit;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… ({} bytes cut)", &text[..cut], text.len() - cut).into()
}

/// [`for_terminal`] line by line: line breaks stay, everything else hidden is escaped.
pub fn lines_for_terminal(text: &str) -> String {
    text.split('\n')
        .map(for_terminal)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The message of a panic's payload (`panic!("...")` carries a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        assert_eq!(truncate("short", 10), "short");
        let cut = truncate("ééééé", 3);
        assert_eq!(cut, "é… (8 bytes cut)");
    }

    #[test]
    fn hidden_characters_are_escaped_for_the_terminal() {
        assert_eq!(for_terminal("ok\u{202e}txt"), "ok\\u{202e}txt");
        assert_eq!(for_terminal("line\nnext"), "line\\nnext");
        assert_eq!(for_terminal("é"), "é");
    }
}
