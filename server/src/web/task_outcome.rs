//! The outcome a process task asks for, as the calendar's Done form
//! offers it: the step's choices as a list, a number or a date input, or
//! free text (issue 15's typed outcomes).
//!
//! Guarantees: the form only helps; the server decides. What is posted is
//! checked by the one outcome rule of core (`process::variables`) on the
//! write path, so a hand-made value outside the choices is refused there
//! with `invalid_outcome`. A task whose instance or model the user cannot
//! read gets the free text box, never an error. Work is bounded: forms are
//! looked up for at most [`MAX_TASKS`] open activities per page.

use std::collections::HashMap;

use fieldwork_core::automerge::ActorId;
use fieldwork_core::process::outcome::Form;
use fieldwork_core::process::variables::form_of;
use fieldwork_core::{Access, RecordId};
use rusqlite::Connection;

use crate::api::processes::stored_model_records;
use crate::api::read;
use crate::error::ServerError;

/// Most open activities whose outcome form one page looks up.
pub const MAX_TASKS: usize = 200;

/// How the Done form asks for a task's outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ask {
    /// `choice`, `number`, `date`, `text` (the step asks for text), or
    /// empty (no form: any outcome, or none).
    pub kind: &'static str,
    /// The options of a `choice`.
    pub choices: Vec<String>,
}

impl Ask {
    fn of(form: &Form) -> Ask {
        match form {
            Form::Choice(options) => Ask {
                kind: "choice",
                choices: options.clone(),
            },
            Form::Number => Ask {
                kind: "number",
                choices: Vec::new(),
            },
            Form::Date => Ask {
                kind: "date",
                choices: Vec::new(),
            },
            Form::Text => Ask {
                kind: "text",
                choices: Vec::new(),
            },
        }
    }
}

/// The outcome forms of the open activities `ids` (those that are process
/// tasks whose step asks for one), read as `access` may read them.
pub fn forms(
    conn: &Connection,
    access: &Access,
    actor: &ActorId,
    ids: &[String],
) -> Result<HashMap<String, Ask>, ServerError> {
    let field = |card: &fieldwork_core::card::RecordCard, name: &str| {
        card.fields
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.value.clone())
    };
    // Activity → (its instance's model record, its step).
    let mut wanted: Vec<(String, String, String)> = Vec::new();
    for id in ids.iter().take(MAX_TASKS) {
        let Ok(rid) = id.parse::<RecordId>() else {
            continue;
        };
        let Some((card, _)) = read::card(conn, access, &rid, actor)? else {
            continue;
        };
        let (Some(instance), Some(step)) = (
            field(&card, "process_instance"),
            field(&card, "process_step"),
        ) else {
            continue;
        };
        let Ok(instance) = instance.parse::<RecordId>() else {
            continue;
        };
        let Some((instance, _)) = read::card(conn, access, &instance, actor)? else {
            continue;
        };
        if let Some(model) = field(&instance, "model") {
            wanted.push((id.clone(), model, step));
        }
    }
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let models = stored_model_records(conn, actor)?;
    let mut out = HashMap::new();
    for (activity, model_id, step) in wanted {
        let found = models
            .iter()
            .find(|(_, record)| record.id.to_string() == model_id)
            .and_then(|(model, _)| form_of(model, &step));
        if let Some(form) = found {
            out.insert(activity, Ask::of(form));
        }
    }
    Ok(out)
}
