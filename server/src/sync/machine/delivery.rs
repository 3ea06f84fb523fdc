//! What a set of feed rows means for one device, decided with a reader.
//!
//! Guarantees: a document the device may see and holds gets the changes
//! (never its own changes echoed back); one it may see and lacks, or holds
//! in an older generation, is sent whole; one it holds and may no longer see
//! is revoked (the whole record when none of its documents stays). The
//! visibility rule is [`crate::visibility::visible_among`].

use std::collections::{BTreeMap, BTreeSet, HashSet};

use fieldwork_core::Access;
use fieldwork_core::sync::protocol::DocData;
use serde_bytes::ByteBuf;

use crate::db::feed::FeedRow;
use crate::db::{devices, documents, facts};
use crate::error::Result;
use crate::visibility::visible_among;

/// One change to relay: a feed row's document and bytes.
#[derive(Debug)]
pub(super) struct Relayed {
    /// The document changed.
    pub doc: String,
    /// The raw change.
    pub bytes: Vec<u8>,
}

/// What to send for a set of feed rows.
#[derive(Debug, Default)]
pub(super) struct Plan {
    /// Changes to relay, by feed position.
    pub changes: BTreeMap<u64, Relayed>,
    /// Documents to send whole.
    pub whole: Vec<DocData>,
    /// Documents to revoke.
    pub revoke_docs: Vec<String>,
    /// Records to revoke (every document of theirs).
    pub revoke_records: Vec<String>,
    /// Documents the device no longer holds once the plan is sent.
    pub released: Vec<String>,
}

/// Decides what `rows` mean for `device` under `access`. `moved`: accounts
/// whose visibility facts changed, whose children are re-examined too.
pub(super) fn plan(
    conn: &rusqlite::Connection,
    access: &Access,
    device: &str,
    rows: Vec<FeedRow>,
    moved: &BTreeSet<String>,
) -> Result<Plan> {
    let mut records: BTreeSet<String> = BTreeSet::new();
    for row in &rows {
        if let Some((record, _)) = row.doc_id.rsplit_once('/') {
            records.insert(record.to_owned());
        }
    }
    // Children follow an account whose visibility moved.
    let mut extra: Vec<String> = Vec::new();
    for record in records.iter().filter(|r| r.starts_with("account:")) {
        if moved.contains(record) || visibility_flipped(conn, access, device, record)? {
            extra.extend(facts::children_of(conn, record)?);
        }
    }
    records.extend(extra);
    let mut plan = Plan::default();
    let mut visible_held: HashSet<String> = HashSet::new();
    for record in &records {
        plan_record(conn, access, device, record, &mut plan, &mut visible_held)?;
    }
    for row in rows {
        if row.device_id.as_deref() == Some(device) || !visible_held.contains(&row.doc_id) {
            continue;
        }
        plan.changes.insert(
            row.seq,
            Relayed {
                doc: row.doc_id,
                bytes: row.bytes,
            },
        );
    }
    Ok(plan)
}

/// Adds to `plan` what the documents of `record` need; collects in
/// `visible_held` the ones the device holds and may see (they get changes).
fn plan_record(
    conn: &rusqlite::Connection,
    access: &Access,
    device: &str,
    record: &str,
    plan: &mut Plan,
    visible_held: &mut HashSet<String>,
) -> Result<()> {
    let docs = documents::docs_of_record(conn, record)?;
    // Held documents, and whether the copy is an older generation.
    let held: BTreeMap<String, bool> = devices::held_among(conn, device, &docs)?
        .into_iter()
        .collect();
    let visible = visible_among(conn, access, &docs)?;
    let mut gone = Vec::new();
    let mut kept = false;
    for doc in &docs {
        match (visible.contains(doc), held.get(doc)) {
            (true, Some(false)) => {
                kept = true;
                visible_held.insert(doc.clone());
            }
            (true, Some(true)) => plan.whole.extend(whole(conn, doc, true)?),
            (true, None) => plan.whole.extend(whole(conn, doc, false)?),
            (false, Some(_)) => gone.push(doc.clone()),
            (false, None) => {}
        }
    }
    if !gone.is_empty() && gone.len() == held.len() && !kept {
        plan.revoke_records.push(record.to_owned());
    } else {
        plan.revoke_docs.extend(gone.iter().cloned());
    }
    plan.released.extend(gone);
    Ok(())
}

/// Whether the device's holding of an account's documents disagrees with
/// their visibility now (the account moved in or out of sight).
fn visibility_flipped(
    conn: &rusqlite::Connection,
    access: &Access,
    device: &str,
    record: &str,
) -> Result<bool> {
    let docs = documents::docs_of_record(conn, record)?;
    let held = devices::held_among(conn, device, &docs)?;
    let visible = !visible_among(conn, access, &docs)?.is_empty();
    Ok(visible == held.is_empty())
}

/// A document as stored, ready to send whole; `replace` tells the device to
/// discard its (older generation) copy rather than merge.
pub(super) fn whole(
    conn: &rusqlite::Connection,
    doc: &str,
    replace: bool,
) -> Result<Option<DocData>> {
    Ok(
        documents::whole(conn, doc)?.map(|(snapshot, changes)| DocData {
            doc: doc.to_owned(),
            document: snapshot.map(ByteBuf::from),
            changes: changes.into_iter().map(ByteBuf::from).collect(),
            replace,
        }),
    )
}
