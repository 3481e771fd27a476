//! Colour for people at a terminal: only when stdout is a terminal and `NO_COLOR` is unset.

use std::io::IsTerminal;
use std::sync::OnceLock;

use cronhost::store::RunStatus;

/// A colour for a piece of output.
#[derive(Debug, Clone, Copy)]
pub enum Colour {
    /// Good news.
    Green,
    /// Needs attention.
    Yellow,
    /// Bad news.
    Red,
}

/// Whether output is coloured (decided once per process).
pub fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| {
        std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
    })
}

/// `text` in `colour` when colour is enabled.
pub fn paint(text: &str, colour: Colour) -> String {
    if !enabled() {
        return text.to_owned();
    }
    let code = match colour {
        Colour::Green => 32,
        Colour::Yellow => 33,
        Colour::Red => 31,
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// `text` padded to `width` columns, then coloured as its status word (padding first, so
/// colour codes never upset the alignment).
pub fn status_cell(text: &str, width: usize) -> String {
    let padded = format!("{text:width$}");
    match text.parse().ok().and_then(status_colour) {
        Some(colour) => paint(&padded, colour),
        None => padded,
    }
}

/// The colour of a run status, if it has one.
pub fn status_colour(status: RunStatus) -> Option<Colour> {
    match status {
        RunStatus::Succeeded => Some(Colour::Green),
        RunStatus::Failed | RunStatus::TimedOut | RunStatus::Unknown => Some(Colour::Red),
        RunStatus::Skipped | RunStatus::Queued | RunStatus::Cancelled => Some(Colour::Yellow),
        _ => None,
    }
}
