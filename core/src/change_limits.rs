//! Bounding what a device's change bytes can cost, before Automerge parses
//! them.
//!
//! Automerge stores a change's operations in run-length encoded columns, so
//! a few bytes can describe millions of operations: `Change::from_bytes`
//! walks every one of them and `Change::decode` materialises them all, and a
//! compressed change chunk (chunk type 2) is inflated with no bound.
//! [`check_raw`] reads the chunk itself first and refuses, with stable codes:
//!
//! - anything larger than [`MAX_CHANGE_BYTES`] (`change_too_large`);
//! - anything but one uncompressed change chunk: wrong magic bytes, a
//!   document or bundle chunk, a length that does not match, a checksum that
//!   does not match (`malformed_change`); a compressed change chunk, or a
//!   change with deflated columns (`compressed_change`);
//! - a change with more than [`MAX_OPS`] operations or more than
//!   [`MAX_PREDS`] predecessor references (`change_too_large`).
//!
//! [`check_document`] does the same for a whole document chunk (chunk type
//! 0, what `AutoCommit::save` produces and what Automerge's sync protocol
//! sends a peer that has nothing), whose deflated columns Automerge would
//! inflate in full and whose run lengths could declare any number of
//! operations and changes: it inflates with a bounded buffer (at most
//! [`MAX_DOCUMENT_INFLATED_BYTES`]) and counts rows from run lengths
//! ([`MAX_DOCUMENT_OPS`], [`MAX_DOCUMENT_CHANGES`] and the rest).
//!
//! # How the operation count is bounded
//!
//! A change chunk carries no operation count: Automerge 0.12's operation
//! iterator (`storage::change::ChangeOpsIter`) yields one operation per
//! value of the **action column** (column id 4, integer type) and stops
//! exactly when that column is exhausted; every other column is read once
//! per operation. The number of operations Automerge will decode is therefore
//! the number of rows of the action column, which is the sum of its run
//! lengths (a repeat run `n, value`, a literal run `-n, v1..vn`, a null run
//! `0, n`). [`measure`] adds those run lengths without expanding them and
//! stops at the limit, so a declared count cannot be lied about: other
//! columns claiming more rows add no operations, and an action column
//! claiming more rows than the limit is refused whatever its runs contain.
//! Predecessors are a group column (id 7) whose values are per-operation
//! list lengths; their sum bounds the predecessor ids decoded, and is bounded
//! the same way. Values and key strings are read from bytes that are really
//! present, so they are bounded by [`MAX_CHANGE_BYTES`].
//!
//! Guarantees:
//! - [`check_raw`] runs in time linear in the input's length (it never
//!   iterates over a declared count without consuming a byte per step) and
//!   allocates nothing that grows with a declared count.
//! - It never panics, whatever the bytes (no indexing on input; checked
//!   arithmetic).
//! - Every change it accepts decodes to at most [`MAX_OPS`] operations and
//!   [`MAX_PREDS`] predecessor references, and is an uncompressed change
//!   chunk, so `Change::from_bytes` inflates nothing.
//! - It accepts every change Automerge itself encodes within those limits
//!   (tested against `Change::len()`).

use crate::error::Denial;
use crate::wire::error_codes;

/// Largest change accepted, in bytes (8 MiB).
pub const MAX_CHANGE_BYTES: usize = 8 * 1024 * 1024;
/// Most operations accepted in one change (the same as
/// [`crate::validate::MAX_OPS`]).
pub const MAX_OPS: usize = 200_000;
/// Most predecessor references accepted in one change (two per operation
/// at the operation limit; an edit usually overwrites one value).
pub const MAX_PREDS: usize = 2 * MAX_OPS;

/// The first four bytes of every Automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// Chunk types.
const CHUNK_DOCUMENT: u8 = 0;
const CHUNK_CHANGE: u8 = 1;
const CHUNK_COMPRESSED: u8 = 2;
const CHUNK_BUNDLE: u8 = 3;
/// Bit of a column specification marking a deflated column.
const DEFLATE_BIT: u64 = 0b1000;
/// The action column: id 4, type integer (2).
const ACTION_SPEC: u64 = (4 << 4) | 2;
/// The predecessor group column: id 7, type group (0).
const PRED_GROUP_SPEC: u64 = 7 << 4;
/// Bytes of a change hash.
const HASH_LEN: usize = 32;

/// What [`measure`] found in an acceptable change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Operations the change decodes to (rows of the action column).
    pub ops: u64,
    /// Predecessor references (sum of the predecessor group column); for
    /// a document, successor references (sum of the successor group
    /// column), the same relation seen from the other end.
    pub preds: u64,
    /// Changes: 1 for a change; for a document, the rows of its change
    /// columns.
    pub changes: u64,
}

/// Refuses change bytes that are not one uncompressed Automerge change
/// chunk within [`MAX_CHANGE_BYTES`], [`MAX_OPS`] and [`MAX_PREDS`]; run it
/// before any Automerge parsing of bytes from a device.
pub fn check_raw(bytes: &[u8]) -> Result<(), Denial> {
    measure(bytes).map(|_| ())
}

/// Like [`check_raw`], and says how many operations and predecessor
/// references the change holds.
pub fn measure(bytes: &[u8]) -> Result<Shape, Denial> {
    measure_with(bytes, true)
}

/// The limits of [`check_raw`] for a change Automerge has already parsed:
/// its operation count is the one Automerge counted (`Change::len`, exact),
/// and its bytes are walked as by [`measure`] except for the checksum
/// (Automerge recomputes the hash itself). For [`crate::validate`], which
/// must not expand a change before bounding it.
pub fn check_parsed(change: &automerge::Change) -> Result<Shape, Denial> {
    if change.len() > MAX_OPS {
        return Err(too_many_ops());
    }
    measure_with(change.raw_bytes(), false)
}

fn measure_with(bytes: &[u8], verify_checksum: bool) -> Result<Shape, Denial> {
    if bytes.len() > MAX_CHANGE_BYTES {
        return Err(too_large(format!(
            "a change may be at most {MAX_CHANGE_BYTES} bytes; this one is {}",
            bytes.len()
        )));
    }
    let mut r = Reader::new(bytes);
    if r.take(4) != Some(&MAGIC[..]) {
        return Err(malformed("not an Automerge chunk (bad magic bytes)"));
    }
    let checksum = r
        .take(4)
        .ok_or_else(|| malformed("truncated chunk header"))?;
    match r.byte() {
        Some(CHUNK_CHANGE) => {}
        Some(CHUNK_COMPRESSED) => {
            return Err(compressed(
                "compressed change chunks are not accepted; send the change uncompressed",
            ));
        }
        Some(CHUNK_DOCUMENT) => return Err(malformed("a document chunk is not a change")),
        Some(CHUNK_BUNDLE) => return Err(malformed("a bundle chunk is not a change")),
        Some(other) => return Err(malformed(&format!("unknown chunk type {other}"))),
        None => return Err(malformed("truncated chunk header")),
    }
    let declared = r.uleb().ok_or_else(|| malformed("bad chunk length"))?;
    if usize::try_from(declared).ok() != Some(r.remaining()) {
        return Err(malformed(
            "the chunk length does not match the bytes sent (exactly one change per entry)",
        ));
    }
    let body = r.rest();
    if verify_checksum && !checksum_matches(checksum, body) {
        return Err(malformed("the chunk checksum does not match its content"));
    }
    let OpColumns {
        start_op,
        action,
        preds,
    } = op_columns(body)?;
    let mut ops = 0u64;
    for column in &action {
        ops = ops.saturating_add(count_rows(column, MAX_OPS as u64)?);
        if ops > MAX_OPS as u64 {
            return Err(too_many_ops());
        }
    }
    // Automerge numbers operations with 32-bit counters and checks only the
    // first one: a change whose last operation would not fit makes it
    // panic when applied.
    if ops > 0 && start_op.saturating_add(ops - 1) > u64::from(u32::MAX) {
        return Err(malformed(
            "the change numbers its operations past 2^32 - 1, which no document can hold",
        ));
    }
    let mut pred_total = 0u64;
    for column in &preds {
        pred_total = pred_total.saturating_add(sum_values(column, MAX_PREDS as u64)?);
        if pred_total > MAX_PREDS as u64 {
            return Err(too_many_preds());
        }
    }
    Ok(Shape {
        ops,
        preds: pred_total,
        changes: 1,
    })
}

/// The hash Automerge gives the change in `bytes` (the SHA-256 of chunk
/// type, length and body), computed without parsing the change: `None`
/// unless the header says `bytes` is exactly one uncompressed change chunk.
/// Cheap enough to name a change in a refusal before anything else is
/// known about it.
pub fn chunk_hash(bytes: &[u8]) -> Option<automerge::ChangeHash> {
    let mut r = Reader::new(bytes);
    if r.take(4) != Some(&MAGIC[..]) {
        return None;
    }
    r.take(4)?;
    if r.byte()? != CHUNK_CHANGE {
        return None;
    }
    let declared = r.uleb()?;
    if usize::try_from(declared).ok() != Some(r.remaining()) {
        return None;
    }
    Some(automerge::ChangeHash(chunk_digest(CHUNK_CHANGE, r.rest())))
}

/// The chunks concatenated in `bytes` (as an Automerge sync message may
/// carry them), each as its chunk type byte and its bytes, found from the
/// headers alone (nothing is parsed or inflated); `None` when the headers
/// do not tile `bytes` exactly. Chunk types: 0 document, 1 change, 2
/// compressed change, 3 bundle.
pub fn split_chunks(bytes: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = Vec::new();
    let mut r = Reader::new(bytes);
    while r.remaining() > 0 {
        let start = r.pos;
        if r.take(4) != Some(&MAGIC[..]) {
            return None;
        }
        r.take(4)?;
        let kind = r.byte()?;
        let len = usize::try_from(r.uleb()?).ok()?;
        r.take(len)?;
        out.push((kind, bytes.get(start..r.pos)?));
    }
    Some(out)
}

/// The column data [`measure`] reads.
struct OpColumns<'a> {
    /// The counter of the change's first operation.
    start_op: u64,
    /// Action columns (one, in a well-formed change).
    action: Vec<&'a [u8]>,
    /// Predecessor group columns (at most one, in a well-formed change).
    preds: Vec<&'a [u8]>,
}

/// Walks a change body (as Automerge's `parse_following_header` does) and
/// returns the data of the action columns and predecessor group columns.
/// Refuses deflated columns.
fn op_columns(body: &[u8]) -> Result<OpColumns<'_>, Denial> {
    let truncated = || malformed("truncated or malformed change header");
    let mut r = Reader::new(body);
    // Dependencies: a count, then 32-byte hashes.
    let deps = r.uleb().ok_or_else(truncated)?;
    let dep_bytes = usize::try_from(deps)
        .ok()
        .and_then(|n| n.checked_mul(HASH_LEN))
        .ok_or_else(truncated)?;
    r.take(dep_bytes).ok_or_else(truncated)?;
    // Actor, seq, start op, timestamp, message.
    r.length_prefixed().ok_or_else(truncated)?;
    r.uleb().ok_or_else(truncated)?;
    let start_op = r.uleb().ok_or_else(truncated)?;
    if start_op == 0 {
        return Err(malformed("a change's start op must not be zero"));
    }
    r.sleb().ok_or_else(truncated)?;
    r.length_prefixed().ok_or_else(truncated)?;
    // Other actors: each consumes at least its length byte, so this loop is
    // bounded by the input.
    let others = r.uleb().ok_or_else(truncated)?;
    let mut seen = 0u64;
    while seen < others {
        r.length_prefixed().ok_or_else(truncated)?;
        seen += 1;
    }
    // Column metadata: (spec, length) pairs; data follows in that order.
    let columns = r.uleb().ok_or_else(truncated)?;
    let mut specs: Vec<(u64, usize, usize)> = Vec::new();
    let mut offset = 0usize;
    let mut seen = 0u64;
    while seen < columns {
        let spec = r.uleb().ok_or_else(truncated)?;
        if spec > u64::from(u32::MAX) {
            return Err(truncated());
        }
        let len = r.uleb().ok_or_else(truncated)?;
        let len = usize::try_from(len).map_err(|_| truncated())?;
        let end = offset.checked_add(len).ok_or_else(truncated)?;
        if spec & DEFLATE_BIT != 0 {
            return Err(compressed(
                "changes with compressed columns are not accepted",
            ));
        }
        specs.push((spec, offset, end));
        offset = end;
        seen += 1;
    }
    let data = r.take(offset).ok_or_else(truncated)?;
    let mut action = Vec::new();
    let mut preds = Vec::new();
    for (spec, start, end) in specs {
        let column = data.get(start..end).ok_or_else(truncated)?;
        match spec {
            ACTION_SPEC => action.push(column),
            PRED_GROUP_SPEC => preds.push(column),
            _ => {}
        }
    }
    Ok(OpColumns {
        start_op,
        action,
        preds,
    })
}

mod bytes;
mod document;

use bytes::*;
pub use document::{
    MAX_DOCUMENT_ACTORS, MAX_DOCUMENT_CHANGES, MAX_DOCUMENT_DEPS, MAX_DOCUMENT_INFLATED_BYTES,
    MAX_DOCUMENT_OPS, MAX_DOCUMENT_SUCCS, check_document,
};

#[cfg(test)]
mod tests;
