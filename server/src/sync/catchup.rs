//! Bringing a device up to date, and keeping it there.
//!
//! - **fresh**: every visible document, whole, in batches of about
//!   `batch_bytes`; then the feed from where the download started;
//! - **incremental**: the feed since the device's cursor, page by page, so a
//!   device that is already up to date costs one empty page;
//! - **live**: each committed change as the hub announces it.
//!
//! All three deliver through [`Session::deliver`], which applies the
//! visibility rule per document and keeps `device_docs` true: a document
//! that became visible is sent whole, one that became invisible is revoked,
//! and the device's own changes are not echoed back.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use fieldwork_core::DocId;
use fieldwork_core::RecordKind;
use fieldwork_core::policy::RecordFacts;
use fieldwork_core::sync::protocol::{Batch, DocData, Revoke, ServerMessage, UpToDate};
use serde_bytes::ByteBuf;

use super::session::{Fatal, Session};
use crate::db::{devices, feed};
use crate::error::Result;
use crate::hub::FeedEvent;
use crate::visibility::doc_visible;

/// Feed entries read per page.
const PAGE: usize = 2000;
/// Documents examined per page during a fresh download.
const DOC_PAGE: usize = 500;

/// What to send for a set of feed rows.
#[derive(Debug, Default)]
struct Plan {
    changes: BTreeMap<u64, (String, Vec<u8>)>,
    whole: Vec<DocData>,
    revoke_docs: Vec<String>,
    revoke_records: Vec<String>,
    /// Documents the device no longer holds once the plan is sent.
    released: Vec<String>,
}

impl Session {
    /// A device with nothing: every visible document, whole.
    pub(crate) async fn fresh(&mut self) -> Result<(), Fatal> {
        let head = self.start_over().await?;
        self.send_all_visible(&BTreeSet::new()).await?;
        self.sent = head;
        self.go_live().await
    }

    /// A device with a trusted cursor: the feed since it. `stale`: the
    /// policy or the user changed since the device last reconciled.
    pub(crate) async fn incremental(&mut self, stale: bool) -> Result<(), Fatal> {
        if stale {
            self.reconcile().await?;
        }
        self.go_live().await
    }

    /// Forgets which documents the device holds (it is about to be told
    /// everything again) and returns the feed head to continue from.
    pub(crate) async fn start_over(&mut self) -> Result<u64, Fatal> {
        let device = self.device.clone();
        Ok(self
            .state
            .db
            .write(move |w| {
                devices::release_all(&w.conn, &device)?;
                feed::head(&w.conn)
            })
            .await?)
    }

    /// Delivers the feed from `sent` to the head, says so, and goes live.
    pub(crate) async fn go_live(&mut self) -> Result<(), Fatal> {
        self.catch_up().await?;
        let (epoch, seq) = (self.epoch.clone(), self.sent);
        let cursor = self
            .state
            .db
            .read(move |c| feed::cursor_at(c, &epoch, seq))
            .await?;
        let (device, revision, version) =
            (self.device.clone(), self.policy_revision, self.user.version);
        self.state
            .db
            .write(move |w| devices::reconciled(&w.conn, &device, revision, version))
            .await?;
        self.live = true;
        self.send(ServerMessage::UpToDate(UpToDate { cursor }))
            .await
    }

    /// Delivers every feed entry after `sent`, page by page.
    pub(crate) async fn catch_up(&mut self) -> Result<(), Fatal> {
        loop {
            let after = self.sent;
            let rows = self
                .state
                .db
                .read(move |c| feed::since(c, after, PAGE))
                .await?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            let (seq, check) = (last.seq, last.check());
            let rows: Vec<(u64, String, Vec<u8>, Option<String>)> = rows
                .into_iter()
                .map(|r| (r.seq, r.doc_id, r.bytes, r.device_id))
                .collect();
            self.deliver(rows, &BTreeSet::new(), seq, check).await?;
        }
    }

    /// Live changes announced by the hub.
    pub(crate) async fn on_changes(&mut self, events: &[FeedEvent]) -> Result<(), Fatal> {
        let fresh: Vec<&FeedEvent> = events.iter().filter(|e| e.seq > self.sent).collect();
        let Some(last) = fresh.last() else {
            return Ok(());
        };
        if fresh[0].seq > self.sent + 1 && self.sent > 0 {
            // Entries committed before we subscribed: fetch them first.
            self.catch_up().await?;
            return Box::pin(self.on_changes(events)).await;
        }
        let (seq, check) = (last.seq, hex::encode(&last.hash[..last.hash.len().min(8)]));
        let moved: BTreeSet<String> = fresh
            .iter()
            .filter(|e| e.facts_changed && e.doc.record().kind() == RecordKind::Account)
            .map(|e| e.doc.record().to_string())
            .collect();
        let rows = fresh
            .into_iter()
            .map(|e| (e.seq, e.doc.to_string(), e.bytes.clone(), e.device.clone()))
            .collect();
        self.deliver(rows, &moved, seq, check).await
    }

    /// Sends what `rows` mean for this device and advances the cursor to
    /// `seq`. `moved` accounts changed their visibility facts, so their
    /// children are re-examined too.
    async fn deliver(
        &mut self,
        rows: Vec<(u64, String, Vec<u8>, Option<String>)>,
        moved: &BTreeSet<String>,
        seq: u64,
        check: String,
    ) -> Result<(), Fatal> {
        let access = self.access.clone();
        let device = self.device.clone();
        let moved = moved.clone();
        // Decide with a reader (the common case writes nothing), then record
        // what the device now holds only when that changed.
        let plan = self
            .state
            .db
            .read(move |conn| {
                let mut records: BTreeSet<String> = BTreeSet::new();
                for (_, doc, _, _) in &rows {
                    if let Some((record, _)) = doc.rsplit_once('/') {
                        records.insert(record.to_owned());
                    }
                }
                // Children follow an account whose visibility moved.
                let mut extra: Vec<String> = Vec::new();
                for record in records.iter().filter(|r| r.starts_with("account:")) {
                    if moved.contains(record) || visibility_flipped(conn, &access, &device, record)?
                    {
                        extra.extend(feed::children_of(conn, record)?);
                    }
                }
                records.extend(extra);
                let records: Vec<String> = records.into_iter().collect();
                let facts = feed::facts(conn, &records)?;
                let mut plan = Plan::default();
                let mut visible_held: BTreeSet<String> = BTreeSet::new();
                for record in &records {
                    let docs = feed::docs_of_record(conn, record)?;
                    // Held documents, and whether the copy is an older generation.
                    let held: BTreeMap<String, bool> = devices::held_among(conn, &device, &docs)?
                        .into_iter()
                        .collect();
                    let mut gone = Vec::new();
                    for doc in &docs {
                        match (is_visible(&access, doc, facts.get(record)), held.get(doc)) {
                            (true, Some(false)) => {
                                visible_held.insert(doc.clone());
                            }
                            (true, Some(true)) => plan.whole.extend(whole(conn, doc, true)?),
                            (true, None) => plan.whole.extend(whole(conn, doc, false)?),
                            (false, Some(_)) => gone.push(doc.clone()),
                            (false, None) => {}
                        }
                    }
                    if !gone.is_empty()
                        && gone.len() == held.len()
                        && !docs.iter().any(|d| visible_held.contains(d))
                    {
                        plan.revoke_records.push(record.clone());
                        plan.released.extend(gone);
                    } else {
                        plan.revoke_docs.extend(gone.iter().cloned());
                        plan.released.extend(gone);
                    }
                }
                for (seq, doc, bytes, from) in rows {
                    if from.as_deref() == Some(device.as_str()) || !visible_held.contains(&doc) {
                        continue;
                    }
                    plan.changes.insert(seq, (doc, bytes));
                }
                Ok(plan)
            })
            .await?;
        if !plan.whole.is_empty() || !plan.released.is_empty() {
            let device = self.device.clone();
            let (hold, release): (Vec<String>, Vec<String>) = (
                plan.whole.iter().map(|d| d.doc.clone()).collect(),
                plan.released.clone(),
            );
            self.state
                .db
                .write(move |w| {
                    devices::hold(&w.conn, &device, &hold)?;
                    devices::release(&w.conn, &device, &release)
                })
                .await?;
        }
        self.send_plan(plan, seq, check).await
    }

    async fn send_plan(&mut self, plan: Plan, seq: u64, check: String) -> Result<(), Fatal> {
        if !plan.revoke_docs.is_empty() || !plan.revoke_records.is_empty() {
            self.send(ServerMessage::Revoke(Revoke {
                records: plan.revoke_records,
                docs: plan.revoke_docs,
            }))
            .await?;
        }
        // Whole documents first (they may be what later changes build on),
        // then changes grouped per document in feed order.
        let mut docs: Vec<DocData> = plan.whole;
        let mut index: HashMap<String, usize> = HashMap::new();
        for (_, (doc, bytes)) in plan.changes {
            let i = *index.entry(doc.clone()).or_insert_with(|| {
                docs.push(DocData {
                    doc: doc.clone(),
                    document: None,
                    changes: Vec::new(),
                    replace: false,
                });
                docs.len() - 1
            });
            docs[i].changes.push(ByteBuf::from(bytes));
        }
        let cursor = fieldwork_core::store::Cursor {
            epoch: self.epoch.clone(),
            seq,
            check,
        };
        self.send_batches(docs, Some(cursor), None).await?;
        self.sent = seq;
        Ok(())
    }

    /// Sends documents in batches of about `batch_bytes`; the cursor goes
    /// with the last batch only.
    pub(crate) async fn send_batches(
        &mut self,
        docs: Vec<DocData>,
        cursor: Option<fieldwork_core::store::Cursor>,
        mut done: Option<u64>,
    ) -> Result<(), Fatal> {
        let limit = self.state.config.batch_bytes;
        let mut batch: Vec<DocData> = Vec::new();
        let mut size = 0usize;
        let total = docs.len();
        for (i, data) in docs.into_iter().enumerate() {
            size += data.document.as_ref().map_or(0, |d| d.len())
                + data.changes.iter().map(|c| c.len()).sum::<usize>();
            batch.push(data);
            if let Some(d) = done.as_mut() {
                *d += 1;
            }
            let last = i + 1 == total;
            if size >= limit && !last {
                let docs = std::mem::take(&mut batch);
                size = 0;
                self.send(ServerMessage::Batch(Batch {
                    docs,
                    cursor: None,
                    done,
                }))
                .await?;
            }
        }
        if !batch.is_empty() || cursor.is_some() {
            self.send(ServerMessage::Batch(Batch {
                docs: batch,
                cursor,
                done,
            }))
            .await?;
        }
        Ok(())
    }

    /// Sends every visible document not in `skip`, whole, and records that
    /// the device holds them.
    pub(crate) async fn send_all_visible(&mut self, skip: &BTreeSet<String>) -> Result<(), Fatal> {
        let mut after = String::new();
        let mut done = 0u64;
        loop {
            let (access, device, skip, from) = (
                self.access.clone(),
                self.device.clone(),
                skip.clone(),
                after.clone(),
            );
            let (docs, last) = self
                .state
                .db
                .write(move |w| {
                    let conn = &w.conn;
                    let page = feed::docs_after(conn, &from, DOC_PAGE)?;
                    let last = page.last().map(|(d, _)| d.clone());
                    let records: Vec<String> = page.iter().map(|(_, r)| r.clone()).collect();
                    let facts = feed::facts(conn, &records)?;
                    let mut out = Vec::new();
                    for (doc, record) in page {
                        if skip.contains(&doc) || !is_visible(&access, &doc, facts.get(&record)) {
                            continue;
                        }
                        if let Some(data) = whole(conn, &doc, false)? {
                            out.push(data);
                        }
                    }
                    let ids: Vec<String> = out.iter().map(|d| d.doc.clone()).collect();
                    devices::hold(conn, &device, &ids)?;
                    Ok((out, last))
                })
                .await?;
            let Some(last) = last else {
                return Ok(());
            };
            after = last;
            let n = docs.len() as u64;
            if n > 0 {
                self.send_batches(docs, None, Some(done)).await?;
                done += n;
            }
        }
    }

    /// Makes the device's documents match what it may see now: revokes what
    /// it holds and may not see, sends what it may see and lacks.
    pub(crate) async fn reconcile(&mut self) -> Result<(), Fatal> {
        let (access, device) = (self.access.clone(), self.device.clone());
        let plan = self
            .state
            .db
            .write(move |w| {
                let conn = &w.conn;
                let held: BTreeSet<String> = devices::held(conn, &device)?.into_iter().collect();
                let mut plan = Plan::default();
                let mut by_record: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for doc in &held {
                    if let Some((record, _)) = doc.rsplit_once('/') {
                        by_record
                            .entry(record.to_owned())
                            .or_default()
                            .push(doc.clone());
                    }
                }
                let records: Vec<String> = by_record.keys().cloned().collect();
                let facts = feed::facts(conn, &records)?;
                for (record, docs) in by_record {
                    let gone: Vec<String> = docs
                        .iter()
                        .filter(|d| !is_visible(&access, d, facts.get(&record)))
                        .cloned()
                        .collect();
                    if gone.len() == docs.len() {
                        plan.revoke_records.push(record);
                    } else {
                        plan.revoke_docs.extend(gone.iter().cloned());
                    }
                    devices::release(conn, &device, &gone)?;
                }
                Ok((plan, held))
            })
            .await?;
        let (plan, held) = plan;
        if !plan.revoke_docs.is_empty() || !plan.revoke_records.is_empty() {
            self.send(ServerMessage::Revoke(Revoke {
                records: plan.revoke_records,
                docs: plan.revoke_docs,
            }))
            .await?;
        }
        // Newly visible documents, whole.
        self.send_all_visible(&held).await
    }
}

fn is_visible(access: &fieldwork_core::Access, doc: &str, facts: Option<&RecordFacts>) -> bool {
    match doc.parse::<DocId>() {
        Ok(id) => doc_visible(access, &id, facts),
        Err(_) => false,
    }
}

/// Whether the device's holding of an account's base document disagrees
/// with its visibility now (the account moved in or out of sight).
fn visibility_flipped(
    conn: &rusqlite::Connection,
    access: &fieldwork_core::Access,
    device: &str,
    record: &str,
) -> Result<bool> {
    let docs = feed::docs_of_record(conn, record)?;
    let held = devices::held_among(conn, device, &docs)?;
    let facts = feed::facts(conn, &[record.to_owned()])?;
    let visible = docs
        .iter()
        .any(|d| is_visible(access, d, facts.get(record)));
    Ok(visible == held.is_empty())
}

/// A document as stored, ready to send whole; `replace` tells the device to
/// discard its (older generation) copy rather than merge.
pub(crate) fn whole(
    conn: &rusqlite::Connection,
    doc: &str,
    replace: bool,
) -> Result<Option<DocData>> {
    Ok(feed::whole(conn, doc)?.map(|(snapshot, changes)| DocData {
        doc: doc.to_owned(),
        document: snapshot.map(ByteBuf::from),
        changes: changes.into_iter().map(ByteBuf::from).collect(),
        replace,
    }))
}
