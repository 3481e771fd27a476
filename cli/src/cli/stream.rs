//! A JSON document written as it goes (`jobs list --json`, `jobs export`): its opening fields,
//! an array filled one item at a time and written a block at a time, then its closing fields.
//! The text is what pretty-printing the whole document would give, without holding it.

use serde::Serialize;

use super::{CliError, EXIT_OK};

/// Bytes gathered before a write.
const BLOCK_BYTES: usize = 1 << 20;

/// An open document: `{`, the fields before the array, the array's items so far.
pub struct JsonArray {
    block: String,
    empty: bool,
}

impl JsonArray {
    /// Open the document with `fields` (name and value, already JSON) and the array `key`.
    pub fn open(fields: &[(&str, String)], key: &str) -> Self {
        let mut block = String::from("{\n");
        for (name, value) in fields {
            block.push_str(&format!("  {}: {value},\n", json(name)));
        }
        block.push_str(&format!("  {}: [", json(key)));
        Self { block, empty: true }
    }

    /// Add `item` to the array.
    pub fn push(&mut self, item: &impl Serialize) -> Result<(), CliError> {
        let text = serde_json::to_string_pretty(item)
            .map_err(|e| CliError::failure(format!("cannot encode JSON: {e}")))?;
        if !std::mem::replace(&mut self.empty, false) {
            self.block.push(',');
        }
        for line in text.lines() {
            self.block.push_str("\n    ");
            self.block.push_str(line);
        }
        if self.block.len() >= BLOCK_BYTES {
            write_out(&std::mem::take(&mut self.block));
        }
        Ok(())
    }

    /// Close the array, add `fields` after it, close the document.
    pub fn close(mut self, fields: &[(&str, String)]) {
        self.block.push_str(if self.empty { "]" } else { "\n  ]" });
        for (name, value) in fields {
            self.block
                .push_str(&format!(",\n  {}: {value}", json(name)));
        }
        self.block.push_str("\n}\n");
        write_out(&self.block);
    }
}

/// `text` as a JSON string.
fn json(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// Write `text` as it is; a closed pipe ends the command quietly, as `outln!` does.
fn write_out(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(EXIT_OK);
        }
    }
}
