//! [`Table`]: any report as rows of text cells, for text output and CSV.
//!
//! Guarantees:
//! - Every row has exactly as many cells as there are columns.
//! - [`Table::to_csv`] is RFC 4180: a header line, then one line per row; a
//!   cell holding a comma, a quote, a carriage return or a newline is quoted
//!   with its quotes doubled; every line ends in CRLF. The device's
//!   `fieldwork report --csv`, the office API's CSV answers and record
//!   exports all write it, so the phone and the office export the same file.
//! - No cell runs as a formula when the file is opened in a spreadsheet
//!   (CSV injection: a rep could type `=HYPERLINK(...)` into a name): a
//!   cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is
//!   written with a leading `'`, unless it is a plain number (`-12.50`
//!   stays a number).

use serde::Serialize;

/// A report flattened to a header and rows of cells.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Table {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each with one cell per column.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(columns: &[&str]) -> Table {
        Table {
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row, padded with empty cells or cut to the column count.
    pub fn push(&mut self, mut row: Vec<String>) {
        row.resize(self.columns.len(), String::new());
        self.rows.push(row);
    }

    /// The table as RFC 4180 CSV with a header line.
    pub fn to_csv(&self) -> String {
        std::iter::once(&self.columns)
            .chain(&self.rows)
            .map(|row| csv_line(row))
            .collect()
    }
}

/// One CSV line (ending in CRLF) of these cells, each quoted when it must
/// be and kept from running as a formula (see the module's guarantees).
pub fn csv_line<S: AsRef<str>>(cells: &[S]) -> String {
    let mut line = cells
        .iter()
        .map(|c| csv_field(c.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// One CSV field, defused and quoted when it must be.
fn csv_field(cell: &str) -> String {
    let defused;
    let cell = if runs_as_formula(cell) {
        defused = format!("'{cell}");
        defused.as_str()
    } else {
        cell
    };
    if cell.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
}

/// Whether a spreadsheet would run `cell` as a formula rather than show it:
/// it starts with a formula character and is not a plain number.
fn runs_as_formula(cell: &str) -> bool {
    cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell.parse::<f64>().is_err()
}

/// A report that can be shown as a [`Table`].
pub trait Tabular {
    /// The report as a table.
    fn table(&self) -> Table;
}

/// A cell for an optional value: empty when absent.
pub fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// A ratio as a percentage with one decimal, empty when undefined.
pub fn percent(ratio: Option<f64>) -> String {
    ratio
        .map(|r| format!("{:.1}%", r * 100.0))
        .unwrap_or_default()
}

/// Seconds as days with one decimal, empty when undefined.
pub fn days(seconds: Option<f64>) -> String {
    seconds
        .map(|s| format!("{:.1}", s / 86_400.0))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_what_needs_quoting() {
        let mut t = Table::new(&["a", "b"]);
        t.push(vec!["plain".into(), "1,5".into()]);
        t.push(vec!["say \"hi\"".into(), "two\nlines".into()]);
        t.push(vec!["".into(), "ünï".into()]);
        assert_eq!(
            t.to_csv(),
            "a,b\r\nplain,\"1,5\"\r\n\"say \"\"hi\"\"\",\"two\nlines\"\r\n,ünï\r\n"
        );
    }

    #[test]
    fn no_cell_runs_as_a_formula_but_numbers_stay_numbers() {
        let line = csv_line(&[
            "=HYPERLINK(\"http://x.example\",\"Acme\")",
            "+34 600",
            "-12.50",
            "@SUM(A1)",
            "\tcmd",
            "a=b",
            "1e3",
        ]);
        assert_eq!(
            line,
            "\"'=HYPERLINK(\"\"http://x.example\"\",\"\"Acme\"\")\",'+34 600,-12.50,'@SUM(A1),'\tcmd,a=b,1e3\r\n"
        );
    }
}
