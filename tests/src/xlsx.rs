//! XLSX files written at test time: the smallest Office Open XML package
//! a spreadsheet reader opens (content types, relationships, a workbook
//! with one worksheet, a style sheet with a date format), cells written
//! inline, zipped with the `zip` crate. No fixture file is copied in.
//!
//! Guarantees: the bytes are a valid XLSX package of one sheet named
//! `Sheet1`; row `i` of the rows given is the sheet's row `i + 1`; a
//! [`Cell::Date`] is stored as Excel stores dates (a serial day number in
//! the 1900 system, with the built-in date format 14), a [`Cell::Number`]
//! as a number, [`Cell::Text`] as an inline string; text is XML-escaped.

use std::io::{Cursor, Write};

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Nothing (the cell is left out).
    Empty,
    /// A string.
    Text(String),
    /// A number.
    Number(f64),
    /// A date, `YYYY-MM-DD`, stored as a serial day with a date format.
    Date(String),
    /// A boolean.
    Bool(bool),
    /// A spreadsheet error such as `#N/A`.
    Error(String),
}

/// `text` as a [`Cell::Text`].
pub fn t(text: &str) -> Cell {
    Cell::Text(text.to_owned())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The column letters of 0-based column `col` (`A`, ..., `Z`, `AA`).
fn column(col: usize) -> String {
    let mut n = col + 1;
    let mut out = Vec::new();
    while n > 0 {
        out.push(char::from(b'A' + ((n - 1) % 26) as u8));
        n = (n - 1) / 26;
    }
    out.iter().rev().collect()
}

/// Excel's serial day of `date` (`YYYY-MM-DD`): days since 1899-12-30.
fn serial(date: &str) -> i64 {
    let day: jiff::civil::Date = date.parse().expect("a YYYY-MM-DD date");
    let epoch = jiff::civil::date(1899, 12, 30);
    i64::from((day - epoch).get_days())
}

/// The worksheet's XML for `rows`.
pub fn sheet_xml(rows: &[Vec<Cell>]) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
         <worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>",
    );
    for (r, row) in rows.iter().enumerate() {
        let n = r + 1;
        xml.push_str(&format!("<row r=\"{n}\">"));
        for (c, cell) in row.iter().enumerate() {
            let at = format!("{}{n}", column(c));
            match cell {
                Cell::Empty => {}
                Cell::Text(s) => xml.push_str(&format!(
                    "<c r=\"{at}\" t=\"inlineStr\"><is><t>{}</t></is></c>",
                    escape(s)
                )),
                Cell::Number(f) => xml.push_str(&format!("<c r=\"{at}\"><v>{f}</v></c>")),
                Cell::Date(d) => {
                    xml.push_str(&format!("<c r=\"{at}\" s=\"1\"><v>{}</v></c>", serial(d)))
                }
                Cell::Bool(b) => xml.push_str(&format!(
                    "<c r=\"{at}\" t=\"b\"><v>{}</v></c>",
                    u8::from(*b)
                )),
                Cell::Error(e) => {
                    xml.push_str(&format!("<c r=\"{at}\" t=\"e\"><v>{}</v></c>", escape(e)))
                }
            }
        }
        xml.push_str("</row>");
    }
    xml.push_str("</sheetData></worksheet>");
    xml
}

const CONTENT_TYPES: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
<Default Extension=\"xml\" ContentType=\"application/xml\"/>\
<Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
<Override PartName=\"/xl/worksheets/sheet1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>\
<Override PartName=\"/xl/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/>\
</Types>";

const RELS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"xl/workbook.xml\"/>\
</Relationships>";

const WORKBOOK: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" \
xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">\
<sheets><sheet name=\"Sheet1\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>";

const WORKBOOK_RELS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/>\
<Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles\" Target=\"styles.xml\"/>\
</Relationships>";

const STYLES: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
<styleSheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">\
<fonts count=\"1\"><font/></fonts><fills count=\"1\"><fill/></fills>\
<borders count=\"1\"><border/></borders>\
<cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/></cellStyleXfs>\
<cellXfs count=\"2\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/>\
<xf numFmtId=\"14\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyNumberFormat=\"1\"/></cellXfs>\
</styleSheet>";

/// A package holding `sheet` (a worksheet's XML) as its only sheet.
pub fn package(sheet: &str) -> Vec<u8> {
    zipped(&[
        ("[Content_Types].xml", CONTENT_TYPES),
        ("_rels/.rels", RELS),
        ("xl/workbook.xml", WORKBOOK),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
        ("xl/styles.xml", STYLES),
        ("xl/worksheets/sheet1.xml", sheet),
    ])
}

/// A package holding `sheet` and a shared string table of `shared` (a
/// cell `<c r="A2" t="s"><v>0</v></c>` names its first string).
pub fn package_with_shared(sheet: &str, shared: &[&str]) -> Vec<u8> {
    let items: String = shared
        .iter()
        .map(|s| format!("<si><t>{}</t></si>", escape(s)))
        .collect();
    let table = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" count=\"{n}\" uniqueCount=\"{n}\">{items}</sst>",
        n = shared.len()
    );
    let types = CONTENT_TYPES.replace(
        "</Types>",
        "<Override PartName=\"/xl/sharedStrings.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml\"/></Types>",
    );
    let rels = WORKBOOK_RELS.replace(
        "</Relationships>",
        "<Relationship Id=\"rId3\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings\" Target=\"sharedStrings.xml\"/></Relationships>",
    );
    zipped(&[
        ("[Content_Types].xml", &types),
        ("_rels/.rels", RELS),
        ("xl/workbook.xml", WORKBOOK),
        ("xl/_rels/workbook.xml.rels", &rels),
        ("xl/styles.xml", STYLES),
        ("xl/sharedStrings.xml", &table),
        ("xl/worksheets/sheet1.xml", sheet),
    ])
}

/// `members` zipped (deflated), in order.
fn zipped(members: &[(&str, &str)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for &(name, data) in members {
        zip.start_file(name, options).expect("zip member");
        zip.write_all(data.as_bytes()).expect("zip write");
    }
    zip.finish().expect("zip").into_inner()
}

/// An XLSX file of `rows` (the first is the header).
pub fn xlsx(rows: &[Vec<Cell>]) -> Vec<u8> {
    package(&sheet_xml(rows))
}
