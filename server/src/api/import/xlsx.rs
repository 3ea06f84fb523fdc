//! XLSX files (Excel, LibreOffice "Office Open XML") as the rows
//! [`fieldwork_core::import::prepare_table`] checks: the first worksheet,
//! its first row the header, every cell as the text a CSV file would hold.
//!
//! Guarantees:
//! - a file is taken for XLSX by its first bytes (a zip archive,
//!   [`MAGIC`]), never by its name;
//! - nothing is unpacked past [`MAX_UNPACKED`] bytes in all nor from more
//!   than [`MAX_ENTRIES`] members: the archive is measured by actually
//!   inflating it (sizes it declares are not trusted) before the reader
//!   (calamine) opens it, so a zip bomb is refused with a clear error;
//!   the sheet is read cell by cell (calamine's streaming reader, never its
//!   whole-sheet grid, which a far cell like `XFD1048576` would make
//!   enormous), at most [`MAX_CELLS`] cells, at most
//!   [`fieldwork_core::import::MAX_COLUMNS`] columns kept per row;
//! - cells become text as the CSV path expects it: dates `YYYY-MM-DD`
//!   (`YYYY-MM-DDTHH:MM:SS` with a time of day), numbers with at most 15
//!   significant digits and no float noise (`0.1 + 0.2` is `0.3`, `12.0` is
//!   `12`), booleans `true`/`false`; a cell holding a spreadsheet error
//!   (`#N/A`) refuses its row;
//! - line numbers are the spreadsheet's row numbers (the header is row 1);
//! - no input makes it panic: every failure is an `Err` in words.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use calamine::{DataRef, Reader, Xlsx};
use fieldwork_core::import::{Issue, MAX_BYTES, MAX_COLUMNS, Table};

/// The first bytes of a zip archive, which an XLSX file is.
pub const MAGIC: &[u8] = b"PK\x03\x04";
/// The most bytes an XLSX file may unpack to, all members together (1 GB:
/// the XML of a sheet is several times the text it holds).
pub const MAX_UNPACKED: u64 = 1000 * 1000 * 1000;
/// The most members its archive may have.
pub const MAX_ENTRIES: usize = 10_000;
/// The most cells the worksheet may have (empty ones included).
pub const MAX_CELLS: usize = 10_000_000;

/// Whether `bytes` are a zip archive (so, for an import, an XLSX file).
pub fn is_xlsx(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Reads the first worksheet of the XLSX file `bytes` as a [`Table`]:
/// row 1 its header, each later row with its row number. `Err` is a
/// problem with the whole file, in words.
pub fn read(bytes: &[u8]) -> Result<Table, String> {
    if bytes.len() > MAX_BYTES {
        return Err(format!(
            "the file has {} bytes; an import takes at most {MAX_BYTES} (split it)",
            bytes.len()
        ));
    }
    check_unpacked(bytes, MAX_UNPACKED)?;
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes))
        .map_err(|e| format!("the file is a zip archive but not a readable XLSX file: {e}"))?;
    let Some(first) = book.sheet_names().first().cloned() else {
        return Err("the XLSX file has no worksheet".into());
    };
    let mut reader = book
        .worksheet_cells_reader(&first)
        .map_err(|e| format!("the worksheet \"{first}\" cannot be read: {e}"))?;
    let mut rows: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    let mut bad: Vec<(u32, u32, String)> = Vec::new();
    let mut count = 0usize;
    // What the rows, their padding and the problems hold in memory: bounded
    // like a CSV file's bytes, whatever the archive's compression (a shared
    // string is one entry of the archive but a copy in every cell naming it).
    let mut kept = 0usize;
    let too_much = || {
        format!(
            "the worksheet holds more than {MAX_BYTES} bytes of text; an import takes at most that many (split it)"
        )
    };
    loop {
        let cell = match reader.next_cell() {
            Ok(Some(cell)) => cell,
            Ok(None) => break,
            Err(e) => return Err(format!("the worksheet \"{first}\" cannot be read: {e}")),
        };
        count += 1;
        if count > MAX_CELLS {
            return Err(format!(
                "the worksheet has more than {MAX_CELLS} cells; an import takes at most that many (split it)"
            ));
        }
        let (row, col) = cell.get_position();
        let text = match text(cell.get_value()) {
            Ok(t) => t,
            Err(why) => {
                kept += why.len();
                if kept > MAX_BYTES {
                    return Err(too_much());
                }
                bad.push((row, col, why));
                continue;
            }
        };
        kept += text.len();
        if kept > MAX_BYTES {
            return Err(too_much());
        }
        if text.is_empty() {
            continue;
        }
        let Ok(at) = usize::try_from(col) else {
            continue;
        };
        if at >= MAX_COLUMNS {
            if row == 0 {
                return Err(format!(
                    "the header has a cell in column {}; an import takes at most {MAX_COLUMNS} columns",
                    column_name(col)
                ));
            }
            let why = format!("is right of the {MAX_COLUMNS} columns an import takes");
            kept += why.len();
            if kept > MAX_BYTES {
                return Err(too_much());
            }
            bad.push((row, col, why));
            continue;
        }
        let cells = rows.entry(row).or_default();
        if cells.len() <= at {
            kept += (at + 1 - cells.len()) * std::mem::size_of::<String>();
            if kept > MAX_BYTES {
                return Err(too_much());
            }
            cells.resize(at + 1, String::new());
        }
        cells[at] = text;
    }
    let header = rows.remove(&0).unwrap_or_default();
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err(format!(
            "the first row of the worksheet \"{first}\" is empty: it must hold the column headers"
        ));
    }
    let mut errors = Vec::new();
    for (row, col, why) in bad {
        let line = u64::from(row) + 1;
        if row == 0 {
            return Err(format!(
                "the header's cell {}{line} {why}",
                column_name(col)
            ));
        }
        rows.remove(&row);
        let column = usize::try_from(col)
            .ok()
            .and_then(|c| header.get(c))
            .filter(|h| !h.trim().is_empty())
            .cloned()
            .unwrap_or_else(|| column_name(col));
        errors.push(Issue {
            column: Some(column),
            ..Issue::row(line, format!("the cell {}{line} {why}", column_name(col)))
        });
    }
    errors.sort_by_key(|e| e.line);
    Ok(Table {
        header,
        rows: rows
            .into_iter()
            .map(|(row, cells)| (u64::from(row) + 1, cells))
            .collect(),
        errors,
    })
}

/// Inflates every member of the archive `bytes`, counting, and refuses
/// it once more than `max` bytes came out (or it has more than
/// [`MAX_ENTRIES`] members).
pub fn check_unpacked(bytes: &[u8], max: u64) -> Result<(), String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("the file starts like a zip archive (XLSX) but is not one: {e}"))?;
    if zip.len() > MAX_ENTRIES {
        return Err(format!(
            "the XLSX file has {} members; an import takes at most {MAX_ENTRIES}",
            zip.len()
        ));
    }
    let too_large = || {
        format!(
            "the XLSX file unpacks to more than {max} bytes; an import takes at most that much (split it)"
        )
    };
    let mut total = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    for i in 0..zip.len() {
        let mut member = zip
            .by_index(i)
            .map_err(|e| format!("the XLSX file cannot be unpacked: {e}"))?;
        if total.saturating_add(member.size()) > max {
            return Err(too_large());
        }
        loop {
            let n = member
                .read(&mut buf)
                .map_err(|e| format!("the XLSX file cannot be unpacked: {e}"))?;
            if n == 0 {
                break;
            }
            total = total.saturating_add(n as u64);
            if total > max {
                return Err(too_large());
            }
        }
    }
    Ok(())
}

/// One cell's value as CSV text (empty for an empty cell), or why the row
/// cannot be imported.
fn text(value: &DataRef<'_>) -> Result<String, String> {
    Ok(match value {
        DataRef::Empty => String::new(),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => number(*f)?,
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) if d.is_duration() => number(d.as_f64())?,
        DataRef::DateTime(d) => {
            let (y, mo, day, h, mi, s, _) = d.to_ymd_hms_milli();
            if (h, mi, s) == (0, 0, 0) {
                format!("{y:04}-{mo:02}-{day:02}")
            } else {
                format!("{y:04}-{mo:02}-{day:02}T{h:02}:{mi:02}:{s:02}")
            }
        }
        DataRef::DateTimeIso(s) => s.strip_suffix("T00:00:00").unwrap_or(s).to_owned(),
        DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => return Err(format!("holds the spreadsheet error {e}")),
    })
}

/// A number as a spreadsheet shows it: at most 15 significant digits (what
/// Excel keeps), then the shortest text that reads back the same
/// (`12.000000000000002` → `12`, `0.30000000000000004` → `0.3`).
pub fn number(f: f64) -> Result<String, String> {
    if !f.is_finite() {
        return Err("holds a number that is not finite".into());
    }
    let rounded: f64 = format!("{f:.14e}")
        .parse()
        .map_err(|_| "holds a number that cannot be read".to_owned())?;
    if rounded == 0.0 {
        return Ok("0".into());
    }
    Ok(rounded.to_string())
}

/// A column's letters (`0` → `A`, `26` → `AA`).
pub fn column_name(col: u32) -> String {
    let mut n = u64::from(col) + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = ((n - 1) % 26) as u8;
        out.push(char::from(b'A' + rem));
        n = (n - 1) / 26;
    }
    out.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn numbers_lose_their_float_noise() {
        assert_eq!(number(12.0).as_deref(), Ok("12"));
        assert_eq!(number(0.1 + 0.2).as_deref(), Ok("0.3"));
        assert_eq!(number(12.000000000000002).as_deref(), Ok("12"));
        assert_eq!(number(1250.5).as_deref(), Ok("1250.5"));
        assert_eq!(number(-3.25).as_deref(), Ok("-3.25"));
        assert_eq!(number(-0.0).as_deref(), Ok("0"));
        assert!(number(f64::NAN).is_err());
        assert!(number(f64::INFINITY).is_err());
    }

    #[test]
    fn cells_become_the_text_a_csv_file_holds() {
        use calamine::{ExcelDateTime, ExcelDateTimeType};
        let date = ExcelDateTime::new(45943.0, ExcelDateTimeType::DateTime, false);
        assert_eq!(text(&DataRef::DateTime(date)).as_deref(), Ok("2025-10-13"));
        let at = ExcelDateTime::new(45943.5, ExcelDateTimeType::DateTime, false);
        assert_eq!(
            text(&DataRef::DateTime(at)).as_deref(),
            Ok("2025-10-13T12:00:00")
        );
        let old = ExcelDateTime::new(44481.0, ExcelDateTimeType::DateTime, true);
        assert_eq!(text(&DataRef::DateTime(old)).as_deref(), Ok("2025-10-13"));
        assert_eq!(text(&DataRef::Bool(true)).as_deref(), Ok("true"));
        assert_eq!(text(&DataRef::Int(7)).as_deref(), Ok("7"));
        assert!(
            text(&DataRef::Error(calamine::CellErrorType::NA))
                .expect_err("refused")
                .contains("#N/A")
        );
    }

    #[test]
    fn columns_are_named_like_the_spreadsheet() {
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(16383), "XFD");
    }

    fn zip_of(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in members {
            out.start_file(*name, options).expect("member");
            out.write_all(data).expect("written");
        }
        out.finish().expect("finished").into_inner()
    }

    #[test]
    fn a_zip_bomb_is_refused_before_it_is_read() {
        let zeros = vec![0u8; 200_000];
        let bomb = zip_of(&[("xl/worksheets/sheet1.xml", &zeros)]);
        assert!(bomb.len() < 10_000, "{} bytes", bomb.len());
        let e = check_unpacked(&bomb, 100_000).expect_err("refused");
        assert!(e.contains("unpacks to more than 100000 bytes"), "{e}");
        assert_eq!(check_unpacked(&bomb, 200_000), Ok(()));
    }

    #[test]
    fn an_archive_that_lies_about_its_sizes_is_refused_all_the_same() {
        let zeros = vec![0u8; 200_000];
        let mut lying = zip_of(&[("xl/worksheets/sheet1.xml", &zeros)]);
        // Both headers say 1000 bytes unpacked.
        let local = lying
            .windows(4)
            .position(|w| w == b"PK\x03\x04")
            .expect("local header");
        lying[local + 22..local + 26].copy_from_slice(&1000u32.to_le_bytes());
        let central = lying
            .windows(4)
            .position(|w| w == b"PK\x01\x02")
            .expect("central directory");
        lying[central + 24..central + 28].copy_from_slice(&1000u32.to_le_bytes());
        // Refused: by the count of what came out, or by the reader's own
        // check of the declared size; never read in full as if small.
        assert!(check_unpacked(&lying, 100_000).is_err());
        assert!(read(&lying).is_err());
    }

    #[test]
    fn no_input_makes_it_panic() {
        let not_xlsx = zip_of(&[("hello.txt", b"hi")]);
        assert!(is_xlsx(&not_xlsx));
        assert!(read(&not_xlsx).is_err());
        let mut truncated = not_xlsx.clone();
        truncated.truncate(20);
        assert!(read(&truncated).is_err());
        assert!(read(b"PK\x03\x04").is_err());
        let mut seed = 11u64;
        for _ in 0..200 {
            let mut bytes = not_xlsx.clone();
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let at = (seed >> 33) as usize % bytes.len();
            bytes[at] ^= (seed >> 13) as u8 | 1;
            let _ = read(&bytes);
        }
    }
}
