//! Saving long text (a note's body, an account's description) from a form
//! without undoing what others wrote meanwhile.
//!
//! A phone edits long text with Automerge splices; the card's form sends
//! the whole text as the user left it. Written as it is, it would replace
//! the stored text, and a rep's sentence synced while the manager had the
//! card open would be gone. So the form's save merges three texts
//! ([`fieldwork_core::text_merge`]): what the form showed, what the user
//! sent and what is stored now, on the writer, so nothing lands between
//! reading the stored text and writing the merge.
//!
//! Guarantees: edits of different lines by the user and by others both
//! survive; edits of the same place are never resolved by a guess: the save
//! writes nothing of that field and returns a [`Clash`] with the stored
//! text, so the page shows it beside what the user typed.

use std::collections::BTreeMap;

use fieldwork_core::edit::FieldWrite;
use fieldwork_core::text_merge;
use fieldwork_core::{Access, RecordId};
use rusqlite::Connection;

use crate::api::problem::Problem;
use crate::api::read;
use crate::error::ServerError;

/// A long-text field the user changed in the form.
#[derive(Debug, Clone)]
pub struct LongEdit {
    /// The field.
    pub field: String,
    /// The text the form showed.
    pub base: String,
    /// The text the user sent.
    pub mine: String,
}

/// Why a long-text edit was not written.
#[derive(Debug)]
pub enum Clash {
    /// Someone else changed the same place since the form was shown.
    Conflict {
        /// The field.
        field: String,
        /// The text stored now.
        stored: String,
        /// Around which line (1-based) both changed it.
        line: usize,
    },
    /// The server refused the write (a value, a right), with its reason.
    Refused(Problem),
}

/// The writes of `edits` to record `id` merged with what is stored now,
/// read through `access` (the user's own view: a field they may not read
/// is never merged, and its write is refused later by the push path).
/// An edit whose merge is what is stored writes nothing.
pub fn merged_writes(
    conn: &Connection,
    access: &Access,
    actor: &fieldwork_core::automerge::ActorId,
    id: &RecordId,
    edits: Vec<LongEdit>,
) -> Result<Result<Vec<FieldWrite>, Clash>, ServerError> {
    let card = read::card(conn, access, id, actor)?.map(|(card, _)| card);
    let stored = |field: &str| {
        card.as_ref()
            .and_then(|c| c.fields.iter().find(|f| f.name == field))
            .and_then(|f| f.value.clone())
            .unwrap_or_default()
    };
    let mut writes = Vec::new();
    for edit in edits {
        let now = stored(&edit.field);
        let text = match text_merge::merge(&edit.base, &edit.mine, &now) {
            Ok(text) if text == now => continue,
            Ok(text) => text,
            Err(c) => {
                return Ok(Err(Clash::Conflict {
                    field: edit.field,
                    stored: now,
                    line: c.line,
                }));
            }
        };
        let value = if text.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::Value::String(text)
        };
        let one = BTreeMap::from([(edit.field, value)]);
        match crate::api::records::field_writes(id.kind(), one) {
            Ok(w) => writes.extend(w),
            Err(p) => return Ok(Err(Clash::Refused(p))),
        }
    }
    Ok(Ok(writes))
}
