//! CSV files of records (accounts, contacts, deals, activities) read,
//! mapped and checked before anything is written. Pure: bytes in, values
//! out; the server's `fieldwork-server import` resolves accounts, finds
//! existing records and writes through the office API's write path.
//!
//! Guarantees:
//! - the bytes are read as UTF-8 (a byte order mark is dropped) or, when
//!   they are not valid UTF-8, as Windows-1252 ([`Encoding`]); the
//!   delimiter is `,`, `;` or tab, whichever the header line uses most;
//! - line numbers are the file's: the header is line 1 and a row is
//!   numbered by the line it starts on, also after quoted cells holding
//!   line breaks;
//! - every row is checked with the core's own parsing and rule book
//!   ([`crate::edit::FieldWrite::text`], [`crate::value::money_to_minor`],
//!   [`crate::rules::violations`]): a row either becomes a [`Row`] or
//!   yields its [`Issue`]s, all of them, in human sentences;
//! - work is bounded by the input: files over [`MAX_BYTES`] and rows over
//!   [`MAX_COLUMNS`] cells are refused with a clear error, and no input
//!   makes it panic.

mod decode;
pub mod mapping;
mod rows;

use std::fmt;

use serde::Serialize;

pub use decode::{Encoding, decode, delimiter};
pub use mapping::{ACCOUNT, EXTERNAL_ID, Mapping, Target};

use crate::edit::FieldWrite;
use crate::ids::RecordKind;

/// The largest file imported (200 MB).
pub const MAX_BYTES: usize = 200 * 1000 * 1000;
/// The most cells a row (and the header) may have.
pub const MAX_COLUMNS: usize = 200;
/// The longest external id, in characters.
pub const MAX_EXTERNAL_ID: usize = 200;

/// The kinds an import creates.
pub const KINDS: &[RecordKind] = &[
    RecordKind::Account,
    RecordKind::Contact,
    RecordKind::Deal,
    RecordKind::Activity,
];

/// Something wrong with one row (or, on line 1, with the header): where,
/// and what, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    /// The file's line the row starts on (the header is line 1).
    pub line: u64,
    /// The column's header, when one cell is at fault.
    pub column: Option<String>,
    /// The field concerned, when there is one.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl Issue {
    /// An issue of a whole row.
    pub fn row(line: u64, message: impl Into<String>) -> Issue {
        Issue {
            line,
            column: None,
            field: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Issue {
    /// `line 4: column "E-mail": message` (or `field `x``, or neither).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        match (&self.column, &self.field) {
            (Some(c), _) => write!(f, "column \"{c}\": ")?,
            (None, Some(field)) => write!(f, "field `{field}`: ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

/// A row that passed its checks.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The file's line it starts on.
    pub line: u64,
    /// Its id in the system it comes from (the `external_id` column).
    pub external_id: Option<String>,
    /// Its account as given: an account's external id or exact name.
    pub account: Option<String>,
    /// The header of the column the account is in.
    pub account_column: Option<String>,
    /// The fields it writes (empty cells write nothing; the mapping's
    /// defaults fill them), parsed and checked against the schema.
    pub writes: Vec<FieldWrite>,
    /// The rules a record created from this row alone would break (a
    /// missing required field, an amount without its currency): errors
    /// when the row creates a record, nothing when it updates one (the
    /// edit then checks the record as it stands).
    pub on_create: Vec<Issue>,
}

impl Row {
    /// The text written to `field`, if any.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.writes
            .iter()
            .find(|w| w.field == field)
            .and_then(|w| w.value.as_ref())
            .and_then(|v| v.as_text())
    }
}

/// A file read and checked.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// How its bytes were read.
    pub encoding: Encoding,
    /// Its delimiter.
    pub delimiter: char,
    /// The rows that passed their checks, in file order.
    pub rows: Vec<Row>,
    /// The problems found, in file order; an issue on line 1 is the
    /// header's, and then no row may be imported.
    pub errors: Vec<Issue>,
}

impl Prepared {
    /// Whether the header itself is at fault (nothing may be imported).
    pub fn header_refused(&self) -> bool {
        self.errors.iter().any(|e| e.line == 1)
    }
}

/// Line numbers as a text editor shows them, for byte offsets met in
/// increasing order (one pass over the text in all). The csv reader's own
/// line count puts a record that follows a `\r\n` on the line before it
/// (it stops at the `\r`), so lines are counted here.
struct LineCounter<'a> {
    text: &'a [u8],
    at: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a [u8]) -> Self {
        LineCounter {
            text,
            at: 0,
            line: 1,
        }
    }

    /// The line of the record starting at `byte` (line breaks before it,
    /// a `\n` left of a `\r\n` included, count).
    fn line_at(&mut self, byte: u64) -> u64 {
        let mut start = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while start < self.text.len() && matches!(self.text[start], b'\r' | b'\n') {
            start += 1;
        }
        if start > self.at {
            self.line += self.text[self.at..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64;
            self.at = start;
        }
        self.line
    }
}

/// Reads `bytes` as a CSV file of `kind` records mapped by `mapping`. An
/// `Err` is a problem with the whole file (too large, empty, a bad
/// mapping, too many columns); problems of rows are in
/// [`Prepared::errors`].
pub fn prepare(kind: RecordKind, bytes: &[u8], mapping: &Mapping) -> Result<Prepared, String> {
    if !KINDS.contains(&kind) {
        return Err(format!(
            "{kind} records cannot be imported (only account, contact, deal and activity)"
        ));
    }
    if bytes.len() > MAX_BYTES {
        return Err(format!(
            "the file has {} bytes; an import takes at most {MAX_BYTES} (split it)",
            bytes.len()
        ));
    }
    let (text, encoding) = decode(bytes);
    let delim = delimiter(&text);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delim)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = match records.next() {
        None => return Err("the file is empty: it needs a header line".into()),
        Some(Err(e)) => return Err(format!("the header cannot be read: {e}")),
        Some(Ok(h)) => h,
    };
    if header.len() > MAX_COLUMNS {
        return Err(format!(
            "the header has {} columns; an import takes at most {MAX_COLUMNS}",
            header.len()
        ));
    }
    let header: Vec<String> = header.iter().map(str::to_owned).collect();
    let (columns, mut errors) = columns_of(kind, &header, mapping)?;
    let width = header.len();
    let mut out = Vec::new();
    let mut lines = LineCounter::new(text.as_bytes());
    for record in records {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.line_at(p.byte()));
                errors.push(Issue::row(line, format!("cannot be read: {e}")));
                break;
            }
        };
        let line = record.position().map_or(0, |p| lines.line_at(p.byte()));
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if record.len() > MAX_COLUMNS {
            errors.push(Issue::row(
                line,
                format!(
                    "has {} cells; an import takes at most {MAX_COLUMNS}",
                    record.len()
                ),
            ));
            continue;
        }
        if record.len() != width {
            errors.push(Issue::row(
                line,
                format!(
                    "has {} cells but the header has {width} (a missing delimiter or quote?)",
                    record.len()
                ),
            ));
            continue;
        }
        let cells: Vec<&str> = record.iter().collect();
        match columns.row(line, &cells) {
            Ok(row) => out.push(row),
            Err(issues) => errors.extend(issues),
        }
    }
    Ok(Prepared {
        encoding,
        delimiter: char::from(delim),
        rows: out,
        errors,
    })
}

/// Where each column of `header` goes under `mapping`, and the header's
/// problems (on line 1); `Err` for a mapping whose defaults are invalid.
fn columns_of(
    kind: RecordKind,
    header: &[String],
    mapping: &Mapping,
) -> Result<(rows::Columns, Vec<Issue>), String> {
    let mut errors = Vec::new();
    let mut headers = Vec::with_capacity(header.len());
    let mut taken: Vec<(Target, String)> = Vec::new();
    for h in header {
        let target = match mapping::column(kind, mapping, h) {
            Ok(t) => t,
            Err(message) => {
                errors.push(Issue {
                    column: Some(h.to_owned()),
                    ..Issue::row(1, message)
                });
                Target::Ignored
            }
        };
        if target != Target::Ignored {
            if let Some((_, first)) = taken.iter().find(|(t, _)| *t == target) {
                errors.push(Issue {
                    column: Some(h.to_owned()),
                    ..Issue::row(1, format!("goes to the same field as column \"{first}\""))
                });
            } else {
                taken.push((target.clone(), h.to_owned()));
            }
        }
        headers.push((h.to_owned(), target));
    }
    let columns = rows::Columns {
        kind,
        headers,
        currency: mapping.currency.clone(),
        defaults: Vec::new(),
    }
    .with_defaults(mapping)?;
    Ok((columns, errors))
}

/// Checks `mapping` for records of `kind` without a file: every column's
/// target is a field the import may write (or `external_id`, `account`,
/// `""`), and every default parses as its field's value. `Err` says the
/// first problem, in words.
pub fn check_mapping(kind: RecordKind, mapping: &Mapping) -> Result<(), String> {
    if !KINDS.contains(&kind) {
        return Err(format!(
            "{kind} records cannot be imported (only account, contact, deal and activity)"
        ));
    }
    for (header, name) in &mapping.columns {
        mapping::target(kind, name.trim())
            .map_err(|e| format!("column \"{header}\" is mapped to a field: {e}"))?;
    }
    columns_of(kind, &[], mapping).map(|_| ())
}

/// Rows already split into cells (read from a spreadsheet rather than a
/// CSV file): the header's cells, then each row with its line number (the
/// spreadsheet's row number; the header is line 1 when it is the first
/// row) and its cells, and the problems found while reading them (their
/// rows are left out of `rows`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// The header's cells.
    pub header: Vec<String>,
    /// Each row: its line and its cells (as many as the header's, or
    /// fewer: missing cells are empty).
    pub rows: Vec<(u64, Vec<String>)>,
    /// Problems met while reading, by line.
    pub errors: Vec<Issue>,
}

/// Checks `table` as [`prepare`] checks a CSV file (same mapping, same
/// checks, same limits on columns); [`Prepared::encoding`] is UTF-8 and
/// [`Prepared::delimiter`] a comma, since neither applies.
pub fn prepare_table(
    kind: RecordKind,
    table: Table,
    mapping: &Mapping,
) -> Result<Prepared, String> {
    if !KINDS.contains(&kind) {
        return Err(format!(
            "{kind} records cannot be imported (only account, contact, deal and activity)"
        ));
    }
    if table.header.iter().all(|c| c.trim().is_empty()) {
        return Err("the sheet is empty: it needs a header row".into());
    }
    if table.header.len() > MAX_COLUMNS {
        return Err(format!(
            "the header has {} columns; an import takes at most {MAX_COLUMNS}",
            table.header.len()
        ));
    }
    let (columns, mut errors) = columns_of(kind, &table.header, mapping)?;
    errors.extend(table.errors);
    let width = table.header.len();
    let mut out = Vec::new();
    for (line, cells) in &table.rows {
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if cells.len() > width {
            errors.push(Issue::row(
                *line,
                format!(
                    "has {} cells but the header has {width} (a value right of the last column?)",
                    cells.len()
                ),
            ));
            continue;
        }
        let mut cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        cells.resize(width, "");
        match columns.row(*line, &cells) {
            Ok(row) => out.push(row),
            Err(issues) => errors.extend(issues),
        }
    }
    errors.sort_by_key(|e| e.line);
    Ok(Prepared {
        encoding: Encoding::Utf8,
        delimiter: ',',
        rows: out,
        errors,
    })
}

#[cfg(test)]
mod line_tests {
    use super::*;

    #[test]
    fn lines_are_counted_alike_with_crlf_lf_and_quoted_breaks() {
        let mapping = Mapping::from_json(
            br#"{"columns": {"Name": "name", "Email": "email", "Notes": "description"}}"#,
        )
        .expect("mapping");
        for eol in ["\r\n", "\n"] {
            let csv = [
                "Name,Email,Notes",
                "Uno,uno@x.es,a",
                "Dos,bad,b",
                "Tres,tres@x.es,\"two",
                "lines\"",
                "Cuatro,bad,c",
                "",
            ]
            .join(eol);
            let p = prepare(RecordKind::Account, csv.as_bytes(), &mapping).expect("prepared");
            let lines: Vec<u64> = p.errors.iter().map(|e| e.line).collect();
            assert_eq!(lines, [3, 6], "{eol:?}: {:?}", p.errors);
            let rows: Vec<u64> = p.rows.iter().map(|r| r.line).collect();
            assert_eq!(rows, [2, 4], "{eol:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_mapping() -> Mapping {
        Mapping::default()
    }

    #[test]
    fn rows_keep_the_files_line_numbers_across_quoted_line_breaks() {
        let csv = "external_id,name,description,email\n\
                   a1,Uno,\"two\nlines\",uno@example.com\n\
                   a2,Dos,,not-an-email\n\
                   a3,,,\n";
        let p = prepare(RecordKind::Account, csv.as_bytes(), &no_mapping()).expect("prepared");
        assert_eq!(p.encoding, Encoding::Utf8);
        assert_eq!(p.delimiter, ',');
        assert_eq!(p.rows.len(), 2, "{:?}", p.errors);
        assert_eq!((p.rows[0].line, p.rows[1].line), (2, 5));
        assert_eq!(p.rows[0].text("description"), Some("two\nlines"));
        assert_eq!(p.rows[0].external_id.as_deref(), Some("a1"));
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].line, 4);
        assert_eq!(p.errors[0].column.as_deref(), Some("email"));
        // Line 5 has no name: a creation would break the rule book.
        assert_eq!(p.rows[1].on_create.len(), 1);
        assert_eq!(p.rows[1].on_create[0].field.as_deref(), Some("name"));
        assert!(p.rows[0].on_create.is_empty(), "{:?}", p.rows[0].on_create);
    }

    #[test]
    fn windows_1252_semicolons_a_mapping_and_money_as_people_type_it() {
        let mut bytes = b"Empresa;L\xEDmite;Ref\r\n".to_vec();
        bytes.extend_from_slice(b"\xD1and\xFA SL;1.250,50;x1\r\n");
        let mapping = Mapping::from_json(
            br#"{"columns": {"Empresa": "name", "L\u00edmite": "credit_limit", "Ref": "external_id"},
                 "defaults": {"territory": "madrid"}, "currency": "EUR"}"#,
        )
        .expect("mapping");
        let p = prepare(RecordKind::Account, &bytes, &mapping).expect("prepared");
        assert_eq!((p.encoding, p.delimiter), (Encoding::Windows1252, ';'));
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let row = &p.rows[0];
        assert_eq!(row.text("name"), Some("Ñandú SL"));
        assert_eq!(row.text("territory"), Some("madrid"));
        assert_eq!(row.text("credit_currency"), Some("EUR"));
        let limit = row.writes.iter().find(|w| w.field == "credit_limit");
        assert_eq!(
            limit.and_then(|w| w.value.clone()),
            Some(crate::FieldValue::Int(125050))
        );
    }

    #[test]
    fn unknown_headers_are_one_error_on_line_1() {
        let p = prepare(
            RecordKind::Contact,
            b"last_name,Colour,account\nPaz,red,Acme\n",
            &no_mapping(),
        )
        .expect("prepared");
        assert!(p.header_refused());
        assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
        assert_eq!(p.errors[0].to_string().split(':').next(), Some("line 1"));
        assert_eq!(p.rows[0].account.as_deref(), Some("Acme"));
    }

    #[test]
    fn limits_are_clear_errors() {
        let wide = vec!["x"; MAX_COLUMNS + 1].join(",");
        assert!(prepare(RecordKind::Account, wide.as_bytes(), &no_mapping()).is_err());
        let row = format!("name\nA\n{}\n", vec!["x"; MAX_COLUMNS + 1].join(","));
        let p = prepare(RecordKind::Account, row.as_bytes(), &no_mapping()).expect("prepared");
        assert_eq!(p.errors[0].line, 3);
        assert!(prepare(RecordKind::Note, b"title\n", &no_mapping()).is_err());
        assert!(prepare(RecordKind::Account, b"", &no_mapping()).is_err());
    }

    #[test]
    fn a_table_is_checked_like_a_file_with_its_own_line_numbers() {
        let table = Table {
            header: vec!["Ref".into(), "Empresa".into(), "Email".into()],
            rows: vec![
                (2, vec!["x1".into(), "Uno".into()]),
                (3, vec![String::new(), String::new()]),
                (5, vec!["x2".into(), "Dos".into(), "not-an-email".into()]),
                (
                    7,
                    vec!["x3".into(), "Tres".into(), String::new(), "extra".into()],
                ),
            ],
            errors: vec![Issue::row(6, "the cell holds the spreadsheet error #N/A")],
        };
        let mapping =
            Mapping::from_json(br#"{"columns": {"Ref": "external_id", "Empresa": "name"}}"#)
                .expect("mapping");
        let p = prepare_table(RecordKind::Account, table, &mapping).expect("prepared");
        let rows: Vec<u64> = p.rows.iter().map(|r| r.line).collect();
        assert_eq!(rows, [2]);
        assert_eq!(p.rows[0].text("name"), Some("Uno"));
        let lines: Vec<u64> = p.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [5, 6, 7], "{:?}", p.errors);
        assert_eq!(p.errors[0].column.as_deref(), Some("Email"));
        assert!(prepare_table(RecordKind::Account, Table::default(), &mapping).is_err());
    }

    #[test]
    fn a_deals_account_column_fills_its_required_account() {
        let csv = "name,account,stage\nAmpliación,X1,proposal\nSin cuenta,,proposal\n";
        let p = prepare(RecordKind::Deal, csv.as_bytes(), &no_mapping()).expect("prepared");
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        assert!(p.rows[0].on_create.is_empty(), "{:?}", p.rows[0].on_create);
        let missing: Vec<_> = p.rows[1]
            .on_create
            .iter()
            .map(|i| i.field.clone())
            .collect();
        assert_eq!(missing, [Some("account".to_owned())]);
    }

    #[test]
    fn a_mapping_is_checked_against_the_kinds_fields() {
        let ok = Mapping::from_json(
            br#"{"columns": {"Nombre": "first_name", "Cuenta": "account", "X": ""},
                 "defaults": {"last_name": "Doe"}}"#,
        )
        .expect("mapping");
        assert_eq!(check_mapping(RecordKind::Contact, &ok), Ok(()));
        // Accounts have no `account` column nor `last_name`.
        assert!(check_mapping(RecordKind::Account, &ok).is_err());
        let bad_default =
            Mapping::from_json(br#"{"defaults": {"email": "nope"}}"#).expect("mapping");
        let e = check_mapping(RecordKind::Account, &bad_default).expect_err("refused");
        assert!(e.contains("email"), "{e}");
        assert!(check_mapping(RecordKind::Note, &Mapping::default()).is_err());
    }

    #[test]
    fn no_input_makes_it_panic() {
        let inputs: Vec<Vec<u8>> = vec![
            b"name\n\"unterminated".to_vec(),
            b"name,email\n\"a\"\"b,\0\0\0\n".to_vec(),
            b"\0\0\0\n\0".to_vec(),
            b"\xFF\xFE\x00n\x00a\x00m\x00e".to_vec(),
            b"name;;;\n;;;\n\"\n\"\n".to_vec(),
            (0u8..=255).cycle().take(5000).collect(),
            b"\xEF\xBB\xBF".to_vec(),
            b"\xEF\xBB".to_vec(),
        ];
        let mut seed = 7u64;
        let mut garbage = Vec::new();
        for _ in 0..20_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let alphabet = b"ab,;\t\"\n\r\xC3\xA9\x80\0";
            garbage.push(alphabet[(seed >> 59) as usize % alphabet.len()]);
        }
        for kind in KINDS {
            for input in inputs.iter().chain([&garbage]) {
                let _ = prepare(*kind, input, &no_mapping());
            }
        }
    }
}
