//! Tables for people: columns as wide as their widest cell, the status column coloured.

/// Print `header` and `rows` aligned; cells of `status_column` are coloured as status words.
/// Cells must already be safe for a terminal.
pub fn print<const N: usize>(
    header: [&str; N],
    rows: &[[String; N]],
    status_column: Option<usize>,
) {
    Streamed::new(header, status_column).block(rows);
}

/// A table printed a block of rows at a time, for listings too long to hold: the header goes
/// out with the first block, aligned to it, and each block is aligned to the widest cells
/// seen so far (columns only ever widen).
pub struct Streamed<'a, const N: usize> {
    header: Option<[&'a str; N]>,
    widths: [usize; N],
    status_column: Option<usize>,
}

impl<'a, const N: usize> Streamed<'a, N> {
    /// A table under `header`; nothing is printed until the first block.
    pub fn new(header: [&'a str; N], status_column: Option<usize>) -> Self {
        Self {
            widths: header.map(|h| h.chars().count()),
            header: Some(header),
            status_column,
        }
    }

    /// Print `rows` (the header first, the first time), in one write.
    pub fn block(&mut self, rows: &[[String; N]]) {
        for row in rows {
            for (width, cell) in self.widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let header = self.header.take().map(|h| h.map(str::to_owned));
        let mut text = String::new();
        for row in header.iter().chain(rows) {
            let cells: Vec<String> = row
                .iter()
                .zip(self.widths)
                .enumerate()
                .map(|(column, (cell, width))| {
                    if Some(column) == self.status_column {
                        super::style::status_cell(cell, width)
                    } else {
                        format!("{cell:width$}")
                    }
                })
                .collect();
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(cells.join("  ").trim_end());
        }
        if !text.is_empty() {
            outln!("{text}");
        }
    }
}
