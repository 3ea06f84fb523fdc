//! The bytes of a file as text: UTF-8 (with or without a byte order mark),
//! else Windows-1252; and the delimiter its header line uses.

use serde::Serialize;

/// How the file's bytes were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// UTF-8 (a leading byte order mark is dropped).
    Utf8,
    /// Windows-1252, what spreadsheets on Windows save as "CSV": used when
    /// the bytes are not valid UTF-8.
    Windows1252,
}

impl Encoding {
    /// The encoding's usual name (`UTF-8`, `Windows-1252`).
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Windows1252 => "Windows-1252",
        }
    }
}

/// Windows-1252's bytes 0x80–0x9F. The five bytes it leaves undefined are
/// read as the C1 control characters of the same value (as browsers do), so
/// every byte decodes to something and nothing is lost silently.
const CP1252_80_9F: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{02C6}', '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}',
    '\u{0090}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{02DC}', '\u{2122}', '\u{0161}', '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

/// One Windows-1252 byte as a character (0x00–0x7F and 0xA0–0xFF are the
/// code points of the same value).
fn cp1252(b: u8) -> char {
    match b {
        0x80..=0x9F => CP1252_80_9F[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// `bytes` as text, and which encoding was used.
pub fn decode(bytes: &[u8]) -> (String, Encoding) {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), Encoding::Utf8),
        Err(_) => (
            bytes.iter().copied().map(cp1252).collect(),
            Encoding::Windows1252,
        ),
    }
}

/// The delimiter of a file whose text is `text`: among `,` `;` and tab,
/// the one that occurs most often in the header line outside quotes
/// (`,` on a tie or when none occurs).
pub fn delimiter(text: &str) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for b in text.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let mut best = (b',', counts[0]);
    for (d, n) in [(b';', counts[1]), (b'\t', counts[2])] {
        if n > best.1 {
            best = (d, n);
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_or_without_bom_and_windows_1252_otherwise() {
        assert_eq!(
            decode(b"\xEF\xBB\xBFname\n"),
            ("name\n".into(), Encoding::Utf8)
        );
        assert_eq!(decode("Jos\u{e9}".as_bytes()).1, Encoding::Utf8);
        let (text, enc) = decode(b"Jos\xE9 M\xFCller \x80 \x93hi\x94 \x81");
        assert_eq!(enc, Encoding::Windows1252);
        assert_eq!(text, "José Müller € \u{201C}hi\u{201D} \u{81}");
    }

    #[test]
    fn the_delimiter_is_the_commonest_outside_quotes_in_the_header() {
        assert_eq!(delimiter("a;b;c\n1,2,3,4,5,6"), b';');
        assert_eq!(delimiter("\"a,b,c\";d\n"), b';');
        assert_eq!(delimiter("a\tb\tc"), b'\t');
        assert_eq!(delimiter("a;b,c"), b',');
        assert_eq!(delimiter(""), b',');
    }
}
