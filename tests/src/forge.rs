//! What a forging client needs: raw changes signed with any name, one-change
//! pushes, and the documents a user received, rebuilt from the frames.

use fieldwork_core::automerge::AutoCommit;
use fieldwork_core::automerge::transaction::CommitOptions;
use fieldwork_core::sync::protocol::{ClientMessage, Push, PushedChange, ServerMessage};
use serde_bytes::ByteBuf;

/// A push of one change to `doc` (batch 1).
pub fn push_one(doc: &str, bytes: Vec<u8>) -> ClientMessage {
    ClientMessage::Push(Push {
        batch: 1,
        changes: vec![PushedChange {
            doc: doc.into(),
            bytes: ByteBuf::from(bytes),
        }],
    })
}

/// Commits `doc`'s pending operations signed `author` (the commit message
/// the server compares with the session's user) and returns the change.
pub fn signed(doc: &mut AutoCommit, author: &str) -> Vec<u8> {
    commit(doc, CommitOptions::default().with_message(author))
}

/// [`signed`], dated `at_secs` (Unix seconds).
pub fn signed_at(doc: &mut AutoCommit, author: &str, at_secs: i64) -> Vec<u8> {
    commit(
        doc,
        CommitOptions::default()
            .with_message(author)
            .with_time(at_secs),
    )
}

fn commit(doc: &mut AutoCommit, options: CommitOptions) -> Vec<u8> {
    doc.commit_with(options);
    doc.get_last_local_change()
        .expect("a change")
        .raw_bytes()
        .to_vec()
}

/// Document `doc` as the batches among `messages` delivered it (empty if
/// they did not).
pub fn doc_from(messages: &[ServerMessage], doc: &str) -> AutoCommit {
    let mut out = AutoCommit::new();
    for m in messages {
        if let ServerMessage::Batch(b) = m {
            for d in b.docs.iter().filter(|d| d.doc == doc) {
                if let Some(bytes) = &d.document {
                    out = AutoCommit::load(bytes).expect("load");
                }
                for ch in &d.changes {
                    out.load_incremental(ch).expect("change");
                }
            }
        }
    }
    out
}
