//! Decoding what a server sent over a captured TCP stream, so tests can
//! search the *contents* of frames (which may be compressed on the wire).

use std::io::Read;

/// The protocol messages (as decoded CBOR bytes, decompressed) in the
/// server-to-client bytes of one or more WebSocket connections captured by
/// the proxy. HTTP upgrade responses are skipped; frames from the server are
/// never masked.
pub fn server_messages(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        // Each connection starts with the HTTP 101 response.
        if rest.starts_with(b"HTTP/1.1") {
            match rest.windows(4).position(|w| w == b"\r\n\r\n") {
                Some(end) => rest = &rest[end + 4..],
                None => break,
            }
            continue;
        }
        let Some((opcode, payload, used)) = frame(rest) else {
            break;
        };
        rest = &rest[used..];
        if opcode == 2 {
            out.push(decode(payload));
        }
    }
    out
}

/// One unmasked WebSocket frame: opcode, payload, bytes used.
fn frame(b: &[u8]) -> Option<(u8, &[u8], usize)> {
    let opcode = b.first()? & 0x0f;
    let len7 = (b.get(1)? & 0x7f) as usize;
    let (len, header) = match len7 {
        126 => (u16::from_be_bytes([*b.get(2)?, *b.get(3)?]) as usize, 4),
        127 => {
            let mut n = [0u8; 8];
            n.copy_from_slice(b.get(2..10)?);
            (u64::from_be_bytes(n) as usize, 10)
        }
        n => (n, 2),
    };
    let payload = b.get(header..header + len)?;
    Some((opcode, payload, header + len))
}

/// Our frame codec: flag byte, then CBOR, raw-deflated when the flag is 1.
fn decode(payload: &[u8]) -> Vec<u8> {
    match payload.split_first() {
        Some((1, body)) => {
            let mut out = Vec::new();
            let _ = flate2::read::DeflateDecoder::new(body).read_to_end(&mut out);
            out
        }
        Some((_, body)) => body.to_vec(),
        None => Vec::new(),
    }
}

/// How many times `needle` occurs in `haystack`.
pub fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// Occurrences of `needle` in every file under `dir` (database, WAL, ...).
pub fn occurrences_in_dir(dir: &std::path::Path, needle: &[u8]) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            n += occurrences_in_dir(&path, needle);
        } else if let Ok(bytes) = std::fs::read(&path) {
            n += occurrences(&bytes, needle);
        }
    }
    n
}
