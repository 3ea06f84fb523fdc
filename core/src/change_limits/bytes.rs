//! Reading untrusted chunk bytes: a checked cursor, LEB128, run-length
//! column counting without expansion, checksums and the refusals the
//! checks share. Nothing here allocates in proportion to what the bytes
//! claim, only to what they hold.

use sha2::{Digest, Sha256};

use super::{CHUNK_CHANGE, MAX_OPS, MAX_PREDS};
use crate::error::Denial;
use crate::wire::error_codes;

/// Whether the first four bytes of the SHA-256 of (type, length, body) are
/// the chunk's checksum (Automerge's change hash and checksum).
pub(super) fn checksum_matches(checksum: &[u8], body: &[u8]) -> bool {
    chunk_checksum_matches(CHUNK_CHANGE, checksum, body)
}

/// [`checksum_matches`] for a chunk of any type.
pub(super) fn chunk_checksum_matches(kind: u8, checksum: &[u8], body: &[u8]) -> bool {
    chunk_digest(kind, body).get(..4) == Some(checksum)
}

/// The SHA-256 of (chunk type, LEB128 body length, body): a change's hash,
/// whose first four bytes are any chunk's checksum.
pub(super) fn chunk_digest(kind: u8, body: &[u8]) -> [u8; 32] {
    let mut header = vec![kind];
    write_uleb(&mut header, body.len() as u64);
    Sha256::new()
        .chain_update(&header)
        .chain_update(body)
        .finalize()
        .into()
}

/// Rows of a run-length encoded unsigned column, stopping as soon as they
/// pass `limit` (the caller refuses then).
pub(super) fn count_rows(column: &[u8], limit: u64) -> Result<u64, Denial> {
    let bad = || malformed("malformed operation column");
    let mut r = Reader::new(column);
    let mut rows = 0u64;
    while r.remaining() > 0 {
        let count = r.sleb().ok_or_else(bad)?;
        let n = if count > 0 {
            r.uleb().ok_or_else(bad)?;
            count.unsigned_abs()
        } else if count < 0 {
            let n = count.unsigned_abs();
            if rows.saturating_add(n) > limit {
                return Ok(rows.saturating_add(n));
            }
            // At most `limit` values, each at least one byte.
            for _ in 0..n {
                r.uleb().ok_or_else(bad)?;
            }
            n
        } else {
            r.uleb().ok_or_else(bad)?
        };
        rows = rows.saturating_add(n);
        if rows > limit {
            return Ok(rows);
        }
    }
    Ok(rows)
}

/// Sum of the values of a run-length encoded unsigned column (nulls count
/// as zero), stopping as soon as it passes `limit`.
pub(super) fn sum_values(column: &[u8], limit: u64) -> Result<u64, Denial> {
    let bad = || malformed("malformed predecessor column");
    let mut r = Reader::new(column);
    let mut sum = 0u64;
    while r.remaining() > 0 {
        let count = r.sleb().ok_or_else(bad)?;
        if count > 0 {
            let value = r.uleb().ok_or_else(bad)?;
            sum = sum.saturating_add(count.unsigned_abs().saturating_mul(value));
        } else if count < 0 {
            // Each value consumes at least one byte: bounded by the input.
            let mut left = count.unsigned_abs();
            while left > 0 {
                sum = sum.saturating_add(r.uleb().ok_or_else(bad)?);
                if sum > limit {
                    return Ok(sum);
                }
                left -= 1;
            }
        } else {
            r.uleb().ok_or_else(bad)?;
        }
        if sum > limit {
            return Ok(sum);
        }
    }
    Ok(sum)
}

pub(super) fn refusal(code: &str, rule: &str, message: String) -> Denial {
    Denial {
        code: code.to_owned(),
        doc: None,
        field: None,
        rule: rule.to_owned(),
        message,
    }
}

pub(super) fn malformed(message: &str) -> Denial {
    refusal(
        error_codes::MALFORMED_CHANGE,
        "protocol",
        format!("not a valid Automerge change: {message}"),
    )
}

pub(super) fn compressed(message: &str) -> Denial {
    refusal(
        error_codes::COMPRESSED_CHANGE,
        "protocol",
        message.to_owned(),
    )
}

pub(super) fn too_large(message: String) -> Denial {
    refusal(error_codes::CHANGE_TOO_LARGE, "limits", message)
}

pub(super) fn too_many_ops() -> Denial {
    too_large(format!("a change may hold at most {MAX_OPS} operations"))
}

pub(super) fn too_many_preds() -> Denial {
    too_large(format!(
        "a change may overwrite at most {MAX_PREDS} earlier values"
    ))
}

pub(super) fn write_uleb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A cursor over untrusted bytes; every read is checked.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    pub(super) fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    pub(super) fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.pos..).unwrap_or_default()
    }

    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    pub(super) fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    /// A LEB128 length followed by that many bytes.
    pub(super) fn length_prefixed(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.uleb()?).ok()?;
        self.take(len)
    }

    /// An unsigned LEB128 number, decoded as the `leb128` crate (which
    /// Automerge's column decoders use) does: at most ten bytes, overlong
    /// encodings allowed. Automerge's header parser is stricter, never
    /// laxer, and decodes the same value whenever it succeeds.
    pub(super) fn uleb(&mut self) -> Option<u64> {
        let mut result = 0u64;
        let mut shift = 0u32;
        loop {
            let byte = self.byte()?;
            if shift == 63 && byte != 0x00 && byte != 0x01 {
                return None;
            }
            result |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(result);
            }
            shift += 7;
        }
    }

    /// A signed LEB128 number, decoded as the `leb128` crate does.
    pub(super) fn sleb(&mut self) -> Option<i64> {
        let mut result = 0i64;
        let mut shift = 0u32;
        let mut byte;
        loop {
            byte = self.byte()?;
            if shift == 63 && byte != 0x00 && byte != 0x7f {
                return None;
            }
            result |= i64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        if shift < 64 && byte & 0x40 != 0 {
            result |= !0i64 << shift;
        }
        Some(result)
    }
}
