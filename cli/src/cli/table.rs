//! Tables for people: columns as wide as their widest cell, the status column coloured.

/// Print `header` and `rows` aligned; cells of `status_column` are coloured as status words.
/// Cells must already be safe for a terminal.
pub fn print<const N: usize>(
    header: [&str; N],
    rows: &[[String; N]],
    status_column: Option<usize>,
) {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header = header.map(str::to_owned);
    for row in std::iter::once(&header).chain(rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(column, (cell, width))| {
                if Some(column) == status_column {
                    super::style::status_cell(cell, width)
                } else {
                    format!("{cell:width$}")
                }
            })
            .collect();
        outln!("{}", cells.join("  ").trim_end());
    }
}
