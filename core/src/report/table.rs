//! [`Table`]: any report as rows of text cells, for text output and CSV.
//!
//! Guarantees:
//! - Every row has exactly as many cells as there are columns.
//! - [`Table::to_csv`] is RFC 4180: a header line, then one line per row; a
//!   cell holding a comma, a quote, a carriage return or a newline is quoted
//!   with its quotes doubled; every line ends in CRLF. The device's
//!   `fieldwork report --csv` and the office API's CSV answers both write
//!   it, so the phone and the office export the same file.

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
        let mut out = String::new();
        for row in std::iter::once(&self.columns).chain(&self.rows) {
            let cells: Vec<String> = row.iter().map(|c| csv_field(c)).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        }
        out
    }
}

/// One CSV field, quoted when it must be.
fn csv_field(cell: &str) -> String {
    if cell.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_owned()
    }
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
}
