//! The outcome a process task asks for, as the calendar's Done form
//! offers it: the step's choices as a list, a number or a date input, or
//! free text (issue 15's typed outcomes).
//!
//! Guarantees: the form only helps; the server decides. What is posted is
//! checked by the one outcome rule of core (`process::variables`) on the
//! write path, so a hand-made value outside the choices is refused there
//! with `invalid_outcome`. A task whose instance or model the user cannot
//! read gets the free text box, never an error. Work is bounded: forms are
//! looked up for at most [`MAX_TASKS`] open activities per page; which of
//! them are process tasks is read from the record index (`db::facts`), and
//! only those, their instances and their models are read, each once.

use std::collections::HashMap;

use fieldwork_core::automerge::ActorId;
use fieldwork_core::process::model::Model;
use fieldwork_core::process::outcome::Form;
use fieldwork_core::process::runner;
use fieldwork_core::process::variables::form_of;
use fieldwork_core::{Access, Record, RecordId};
use rusqlite::Connection;

use crate::api::processes::seen_record;
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
    let ids = &ids[..ids.len().min(MAX_TASKS)];
    let facts = crate::db::facts::facts(conn, ids)?;
    let seen = |id: &str| -> Result<Option<Record>, ServerError> {
        match id.parse::<RecordId>() {
            Ok(rid) => seen_record(conn, access, &rid, actor),
            Err(_) => Ok(None),
        }
    };
    // Model record → the model, and instance → its model record, each
    // read once (`None`: not readable).
    let mut models: HashMap<String, Option<Model>> = HashMap::new();
    let mut model_of: HashMap<String, Option<String>> = HashMap::new();
    let mut out = HashMap::new();
    for id in ids
        .iter()
        .filter(|id| facts.get(*id).is_some_and(|f| f.process_task))
    {
        let Some(task) = seen(id)? else { continue };
        let (Some(instance), Some(step)) =
            (task.text("process_instance"), task.text("process_step"))
        else {
            continue;
        };
        if !model_of.contains_key(instance) {
            let model = seen(instance)?.and_then(|i| i.text("model").map(str::to_owned));
            model_of.insert(instance.to_owned(), model);
        }
        let Some(Some(model_id)) = model_of.get(instance) else {
            continue;
        };
        if !models.contains_key(model_id) {
            let model = seen(model_id)?.and_then(|r| runner::model_from_record(&r));
            models.insert(model_id.clone(), model);
        }
        if let Some(form) = models
            .get(model_id)
            .and_then(|m| m.as_ref())
            .and_then(|m| form_of(m, step))
        {
            out.insert(id.clone(), Ask::of(form));
        }
    }
    Ok(out)
}
