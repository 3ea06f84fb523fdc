use super::*;
use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};

/// A document chunk's pieces, for forging variants of real saves.
struct DocParts {
    /// Actors and heads.
    prefix: Vec<u8>,
    changes: Vec<(u64, Vec<u8>)>,
    ops: Vec<(u64, Vec<u8>)>,
    /// Head indices.
    suffix: Vec<u8>,
}

fn split_doc(bytes: &[u8]) -> DocParts {
    let mut r = Reader::new(bytes);
    r.take(9).expect("valid test data");
    r.uleb().expect("valid test data");
    let body = r.rest();
    let mut r = Reader::new(body);
    for _ in 0..r.uleb().expect("valid test data") {
        r.length_prefixed().expect("valid test data");
    }
    let heads = r.uleb().expect("valid test data") as usize;
    r.take(heads * HASH_LEN).expect("valid test data");
    let prefix = body[..r.pos].to_vec();
    let change_meta = column_meta(&mut r).expect("valid test data");
    let op_meta = column_meta(&mut r).expect("valid test data");
    let mut take = |meta: &[(u64, usize)]| -> Vec<(u64, Vec<u8>)> {
        meta.iter()
            .map(|(spec, len)| (*spec, r.take(*len).expect("valid test data").to_vec()))
            .collect()
    };
    let changes = take(&change_meta);
    let ops = take(&op_meta);
    DocParts {
        prefix,
        changes,
        ops,
        suffix: r.rest().to_vec(),
    }
}

fn join_doc(parts: &DocParts) -> Vec<u8> {
    let mut body = parts.prefix.clone();
    for columns in [&parts.changes, &parts.ops] {
        write_uleb(&mut body, columns.len() as u64);
        for (spec, data) in columns.iter() {
            write_uleb(&mut body, *spec);
            write_uleb(&mut body, data.len() as u64);
        }
    }
    for (_, data) in parts.changes.iter().chain(&parts.ops) {
        body.extend(data);
    }
    body.extend(&parts.suffix);
    seal(&body)
}

/// A document chunk around `body`, with its checksum.
fn seal(body: &[u8]) -> Vec<u8> {
    let mut header = vec![CHUNK_DOCUMENT];
    write_uleb(&mut header, body.len() as u64);
    let digest = chunk_digest(CHUNK_DOCUMENT, body);
    let mut out = MAGIC.to_vec();
    out.extend(&digest[..4]);
    out.extend(&header);
    out.extend(body);
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

/// A repeat run: `n` rows of `value`.
fn repeat_run(n: i64, value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    write_sleb(&mut out, n);
    write_uleb(&mut out, value);
    out
}

/// A record-like document: fields, a long note (so that Automerge
/// deflates columns), a list of maps, deletions, and a merge of two
/// actors' concurrent edits.
fn sample_doc() -> AutoCommit {
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "name", "Acme").expect("valid test data");
    doc.put(ROOT, "stage", "lead").expect("valid test data");
    doc.commit();
    let notes = doc
        .put_object(ROOT, "notes", ObjType::Text)
        .expect("valid test data");
    doc.splice_text(&notes, 0, 0, &"héllo wörld, met at the fair. ".repeat(200))
        .expect("valid test data");
    doc.commit();
    let mut other = doc.fork();
    for i in 0..40 {
        doc.put(ROOT, "amount", i as i64).expect("valid test data");
        doc.commit();
        other
            .put(ROOT, "phone", format!("+41 {i}"))
            .expect("valid test data");
        other.commit();
    }
    doc.splice_text(&notes, 5, 20, "").expect("valid test data");
    doc.delete(ROOT, "stage").expect("valid test data");
    doc.commit();
    doc.merge(&mut other).expect("valid test data");
    let log = doc
        .put_object(ROOT, "log", ObjType::List)
        .expect("valid test data");
    for i in 0..50 {
        let m = doc
            .insert_object(&log, i, ObjType::Map)
            .expect("valid test data");
        doc.put(&m, "at", i as i64).expect("valid test data");
    }
    doc.commit();
    doc
}

fn denial_code(bytes: &[u8]) -> String {
    check_document(bytes).expect_err("refused").code
}

#[test]
fn real_documents_pass_and_are_counted_exactly() {
    let mut small = AutoCommit::new();
    small.put(ROOT, "name", "Acme").expect("valid test data");
    let mut sample = sample_doc();
    let mut empty = AutoCommit::new();
    let mut deflated_columns = 0;
    for doc in [&mut small, &mut sample, &mut empty] {
        for bytes in [doc.save(), doc.save_nocompress()] {
            let shape = check_document(&bytes).expect("a document Automerge saved");
            let stats = doc.stats();
            assert_eq!(shape.ops, stats.num_ops);
            assert_eq!(shape.changes, stats.num_changes);
            let parts = split_doc(&bytes);
            deflated_columns += parts
                .changes
                .iter()
                .chain(&parts.ops)
                .filter(|(spec, _)| spec & DEFLATE_BIT != 0)
                .count();
            // And Automerge loads it.
            let mut loaded = AutoCommit::load(&bytes).expect("valid test data");
            assert_eq!(loaded.get_heads(), doc.get_heads());
        }
    }
    assert!(deflated_columns > 0, "some column was deflated");
    let changes = sample.get_changes(&[]);
    let in_changes: usize = changes.iter().map(|c| c.len()).sum();
    assert!(
        in_changes as u64 > sample.stats().num_ops,
        "deletions count"
    );
    // The operations of the changes are counted as Automerge derives
    // them: their sum is the sum of the changes' lengths.
    let bytes = sample.save();
    let parts = split_doc(&sample.save_nocompress());
    let values = |spec: u64| {
        let (_, data) = parts
            .changes
            .iter()
            .find(|(s, _)| *s == spec)
            .expect("the column");
        walk_column(data, spec & 0b111, u64::MAX, true)
            .expect("valid test data")
            .values
    };
    assert_eq!(
        change_ops(
            sample.stats().num_changes,
            &values(DOC_CHANGE_MAX_OP),
            &values(DOC_DEPS_COUNT),
            &values(DOC_DEPS_VALUES),
        )
        .expect("within limits"),
        in_changes as u64
    );
    // A change is not a document, and a document is not a change.
    assert_eq!(
        denial_code(changes[0].raw_bytes()),
        error_codes::MALFORMED_CHANGE
    );
    assert_eq!(
        check_raw(&bytes).expect_err("refused").code,
        error_codes::MALFORMED_CHANGE
    );
}

#[test]
fn a_deflate_bomb_is_refused_at_the_cap() {
    use std::io::Write;
    let mut doc = sample_doc();
    let mut parts = split_doc(&doc.save_nocompress());
    // 64 MiB of zeros, deflated to about 64 KiB, as the value column.
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..64 {
        encoder.write_all(&zeros).expect("valid test data");
    }
    let bomb = encoder.finish().expect("valid test data");
    assert!(bomb.len() < 200 * 1024, "the bomb is {} bytes", bomb.len());
    let value = parts
        .ops
        .iter_mut()
        .find(|(spec, _)| *spec & 0b111 == TYPE_VALUE)
        .expect("a value column");
    value.0 |= DEFLATE_BIT;
    value.1 = bomb;
    let bytes = join_doc(&parts);
    let denial = check_document(&bytes).expect_err("refused");
    assert_eq!(denial.code, error_codes::CHANGE_TOO_LARGE);
    assert_eq!(denial.rule, "limits");
    assert!(denial.message.contains("inflated"), "{}", denial.message);
    // The bounded inflater stops at its cap.
    let value = &parts
        .ops
        .iter()
        .find(|(s, _)| s & DEFLATE_BIT != 0)
        .expect("it")
        .1;
    assert_eq!(
        inflate_bounded(value, 1024 * 1024).expect("valid deflate"),
        None
    );
    // Bytes that do not inflate are malformed.
    let value = parts
        .ops
        .iter_mut()
        .find(|(spec, _)| spec & DEFLATE_BIT != 0)
        .expect("the bomb");
    value.1 = vec![0xff; 64];
    assert_eq!(
        denial_code(&join_doc(&parts)),
        error_codes::MALFORMED_CHANGE
    );
}

#[test]
fn run_length_bombs_are_refused_unexpanded() {
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "x", 1).expect("valid test data");
    doc.commit();
    let original = doc.save_nocompress();
    check_document(&original).expect("valid test data");
    // Ten million operations, claimed by each operation column in turn.
    let base = split_doc(&original);
    for (i, (spec, _)) in base.ops.iter().enumerate() {
        if spec & 0b111 == TYPE_VALUE {
            continue;
        }
        let mut parts = split_doc(&original);
        parts.ops[i].1 = if spec & 0b111 == TYPE_BOOLEAN {
            let mut out = Vec::new();
            write_uleb(&mut out, 10_000_000);
            out
        } else {
            repeat_run(10_000_000, 0)
        };
        let bytes = join_doc(&parts);
        assert!(bytes.len() < 300, "the bomb is {} bytes", bytes.len());
        assert_eq!(
            denial_code(&bytes),
            error_codes::CHANGE_TOO_LARGE,
            "column {spec:#x}"
        );
    }
    // A null run of 2^64 - 1 rows in the operation id column.
    let mut parts = split_doc(&original);
    let id = parts
        .ops
        .iter_mut()
        .find(|(spec, _)| *spec == DOC_ID_ACTOR)
        .expect("an id actor column");
    id.1 = vec![0];
    write_uleb(&mut id.1, u64::MAX);
    assert_eq!(
        denial_code(&join_doc(&parts)),
        error_codes::CHANGE_TOO_LARGE
    );
    // One change claiming four billion operations (Automerge would
    // allocate a slot for each).
    let mut parts = split_doc(&original);
    let max_op = parts
        .changes
        .iter_mut()
        .find(|(spec, _)| *spec == DOC_CHANGE_MAX_OP)
        .expect("a max op column");
    max_op.1 = Vec::new();
    write_sleb(&mut max_op.1, 1);
    write_sleb(&mut max_op.1, 4_000_000_000);
    let denial = check_document(&join_doc(&parts)).expect_err("refused");
    assert_eq!(denial.code, error_codes::CHANGE_TOO_LARGE);
    assert!(
        denial.message.contains("changes of a document"),
        "{}",
        denial.message
    );
    // Ten million changes.
    let mut parts = split_doc(&original);
    let actor = parts
        .changes
        .iter_mut()
        .find(|(spec, _)| *spec == DOC_CHANGE_ACTOR)
        .expect("a change actor column");
    actor.1 = repeat_run(10_000_000, 0);
    assert_eq!(
        denial_code(&join_doc(&parts)),
        error_codes::CHANGE_TOO_LARGE
    );
    // A successor bomb.
    let mut parts = split_doc(&original);
    let succ = parts
        .ops
        .iter_mut()
        .find(|(spec, _)| *spec == DOC_SUCC_ID << 4)
        .expect("a successor group column");
    succ.1 = repeat_run(1, 10_000_000);
    assert_eq!(
        denial_code(&join_doc(&parts)),
        error_codes::CHANGE_TOO_LARGE
    );
    // Counters past 2^32 - 1, and a dependency naming no change.
    let mut parts = split_doc(&original);
    let ctr = parts
        .ops
        .iter_mut()
        .find(|(spec, _)| *spec == DOC_ID_COUNTER)
        .expect("an id counter column");
    ctr.1 = Vec::new();
    write_sleb(&mut ctr.1, 1);
    write_sleb(&mut ctr.1, 1 << 33);
    let denial = check_document(&join_doc(&parts)).expect_err("refused");
    assert_eq!(denial.code, error_codes::MALFORMED_CHANGE);
    assert!(denial.message.contains("counter"), "{}", denial.message);
    let mut parts = split_doc(&original);
    let deps = parts
        .changes
        .iter_mut()
        .find(|(spec, _)| *spec == DOC_DEPS_COUNT);
    if let Some(deps) = deps {
        deps.1 = repeat_run(1, 1);
    } else {
        let at = parts
            .changes
            .iter()
            .position(|(spec, _)| *spec > DOC_DEPS_COUNT)
            .unwrap_or(parts.changes.len());
        parts.changes.insert(at, (DOC_DEPS_COUNT, repeat_run(1, 1)));
    }
    let at = parts
        .changes
        .iter()
        .position(|(spec, _)| *spec > DOC_DEPS_COUNT)
        .unwrap_or(parts.changes.len());
    parts.changes.retain(|(spec, _)| *spec != DOC_DEPS_VALUES);
    parts.changes.insert(
        at.min(parts.changes.len()),
        (DOC_DEPS_VALUES, repeat_run(1, 7)),
    );
    let denial = check_document(&join_doc(&parts)).expect_err("refused");
    assert_eq!(denial.code, error_codes::MALFORMED_CHANGE);
    assert!(
        denial.message.contains("names no change"),
        "{}",
        denial.message
    );
}

#[test]
fn oversized_truncated_and_flipped_documents_are_refused() {
    assert_eq!(
        denial_code(&vec![0u8; MAX_CHANGE_BYTES + 1]),
        error_codes::CHANGE_TOO_LARGE
    );
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "name", "Acme").expect("valid test data");
    let good = doc.save();
    for n in 0..good.len() {
        assert!(check_document(&good[..n]).is_err(), "truncated at {n}");
    }
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x55;
    assert_eq!(denial_code(&flipped), error_codes::MALFORMED_CHANGE);
    let mut twice = good.clone();
    twice.extend(&good);
    assert_eq!(denial_code(&twice), error_codes::MALFORMED_CHANGE);
}

#[test]
fn documents_automerge_sends_in_sync_messages_pass() {
    use automerge::sync::{self, SyncDoc};
    let mut full = sample_doc();
    let mut empty = AutoCommit::new();
    let (mut full_state, mut empty_state) = (sync::State::new(), sync::State::new());
    let mut documents = 0;
    let changes = full.stats().num_changes;
    for _ in 0..10 {
        let mut quiet = true;
        if let Some(m) = empty.sync().generate_sync_message(&mut empty_state) {
            quiet = false;
            full.sync()
                .receive_sync_message(&mut full_state, m)
                .expect("valid test data");
        }
        if let Some(m) = full.sync().generate_sync_message(&mut full_state) {
            quiet = false;
            for entry in m.changes.iter() {
                for (kind, chunk) in split_chunks(entry).expect("valid test data") {
                    if kind == CHUNK_DOCUMENT {
                        documents += 1;
                        let shape = check_document(chunk).expect("a document Automerge sent");
                        assert_eq!(shape.changes, changes);
                    }
                }
            }
            empty
                .sync()
                .receive_sync_message(&mut empty_state, m)
                .expect("valid test data");
        }
        if quiet {
            break;
        }
    }
    assert_eq!(empty.get_heads(), full.get_heads());
    assert!(documents > 0, "Automerge sent the whole document");
}

proptest::proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(
        mut bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        header in proptest::prelude::any::<bool>(),
    ) {
        if header && bytes.len() > 9 {
            bytes[..4].copy_from_slice(&MAGIC);
            bytes[8] = CHUNK_DOCUMENT;
        }
        let _ = check_document(&bytes);
    }

    #[test]
    fn never_panics_on_arbitrary_bodies_under_a_valid_header(
        body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
    ) {
        // Sealed, so the header and column walks meet the arbitrary bytes.
        let _ = check_document(&seal(&body));
    }

    #[test]
    fn never_panics_on_mutated_documents(
        at in 0usize..4000,
        value in proptest::prelude::any::<u8>(),
        compress in proptest::prelude::any::<bool>(),
    ) {
        let mut doc = sample_doc();
        let bytes = if compress { doc.save() } else { doc.save_nocompress() };
        // Mutate the body, then reseal the checksum so the walk is reached.
        let mut r = Reader::new(&bytes);
        r.take(9).expect("valid test data");
        r.uleb().expect("valid test data");
        let mut body = r.rest().to_vec();
        let i = at % body.len();
        body[i] = value;
        let _ = check_document(&seal(&body));
        // And truncated bodies.
        let _ = check_document(&seal(&body[..i]));
    }
}
