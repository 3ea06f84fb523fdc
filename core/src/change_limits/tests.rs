use super::*;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, Change, ObjType, ROOT, ScalarValue};

fn one_change(build: impl FnOnce(&mut AutoCommit)) -> Vec<u8> {
    let mut doc = AutoCommit::new();
    build(&mut doc);
    doc.commit();
    let changes = doc.get_changes(&[]);
    assert_eq!(changes.len(), 1);
    changes[0].raw_bytes().to_vec()
}

/// A change's pieces, for forging variants of real changes.
struct Parts {
    /// Body bytes before the column metadata.
    prefix: Vec<u8>,
    /// (spec, data) per column.
    columns: Vec<(u64, Vec<u8>)>,
    extra: Vec<u8>,
}

fn split(bytes: &[u8]) -> Parts {
    let mut r = Reader::new(bytes);
    r.take(9).expect("valid test data");
    r.uleb().expect("valid test data");
    let body = r.rest();
    let mut r = Reader::new(body);
    let deps = r.uleb().expect("valid test data") as usize;
    r.take(deps * 32).expect("valid test data");
    r.length_prefixed().expect("valid test data");
    r.uleb().expect("valid test data");
    r.uleb().expect("valid test data");
    r.sleb().expect("valid test data");
    r.length_prefixed().expect("valid test data");
    for _ in 0..r.uleb().expect("valid test data") {
        r.length_prefixed().expect("valid test data");
    }
    let prefix = body[..r.pos].to_vec();
    let n = r.uleb().expect("valid test data");
    let mut meta = Vec::new();
    for _ in 0..n {
        meta.push((
            r.uleb().expect("valid test data"),
            r.uleb().expect("valid test data") as usize,
        ));
    }
    let mut columns = Vec::new();
    for (spec, len) in meta {
        columns.push((spec, r.take(len).expect("valid test data").to_vec()));
    }
    Parts {
        prefix,
        columns,
        extra: r.rest().to_vec(),
    }
}

fn join(parts: &Parts, chunk_type: u8) -> Vec<u8> {
    let mut body = parts.prefix.clone();
    write_uleb(&mut body, parts.columns.len() as u64);
    for (spec, data) in &parts.columns {
        write_uleb(&mut body, *spec);
        write_uleb(&mut body, data.len() as u64);
    }
    for (_, data) in &parts.columns {
        body.extend(data);
    }
    body.extend(&parts.extra);
    let mut header = vec![chunk_type];
    write_uleb(&mut header, body.len() as u64);
    let digest = chunk_digest(chunk_type, &body);
    let mut out = MAGIC.to_vec();
    out.extend(&digest[..4]);
    out.extend(&header);
    out.extend(&body);
    out
}

fn write_sleb(out: &mut Vec<u8>, mut value: i64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        let done = (value == 0 && byte & 0x40 == 0) || (value == -1 && byte & 0x40 != 0);
        if done {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Rewrites every run of a one-operation change so that each column
/// describes `n` identical rows: a valid change of `n` operations
/// setting the same root key to null, in a few dozen bytes.
fn op_bomb(n: u64) -> Vec<u8> {
    let original = one_change(|d| {
        d.put(ROOT, "x", ScalarValue::Null)
            .expect("valid test data");
    });
    let mut parts = split(&original);
    for (spec, data) in parts.columns.iter_mut() {
        let kind = *spec & 0b111;
        let mut r = Reader::new(data);
        let rewritten = match kind {
            // Boolean: alternating run lengths, starting with false.
            4 => {
                let mut out = Vec::new();
                while r.remaining() > 0 {
                    write_uleb(&mut out, r.uleb().expect("valid test data") * n);
                }
                out
            }
            // Everything else here is one run-length encoded row.
            _ => {
                let count = r.sleb().expect("valid test data");
                let mut out = Vec::new();
                if count == 0 {
                    write_sleb(&mut out, 0);
                    write_uleb(&mut out, r.uleb().expect("valid test data") * n);
                } else {
                    assert_eq!(count.abs(), 1, "a one-row column");
                    write_sleb(&mut out, n as i64);
                    out.extend(r.rest());
                }
                out
            }
        };
        *data = rewritten;
    }
    join(&parts, CHUNK_CHANGE)
}

#[test]
fn normal_changes_pass_and_are_counted_exactly() {
    let samples = vec![
        one_change(|d| {
            d.put(ROOT, "name", "Acme").expect("valid test data");
        }),
        one_change(|d| {
            d.put(ROOT, "a", 1).expect("valid test data");
            d.put(ROOT, "a", 2).expect("valid test data");
            d.put(ROOT, "b", true).expect("valid test data");
            d.delete(ROOT, "b").expect("valid test data");
        }),
        one_change(|d| {
            let text = d
                .put_object(ROOT, "notes", ObjType::Text)
                .expect("valid test data");
            d.splice_text(&text, 0, 0, &"héllo wörld ".repeat(500))
                .expect("valid test data");
            d.splice_text(&text, 3, 100, "").expect("valid test data");
        }),
        one_change(|d| {
            let list = d
                .put_object(ROOT, "log", ObjType::List)
                .expect("valid test data");
            for i in 0..300 {
                let m = d
                    .insert_object(&list, i, ObjType::Map)
                    .expect("valid test data");
                d.put(&m, "stage", format!("s{i}"))
                    .expect("valid test data");
                d.put(&m, "at", i as i64).expect("valid test data");
            }
        }),
    ];
    for bytes in samples {
        let shape = measure(&bytes).expect("a change Automerge made");
        let change = Change::from_bytes(bytes.clone()).expect("valid test data");
        assert_eq!(chunk_hash(&bytes), Some(change.hash()));
        assert_eq!(shape.ops, change.len() as u64);
        let preds: usize = change
            .decode()
            .operations
            .iter()
            .map(|o| o.pred.len())
            .sum();
        assert_eq!(shape.preds, preds as u64);
    }
}

#[test]
fn parsed_changes_are_bounded_without_expanding_them() {
    let ok = Change::from_bytes(op_bomb(1000)).expect("a real change");
    assert_eq!(check_parsed(&ok).expect("within limits").ops, 1000);
    let over = Change::from_bytes(op_bomb(MAX_OPS as u64 + 1)).expect("a real change");
    assert_eq!(
        check_parsed(&over).expect_err("refused").code,
        error_codes::CHANGE_TOO_LARGE
    );
}

#[test]
fn a_forged_change_decodes_to_exactly_the_counted_operations() {
    // The forgery is a real change: Automerge accepts it at small sizes
    // and decodes exactly the rows of the action column.
    let bytes = op_bomb(1000);
    assert_eq!(measure(&bytes).expect("valid test data").ops, 1000);
    assert_eq!(
        Change::from_bytes(bytes).expect("valid test data").len(),
        1000
    );
}

#[test]
fn a_declared_ten_million_operations_are_refused_unexpanded() {
    let bytes = op_bomb(10_000_000);
    assert!(bytes.len() < 200, "the bomb is {} bytes", bytes.len());
    let denial = check_raw(&bytes).expect_err("refused");
    assert_eq!(denial.code, error_codes::CHANGE_TOO_LARGE);
    assert_eq!(denial.rule, "limits");
    // Just over the limit too; just at it passes.
    let over = op_bomb(MAX_OPS as u64 + 1);
    assert_eq!(
        check_raw(&over).expect_err("refused").code,
        error_codes::CHANGE_TOO_LARGE
    );
    assert_eq!(
        measure(&op_bomb(MAX_OPS as u64))
            .expect("valid test data")
            .ops,
        MAX_OPS as u64
    );
    // A run longer than anything representable is refused, not wrapped.
    let huge = op_bomb(i64::MAX as u64);
    assert_eq!(
        check_raw(&huge).expect_err("refused").code,
        error_codes::CHANGE_TOO_LARGE
    );
}

#[test]
fn other_columns_cannot_add_operations() {
    // The key column claims ten million rows, the action column one:
    // Automerge decodes one operation, and one is counted.
    let original = one_change(|d| {
        d.put(ROOT, "x", ScalarValue::Null)
            .expect("valid test data");
    });
    let mut parts = split(&original);
    let key = parts
        .columns
        .iter_mut()
        .find(|(spec, _)| *spec == (1 << 4) | 5)
        .expect("a key string column");
    let mut r = Reader::new(&key.1);
    r.sleb().expect("valid test data");
    let mut data = Vec::new();
    write_sleb(&mut data, 10_000_000);
    data.extend(r.rest());
    key.1 = data;
    let bytes = join(&parts, CHUNK_CHANGE);
    assert_eq!(measure(&bytes).expect("valid test data").ops, 1);
    assert_eq!(Change::from_bytes(bytes).expect("valid test data").len(), 1);
}

#[test]
fn literal_and_null_runs_count_too() {
    let original = one_change(|d| {
        d.put(ROOT, "x", ScalarValue::Null)
            .expect("valid test data");
    });
    let mut parts = split(&original);
    let action = parts
        .columns
        .iter_mut()
        .find(|(spec, _)| *spec == ACTION_SPEC)
        .expect("valid test data");
    // A literal run declaring more values than there are bytes.
    let mut data = Vec::new();
    write_sleb(&mut data, -(MAX_OPS as i64) - 1);
    data.push(1);
    action.1 = data;
    let bytes = join(&parts, CHUNK_CHANGE);
    assert_eq!(
        check_raw(&bytes).expect_err("refused").code,
        error_codes::CHANGE_TOO_LARGE
    );
    // A null run of 2^64 - 1 rows.
    let action = parts
        .columns
        .iter_mut()
        .find(|(spec, _)| *spec == ACTION_SPEC)
        .expect("valid test data");
    let mut data = vec![0];
    write_uleb(&mut data, u64::MAX);
    action.1 = data;
    let bytes = join(&parts, CHUNK_CHANGE);
    assert_eq!(
        check_raw(&bytes).expect_err("refused").code,
        error_codes::CHANGE_TOO_LARGE
    );
}

#[test]
fn a_predecessor_bomb_is_refused() {
    // One operation overwriting ten million earlier values.
    let original = one_change(|d| {
        d.put(ROOT, "x", 1).expect("valid test data");
        d.put(ROOT, "x", 2).expect("valid test data");
    });
    let mut parts = split(&original);
    for (spec, data) in parts.columns.iter_mut() {
        if *spec == PRED_GROUP_SPEC {
            let mut out = Vec::new();
            write_sleb(&mut out, 2);
            write_uleb(&mut out, 10_000_000);
            *data = out;
        }
    }
    let bytes = join(&parts, CHUNK_CHANGE);
    let denial = check_raw(&bytes).expect_err("refused");
    assert_eq!(denial.code, error_codes::CHANGE_TOO_LARGE);
}

#[test]
fn compressed_chunks_and_columns_are_refused() {
    let mut doc = AutoCommit::new();
    let text = doc
        .put_object(ROOT, "notes", ObjType::Text)
        .expect("valid test data");
    doc.splice_text(&text, 0, 0, &"a".repeat(5000))
        .expect("valid test data");
    doc.commit();
    let mut change = doc.get_changes(&[])[0].clone();
    let packed = change.bytes().to_vec();
    assert_eq!(
        packed.get(8),
        Some(&CHUNK_COMPRESSED),
        "Automerge compressed it"
    );
    let denial = check_raw(&packed).expect_err("refused");
    assert_eq!(denial.code, error_codes::COMPRESSED_CHANGE);
    assert_eq!(chunk_hash(&packed), None);
    // The same bytes, uncompressed, pass.
    check_raw(change.raw_bytes()).expect("valid test data");
    // A change chunk with a deflated column.
    let mut parts = split(change.raw_bytes());
    parts.columns[0].0 |= DEFLATE_BIT;
    let denial = check_raw(&join(&parts, CHUNK_CHANGE)).expect_err("refused");
    assert_eq!(denial.code, error_codes::COMPRESSED_CHANGE);
}

#[test]
fn concatenated_chunks_are_split_by_their_headers() {
    let a = one_change(|d| {
        d.put(ROOT, "a", 1).expect("valid test data");
    });
    let b = one_change(|d| {
        d.put(ROOT, "b", 2).expect("valid test data");
    });
    let mut both = a.clone();
    both.extend(&b);
    let split = split_chunks(&both).expect("valid test data");
    assert_eq!(split, vec![(CHUNK_CHANGE, &a[..]), (CHUNK_CHANGE, &b[..])]);
    assert_eq!(split_chunks(&both[..both.len() - 1]), None);
    assert_eq!(split_chunks(&[]), Some(vec![]));
}

#[test]
fn oversized_and_malformed_bytes_are_refused() {
    let big = vec![0u8; MAX_CHANGE_BYTES + 1];
    assert_eq!(
        check_raw(&big).expect_err("refused").code,
        error_codes::CHANGE_TOO_LARGE
    );
    let good = one_change(|d| {
        d.put(ROOT, "name", "Acme").expect("valid test data");
    });
    // A document is not a change.
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "name", "Acme").expect("valid test data");
    let saved = doc.save();
    assert_eq!(
        check_raw(&saved).expect_err("refused").code,
        error_codes::MALFORMED_CHANGE
    );
    // Two changes in one entry, a flipped byte, every truncation.
    let mut twice = good.clone();
    twice.extend(&good);
    assert_eq!(
        check_raw(&twice).expect_err("refused").code,
        error_codes::MALFORMED_CHANGE
    );
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x55;
    assert_eq!(
        check_raw(&flipped).expect_err("refused").code,
        error_codes::MALFORMED_CHANGE
    );
    for n in 0..good.len() {
        assert!(check_raw(&good[..n]).is_err(), "truncated at {n}");
    }
    assert!(check_raw(&[]).is_err());
}

proptest::proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(
        mut bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        header in proptest::prelude::any::<bool>(),
    ) {
        if header && bytes.len() > 9 {
            bytes[..4].copy_from_slice(&MAGIC);
            bytes[8] = CHUNK_CHANGE;
        }
        let _ = measure(&bytes);
    }

    #[test]
    fn never_panics_on_arbitrary_bodies_under_a_valid_header(
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
    ) {
        // Sealed with the right length and checksum, so the column walk is
        // what meets the arbitrary bytes.
        let mut chunk = MAGIC.to_vec();
        chunk.extend(&chunk_digest(CHUNK_CHANGE, &body)[..4]);
        chunk.push(CHUNK_CHANGE);
        write_uleb(&mut chunk, body.len() as u64);
        chunk.extend(&body);
        let _ = measure(&chunk);
    }

    #[test]
    fn never_panics_on_mutated_changes(at in 0usize..400, value in proptest::prelude::any::<u8>()) {
        let mut bytes = one_change(|d| {
            d.put(ROOT, "a", 1).expect("valid test data");
            d.put(ROOT, "b", "two").expect("valid test data");
        });
        // Mutate the body, then reseal the checksum so the walk is reached.
        let start = 10;
        let i = start + at % (bytes.len() - start);
        bytes[i] = value;
        let digest = chunk_digest(bytes[8], &bytes[10..]);
        bytes[4..8].copy_from_slice(&digest[..4]);
        let _ = measure(&bytes);
    }
}
