//! What this connection revoked and has not sent again.
//!
//! A device may push a change to a document after the server revoked it
//! but before the revocation reached the device (both in flight at once).
//! The server stores the change (it was the user's right when it was
//! made, or it is refused), but the device drops the document when the
//! revocation arrives; recording it as held because of the push would
//! keep the server from ever sending it again when the user may see it
//! once more (the in-memory network, seeds 238 and 279). Messages on a
//! connection arrive in order and a device never pushes to a document it
//! applied a revocation of (it quarantines what it had not sent), so a
//! push on this connection of a document revoked on it, and not sent
//! since, was made before the device applied the revocation.
//!
//! Revocations sent on an earlier connection need no memory here: either
//! the device confirmed them (its cursor passed them) and never pushes to
//! those documents, or it is compared document by document at hello (see
//! `unconfirmed`).
//!
//! The same crossing can happen after the document was sent again (the
//! user lost and regained sight of it while the push was in flight): the
//! device drops its copy, with its own change, when the revocation
//! arrives, and the copy sent again predates the push; the server does
//! not relay a device's own changes back to it, so the connection sends
//! the document whole once more after such a push (in-memory network,
//! seed 386).
//!
//! Guarantees: [`Revoked::covers`] is true for a document exactly when
//! the last message of this connection naming it (or its record) was a
//! revocation; [`Revoked::resent`] when it was revoked and then sent.

use std::collections::HashSet;

use fieldwork_core::sync::protocol::ServerMessage;

/// Documents and records revoked on this connection, minus documents sent
/// since.
#[derive(Debug, Default)]
pub(crate) struct Revoked {
    docs: HashSet<String>,
    records: HashSet<String>,
    resent: HashSet<String>,
}

impl Revoked {
    /// Notes what a message sent to the device revokes or sends.
    pub(crate) fn saw(&mut self, message: &ServerMessage) {
        match message {
            ServerMessage::Revoke(r) => {
                for record in &r.records {
                    self.resent
                        .retain(|d| d.rsplit_once('/').map(|(rec, _)| rec) != Some(record));
                    self.records.insert(record.clone());
                }
                for doc in &r.docs {
                    self.resent.remove(doc);
                    self.docs.insert(doc.clone());
                }
            }
            ServerMessage::Batch(b) => {
                for d in &b.docs {
                    self.sent(&d.doc);
                }
            }
            ServerMessage::SyncDoc(s) => self.sent(&s.doc),
            _ => {}
        }
    }

    fn sent(&mut self, doc: &str) {
        if self.covers(doc) {
            self.docs.remove(doc);
            self.resent.insert(doc.to_owned());
        }
    }

    /// Whether `doc` was revoked on this connection and sent again since:
    /// a push the device made before the revocation reached it is not in
    /// what was sent, and the device dropped its own copy of it.
    pub(crate) fn resent(&self, doc: &str) -> bool {
        self.resent.contains(doc)
    }

    /// Whether `doc` was revoked on this connection and not sent since.
    pub(crate) fn covers(&self, doc: &str) -> bool {
        if self.resent.contains(doc) {
            return false;
        }
        self.docs.contains(doc)
            || doc
                .rsplit_once('/')
                .is_some_and(|(record, _)| self.records.contains(record))
    }
}

#[cfg(test)]
mod tests {
    use fieldwork_core::sync::protocol::{Batch, DocData, Revoke};

    use super::*;

    fn revoke(records: &[&str], docs: &[&str]) -> ServerMessage {
        ServerMessage::Revoke(Revoke {
            records: records.iter().map(|s| s.to_string()).collect(),
            docs: docs.iter().map(|s| s.to_string()).collect(),
        })
    }

    fn batch(doc: &str) -> ServerMessage {
        ServerMessage::Batch(Batch {
            docs: vec![DocData {
                doc: doc.into(),
                document: None,
                changes: Vec::new(),
                replace: false,
            }],
            cursor: None,
            done: None,
        })
    }

    #[test]
    fn a_revocation_covers_until_the_document_is_sent_again() {
        let mut r = Revoked::default();
        assert!(!r.covers("account:A/general"));
        r.saw(&revoke(&["account:A"], &["account:B/financial"]));
        assert!(r.covers("account:A/general"));
        assert!(r.covers("account:A/contact_details"));
        assert!(r.covers("account:B/financial"));
        assert!(!r.covers("account:B/general"));
        r.saw(&batch("account:A/general"));
        assert!(!r.covers("account:A/general"), "sent again");
        assert!(r.resent("account:A/general"));
        assert!(!r.resent("account:A/contact_details"));
        assert!(r.covers("account:A/contact_details"), "not sent");
        r.saw(&revoke(&["account:A"], &[]));
        assert!(r.covers("account:A/general"), "revoked again");
        r.saw(&batch("account:B/financial"));
        assert!(!r.covers("account:B/financial"));
    }
}
