//! Bounding a whole document chunk (what `AutoCommit::save` writes) before
//! Automerge loads it: see [`check_document`].

use super::bytes::*;
use super::*;

/// Most operations a document chunk may hold: rows of any of its operation
/// columns, and operations its changes add up to (deletions included).
pub const MAX_DOCUMENT_OPS: usize = MAX_OPS;
/// Most changes a document chunk may hold (rows of its change columns).
pub const MAX_DOCUMENT_CHANGES: usize = 10_000;
/// Most actors a document chunk may list (no more than its changes).
pub const MAX_DOCUMENT_ACTORS: usize = MAX_DOCUMENT_CHANGES;
/// Most successor references in a document chunk (the document form of
/// predecessor references; as [`MAX_PREDS`]).
pub const MAX_DOCUMENT_SUCCS: usize = MAX_PREDS;
/// Most dependency references between the changes of a document chunk
/// (ten per change).
pub const MAX_DOCUMENT_DEPS: usize = 10 * MAX_DOCUMENT_CHANGES;
/// Most bytes a document chunk's columns may take once inflated, all
/// columns together (32 MiB).
pub const MAX_DOCUMENT_INFLATED_BYTES: usize = 4 * MAX_CHANGE_BYTES;

/// Column types of Automerge's storage format (the low three bits of a
/// column specification).
const TYPE_GROUP: u64 = 0;
const TYPE_BOOLEAN: u64 = 4;
const TYPE_DELTA: u64 = 3;
const TYPE_STRING: u64 = 5;
const TYPE_VALUE: u64 = 7;
/// Operation columns of a document (Automerge 0.12, `op_set2::columns`).
const DOC_OBJ_COUNTER: u64 = 2;
const DOC_KEY_COUNTER: u64 = (1 << 4) | TYPE_DELTA;
const DOC_ID_ACTOR: u64 = (2 << 4) | 1;
const DOC_ID_COUNTER: u64 = (2 << 4) | TYPE_DELTA;
const DOC_SUCC_ID: u64 = 8;
const DOC_SUCC_COUNTER: u64 = (DOC_SUCC_ID << 4) | TYPE_DELTA;
/// Change columns of a document (Automerge 0.12, `change_graph::ids`).
const DOC_CHANGE_ACTOR: u64 = 1;
const DOC_CHANGE_MAX_OP: u64 = (1 << 4) | TYPE_DELTA;
const DOC_DEPS_ID: u64 = 4;
const DOC_DEPS_COUNT: u64 = DOC_DEPS_ID << 4;
const DOC_DEPS_VALUES: u64 = (DOC_DEPS_ID << 4) | TYPE_DELTA;

/// Refuses a document chunk (what `AutoCommit::save` produces, and what
/// Automerge's sync protocol sends a peer that has nothing) unless loading
/// it is bounded, without calling Automerge:
///
/// - larger than [`MAX_CHANGE_BYTES`] (`change_too_large`);
/// - not exactly one document chunk with a matching checksum, or not laid
///   out as Automerge 0.12 reads one (`malformed_change`);
/// - deflated columns that would inflate past
///   [`MAX_DOCUMENT_INFLATED_BYTES`] in all (`change_too_large`): each is
///   inflated into a buffer that never grows past what is left of that
///   budget, and inflation stops there;
/// - more than [`MAX_DOCUMENT_OPS`] rows in any operation column, more
///   than [`MAX_DOCUMENT_CHANGES`] rows in any change column, more than
///   [`MAX_DOCUMENT_ACTORS`] actors, [`MAX_DOCUMENT_SUCCS`] successor or
///   [`MAX_DOCUMENT_DEPS`] dependency references, or changes whose
///   operation counts (each change's max op minus its dependencies') add
///   up to more than [`MAX_DOCUMENT_OPS`] (`change_too_large`). Rows are
///   counted from run lengths, as in [`measure`], never expanded past the
///   limit; Automerge 0.12 sizes its operation set by the operation id
///   actor column and allocates per change from the max-op column, and
///   every column is bounded, so no declared count escapes;
/// - operation counters (operation ids, object and key counters, successor
///   counters, change max ops) outside `0..=u32::MAX`, and dependencies
///   naming a change that does not exist (`malformed_change`).
///
/// Runs in time linear in the input plus the inflated bytes, and never
/// panics. The [`Shape`] says how many operations (rows of the operation
/// id column), successor references and changes the document holds.
pub fn check_document(bytes: &[u8]) -> Result<Shape, Denial> {
    let body = chunk_body(bytes)?;
    let layout = Layout::read(body)?;
    let mut budget = MAX_DOCUMENT_INFLATED_BYTES;
    let (ops, succs) = check_op_columns(&mut budget, &layout.op_meta, layout.op_data)?;
    let changes = check_change_columns(&mut budget, &layout.change_meta, layout.change_data)?;
    Ok(Shape {
        ops,
        preds: succs,
        changes,
    })
}

/// The body of `bytes` if they are one document chunk of a bounded size,
/// whose length and checksum match.
fn chunk_body(bytes: &[u8]) -> Result<&[u8], Denial> {
    if bytes.len() > MAX_CHANGE_BYTES {
        return Err(too_large(format!(
            "a document may be at most {MAX_CHANGE_BYTES} bytes; this one is {}",
            bytes.len()
        )));
    }
    let mut r = Reader::new(bytes);
    if r.take(4) != Some(&MAGIC[..]) {
        return Err(malformed_doc("bad magic bytes"));
    }
    let checksum = r
        .take(4)
        .ok_or_else(|| malformed_doc("truncated chunk header"))?;
    match r.byte() {
        Some(CHUNK_DOCUMENT) => {}
        Some(_) => return Err(malformed_doc("not a document chunk")),
        None => return Err(malformed_doc("truncated chunk header")),
    }
    let declared = r.uleb().ok_or_else(|| malformed_doc("bad chunk length"))?;
    if usize::try_from(declared).ok() != Some(r.remaining()) {
        return Err(malformed_doc(
            "the chunk length does not match the bytes sent",
        ));
    }
    let body = r.rest();
    if !chunk_checksum_matches(CHUNK_DOCUMENT, checksum, body) {
        return Err(malformed_doc(
            "the chunk checksum does not match its content",
        ));
    }
    Ok(body)
}

/// A document chunk's body, laid out: its column metadata and data (actors
/// and heads are only skipped).
struct Layout<'a> {
    change_meta: Vec<(u64, usize)>,
    op_meta: Vec<(u64, usize)>,
    change_data: &'a [u8],
    op_data: &'a [u8],
}

impl<'a> Layout<'a> {
    fn read(body: &'a [u8]) -> Result<Self, Denial> {
        let truncated = || malformed_doc("truncated or malformed header");
        let mut r = Reader::new(body);
        let actors = r.uleb().ok_or_else(truncated)?;
        if actors > MAX_DOCUMENT_ACTORS as u64 {
            return Err(too_large(format!(
                "a document may list at most {MAX_DOCUMENT_ACTORS} actors"
            )));
        }
        for _ in 0..actors {
            r.length_prefixed().ok_or_else(truncated)?;
        }
        let heads = r.uleb().ok_or_else(truncated)?;
        let head_bytes = usize::try_from(heads)
            .ok()
            .and_then(|n| n.checked_mul(HASH_LEN))
            .ok_or_else(truncated)?;
        r.take(head_bytes).ok_or_else(truncated)?;
        let change_meta = column_meta(&mut r).ok_or_else(truncated)?;
        let op_meta = column_meta(&mut r).ok_or_else(truncated)?;
        let change_data = r.take(total_len(&change_meta)?).ok_or_else(truncated)?;
        let op_data = r.take(total_len(&op_meta)?).ok_or_else(truncated)?;
        // The head indices, absent in documents from older implementations.
        if r.remaining() > 0 {
            for _ in 0..heads {
                r.uleb().ok_or_else(truncated)?;
            }
            if r.remaining() > 0 {
                return Err(malformed_doc("data left over after the document"));
            }
        }
        Ok(Layout {
            change_meta,
            op_meta,
            change_data,
            op_data,
        })
    }
}

/// Bounds the operation columns: rows, successor references, counters.
/// Returns (operations, successor references).
fn check_op_columns(
    budget: &mut usize,
    meta: &[(u64, usize)],
    data: &[u8],
) -> Result<(u64, u64), Denial> {
    let mut ops = 0u64;
    let mut succs = 0u64;
    let too_many_succs = || {
        too_large(format!(
            "a document may hold at most {MAX_DOCUMENT_SUCCS} successor references"
        ))
    };
    for (spec, data) in columns_of(meta, data) {
        let kind = spec & 0b111;
        if kind == TYPE_VALUE {
            charge(budget, data, spec)?;
            continue;
        }
        let column = column_bytes(budget, data, spec)?;
        let in_succ = spec >> 4 == DOC_SUCC_ID && kind != TYPE_GROUP;
        let limit = if in_succ {
            MAX_DOCUMENT_SUCCS
        } else {
            MAX_DOCUMENT_OPS
        } as u64;
        let walk = walk_column(&column, kind, limit, false)?;
        if walk.rows > limit {
            return Err(if in_succ {
                too_many_succs()
            } else {
                too_large(format!(
                    "a document may hold at most {MAX_DOCUMENT_OPS} operations"
                ))
            });
        }
        if spec == DOC_ID_ACTOR {
            ops = walk.rows;
        }
        if spec >> 4 == DOC_SUCC_ID && kind == TYPE_GROUP {
            succs = succs.saturating_add(walk.sum);
            if succs > MAX_DOCUMENT_SUCCS as u64 {
                return Err(too_many_succs());
            }
        }
        if matches!(
            spec,
            DOC_OBJ_COUNTER | DOC_KEY_COUNTER | DOC_ID_COUNTER | DOC_SUCC_COUNTER
        ) && !walk.within_u32()
        {
            return Err(malformed_doc(
                "an operation counter is outside 0..=2^32 - 1",
            ));
        }
    }
    Ok((ops, succs))
}

/// The change columns' values the operation count is derived from.
#[derive(Default)]
struct ChangeColumns {
    changes: u64,
    max_ops: Vec<i128>,
    dep_counts: Vec<i128>,
    dep_values: Vec<i128>,
}

/// Bounds the change columns: rows, dependency references, max ops, and
/// the operations the changes add up to (see [`change_ops`]). Returns the
/// number of changes.
fn check_change_columns(
    budget: &mut usize,
    meta: &[(u64, usize)],
    data: &[u8],
) -> Result<u64, Denial> {
    let mut cols = ChangeColumns::default();
    let mut deps = 0u64;
    let too_many_deps = || {
        too_large(format!(
            "a document may hold at most {MAX_DOCUMENT_DEPS} dependencies"
        ))
    };
    for (spec, data) in columns_of(meta, data) {
        let kind = spec & 0b111;
        if kind == TYPE_VALUE {
            charge(budget, data, spec)?;
            continue;
        }
        let column = column_bytes(budget, data, spec)?;
        let in_deps = spec >> 4 == DOC_DEPS_ID && kind != TYPE_GROUP;
        let limit = if in_deps {
            MAX_DOCUMENT_DEPS
        } else {
            MAX_DOCUMENT_CHANGES
        } as u64;
        let collect = matches!(spec, DOC_CHANGE_MAX_OP | DOC_DEPS_COUNT | DOC_DEPS_VALUES);
        let walk = walk_column(&column, kind, limit, collect)?;
        if walk.rows > limit {
            return Err(if in_deps {
                too_many_deps()
            } else {
                too_large(format!(
                    "a document may hold at most {MAX_DOCUMENT_CHANGES} changes"
                ))
            });
        }
        if spec == DOC_DEPS_COUNT {
            deps = deps.saturating_add(walk.sum);
            if deps > MAX_DOCUMENT_DEPS as u64 {
                return Err(too_many_deps());
            }
        }
        if spec == DOC_CHANGE_MAX_OP && !walk.within_u32() {
            return Err(malformed_doc("a change's max op is outside 0..=2^32 - 1"));
        }
        match spec {
            DOC_CHANGE_ACTOR => cols.changes = walk.rows,
            DOC_CHANGE_MAX_OP => cols.max_ops = walk.values,
            DOC_DEPS_COUNT => cols.dep_counts = walk.values,
            DOC_DEPS_VALUES => cols.dep_values = walk.values,
            _ => {}
        }
    }
    change_ops(
        cols.changes,
        &cols.max_ops,
        &cols.dep_counts,
        &cols.dep_values,
    )?;
    Ok(cols.changes)
}

/// The operations a document's changes add up to, as Automerge 0.12's
/// `ChangeGraphCols::load` derives them (a change's max op minus the
/// largest max op of its dependencies) and allocates for them: refused
/// past [`MAX_DOCUMENT_OPS`], and refused where Automerge would index out
/// of bounds (dependencies naming no change, more dependency counts than
/// changes).
fn change_ops(
    changes: u64,
    max_ops: &[i128],
    dep_counts: &[i128],
    dep_values: &[i128],
) -> Result<u64, Denial> {
    if changes == 0 {
        return Ok(0);
    }
    let n = usize::try_from(changes).map_err(|_| malformed_doc("too many changes"))?;
    if max_ops.len() != n || dep_counts.len() != n {
        return Err(malformed_doc(
            "the change columns do not have one row per change",
        ));
    }
    let mut values = dep_values.iter();
    let mut total = 0u64;
    for (max_op, count) in max_ops.iter().zip(dep_counts) {
        let mut last = 0i128;
        for _ in 0..*count {
            let dep = values
                .next()
                .ok_or_else(|| malformed_doc("missing dependencies"))?;
            let target = usize::try_from(*dep)
                .ok()
                .and_then(|d| max_ops.get(d))
                .ok_or_else(|| malformed_doc("a dependency names no change"))?;
            last = last.max(*target);
        }
        if last > *max_op {
            return Err(malformed_doc(
                "a change's max op is lower than its dependencies'",
            ));
        }
        total = total.saturating_add(u64::try_from(*max_op - last).unwrap_or(u64::MAX));
        if total > MAX_DOCUMENT_OPS as u64 {
            return Err(too_large(format!(
                "the changes of a document may hold at most {MAX_DOCUMENT_OPS} operations"
            )));
        }
    }
    Ok(total)
}

/// Column metadata: a count, then (specification, length) pairs.
fn column_meta(r: &mut Reader<'_>) -> Option<Vec<(u64, usize)>> {
    let count = r.uleb()?;
    let mut out = Vec::new();
    // Each pair consumes at least two bytes: bounded by the input.
    for _ in 0..count {
        let spec = r.uleb()?;
        if spec > u64::from(u32::MAX) {
            return None;
        }
        let len = usize::try_from(r.uleb()?).ok()?;
        out.push((spec, len));
    }
    Some(out)
}

fn total_len(meta: &[(u64, usize)]) -> Result<usize, Denial> {
    meta.iter()
        .try_fold(0usize, |sum, (_, len)| sum.checked_add(*len))
        .ok_or_else(|| malformed_doc("column lengths overflow"))
}

/// Each column's specification and (possibly deflated) data.
fn columns_of<'a>(
    meta: &'a [(u64, usize)],
    data: &'a [u8],
) -> impl Iterator<Item = (u64, &'a [u8])> + 'a {
    let mut offset = 0usize;
    meta.iter().map(move |(spec, len)| {
        // `data` is exactly the sum of the lengths: never out of range.
        let end = offset.saturating_add(*len);
        let column = data.get(offset..end).unwrap_or_default();
        offset = end;
        (*spec, column)
    })
}

/// Charges a column's inflated size to the budget without keeping it.
fn charge(budget: &mut usize, data: &[u8], spec: u64) -> Result<(), Denial> {
    column_bytes(budget, data, spec).map(|_| ())
}

/// A column's bytes, inflated if its specification says so, charged to
/// `budget` (what is left of [`MAX_DOCUMENT_INFLATED_BYTES`]).
fn column_bytes<'a>(
    budget: &mut usize,
    data: &'a [u8],
    spec: u64,
) -> Result<std::borrow::Cow<'a, [u8]>, Denial> {
    let over = || {
        too_large(format!(
            "a document's columns may take at most {MAX_DOCUMENT_INFLATED_BYTES} bytes once inflated"
        ))
    };
    if spec & DEFLATE_BIT == 0 {
        *budget = budget.checked_sub(data.len()).ok_or_else(over)?;
        return Ok(std::borrow::Cow::Borrowed(data));
    }
    let inflated = inflate_bounded(data, *budget)?.ok_or_else(over)?;
    *budget -= inflated.len();
    Ok(std::borrow::Cow::Owned(inflated))
}

/// Inflates raw-deflate `data` as Automerge does (flate2's
/// `bufread::DeflateDecoder`), into a buffer that never grows past `cap`
/// bytes: `Ok(None)` as soon as the output would pass `cap`.
fn inflate_bounded(data: &[u8], cap: usize) -> Result<Option<Vec<u8>>, Denial> {
    use std::io::Read;
    let mut decoder = flate2::bufread::DeflateDecoder::new(data);
    let mut out: Vec<u8> = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match decoder.read(&mut buf) {
            Ok(0) => return Ok(Some(out)),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(malformed_doc("a deflated column does not inflate")),
        };
        if n > cap - out.len() {
            return Ok(None);
        }
        let needed = out.len() + n;
        if needed > out.capacity() {
            // Doubling, clamped to the cap: never allocates past it.
            let target = out
                .capacity()
                .saturating_mul(2)
                .max(needed)
                .max(64 * 1024)
                .min(cap);
            out.reserve_exact(target - out.len());
        }
        out.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
}

/// What [`walk_column`] found.
#[derive(Default)]
struct ColumnWalk {
    /// Rows (stops growing meaningfully once past the limit).
    rows: u64,
    /// Sum of the values (unsigned columns; group counts).
    sum: u64,
    /// Smallest and largest value (running value for delta columns).
    min: i128,
    max: i128,
    /// Each row's value, when asked for (nulls as -1; only ever up to the
    /// limit).
    values: Vec<i128>,
}

impl ColumnWalk {
    fn within_u32(&self) -> bool {
        self.min >= 0 && self.max <= i128::from(u32::MAX)
    }
}

/// Walks a column of type `kind` (run-length encoded unsigned, signed
/// delta or string values, or boolean runs) and counts its rows from the
/// run lengths, returning as soon as they pass `limit` (never expanding a
/// run past it). With `collect`, also records each row's value.
fn walk_column(column: &[u8], kind: u64, limit: u64, collect: bool) -> Result<ColumnWalk, Denial> {
    if kind == TYPE_BOOLEAN {
        return walk_booleans(column, limit);
    }
    let mut values = Values {
        r: Reader::new(column),
        kind,
        current: 0,
    };
    let mut w = ColumnWalk::default();
    while values.r.remaining() > 0 {
        let count = values.r.sleb().ok_or_else(bad_column)?;
        let n = count.unsigned_abs();
        if count == 0 {
            let nulls = values.r.uleb().ok_or_else(bad_column)?;
            w.rows = w.rows.saturating_add(nulls);
            if w.rows > limit {
                return Ok(w);
            }
            if collect {
                w.values.extend(std::iter::repeat_n(-1, nulls as usize));
            }
            continue;
        }
        if w.rows.saturating_add(n) > limit {
            w.rows = w.rows.saturating_add(n);
            return Ok(w);
        }
        w.rows += n;
        if count > 0 {
            w.repeat_run(&mut values, n, collect)?;
        } else {
            w.literal_run(&mut values, n, collect)?;
        }
    }
    Ok(w)
}

/// A boolean column: alternating run lengths, starting with false.
fn walk_booleans(column: &[u8], limit: u64) -> Result<ColumnWalk, Denial> {
    let mut r = Reader::new(column);
    let mut w = ColumnWalk::default();
    while r.remaining() > 0 {
        w.rows = w.rows.saturating_add(r.uleb().ok_or_else(bad_column)?);
        if w.rows > limit {
            return Ok(w);
        }
    }
    Ok(w)
}

fn bad_column() -> Denial {
    malformed_doc("malformed column")
}

/// The values of a run-length encoded column, read one at a time.
struct Values<'c> {
    r: Reader<'c>,
    kind: u64,
    /// A delta column's running value.
    current: i128,
}

impl Values<'_> {
    /// Reads one value: its number (a delta column's running value), or
    /// `None` for a string.
    fn next(&mut self) -> Option<Option<i128>> {
        match self.kind {
            TYPE_DELTA => {
                self.current += i128::from(self.r.sleb()?);
                Some(Some(self.current))
            }
            TYPE_STRING => {
                self.r.length_prefixed()?;
                Some(None)
            }
            _ => Some(Some(i128::from(self.r.uleb()?))),
        }
    }
}

impl ColumnWalk {
    /// A repeat run: `n` copies of one value (a delta column moves by it
    /// `n` times, so its extremes are the first and last rows).
    fn repeat_run(&mut self, values: &mut Values<'_>, n: u64, collect: bool) -> Result<(), Denial> {
        let before = values.current;
        let Some(v) = values.next().ok_or_else(bad_column)? else {
            return Ok(());
        };
        let delta = values.kind == TYPE_DELTA;
        let step = v - before;
        let last = if delta {
            before + step * i128::from(n)
        } else {
            v
        };
        if delta {
            values.current = last;
        }
        self.min = self.min.min(v).min(last);
        self.max = self.max.max(v).max(last);
        if !delta {
            self.sum = self
                .sum
                .saturating_add(u64::try_from(v).unwrap_or(u64::MAX).saturating_mul(n));
        }
        if collect {
            for i in 1..=n {
                self.values.push(if delta {
                    before + step * i128::from(i)
                } else {
                    v
                });
            }
        }
        Ok(())
    }

    /// A literal run: `n` values, each at least one byte.
    fn literal_run(
        &mut self,
        values: &mut Values<'_>,
        n: u64,
        collect: bool,
    ) -> Result<(), Denial> {
        for _ in 0..n {
            let Some(v) = values.next().ok_or_else(bad_column)? else {
                continue;
            };
            self.min = self.min.min(v);
            self.max = self.max.max(v);
            if values.kind != TYPE_DELTA {
                self.sum = self
                    .sum
                    .saturating_add(u64::try_from(v).unwrap_or(u64::MAX));
            }
            if collect {
                self.values.push(v);
            }
        }
        Ok(())
    }
}

fn malformed_doc(message: &str) -> Denial {
    refusal(
        error_codes::MALFORMED_CHANGE,
        "protocol",
        format!("not a valid Automerge document: {message}"),
    )
}

#[cfg(test)]
mod tests;
