//! Running processes against a store: triggers, the scheduler, and what
//! people do to instances (start, complete a task, suspend, resume, stop,
//! change a parameter, migrate, publish a model).
//!
//! The runner reads through a [`ProcessHost`], asks the pure
//! [`engine::step`] what to do, and writes the answer back through the
//! host. The device store and the server each implement the host, so the
//! same code runs offline on a phone and on the server; the ids the engine
//! derives make both runs land on the same records.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::engine::{self, Action, Inputs, Outcome};
use super::instance::{Event, EventKind, Instance, Status, fold};
use super::model::{Model, ModelFile, TriggerKind, after};
use super::rights;
use crate::error::{CoreError, Result, ValidationError};
use crate::ids::{RecordId, RecordKind};
use crate::policy::{Access, ProcessRights};
use crate::record::Record;
use crate::sync::protocol::DirectoryEntry;
use crate::value::FieldValue;

/// Where processes run: reads and writes records, keeps wake-up times.
pub trait ProcessHost {
    /// Now.
    fn now(&self) -> Timestamp;
    /// Who acts here (a user name; `engine` on the server).
    fn acting_user(&self) -> String;
    /// The acting user's rights.
    fn access(&self) -> &Access;
    /// The policy in force, which instances run under (`None`: a device
    /// that never signed in).
    fn policy(&self) -> Option<&crate::policy::Policy> {
        self.access().policy()
    }
    /// Every published model version here.
    fn models(&mut self) -> Result<Vec<Model>>;
    /// A record, if it exists here.
    fn record(&mut self, id: &RecordId) -> Result<Option<Record>>;
    /// Ids of every record of `kind` here (scheduled triggers).
    fn records_of(&mut self, kind: RecordKind) -> Result<Vec<RecordId>>;
    /// Users, roles, managers, time zones.
    fn directory(&mut self) -> Result<Vec<DirectoryEntry>>;
    /// Creates record `id` as the engine, as of `at`, with exactly `fields`:
    /// the same inputs give the same bytes on every replica. Returns `false`
    /// (writing nothing) when the record exists here or may not be written
    /// by the acting user (another replica will create it).
    fn create(
        &mut self,
        id: &RecordId,
        fields: &BTreeMap<String, FieldValue>,
        at: Timestamp,
    ) -> Result<bool>;
    /// Sets entry `key` of the entries field `field` of `id`.
    fn put_entry(
        &mut self,
        id: &RecordId,
        field: &str,
        key: &str,
        value: &serde_json::Value,
    ) -> Result<()>;
    /// Sets a field of a record (as the acting user).
    fn write(&mut self, id: &RecordId, field: &str, value: FieldValue) -> Result<()>;
    /// Records when to run `instance` next (`None`: only when something
    /// changes) and whether it is still active (not completed or stopped).
    fn set_wakeup(
        &mut self,
        instance: &RecordId,
        at: Option<Timestamp>,
        active: bool,
    ) -> Result<()>;
    /// Active instances due at `now`, earliest first.
    fn due(&mut self, now: Timestamp) -> Result<Vec<RecordId>>;
    /// Every active instance.
    fn active(&mut self) -> Result<Vec<RecordId>>;
    /// The last occurrence of scheduled model `key` that was handled.
    fn schedule_mark(&mut self, key: &str) -> Result<Option<Timestamp>>;
    /// Marks occurrence `at` of scheduled model `key` handled.
    fn set_schedule_mark(&mut self, key: &str, at: Timestamp) -> Result<()>;
    /// Marks `instance` failed with `reason`: it is no longer run here and
    /// shows as failed in monitoring until an administrator acts.
    fn mark_failed(&mut self, instance: &RecordId, reason: &str) -> Result<()>;
    /// Why `instance` was marked failed here, if it was.
    fn failure(&mut self, instance: &RecordId) -> Result<Option<String>>;
}

/// The id of version `version` of model `key`.
pub fn model_id(key: &str, version: i64) -> RecordId {
    RecordId::derived(RecordKind::ProcessModel, &[key, &version.to_string()])
}

/// The newest version of `key` in `models`.
pub fn latest<'a>(models: &'a [Model], key: &str) -> Option<&'a Model> {
    models
        .iter()
        .filter(|m| m.file.key == key)
        .max_by_key(|m| m.version)
}

/// Version `version` of `key` in `models`.
pub fn version<'a>(models: &'a [Model], key: &str, version: i64) -> Option<&'a Model> {
    models
        .iter()
        .find(|m| m.file.key == key && m.version == version)
}

/// Reads a stored model record.
pub fn model_from_record(r: &Record) -> Option<Model> {
    let version = r.get("version").and_then(FieldValue::as_int)?;
    let mut model = Model::from_json(r.text("definition")?, version).ok()?;
    model.publisher = r.text("owner").map(str::to_owned);
    Some(model)
}

fn denied(access: &Access, right: &str, allowed: impl Fn(&ProcessRights) -> bool) -> Result<()> {
    match access {
        Access::Local => Ok(()),
        _ => access
            .check_process(right, allowed)
            .map_err(CoreError::Denied),
    }
}

fn invalid(message: String) -> CoreError {
    CoreError::Invalid(ValidationError::record(message))
}

/// Publishes `file` as the next version of its key; returns its record id
/// and version. Running instances stay on their versions.
pub fn publish(host: &mut impl ProcessHost, file: ModelFile) -> Result<(RecordId, i64)> {
    denied(host.access(), "publish", |p| p.publish)?;
    let models = host.models()?;
    let next = latest(&models, &file.key).map_or(1, |m| m.version + 1);
    let model = Model::check(file, next).map_err(|e| invalid(e.to_string()))?;
    let id = model_id(&model.file.key, next);
    let now = host.now();
    let mut fields = BTreeMap::new();
    fields.insert("name".to_owned(), FieldValue::Text(model.file.name.clone()));
    fields.insert("key".to_owned(), FieldValue::Text(model.file.key.clone()));
    fields.insert("version".to_owned(), FieldValue::Int(next));
    fields.insert("definition".to_owned(), FieldValue::Text(model.to_json()));
    fields.insert("owner".to_owned(), FieldValue::Text(host.acting_user()));
    fields.insert("published_at".to_owned(), FieldValue::Text(now.to_string()));
    if !host.create(&id, &fields, now)? {
        return Err(invalid(format!(
            "version {next} of `{}` exists already",
            model.file.key
        )));
    }
    Ok((id, next))
}

/// Runs instance `id` as far as now allows and writes what the engine
/// decides. `None` when the instance or its model is not here (yet).
pub fn run(
    host: &mut impl ProcessHost,
    models: &[Model],
    id: &RecordId,
) -> Result<Option<Outcome>> {
    if host.failure(id)?.is_some() {
        return Ok(None);
    }
    let Some(record) = host.record(id)? else {
        return Ok(None);
    };
    let Some(instance) = Instance::from_record(&record) else {
        return Ok(None);
    };
    let Some(started) = version(models, &instance.model_key, instance.started_version) else {
        return Ok(None);
    };
    let position = fold(&instance, &started.start);
    let Some(model) = version(models, &instance.model_key, position.version) else {
        return Ok(None);
    };
    let directory = host.directory()?;
    let policy = host.policy().cloned();
    // The instance runs as its owner, and sees only what the owner's role
    // reads. A replica whose user reads less leaves it to the server (or a
    // replica that reads as much), so every replica that runs it computes
    // the same steps from the same fields.
    let runner = instance.owner.as_deref().unwrap_or_default();
    let role = rights::role_of(&directory, runner);
    let reads_enough = match host.access() {
        Access::Local => true,
        Access::User { user, .. } => {
            rights::reads_at_least(policy.as_ref(), Some(&user.role), role)
        }
    };
    if policy.is_some() && (role.is_none() || !reads_enough) {
        return Ok(None);
    }
    let seen = |r: Option<Record>| r.map(|r| rights::view(&r, policy.as_ref(), &[role]));
    let target = seen(host.record(&instance.record)?);
    let account = match &instance.account {
        Some(a) if Some(a) != target.as_ref().map(|t| &t.id) => seen(host.record(a)?),
        _ => None,
    };
    let mut activities = BTreeMap::new();
    for cand in engine::candidate_activities(&instance, &[started, model]) {
        if let Some(r) = seen(host.record(&cand)?) {
            activities.insert(cand, r);
        }
    }
    let outcome = engine::step(&Inputs {
        model,
        start: &started.start,
        instance: &instance,
        record: target.as_ref(),
        account: account
            .as_ref()
            .or(target.as_ref().filter(|t| t.kind() == RecordKind::Account)),
        activities: &activities,
        directory: &directory,
        policy: policy.as_ref(),
        now: host.now(),
    });
    if let Some(reason) = outcome
        .failed
        .clone()
        .or_else(|| forbidden_write(&outcome, policy.as_ref(), role, runner))
    {
        host.mark_failed(id, &reason)?;
        return Ok(Some(outcome));
    }
    for action in &outcome.actions {
        match action {
            Action::Event { key, .. } if instance.events.contains_key(key) => {
                // The log only grows: an event written here or by another
                // replica is never overwritten.
            }
            Action::Event { key, event } => {
                let value =
                    serde_json::to_value(event).map_err(|e| CoreError::Corrupt(e.to_string()))?;
                host.put_entry(id, "events", key, &value)?;
            }
            Action::CreateActivity { id, fields, at } => {
                host.create(id, fields, *at)?;
            }
            Action::SetActivityStatus { id, status } => {
                host.write(id, "status", FieldValue::Text(status.clone()))?;
            }
            Action::SetField {
                record,
                field,
                value,
            } => {
                host.write(record, field, value.clone())?;
            }
        }
    }
    let active = matches!(outcome.status, Status::Running | Status::Suspended);
    host.set_wakeup(id, outcome.wake_at, active)?;
    Ok(Some(outcome))
}

/// Why the outcome may not be written: a `set` step writes a field that the
/// instance's user may not write.
fn forbidden_write(
    outcome: &Outcome,
    policy: Option<&crate::policy::Policy>,
    role: Option<&str>,
    runner: &str,
) -> Option<String> {
    let policy = policy?;
    outcome.actions.iter().find_map(|a| {
        let Action::SetField { record, field, .. } = a else {
            return None;
        };
        let writes = role
            .and_then(|r| policy.role(r))
            .zip(policy.class_of(record.kind(), field))
            .is_some_and(|(r, class)| r.write.contains(class));
        (!writes).then(|| {
            format!(
                "a `set` step writes `{field}`, which `{runner}` (who the instance runs as) may not write"
            )
        })
    })
}

/// Runs instance `id` like [`run`], containing what only this instance's
/// model or data can cause: a panic, or a step the rule book or the policy
/// refuses (a `set` step that breaks a record rule). Such an instance is
/// marked failed (see [`ProcessHost::mark_failed`]) and `Ok(None)` returned,
/// so one bad instance never stops a scheduler pass or a sync. Storage
/// errors are returned: they are the host's, not the instance's.
pub fn run_contained(
    host: &mut impl ProcessHost,
    models: &[Model],
    id: &RecordId,
) -> Result<Option<Outcome>> {
    let reason =
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(host, models, id))) {
            Ok(Err(e @ (CoreError::Invalid(_) | CoreError::Denied(_)))) => {
                format!("a step was refused: {e}")
            }
            Ok(out) => return out,
            Err(panic) => format!(
                "the engine failed: {}",
                crate::error::panic_message(panic.as_ref())
            ),
        };
    host.mark_failed(id, &reason)?;
    Ok(None)
}

/// Starts an instance of `model` on `record`, as triggered at `at`. The id
/// is derived from (model, record, `at`), so a replica that sees the same
/// trigger starts the same instance. Returns the instance id.
pub fn start_instance(
    host: &mut impl ProcessHost,
    models: &[Model],
    model: &Model,
    record: &Record,
    at: Timestamp,
    runs_as: &str,
) -> Result<RecordId> {
    let id = Instance::derive_id(&model.file.key, &record.id, at);
    let mut fields = BTreeMap::new();
    fields.insert(
        "model_key".to_owned(),
        FieldValue::Text(model.file.key.clone()),
    );
    fields.insert(
        "model".to_owned(),
        FieldValue::Text(model_id(&model.file.key, model.version).to_string()),
    );
    fields.insert("model_version".to_owned(), FieldValue::Int(model.version));
    fields.insert("record".to_owned(), FieldValue::Text(record.id.to_string()));
    let account = match record.kind() {
        RecordKind::Account => Some(record.id.clone()),
        _ => record.account(),
    };
    if let Some(a) = account {
        fields.insert("account".to_owned(), FieldValue::Text(a.to_string()));
    }
    // The instance runs as its owner: who started it (see `rights`).
    fields.insert("owner".to_owned(), FieldValue::Text(runs_as.to_owned()));
    fields.insert("started_at".to_owned(), FieldValue::Text(at.to_string()));
    host.create(&id, &fields, at)?;
    run_contained(host, models, &id)?;
    Ok(id)
}

/// Starts a `manual` (or any) model on a record by hand.
pub fn start_by_hand(
    host: &mut impl ProcessHost,
    key: &str,
    record: &RecordId,
) -> Result<RecordId> {
    denied(host.access(), "start", |p| p.start)?;
    let models = host.models()?;
    let model = latest(&models, key)
        .ok_or_else(|| CoreError::NotFound(format!("process model `{key}`")))?
        .clone();
    let target = host
        .record(record)?
        .ok_or_else(|| CoreError::NotFound(record.to_string()))?;
    if target.kind() != model.trigger.record {
        return Err(invalid(format!(
            "`{key}` runs on {} records, not on {}",
            model.trigger.record,
            target.kind()
        )));
    }
    let now = host.now();
    let me = host.acting_user();
    start_instance(host, &models, &model, &target, now, &me)
}

/// What a write to `after` (which was `before`) sets off: instances of
/// models whose trigger fires, and the instance an activity belongs to.
/// Returns the instances started or run.
pub fn on_write(
    host: &mut impl ProcessHost,
    before: Option<&Record>,
    after: &Record,
    at: Timestamp,
) -> Result<Vec<RecordId>> {
    let models = host.models()?;
    let mut touched = Vec::new();
    let mut keys: Vec<&str> = models.iter().map(|m| m.file.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        let Some(model) = latest(&models, key) else {
            continue;
        };
        if model.trigger.record != after.kind() {
            continue;
        }
        let fires = match model.trigger.kind {
            TriggerKind::RecordCreated => before.is_none(),
            TriggerKind::FieldChange => {
                let holds = |r: Option<&Record>| {
                    r.zip(model.trigger.condition.as_ref())
                        .is_some_and(|(r, c)| c.eval(&r.fields))
                };
                holds(Some(after)) && !holds(before)
            }
            TriggerKind::Manual | TriggerKind::Schedule => false,
        };
        if fires {
            let me = host.acting_user();
            touched.push(start_instance(host, &models, model, after, at, &me)?);
        }
    }
    if after.kind() == RecordKind::Activity
        && let Some(inst) = after
            .text("process_instance")
            .and_then(|t| t.parse::<RecordId>().ok())
    {
        run_contained(host, &models, &inst)?;
        touched.push(inst);
    }
    Ok(touched)
}

/// One scheduler pass: runs every active instance whose timer or deadline
/// is due, and starts scheduled models whose occurrence has come. Returns
/// how many instances ran.
pub fn run_due(host: &mut impl ProcessHost) -> Result<usize> {
    let models = host.models()?;
    let now = host.now();
    let due = host.due(now)?;
    for id in &due {
        run_contained(host, &models, id)?;
    }
    let mut started = 0;
    for model in models
        .iter()
        .filter(|m| m.trigger.kind == TriggerKind::Schedule)
    {
        if latest(&models, &model.file.key).map(|m| m.version) != Some(model.version) {
            continue;
        }
        let Some((every, from)) = model.trigger.schedule else {
            continue;
        };
        let Some(occurrence) = last_occurrence(from, every, now, true) else {
            continue;
        };
        if host.schedule_mark(&model.file.key)? >= Some(occurrence) {
            continue;
        }
        // Scheduled instances run as the publisher of the model version.
        let Some(publisher) = model.publisher.clone() else {
            continue;
        };
        for rid in host.records_of(model.trigger.record)? {
            if let Some(r) = host.record(&rid)? {
                let matches = model
                    .trigger
                    .condition
                    .as_ref()
                    .is_none_or(|c| c.eval(&r.fields));
                if matches {
                    start_instance(host, &models, model, &r, occurrence, &publisher)?;
                    started += 1;
                }
            }
        }
        host.set_schedule_mark(&model.file.key, occurrence)?;
    }
    Ok(due.len() + started)
}

/// The last occurrence of a schedule (`from`, then every `every`) at or
/// before `now`; `None` before `from`. `skip` jumps ahead with
/// [`skip_ahead`] first (the scheduler always does; tests compare with
/// stepping alone).
fn last_occurrence(
    from: Timestamp,
    every: jiff::Span,
    now: Timestamp,
    skip: bool,
) -> Option<Timestamp> {
    let mut found = None;
    let mut t = if skip {
        skip_ahead(from, every, now)
    } else {
        from
    };
    while t <= now {
        found = Some(t);
        let next = after(t, every);
        if next <= t {
            break;
        }
        t = next;
    }
    found
}

/// `from` moved on by whole `every`s to the last occurrence at or before
/// `now`, in one step when `every` has a fixed length (no years or
/// months; a day is 24 hours, as in [`after`]). Stepping one `every` at a
/// time from a `from` far in the past with a tiny `every` (both come from a
/// published model) would hold the host, the server's writer among them,
/// for hours. Calendar spans keep stepping (at most one per month).
fn skip_ahead(from: Timestamp, every: jiff::Span, now: Timestamp) -> Timestamp {
    if from >= now || every.get_years() != 0 || every.get_months() != 0 {
        return from;
    }
    let Ok(step) = every.to_duration(jiff::SpanRelativeTo::days_are_24_hours()) else {
        return from;
    };
    let (step, gap) = (step.as_nanos(), now.duration_since(from).as_nanos());
    if step <= 0 {
        return from;
    }
    Timestamp::from_nanosecond(from.as_nanosecond() + gap / step * step).unwrap_or(from)
}

/// Runs every active instance (after a sync brought news).
pub fn run_active(host: &mut impl ProcessHost) -> Result<usize> {
    let models = host.models()?;
    let ids = host.active()?;
    for id in &ids {
        run_contained(host, &models, id)?;
    }
    Ok(ids.len())
}

/// What a person does to an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Pause it.
    Suspend,
    /// Continue it.
    Resume,
    /// End it for good, cancelling its open tasks.
    Stop,
    /// Change a parameter.
    Parameter(String, String),
    /// Move it to another version of its model (administrators).
    Migrate(i64),
}

/// Applies `control` to instance `id`, with the acting user's rights.
pub fn control(host: &mut impl ProcessHost, id: &RecordId, control: Control) -> Result<Outcome> {
    let (right, kind): (&str, EventKind) = match &control {
        Control::Suspend => ("suspend", EventKind::Suspend),
        Control::Resume => ("resume", EventKind::Resume),
        Control::Stop => ("stop", EventKind::Stop),
        Control::Parameter(..) => ("change_parameters", EventKind::Param),
        Control::Migrate(_) => ("migrate", EventKind::Migrate),
    };
    denied(host.access(), right, |p| match kind {
        EventKind::Suspend | EventKind::Resume => p.suspend,
        EventKind::Stop => p.stop,
        EventKind::Param => p.change_parameters,
        _ => p.migrate,
    })?;
    let models = host.models()?;
    let record = host
        .record(id)?
        .ok_or_else(|| CoreError::NotFound(id.to_string()))?;
    let instance = Instance::from_record(&record)
        .ok_or_else(|| invalid(format!("{id} is not a process instance")))?;
    let started =
        version(&models, &instance.model_key, instance.started_version).ok_or_else(|| {
            CoreError::NotFound(format!(
                "model `{}` v{}",
                instance.model_key, instance.started_version
            ))
        })?;
    let position = fold(&instance, &started.start);
    let state_ok = match (&control, position.status) {
        (_, Status::Stopped) => false,
        (Control::Suspend, s) => s == Status::Running,
        (Control::Resume, s) => s == Status::Suspended,
        _ => true,
    };
    if !state_ok {
        return Err(invalid(
            format!("the instance is {:?}", position.status).to_lowercase(),
        ));
    }
    if let Control::Migrate(v) = control {
        let target = version(&models, &instance.model_key, v).ok_or_else(|| {
            CoreError::NotFound(format!("version {v} of `{}`", instance.model_key))
        })?;
        if let Some(cur) = position.current()
            && target.step(&cur.step).is_none()
        {
            return Err(invalid(format!(
                "version {v} of `{}` has no step `{}`, where the instance is: it cannot be migrated",
                instance.model_key, cur.step
            )));
        }
    }
    let by = host.acting_user();
    let at = host.now();
    let event = Event {
        kind,
        at,
        by: by.clone(),
        pos: None,
        step: None,
        via: None,
        to: None,
        version: match control {
            Control::Migrate(v) => Some(v),
            _ => None,
        },
        param: match &control {
            Control::Parameter(n, v) => Some((n.clone(), v.clone())),
            _ => None,
        },
    };
    if let Control::Parameter(name, value) = &control {
        let entry = serde_json::json!({ "value": value, "at": at.to_string(), "by": by });
        host.put_entry(id, "parameters", name, &entry)?;
    }
    let value = serde_json::to_value(&event).map_err(|e| CoreError::Corrupt(e.to_string()))?;
    host.put_entry(id, "events", &Event::control_key(at, kind, &by), &value)?;
    match run_contained(host, &models, id)? {
        Some(outcome) => Ok(outcome),
        None => Err(match host.failure(id)? {
            Some(reason) => invalid(format!("the instance failed: {reason}")),
            None => CoreError::NotFound(id.to_string()),
        }),
    }
}

/// Completes task `activity`: marks it done and advances its instance. The
/// log records the acting user as who completed it.
pub fn complete_task(host: &mut impl ProcessHost, activity: &RecordId) -> Result<Option<RecordId>> {
    denied(host.access(), "complete_tasks", |p| p.complete_tasks)?;
    let task = host
        .record(activity)?
        .ok_or_else(|| CoreError::NotFound(activity.to_string()))?;
    if task.text("status") == Some("done") {
        return Err(invalid(format!("{activity} is done already")));
    }
    host.write(activity, "status", FieldValue::Text("done".into()))?;
    let Some(inst) = task
        .text("process_instance")
        .and_then(|t| t.parse::<RecordId>().ok())
    else {
        return Ok(None);
    };
    let models = host.models()?;
    if let (Some(step), Some(irec)) = (task.text("process_step"), host.record(&inst)?)
        && let Some(instance) = Instance::from_record(&irec)
        && let Some(started) = version(&models, &instance.model_key, instance.started_version)
    {
        let pos = fold(&instance, &started.start);
        let model = version(&models, &instance.model_key, pos.version).unwrap_or(started);
        let next = model.step(step).and_then(|s| s.next.clone());
        if let Some(cur) = pos
            .current()
            .filter(|c| c.step == step && engine::activity_id(&inst, step, c.pos) == *activity)
        {
            let done = host.record(activity)?;
            let at = done
                .as_ref()
                .and_then(|d| d.text("completed_at"))
                .and_then(|t| t.parse::<Timestamp>().ok())
                .unwrap_or_else(|| host.now())
                .max(cur.entered_at);
            let event = Event {
                kind: EventKind::Done,
                at,
                by: host.acting_user(),
                pos: Some(cur.pos),
                step: Some(step.to_owned()),
                via: Some("task".into()),
                to: next,
                version: None,
                param: None,
            };
            let value =
                serde_json::to_value(&event).map_err(|e| CoreError::Corrupt(e.to_string()))?;
            host.put_entry(
                &inst,
                "events",
                &Event::done_key(cur.pos, step, "task"),
                &value,
            )?;
        }
    }
    run_contained(host, &models, &inst)?;
    Ok(Some(inst))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::model::duration;

    /// The occurrence the scheduler finds (or, without skipping ahead, one
    /// `every` at a time).
    fn occurrence(from: &str, every: &str, now: &str, skip: bool) -> Option<Timestamp> {
        let (from, now): (Timestamp, Timestamp) =
            (from.parse().expect("from"), now.parse().expect("now"));
        last_occurrence(from, duration(every).expect("every"), now, skip)
    }

    #[test]
    fn a_tiny_period_from_the_distant_past_is_found_at_once() {
        let start = std::time::Instant::now();
        let found = occurrence(
            "-009000-01-01T00:00:00Z",
            "PT0.000000001S",
            "2027-01-08T09:30:00.5Z",
            true,
        );
        assert_eq!(found, Some("2027-01-08T09:30:00.5Z".parse().expect("ts")));
        let found = occurrence(
            "-009000-01-01T00:00:00Z",
            "PT1S",
            "2027-01-08T09:30:00.5Z",
            true,
        );
        assert_eq!(found, Some("2027-01-08T09:30:00Z".parse().expect("ts")));
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn skipping_ahead_finds_what_stepping_finds() {
        let now = "2027-01-08T09:30:00Z";
        for (from, every, want) in [
            ("2027-01-01T08:00:00Z", "P1D", Some("2027-01-08T08:00:00Z")),
            ("2027-01-01T08:00:00Z", "P1W", Some("2027-01-08T08:00:00Z")),
            ("2027-01-01T08:00:00Z", "PT5H", Some("2027-01-08T05:00:00Z")),
            ("2026-10-31T08:00:00Z", "P1M", Some("2026-12-30T08:00:00Z")),
            ("2027-01-08T09:30:00Z", "P1D", Some(now)),
            ("2027-01-09T00:00:00Z", "P1D", None),
            ("2027-01-01T08:00:00Z", "PT0S", Some("2027-01-01T08:00:00Z")),
            ("2027-01-01T08:00:00Z", "-P1D", Some("2027-01-01T08:00:00Z")),
        ] {
            let want = want.map(|w| w.parse::<Timestamp>().expect("ts"));
            assert_eq!(
                occurrence(from, every, now, true),
                want,
                "{from} every {every}"
            );
            assert_eq!(
                occurrence(from, every, now, false),
                want,
                "{from} every {every}"
            );
        }
    }
}
