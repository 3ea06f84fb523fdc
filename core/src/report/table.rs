//! [`Table`]: any report as rows of text cells, for text output and CSV.
//!
//! Guarantees:
//! - Every row has exactly as many cells as there are columns.

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
