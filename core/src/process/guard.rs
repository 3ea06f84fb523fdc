//! What the server accepts in pushed process models and instances.
//!
//! [`crate::validate::check_change`] checks a change operation by operation
//! (field, type, class rights). Process records carry rights of their own,
//! which only the record as a whole shows, so the server also runs
//! [`check`] on every pushed change to a `process_model` or
//! `process_instance` document, comparing the document before and after the
//! change:
//!
//! - **Models** are published with the `publish` right, by their `owner`,
//!   with a definition that passes [`Model::check`]; a published version is
//!   never changed (a new version is a new record).
//! - **Instances** are created by their `owner` (who they run as, see
//!   [`super::rights`]) on a record that user sees, for a model version the
//!   server holds; their identity fields never change afterwards.
//! - **The event log only grows**: an event already logged is never
//!   rewritten. Each new event is well formed and stored under its own key,
//!   and:
//!   - a suspension, resumption, stop, migration or parameter change is
//!     signed `by` the pushing user, who holds the matching right;
//!   - a step left `via: task` is pushed by a user with `complete_tasks`,
//!     and names the pusher or the task's owner or assignee;
//!   - a step left by a timer, deadline, message, condition or
//!     automatically is signed `engine` and is not dated in the future; one
//!     left by a message names a message the log holds;
//!   - a message is sent with `complete_tasks`, signed by the pushing
//!     user, under a well-formed name.
//! - **Parameters** change only with `change_parameters`, signed by the
//!   pushing user.
//! - **Tasks** a process planned (activities with `process_instance`)
//!   pass [`super::task_write::check`]: not completed while their instance
//!   is suspended or stopped (`process_held`), and completed with an
//!   outcome that fits what their step asks for (`invalid_outcome`); a
//!   step left `via: task` is not added to a held instance's log.
//!
//! Guarantees: a user with only a rep's password cannot publish a model,
//! start an instance that runs as someone else, stop or migrate an instance
//! without the right, or rewrite an instance's history.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use super::engine::{ENGINE, activity_id};
use super::instance::{Event, EventKind, Instance};
use super::model::{Model, model_id};
use crate::document::ClassDoc;
use crate::error::Denial;
use crate::ids::{RecordId, RecordKind};
use crate::policy::{Access, ProcessRights, RecordFacts, codes, denial};
use crate::record::Record;
use crate::value::FieldValue;

/// How far in the future a pushed event may be dated (clock skew).
pub const MAX_CLOCK_SKEW: SignedDuration = SignedDuration::from_secs(300);

/// Fields of an instance that never change once it exists.
const INSTANCE_IDENTITY: &[&str] = &[
    "model_key",
    "model",
    "model_version",
    "record",
    "account",
    "owner",
    "started_at",
];

/// What the server knows beyond the document being changed.
pub struct Known<'a> {
    /// The server's clock.
    pub now: Timestamp,
    /// The stored visibility facts of a record (`None`: not on the server).
    pub facts_of: &'a dyn Fn(&RecordId) -> Option<RecordFacts>,
    /// A record as stored, every class merged (`None`: not on the server):
    /// a task's instance and its model version.
    pub record_of: &'a dyn Fn(&RecordId) -> Option<Record>,
}

/// Checks a change pushed by the user of `access` to a process document,
/// given the document as stored (`doc`) and as the change leaves it
/// (`after`, a scratch copy). Documents of other kinds pass unchecked.
pub fn check(
    access: &Access,
    known: &Known<'_>,
    doc: &mut ClassDoc,
    after: &ClassDoc,
) -> Result<(), Denial> {
    let kind = doc.id().record().kind();
    if kind == RecordKind::Activity {
        let doc_id = doc.id().to_string();
        let task = doc.id().record().clone();
        return super::task_write::check(
            &task,
            &doc.fields(),
            &after.fields(),
            Some(&doc_id),
            &mut |id| (known.record_of)(id),
        );
    }
    if !matches!(kind, RecordKind::ProcessModel | RecordKind::ProcessInstance) {
        return Ok(());
    }
    let Some(user) = access.user().map(|u| u.name.clone()) else {
        return Ok(());
    };
    let doc_id = doc.id().to_string();
    let existed = !doc.is_empty();
    let before = doc.fields();
    let after = after.fields();
    let ctx = Ctx {
        access,
        known,
        user: &user,
        doc: &doc_id,
        record: doc.id().record().clone(),
    };
    match kind {
        RecordKind::ProcessModel => ctx.model(existed, &after),
        _ => ctx.instance(existed, &before, &after),
    }
}

fn entries(
    fields: &BTreeMap<String, FieldValue>,
    name: &str,
) -> BTreeMap<String, serde_json::Value> {
    match fields.get(name) {
        Some(FieldValue::Entries(m)) => m.clone(),
        _ => BTreeMap::new(),
    }
}

struct Ctx<'a> {
    access: &'a Access,
    known: &'a Known<'a>,
    user: &'a str,
    doc: &'a str,
    record: RecordId,
}

impl Ctx<'_> {
    fn refuse(&self, code: &str, field: Option<&str>, rule: &str, message: String) -> Denial {
        denial(code, Some(self.doc), field, rule, message)
    }

    fn right(&self, name: &str, allowed: impl Fn(&ProcessRights) -> bool) -> Result<(), Denial> {
        self.access.check_process(name, allowed).map_err(|mut d| {
            d.doc = Some(self.doc.to_owned());
            d
        })
    }

    fn owner_is_pusher(
        &self,
        fields: &BTreeMap<String, FieldValue>,
        what: &str,
    ) -> Result<(), Denial> {
        match fields.get("owner").and_then(FieldValue::as_text) {
            Some(o) if o == self.user => Ok(()),
            other => Err(self.refuse(
                codes::WRONG_USER,
                Some("owner"),
                "process.owner",
                format!(
                    "{what} must be owned by `{}`, who pushes it, not {}",
                    self.user,
                    other.map_or("nobody".to_owned(), |o| format!("`{o}`"))
                ),
            )),
        }
    }

    fn model(&self, existed: bool, after: &BTreeMap<String, FieldValue>) -> Result<(), Denial> {
        self.right("publish", |p| p.publish)?;
        if existed {
            return Err(self.refuse(
                codes::IMMUTABLE,
                None,
                "process.models",
                "a published model version never changes; publish a new version".into(),
            ));
        }
        self.owner_is_pusher(after, "a model version")?;
        let version = after
            .get("version")
            .and_then(FieldValue::as_int)
            .unwrap_or(0);
        let definition = after
            .get("definition")
            .and_then(FieldValue::as_text)
            .unwrap_or_default();
        let model = Model::from_json(definition, version).map_err(|e| {
            self.refuse(
                codes::INVALID_VALUE,
                Some("definition"),
                "process.models",
                e.to_string(),
            )
        })?;
        self.calls_pinned(&model)
    }

    /// Every call and start step of `model` names a version the server
    /// holds (publishing pins it: see [`super::model::pin_calls`]).
    fn calls_pinned(&self, model: &Model) -> Result<(), Denial> {
        for (key, version) in super::model::called_models(model) {
            let held = version.is_some_and(|v| (self.known.facts_of)(&model_id(key, v)).is_some());
            if !held {
                return Err(self.refuse(
                    codes::INVALID_VALUE,
                    Some("definition"),
                    "process.models",
                    format!(
                        "a step runs `{key}` {}, which the server does not hold; publish it again",
                        version.map_or("without a version".to_owned(), |v| format!("version {v}"))
                    ),
                ));
            }
        }
        Ok(())
    }

    fn instance(
        &self,
        existed: bool,
        before: &BTreeMap<String, FieldValue>,
        after: &BTreeMap<String, FieldValue>,
    ) -> Result<(), Denial> {
        if existed {
            if let Some(f) = INSTANCE_IDENTITY
                .iter()
                .find(|f| before.get(**f) != after.get(**f))
            {
                return Err(self.refuse(
                    codes::IMMUTABLE,
                    Some(f),
                    "process.instances",
                    format!("an instance's `{f}` never changes"),
                ));
            }
        } else {
            self.new_instance(after)?;
        }
        let held = existed
            .then(|| {
                Instance::from_record(&Record {
                    id: self.record.clone(),
                    fields: before.clone(),
                    conflicts: BTreeMap::new(),
                    classes: Vec::new(),
                })
            })
            .flatten();
        self.events(
            &entries(before, "events"),
            &entries(after, "events"),
            held.as_ref(),
        )?;
        self.parameters(
            &entries(before, "parameters"),
            &entries(after, "parameters"),
        )
    }

    fn new_instance(&self, after: &BTreeMap<String, FieldValue>) -> Result<(), Denial> {
        self.owner_is_pusher(after, "an instance")?;
        let reference = |f: &str| {
            after
                .get(f)
                .and_then(FieldValue::as_text)
                .and_then(|t| t.parse::<RecordId>().ok())
        };
        let target = reference("record").and_then(|r| (self.known.facts_of)(&r));
        if !target.as_ref().is_some_and(|f| self.access.sees(f)) {
            return Err(self.refuse(
                codes::RECORD_NOT_VISIBLE,
                Some("record"),
                "process.instances",
                format!(
                    "`{}` does not see the record this instance would run on",
                    self.user
                ),
            ));
        }
        if reference("model")
            .and_then(|m| (self.known.facts_of)(&m))
            .is_none()
        {
            return Err(self.refuse(
                codes::INVALID_VALUE,
                Some("model"),
                "process.instances",
                "the instance names a model version the server does not hold".into(),
            ));
        }
        Ok(())
    }

    fn events(
        &self,
        before: &BTreeMap<String, serde_json::Value>,
        after: &BTreeMap<String, serde_json::Value>,
        instance: Option<&Instance>,
    ) -> Result<(), Denial> {
        if let Some(gone) = before.keys().find(|k| !after.contains_key(*k)) {
            return Err(self.refuse(
                codes::IMMUTABLE,
                Some("events"),
                "process.events",
                format!("event `{gone}` would disappear; the log only grows"),
            ));
        }
        for (key, value) in after {
            match before.get(key) {
                Some(old) if old == value => continue,
                Some(_) => {
                    return Err(self.refuse(
                        codes::IMMUTABLE,
                        Some("events"),
                        "process.events",
                        format!("event `{key}` is logged already; the log only grows"),
                    ));
                }
                None => {}
            }
            let event: Event = serde_json::from_value(value.clone()).map_err(|e| {
                self.refuse(
                    codes::INVALID_VALUE,
                    Some("events"),
                    "process.events",
                    format!("event `{key}`: {e}"),
                )
            })?;
            self.event(key, &event)?;
            if event.via.as_deref() == Some("message") {
                self.message_exists(key, &event, after)?;
            }
            if event.kind == EventKind::Done
                && event.via.as_deref() == Some("task")
                && let Some(instance) = instance
            {
                super::held::check_task_event(instance, Some(self.doc))?;
            }
        }
        Ok(())
    }

    fn event(&self, key: &str, event: &Event) -> Result<(), Denial> {
        let bad = |why: &str| {
            self.refuse(
                codes::INVALID_VALUE,
                Some("events"),
                "process.events",
                format!("event `{key}`: {why}"),
            )
        };
        let Some(expected_key) = event.own_key() else {
            return Err(bad(match event.kind {
                EventKind::Message => "a message names itself",
                _ => {
                    "a step event names its position, step and way out (and a message the message it used)"
                }
            }));
        };
        if key != expected_key {
            return Err(bad("not stored under its own key"));
        }
        match (&event.branch, event.kind) {
            (Some(scope), EventKind::Done) if Event::valid_branch_scope(scope) => {}
            (Some(_), EventKind::Done) => {
                return Err(bad(
                    "a path of a parallel step is named `POS.STEP.K` (position, parallel step, path)",
                ));
            }
            (Some(_), _) => return Err(bad("only a step event lies on a path")),
            (None, _) => {}
        }
        if event.at
            > self
                .known
                .now
                .saturating_add(MAX_CLOCK_SKEW)
                .unwrap_or(self.known.now)
        {
            return Err(bad("dated in the future"));
        }
        let signed_by = |who: &str| {
            if event.by == who {
                Ok(())
            } else {
                Err(self.wrong_signer(format!(
                    "event `{key}` is signed `{}`, not `{who}`",
                    event.by
                )))
            }
        };
        match event.kind {
            EventKind::Suspend | EventKind::Resume => {
                self.right("suspend", |p| p.suspend)?;
                signed_by(self.user)
            }
            EventKind::Stop => {
                self.right("stop", |p| p.stop)?;
                signed_by(self.user)
            }
            EventKind::Param => {
                self.right("change_parameters", |p| p.change_parameters)?;
                signed_by(self.user)
            }
            EventKind::Migrate => {
                self.right("migrate", |p| p.migrate)?;
                signed_by(self.user)
            }
            EventKind::Message => {
                // A message reports that something happened, as completing
                // a task does.
                self.right("complete_tasks", |p| p.complete_tasks)?;
                let name = event.message.as_deref().unwrap_or_default();
                if !super::model::valid_id(name) {
                    return Err(bad("a message's name is 1-64 letters, digits, `_` or `-`"));
                }
                signed_by(self.user)
            }
            EventKind::Done => match event.via.as_deref() {
                Some("task") => {
                    self.right("complete_tasks", |p| p.complete_tasks)?;
                    self.task_done_by(key, event)
                }
                Some(
                    "timer" | "deadline" | "auto" | "message" | "condition" | "join" | "call"
                    | "skip",
                ) => signed_by(ENGINE),
                _ => Err(bad(
                    "a step is left by `task`, `timer`, `deadline`, `auto`, `message`, `condition`, `join`, `call` or `skip`",
                )),
            },
        }
    }

    /// A step left by a message names a message of the log.
    fn message_exists(
        &self,
        key: &str,
        event: &Event,
        log: &BTreeMap<String, serde_json::Value>,
    ) -> Result<(), Denial> {
        let used = event.message.as_deref().and_then(|m| log.get(m));
        let is_message = used
            .and_then(|v| serde_json::from_value::<Event>(v.clone()).ok())
            .is_some_and(|m| m.kind == EventKind::Message);
        if is_message {
            return Ok(());
        }
        Err(self.refuse(
            codes::INVALID_VALUE,
            Some("events"),
            "process.events",
            format!("event `{key}` is left by a message the log does not hold"),
        ))
    }

    /// A task's completion names the pusher, or (logged by the engine on a
    /// replica that saw the completion) the task's owner or assignee.
    fn task_done_by(&self, key: &str, event: &Event) -> Result<(), Denial> {
        if event.by == self.user {
            return Ok(());
        }
        let (Some(pos), Some(label)) = (event.pos, event.step_label()) else {
            return Ok(());
        };
        let task = activity_id(&self.record, &label, pos);
        let facts = (self.known.facts_of)(&task);
        let named = facts.as_ref().is_some_and(|f| {
            f.owner.as_deref() == Some(&event.by) || f.assignee.as_deref() == Some(&event.by)
        });
        if named {
            Ok(())
        } else {
            Err(self.wrong_signer(format!(
                "event `{key}` says `{}` completed the task; only the pusher or the task's owner or assignee can be named",
                event.by
            )))
        }
    }

    fn wrong_signer(&self, message: String) -> Denial {
        self.refuse(codes::WRONG_USER, Some("events"), "process.events", message)
    }

    fn parameters(
        &self,
        before: &BTreeMap<String, serde_json::Value>,
        after: &BTreeMap<String, serde_json::Value>,
    ) -> Result<(), Denial> {
        for (name, value) in after {
            if before.get(name) == Some(value) {
                continue;
            }
            self.right("change_parameters", |p| p.change_parameters)?;
            if value.get("by").and_then(|b| b.as_str()) != Some(self.user) {
                return Err(self.refuse(
                    codes::WRONG_USER,
                    Some("parameters"),
                    "process.parameters",
                    format!(
                        "parameter `{name}` must be signed by `{}`, who pushes it",
                        self.user
                    ),
                ));
            }
        }
        Ok(())
    }
}
