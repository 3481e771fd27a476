//! Bounding text that comes from outside (provider messages, library errors) before it reaches
//! a log line or a status report.

use std::borrow::Cow;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        assert_eq!(truncate("short", 10), "short");
        let cut = truncate("ééééé", 3);
        assert_eq!(cut, "é… (8 bytes cut)");
    }
}
