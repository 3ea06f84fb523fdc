//! Held tasks: a suspended or stopped instance's tasks cannot be completed.
//!
//! A task a process planned (an activity with `process_instance`) moves its
//! instance when it is marked `done`. While a person has suspended the
//! instance, that move must wait; once the instance is stopped it never
//! comes. So marking such a task `done` is refused while its instance is
//! held, with the stable code `process_held` and a sentence that says which
//! process and why.
//!
//! This module is the one rule; every writer asks it:
//! - the device store, for any edit of a task's status
//!   (`fieldwork task done`, `fieldwork edit`, the app's forms);
//! - `runner::complete_task`, on any host;
//! - the server's push checks ([`super::guard`]), for a device's push, a
//!   forged one, and the office API (`PATCH`, `POST /v1/tasks/{id}/complete`
//!   and the web calendar, which write through the same push); the guard
//!   also refuses a `done via task` event added to a held instance's log.
//!
//! Guarantees: while an instance is suspended or stopped (as its log's
//! control events say), none of its tasks becomes `done` by a person's
//! write anywhere; the refusal changes nothing and names the process. The
//! engine aligning a task whose completion the log already holds (it was
//! completed before the hold) is not a new completion and passes.

use std::collections::BTreeMap;

use super::engine::activity_id;
use super::instance::{EventKind, Instance, Status, control_status};
use crate::error::Denial;
use crate::ids::RecordId;
use crate::policy::{codes, denial};
use crate::value::FieldValue;

/// The field of a task that completes it.
pub const STATUS: &str = "status";
/// The status of a completed task.
pub const DONE: &str = "done";
/// The rule a held task's refusal names.
pub const RULE: &str = "process.held";

/// The instance whose task a write completes: `before` (the task's fields
/// as stored) is not done, `after` (as the write leaves them) is, and the
/// task belongs to a process instance. `None` for any other write.
pub fn completed_instance(
    before: &BTreeMap<String, FieldValue>,
    after: &BTreeMap<String, FieldValue>,
) -> Option<RecordId> {
    let status = |f: &BTreeMap<String, FieldValue>| {
        f.get(STATUS)
            .and_then(FieldValue::as_text)
            .map(str::to_owned)
    };
    if status(after).as_deref() != Some(DONE) || status(before).as_deref() == Some(DONE) {
        return None;
    }
    after
        .get("process_instance")
        .or_else(|| before.get("process_instance"))
        .and_then(FieldValue::as_text)
        .and_then(|t| t.parse::<RecordId>().ok())
}

/// Whether `instance`'s tasks are held: `Suspended` or `Stopped` when a
/// person suspended or stopped it, `None` while it runs.
pub fn hold(instance: &Instance) -> Option<Status> {
    match control_status(instance) {
        s @ (Status::Suspended | Status::Stopped) => Some(s),
        _ => None,
    }
}

/// The sentence saying why `instance`'s tasks are held, if they are.
pub fn reason(instance: &Instance) -> Option<String> {
    let key = &instance.model_key;
    hold(instance).map(|s| match s {
        Status::Stopped => {
            format!("the process `{key}` is stopped: its tasks can no longer be completed")
        }
        _ => {
            format!("the process `{key}` is suspended: its tasks are held until someone resumes it")
        }
    })
}

/// The rule: task `task` of `instance` may be marked done only while the
/// instance is not held, unless its log already holds the task's
/// completion (the engine aligning the task, not a new completion).
/// `doc` is the document the refusal names.
pub fn check_completion(
    instance: &Instance,
    task: &RecordId,
    doc: Option<&str>,
) -> Result<(), Denial> {
    let Some(why) = reason(instance) else {
        return Ok(());
    };
    let logged = instance.events.values().any(|e| {
        e.kind == EventKind::Done
            && e.via.as_deref() == Some("task")
            && matches!((e.pos, e.step_label()), (Some(pos), Some(label))
                if activity_id(&instance.id, &label, pos) == *task)
    });
    if logged {
        return Ok(());
    }
    Err(denial(codes::PROCESS_HELD, doc, Some(STATUS), RULE, why))
}

/// The rule for the event log: a step left `via: task` is not added to a
/// held instance's log (`doc`: the instance document).
pub fn check_task_event(instance: &Instance, doc: Option<&str>) -> Result<(), Denial> {
    match reason(instance) {
        Some(why) => Err(denial(codes::PROCESS_HELD, doc, Some("events"), RULE, why)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RecordKind;
    use crate::process::instance::Event;
    use jiff::Timestamp;

    fn instance(controls: &[(EventKind, &str)]) -> Instance {
        let mut events = BTreeMap::new();
        for (kind, at) in controls {
            let at: Timestamp = at.parse().expect("ts");
            let e = Event {
                kind: *kind,
                at,
                by: "mia".into(),
                pos: None,
                step: None,
                via: None,
                to: None,
                version: None,
                param: None,
                outcome: None,
                message: None,
                branch: None,
            };
            events.insert(Event::control_key(at, *kind, "mia"), e);
        }
        Instance {
            id: RecordId::derived(RecordKind::ProcessInstance, &["held"]),
            model_key: "follow-up".into(),
            model: RecordId::derived(RecordKind::ProcessModel, &["follow-up", "1"]),
            started_version: 1,
            record: RecordId::derived(RecordKind::Deal, &["d"]),
            account: None,
            owner: Some("ana".into()),
            started_at: "2027-01-01T09:00:00Z".parse().expect("ts"),
            events,
            parameters: BTreeMap::new(),
        }
    }

    #[test]
    fn a_suspended_or_stopped_instances_task_is_held_and_says_why() {
        let task = activity_id(
            &RecordId::derived(RecordKind::ProcessInstance, &["held"]),
            "call",
            0,
        );
        let running = instance(&[]);
        assert!(check_completion(&running, &task, None).is_ok());
        let suspended = instance(&[(EventKind::Suspend, "2027-01-02T09:00:00Z")]);
        let d = check_completion(&suspended, &task, Some("doc")).expect_err("held");
        assert_eq!(d.code, codes::PROCESS_HELD);
        assert!(d.message.contains("`follow-up` is suspended"), "{d}");
        let resumed = instance(&[
            (EventKind::Suspend, "2027-01-02T09:00:00Z"),
            (EventKind::Resume, "2027-01-03T09:00:00Z"),
        ]);
        assert!(check_completion(&resumed, &task, None).is_ok());
        let stopped = instance(&[(EventKind::Stop, "2027-01-02T09:00:00Z")]);
        let d = check_completion(&stopped, &task, None).expect_err("held");
        assert!(d.message.contains("stopped"), "{d}");
        assert!(check_task_event(&stopped, None).is_err());
        assert!(check_task_event(&running, None).is_ok());
    }

    #[test]
    fn a_completion_the_log_already_holds_is_not_held() {
        let mut held = instance(&[(EventKind::Suspend, "2027-01-02T09:00:00Z")]);
        let e = Event {
            kind: EventKind::Done,
            at: "2027-01-01T10:00:00Z".parse().expect("ts"),
            by: "ana".into(),
            pos: Some(0),
            step: Some("call".into()),
            via: Some("task".into()),
            to: Some("end".into()),
            version: None,
            param: None,
            outcome: None,
            message: None,
            branch: None,
        };
        held.events.insert(Event::done_key(0, "call", "task"), e);
        let task = activity_id(&held.id, "call", 0);
        assert!(check_completion(&held, &task, None).is_ok());
        let other = activity_id(&held.id, "call", 1);
        assert!(check_completion(&held, &other, None).is_err());
    }

    #[test]
    fn only_a_write_that_completes_a_process_task_is_asked() {
        let fields = |status: &str, instance: bool| {
            let mut f = BTreeMap::new();
            f.insert(STATUS.to_owned(), FieldValue::Text(status.into()));
            if instance {
                let id = RecordId::derived(RecordKind::ProcessInstance, &["x"]);
                f.insert(
                    "process_instance".to_owned(),
                    FieldValue::Text(id.to_string()),
                );
            }
            f
        };
        assert!(completed_instance(&fields("planned", true), &fields("done", true)).is_some());
        assert!(completed_instance(&fields("done", true), &fields("done", true)).is_none());
        assert!(completed_instance(&fields("planned", false), &fields("done", false)).is_none());
        assert!(completed_instance(&fields("planned", true), &fields("cancelled", true)).is_none());
    }
}
