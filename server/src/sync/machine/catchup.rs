//! Bringing a device up to date, and keeping it there.
//!
//! - **fresh**: every visible document, whole, in batches of about
//!   `batch_bytes`, a page of documents per step (the host sends each
//!   page before the next is read); then the feed from where the download
//!   started;
//! - **incremental**: the feed since the device's cursor, page by page, so a
//!   device that is already up to date costs one empty page;
//! - **live**: each committed change as the hub announces it.
//!
//! Guarantees: all three deliver through [`Open::deliver`], which applies
//! the visibility rule per document ([`super::delivery`]) and keeps
//! `device_docs` true: a document that became visible is sent whole, one
//! that became invisible is revoked, and the device's own changes are not
//! echoed back. The cursor sent with a batch never passes a feed row whose
//! meaning for the device is not in that batch or before it.

use std::collections::{BTreeSet, HashMap};

use fieldwork_core::RecordKind;
use fieldwork_core::store::Cursor;
use fieldwork_core::sync::protocol::{Batch, DocData, Revoke, ServerMessage, UpToDate};
use serde_bytes::ByteBuf;

use super::delivery::{self, Plan, whole};
use super::unconfirmed;
use super::{Close, Open, Step};
use crate::db::feed::{self, FeedRow};
use crate::db::{devices, documents};
use crate::hub::FeedEvent;
use crate::visibility::visible_among;

/// Feed entries read per page.
const PAGE: usize = 2000;
/// Documents examined per page (per step) during a download of whole
/// documents: one write transaction records what the device then holds.
const DOC_PAGE: usize = 1000;

/// A download of whole documents in progress.
pub(crate) struct Download {
    /// The last document id examined.
    after: String,
    /// Documents sent so far (progress).
    done: u64,
    /// Documents not to send (the device has them).
    skip: BTreeSet<String>,
    /// The feed position whose cursor confirms what is sent.
    confirm_at: u64,
    /// What follows the last page.
    then: Then,
}

/// What follows a download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Then {
    /// Deliver the feed from `sent`, say so, and go live.
    GoLive,
    /// Nothing: the connection was live already.
    Stay,
}

impl Open {
    /// A device with nothing: every visible document, whole (a page per
    /// step), then the feed from where the download started.
    pub(super) fn fresh(&mut self) -> Step {
        let head = self.start_over()?;
        self.begin_download(BTreeSet::new(), Then::GoLive);
        self.sent = head;
        Ok(())
    }

    /// A device with a trusted cursor: the feed since it. `stale`: the
    /// policy or the user changed since the device last reconciled.
    pub(super) fn incremental(&mut self, stale: bool) -> Step {
        if stale {
            return self.reconcile(Then::GoLive);
        }
        self.go_live()
    }

    /// Forgets which documents the device holds (it is about to be told
    /// everything again) and returns the feed head to continue from.
    pub(super) fn start_over(&mut self) -> Result<u64, Close> {
        let device = self.device.as_str();
        Ok(self.state.db.write_blocking(|w| {
            devices::release_all(&w.conn, device)?;
            unconfirmed::clear(&w.conn, device)?;
            feed::head(&w.conn)
        })?)
    }

    /// Delivers the feed from `sent` to the head, says so, and goes live.
    pub(super) fn go_live(&mut self) -> Step {
        self.catch_up()?;
        let (epoch, seq) = (self.epoch.as_str(), self.sent);
        let cursor = self
            .state
            .db
            .read_blocking(|c| feed::cursor_at(c, epoch, seq))?;
        let (device, revision, version) = (
            self.device.as_str(),
            self.policy_revision,
            self.user.version,
        );
        self.state
            .db
            .write_blocking(|w| devices::reconciled(&w.conn, device, revision, version))?;
        self.live = true;
        self.send(ServerMessage::UpToDate(UpToDate { cursor }));
        Ok(())
    }

    /// Delivers every feed entry after `sent`, page by page.
    pub(super) fn catch_up(&mut self) -> Step {
        loop {
            let after = self.sent;
            let rows = self
                .state
                .db
                .read_blocking(|c| feed::since(c, after, PAGE))?;
            if rows.is_empty() {
                return Ok(());
            }
            self.deliver(rows, &BTreeSet::new())?;
        }
    }

    /// Live changes announced by the hub.
    pub(super) fn on_changes(&mut self, events: &[FeedEvent]) -> Step {
        let fresh: Vec<&FeedEvent> = events.iter().filter(|e| e.seq > self.sent).collect();
        let Some(first) = fresh.first() else {
            return Ok(());
        };
        if first.seq > self.sent + 1 && self.sent > 0 {
            // Entries committed before we subscribed: fetch them first.
            self.catch_up()?;
            return self.on_changes(events);
        }
        let moved: BTreeSet<String> = fresh
            .iter()
            .filter(|e| e.facts_changed && e.doc.record().kind() == RecordKind::Account)
            .map(|e| e.doc.record().to_string())
            .collect();
        let rows = fresh.into_iter().map(FeedEvent::row).collect();
        self.deliver(rows, &moved)
    }

    /// Sends what `rows` (in feed order, not empty) mean for this device and
    /// advances the cursor to the last. `moved` accounts changed their
    /// visibility facts, so their children are re-examined too.
    fn deliver(&mut self, rows: Vec<FeedRow>, moved: &BTreeSet<String>) -> Step {
        let Some(last) = rows.last() else {
            return Ok(());
        };
        let cursor = Cursor {
            epoch: self.epoch.clone(),
            seq: last.seq,
            check: last.check(),
        };
        let (access, device) = (&self.access, self.device.as_str());
        // Decide with a reader (the common case writes nothing), then record
        // what the device now holds only when that changed.
        let plan = self
            .state
            .db
            .read_blocking(|conn| delivery::plan(conn, access, device, rows, moved))?;
        if !plan.whole.is_empty() || !plan.released.is_empty() {
            let hold: Vec<String> = plan.whole.iter().map(|d| d.doc.clone()).collect();
            let (release, seq) = (&plan.released, cursor.seq);
            self.state.db.write_blocking(|w| {
                devices::hold(&w.conn, device, &hold)?;
                devices::release(&w.conn, device, release)?;
                // Confirmed by the cursor sent with these documents.
                unconfirmed::mark(&w.conn, device, seq)
            })?;
        }
        self.send_plan(plan, cursor);
        Ok(())
    }

    /// Sends a delivery plan, the cursor with its last batch.
    fn send_plan(&mut self, plan: Plan, cursor: Cursor) {
        if !plan.revoke_docs.is_empty() || !plan.revoke_records.is_empty() {
            self.send(ServerMessage::Revoke(Revoke {
                records: plan.revoke_records,
                docs: plan.revoke_docs,
            }));
        }
        // Whole documents first (they may be what later changes build on),
        // then changes grouped per document in feed order.
        let mut docs: Vec<DocData> = plan.whole;
        let mut index: HashMap<String, usize> = HashMap::new();
        for relayed in plan.changes.into_values() {
            let i = *index.entry(relayed.doc.clone()).or_insert_with(|| {
                docs.push(DocData {
                    doc: relayed.doc.clone(),
                    document: None,
                    changes: Vec::new(),
                    replace: false,
                });
                docs.len() - 1
            });
            docs[i].changes.push(ByteBuf::from(relayed.bytes));
        }
        let seq = cursor.seq;
        self.send_batches(docs, Some(cursor), None);
        self.sent = seq;
    }

    /// Sends documents in batches of about `batch_bytes`; the cursor goes
    /// with the last batch only. `done`: documents sent before (progress).
    pub(super) fn send_batches(
        &mut self,
        docs: Vec<DocData>,
        cursor: Option<Cursor>,
        mut done: Option<u64>,
    ) {
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
                }));
            }
        }
        if !batch.is_empty() || cursor.is_some() {
            self.send(ServerMessage::Batch(Batch {
                docs: batch,
                cursor,
                done,
            }));
        }
    }

    /// Starts sending every visible document not in `skip`, whole, and
    /// recording that the device holds them: a page per step
    /// ([`Open::continue_download`]), then `then`.
    pub(super) fn begin_download(&mut self, skip: BTreeSet<String>, then: Then) {
        self.download = Some(Download {
            after: String::new(),
            done: 0,
            skip,
            // Sent without a cursor: confirmed by the next cursor beyond `sent`.
            confirm_at: self.sent + 1,
            then,
        });
    }

    /// Sends the next page of the download in progress; after the last,
    /// does what was to follow it.
    pub(super) fn continue_download(&mut self) -> Step {
        let Some(mut download) = self.download.take() else {
            return Ok(());
        };
        let (access, device) = (&self.access, self.device.as_str());
        let (docs, last) = self.state.db.write_blocking(|w| {
            let conn = &w.conn;
            let page: Vec<String> = documents::docs_after(conn, &download.after, DOC_PAGE)?
                .into_iter()
                .map(|(doc, _)| doc)
                .collect();
            let visible = visible_among(conn, access, &page)?;
            let mut out = Vec::new();
            for doc in page
                .iter()
                .filter(|d| visible.contains(*d) && !download.skip.contains(*d))
            {
                out.extend(whole(conn, doc, false)?);
            }
            let ids: Vec<String> = out.iter().map(|d| d.doc.clone()).collect();
            devices::hold(conn, device, &ids)?;
            if !ids.is_empty() {
                unconfirmed::mark(conn, device, download.confirm_at)?;
            }
            Ok((out, page.last().cloned()))
        })?;
        let Some(last) = last else {
            return match download.then {
                Then::GoLive => self.go_live(),
                Then::Stay => Ok(()),
            };
        };
        download.after = last;
        let n = docs.len() as u64;
        if n > 0 {
            self.send_batches(docs, None, Some(download.done));
            download.done += n;
        }
        self.download = Some(download);
        Ok(())
    }

    /// Makes the device's documents match what it may see now: revokes what
    /// it holds and may not see, sends what it may see and lacks (a page per
    /// step), then `then`.
    pub(super) fn reconcile(&mut self, then: Then) -> Step {
        let (access, device) = (&self.access, self.device.as_str());
        let confirm_at = self.sent + 1;
        let (plan, held) = self.state.db.write_blocking(|w| {
            let conn = &w.conn;
            let held: Vec<String> = devices::held(conn, device)?;
            let visible = visible_among(conn, access, &held)?;
            let mut by_record: std::collections::BTreeMap<&str, Vec<&String>> = Default::default();
            for doc in &held {
                if let Some((record, _)) = doc.rsplit_once('/') {
                    by_record.entry(record).or_default().push(doc);
                }
            }
            let mut plan = Plan::default();
            for (record, docs) in by_record {
                let gone: Vec<String> = docs
                    .iter()
                    .filter(|d| !visible.contains(**d))
                    .map(|d| (*d).clone())
                    .collect();
                if gone.len() == docs.len() {
                    plan.revoke_records.push(record.to_owned());
                } else {
                    plan.revoke_docs.extend(gone.iter().cloned());
                }
                devices::release(conn, device, &gone)?;
                // Revoked without a cursor: confirmed by the next one.
                if !gone.is_empty() {
                    unconfirmed::mark(conn, device, confirm_at)?;
                }
            }
            Ok((plan, held.into_iter().collect::<BTreeSet<String>>()))
        })?;
        if !plan.revoke_docs.is_empty() || !plan.revoke_records.is_empty() {
            self.send(ServerMessage::Revoke(Revoke {
                records: plan.revoke_records,
                docs: plan.revoke_docs,
            }));
        }
        // Newly visible documents, whole.
        self.begin_download(held, then);
        Ok(())
    }
}
