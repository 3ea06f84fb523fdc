//! Running processes against a store: triggers, the scheduler, and what
//! people do to instances (start, complete a task, suspend, resume, stop,
//! change a parameter, migrate, publish a model).
//!
//! The runner reads through a [`ProcessHost`], asks the pure
//! [`engine::step`] what to do, and writes the answer back through the
//! host. The device store and the server each implement the host, so the
//! same code runs offline on a phone and on the server; the ids the engine
//! derives make both runs land on the same records.
//!
//! Every function returns the host's own error ([`ProcessHost::Error`]):
//! core errors convert into it, the host's failures stay the host's.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::engine::{self, Action, Inputs, Outcome};
use super::instance::{Event, EventKind, Instance, Status, fold, instance_fields, step_label};
use super::model::{Model, ModelFile, TriggerKind, after};
pub use super::model::{model_from_record, model_id};
use super::rights;

pub use super::host::{HostError, ProcessHost};
use crate::error::{CoreError, Result, ValidationError};
use crate::ids::{RecordId, RecordKind};
use crate::policy::{Access, ProcessRights};
use crate::record::Record;
use crate::value::FieldValue;

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
pub fn publish<H: ProcessHost>(host: &mut H, file: ModelFile) -> Result<(RecordId, i64), H::Error> {
    denied(host.access(), "publish", |p| p.publish)?;
    let models = host.models()?;
    let next = latest(&models, &file.key).map_or(1, |m| m.version + 1);
    let mut file = file;
    let pinned = super::model::pin_calls(&mut file, &models);
    let model = pinned
        .and_then(|()| Model::check(file, next))
        .map_err(|e| {
            CoreError::Invalid(ValidationError::field(
                "definition",
                format!("the process model cannot be published: {}", e.0.join("; ")),
            ))
        })?;
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
        ))
        .into());
    }
    Ok((id, next))
}

/// Runs instance `id` as far as now allows and writes what the engine
/// decides. `None` when the instance or its model is not here (yet).
pub fn run<H: ProcessHost>(
    host: &mut H,
    models: &[Model],
    id: &RecordId,
) -> Result<Option<Outcome>, H::Error> {
    if host.failure(id)?.is_some() {
        return Ok(None);
    }
    let Some((instance, started, model)) = locate(host, models, id)? else {
        return Ok(None);
    };
    let directory = host.directory()?;
    let policy = host.policy().cloned();
    // The instance runs as its owner, and sees only what the owner's role
    // reads.
    let runner = instance.owner.as_deref().unwrap_or_default();
    let role = rights::role_of(&directory, runner);
    if !host.runs_every_instance() && !runs_here(host.access(), policy.as_ref(), role) {
        return Ok(None);
    }
    let seen = Seen::read(
        host,
        &instance,
        (&[started, model], models),
        policy.as_ref(),
        role,
    )?;
    let may_start = host.runs_every_instance() || host.acting_user() == runner;
    let outcome = engine::step(&Inputs {
        model,
        start: &started.start,
        instance: &instance,
        record: seen.target.as_ref(),
        account: seen.account(),
        activities: &seen.activities,
        directory: &directory,
        policy: policy.as_ref(),
        called: &seen.called,
        may_start,
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
    let started_here = write_actions(host, id, &instance, &outcome)?;
    let active = matches!(outcome.status, Status::Running | Status::Suspended);
    // One watched record per instance: a called instance it waits for, else
    // its own record (see `docs/PROCESSES.md`).
    let watch = outcome
        .awaits_instance
        .as_ref()
        .or(outcome.watch.then_some(&instance.record));
    host.set_wakeup(id, outcome.wake_at, active, watch)?;
    for child in &started_here {
        run_contained(host, models, child)?;
    }
    if !active {
        // Instances that called this one go on now that it has ended.
        for caller in host.watching(id)? {
            run_contained(host, models, &caller)?;
        }
    }
    Ok(Some(outcome))
}

/// Instance `id`, the model version it started on and the one it is on
/// now; `None` when any of them is not here (yet).
fn locate<'m, H: ProcessHost>(
    host: &mut H,
    models: &'m [Model],
    id: &RecordId,
) -> Result<Option<(Instance, &'m Model, &'m Model)>, H::Error> {
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
    Ok(Some((instance, started, model)))
}

/// Whether this replica runs an instance whose runner has `role`: a replica
/// whose user reads less leaves it to the server (or a replica that reads
/// as much), so every replica that runs it computes the same steps from the
/// same fields.
fn runs_here(access: &Access, policy: Option<&crate::policy::Policy>, role: Option<&str>) -> bool {
    let reads_enough = match access {
        Access::Local => true,
        Access::User { user, .. } => rights::reads_at_least(policy, Some(&user.role), role),
    };
    policy.is_none() || (role.is_some() && reads_enough)
}

/// The records an instance reads, as its runner's role sees them.
struct Seen {
    /// The record it runs on.
    target: Option<Record>,
    /// Its account, when that is another record.
    account: Option<Record>,
    /// Its activities that exist here.
    activities: BTreeMap<RecordId, Record>,
    /// The instances its call and start steps started that exist here.
    called: BTreeMap<RecordId, engine::Called>,
}

impl Seen {
    fn read<H: ProcessHost>(
        host: &mut H,
        instance: &Instance,
        (models, all): (&[&Model], &[Model]),
        policy: Option<&crate::policy::Policy>,
        role: Option<&str>,
    ) -> Result<Seen, H::Error> {
        let seen = |r: Option<Record>| r.map(|r| rights::view(&r, policy, &[role]));
        let target = seen(host.record(&instance.record)?);
        let account = match &instance.account {
            Some(a) if Some(a) != target.as_ref().map(|t| &t.id) => seen(host.record(a)?),
            _ => None,
        };
        let mut activities = BTreeMap::new();
        for cand in engine::candidate_activities(instance, models) {
            if let Some(r) = seen(host.record(&cand)?) {
                activities.insert(cand, r);
            }
        }
        let mut called = BTreeMap::new();
        for cand in engine::candidate_called(instance, models) {
            if let Some(state) = host
                .record(&cand)?
                .and_then(|r| engine::called_state(&r, all))
            {
                called.insert(cand, state);
            }
        }
        Ok(Seen {
            target,
            account,
            activities,
            called,
        })
    }

    /// The account for `{account.field}`: the account record, or the
    /// target itself when it is an account.
    fn account(&self) -> Option<&Record> {
        self.account.as_ref().or(self
            .target
            .as_ref()
            .filter(|t| t.kind() == RecordKind::Account))
    }
}

/// Writes the engine's actions for instance `id`; returns the instances
/// its call and start steps created here. The log only grows: an event
/// written here or by another replica is never overwritten.
fn write_actions<H: ProcessHost>(
    host: &mut H,
    id: &RecordId,
    instance: &Instance,
    outcome: &Outcome,
) -> Result<Vec<RecordId>, H::Error> {
    let mut started = Vec::new();
    for action in &outcome.actions {
        match action {
            Action::Event { key, .. } if instance.events.contains_key(key) => {}
            Action::Event { key, event } => {
                let value =
                    serde_json::to_value(event).map_err(|e| CoreError::Corrupt(e.to_string()))?;
                host.put_entry(id, "events", key, &value)?;
            }
            Action::CreateActivity { id, fields, at } | Action::CreateRecord { id, fields, at } => {
                host.create(id, fields, *at)?;
            }
            Action::StartInstance { id, fields, at } => {
                if host.create(id, fields, *at)? {
                    started.push(id.clone());
                }
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
    Ok(started)
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
    let writes = |kind: RecordKind, field: &str| {
        role.and_then(|r| policy.role(r))
            .zip(policy.class_of(kind, field))
            .is_some_and(|(r, class)| r.write.contains(class))
    };
    outcome.actions.iter().find_map(|a| match a {
        Action::SetField { record, field, .. } if !writes(record.kind(), field) => Some(format!(
            "a `set` step writes `{field}`, which `{runner}` (who the instance runs as) may not write"
        )),
        Action::CreateRecord { id, fields, .. } => fields
            .keys()
            .find(|f| !writes(id.kind(), f))
            .map(|f| {
                format!(
                    "a `create` step writes {}.{f}, which `{runner}` (who the instance runs as) may not write",
                    id.kind()
                )
            }),
        _ => None,
    })
}

/// Runs instance `id` like [`run`], containing what only this instance's
/// model or data can cause: a panic, or a step the rule book or the policy
/// refuses (a `set` step that breaks a record rule). Such an instance is
/// marked failed (see [`ProcessHost::mark_failed`]) and `Ok(None)` returned,
/// so one bad instance never stops a scheduler pass or a sync. Storage
/// errors are returned: they are the host's, not the instance's.
pub fn run_contained<H: ProcessHost>(
    host: &mut H,
    models: &[Model],
    id: &RecordId,
) -> Result<Option<Outcome>, H::Error> {
    let reason =
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(host, models, id))) {
            Ok(Err(e)) if e.is_refusal() => format!("a step was refused: {e}"),
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
pub fn start_instance<H: ProcessHost>(
    host: &mut H,
    models: &[Model],
    model: &Model,
    record: &Record,
    at: Timestamp,
    runs_as: &str,
) -> Result<RecordId, H::Error> {
    let id = Instance::derive_id(&model.file.key, &record.id, at);
    let account = match record.kind() {
        RecordKind::Account => Some(record.id.clone()),
        _ => record.account(),
    };
    // The instance runs as its owner: who started it (see `rights`).
    let fields = instance_fields(
        (&model.file.key, model.version),
        (&record.id, account.as_ref()),
        runs_as,
        at,
    );
    host.create(&id, &fields, at)?;
    run_contained(host, models, &id)?;
    Ok(id)
}

/// Starts a `manual` (or any) model on a record by hand.
pub fn start_by_hand<H: ProcessHost>(
    host: &mut H,
    key: &str,
    record: &RecordId,
) -> Result<RecordId, H::Error> {
    denied(host.access(), "start", |p| p.start)?;
    let models = host.models()?;
    let model = latest(&models, key)
        .ok_or_else(|| CoreError::NotFound(format!("process model `{key}`")))?
        .clone();
    let target = host
        .record(record)?
        .ok_or_else(|| CoreError::NotFound(record.to_string()))?;
    if let Err(e) = model.fits(target.kind()) {
        return Err(CoreError::Invalid(ValidationError::field(
            "record",
            format!(
                "`{key}` cannot run on this {}: {}",
                target.kind(),
                e.0.join("; ")
            ),
        ))
        .into());
    }
    let now = host.now();
    let me = host.acting_user();
    start_instance(host, &models, &model, &target, now, &me)
}

/// What a write to `after` (which was `before`) sets off: instances of
/// models whose trigger fires, the instance an activity belongs to, and
/// instances waiting for `after` to satisfy a condition.
/// Returns the instances started or run.
pub fn on_write<H: ProcessHost>(
    host: &mut H,
    before: Option<&Record>,
    after: &Record,
    at: Timestamp,
) -> Result<Vec<RecordId>, H::Error> {
    let models = host.models()?;
    let mut touched = Vec::new();
    let mut keys: Vec<&str> = models.iter().map(|m| m.file.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        let Some(model) = latest(&models, key) else {
            continue;
        };
        if model.trigger.record != Some(after.kind()) {
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
    // Instances whose `wait` step waits for this record to satisfy a
    // condition.
    for inst in host.watching(&after.id)? {
        run_contained(host, &models, &inst)?;
        touched.push(inst);
    }
    Ok(touched)
}

/// One scheduler pass: runs every active instance whose timer or deadline
/// is due, and starts scheduled models whose occurrence has come. Returns
/// how many instances ran.
pub fn run_due<H: ProcessHost>(host: &mut H) -> Result<usize, H::Error> {
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
        let (Some(publisher), Some(kind)) = (model.publisher.clone(), model.trigger.record) else {
            continue;
        };
        for rid in host.records_of(kind)? {
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
pub fn run_active<H: ProcessHost>(host: &mut H) -> Result<usize, H::Error> {
    let models = host.models()?;
    let ids = host.active()?;
    for id in &ids {
        run_contained(host, &models, id)?;
    }
    Ok(ids.len())
}

/// Longest parameter name a control may set, in bytes.
pub const MAX_PARAMETER_NAME: usize = 200;
/// Longest parameter value a control may set, in bytes.
pub const MAX_PARAMETER_VALUE: usize = 10_000;

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
    /// Tell it that something happened ("reply received"): a `wait` step
    /// waiting for a message of this name goes on. Needs the
    /// `complete_tasks` right, like completing a task.
    Message(String),
}

/// Applies `control` to instance `id`, with the acting user's rights.
pub fn control<H: ProcessHost>(
    host: &mut H,
    id: &RecordId,
    control: Control,
) -> Result<Outcome, H::Error> {
    control.check_shape()?;
    let kind = control.kind();
    denied(host.access(), control.right(), |p| match kind {
        EventKind::Suspend | EventKind::Resume => p.suspend,
        EventKind::Stop => p.stop,
        EventKind::Param => p.change_parameters,
        EventKind::Message => p.complete_tasks,
        _ => p.migrate,
    })?;
    let models = host.models()?;
    let record = host
        .record(id)?
        .ok_or_else(|| CoreError::NotFound(id.to_string()))?;
    let instance = Instance::from_record(&record)
        .ok_or_else(|| invalid(format!("{id} is not a process instance")))?;
    control.applies_to(&instance, &models)?;
    let by = host.acting_user();
    let at = host.now();
    if let Control::Parameter(name, value) = &control {
        let entry = serde_json::json!({ "value": value, "at": at.to_string(), "by": by });
        host.put_entry(id, "parameters", name, &entry)?;
    }
    let event = control.event(at, &by);
    let value = serde_json::to_value(&event).map_err(|e| CoreError::Corrupt(e.to_string()))?;
    let key = event
        .own_key()
        .unwrap_or_else(|| Event::control_key(at, kind, &by));
    host.put_entry(id, "events", &key, &value)?;
    match run_contained(host, &models, id)? {
        Some(outcome) => Ok(outcome),
        None => Err(match host.failure(id)? {
            Some(reason) => invalid(format!("the instance failed: {reason}")),
            None => CoreError::NotFound(id.to_string()),
        }
        .into()),
    }
}

/// A bulk migration of every instance of one model version, planned or
/// applied ([`migrate_all`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Migration {
    /// The model's key.
    pub key: String,
    /// The version its instances are on.
    pub from: i64,
    /// The version they move to.
    pub to: i64,
    /// Only planned: nothing was written.
    pub dry_run: bool,
    /// Instances that move (or, in a dry run, would move).
    pub migrated: Vec<String>,
    /// Instances that cannot move, each with why (the single-instance
    /// migration's rule: its current step is not in the target version; it
    /// is stopped or completed; or it failed to migrate).
    pub refused: Vec<MigrationRefusal>,
}

/// An instance a bulk migration leaves where it is, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationRefusal {
    /// The instance.
    pub instance: String,
    /// Why it cannot migrate.
    pub reason: String,
}

/// Moves every instance of version `from` of model `key` (the version in
/// force, after earlier migrations) to version `to`, with the acting
/// user's `migrate` right; with `dry_run`, only says which would move and
/// which cannot, and why, writing nothing. Each instance is decided by the
/// single-instance rule ([`control`] with [`Control::Migrate`]); a
/// completed instance is left where it is. Instances are taken in id order.
pub fn migrate_all<H: ProcessHost>(
    host: &mut H,
    key: &str,
    from: i64,
    to: i64,
    dry_run: bool,
) -> Result<Migration, H::Error> {
    denied(host.access(), "migrate", |p| p.migrate)?;
    let models = host.models()?;
    for v in [from, to] {
        version(&models, key, v)
            .ok_or_else(|| CoreError::NotFound(format!("version {v} of `{key}`")))?;
    }
    if from == to {
        return Err(invalid(format!("`{key}`: --from and --to are both version {from}")).into());
    }
    let mut plan = Migration {
        key: key.to_owned(),
        from,
        to,
        dry_run,
        migrated: Vec::new(),
        refused: Vec::new(),
    };
    for id in host.records_of(RecordKind::ProcessInstance)? {
        let Some(instance) = host.record(&id)?.as_ref().and_then(Instance::from_record) else {
            continue;
        };
        let Some(started) = (instance.model_key == key)
            .then(|| version(&models, key, instance.started_version))
            .flatten()
        else {
            continue;
        };
        let position = fold(&instance, &started.start);
        if position.version != from {
            continue;
        }
        let mut refuse = |reason: String| {
            plan.refused.push(MigrationRefusal {
                instance: id.to_string(),
                reason,
            })
        };
        let ended = match position.current() {
            Some(cur) => version(&models, key, from)
                .and_then(|m| m.step(&cur.step))
                .is_some_and(|s| matches!(s.action, super::model::Action::End)),
            None => true,
        };
        if ended && position.status != Status::Stopped {
            refuse("the instance is completed".to_owned());
            continue;
        }
        if let Err(e) = Control::Migrate(to).applies_to(&instance, &models) {
            refuse(reason_of(&e));
            continue;
        }
        if let Some(why) = host.failure(&id)? {
            refuse(format!(
                "the instance failed ({why}): migrate it on its own"
            ));
            continue;
        }
        if !dry_run && let Err(e) = control(host, &id, Control::Migrate(to)) {
            match e.as_core() {
                Some(core) => {
                    refuse(reason_of(core));
                    continue;
                }
                None => return Err(e),
            }
        }
        plan.migrated.push(id.to_string());
    }
    Ok(plan)
}

/// A core error as a reason for people.
fn reason_of(e: &CoreError) -> String {
    match e {
        CoreError::Invalid(v) => v.message.clone(),
        other => other.to_string(),
    }
}

impl Control {
    /// Refuses a parameter with an empty or too long name or a too long
    /// value ([`MAX_PARAMETER_NAME`], [`MAX_PARAMETER_VALUE`]), for every
    /// writer (device, office API).
    pub fn check_shape(&self) -> Result<()> {
        match self {
            Control::Parameter(name, value)
                if name.trim().is_empty()
                    || name.len() > MAX_PARAMETER_NAME
                    || value.len() > MAX_PARAMETER_VALUE =>
            {
                Err(invalid(format!(
                    "a parameter needs a name of 1 to {MAX_PARAMETER_NAME} bytes and a value of at most {MAX_PARAMETER_VALUE} bytes"
                )))
            }
            Control::Message(name) if !super::model::valid_id(name) => Err(invalid(
                "a message's name is 1-64 letters, digits, `_` or `-`".to_owned(),
            )),
            _ => Ok(()),
        }
    }

    /// The kind of event the control adds to the log.
    fn kind(&self) -> EventKind {
        match self {
            Control::Suspend => EventKind::Suspend,
            Control::Resume => EventKind::Resume,
            Control::Stop => EventKind::Stop,
            Control::Parameter(..) => EventKind::Param,
            Control::Migrate(_) => EventKind::Migrate,
            Control::Message(_) => EventKind::Message,
        }
    }

    /// The process right it needs (as named in the policy).
    fn right(&self) -> &'static str {
        match self {
            Control::Suspend => "suspend",
            Control::Resume => "resume",
            Control::Stop => "stop",
            Control::Parameter(..) => "change_parameters",
            Control::Migrate(_) => "migrate",
            Control::Message(_) => "complete_tasks",
        }
    }

    /// Whether it applies to `instance` where it stands: nothing applies to
    /// a stopped instance, only a running one is suspended, only a
    /// suspended one resumed, and an instance migrates only to a version
    /// that has its current step.
    fn applies_to(&self, instance: &Instance, models: &[Model]) -> Result<()> {
        let key = &instance.model_key;
        let started = version(models, key, instance.started_version).ok_or_else(|| {
            CoreError::NotFound(format!("model `{key}` v{}", instance.started_version))
        })?;
        let position = fold(instance, &started.start);
        let state_ok = match (self, position.status) {
            (_, Status::Stopped) => false,
            (Control::Suspend, s) => s == Status::Running,
            (Control::Resume, s) => s == Status::Suspended,
            // A suspended instance's clock is stopped: nothing waits.
            (Control::Message(_), s) => s == Status::Running,
            _ => true,
        };
        if !state_ok {
            return Err(invalid(
                format!("the instance is {:?}", position.status).to_lowercase(),
            ));
        }
        if let Control::Parameter(name, value) = self {
            let current = version(models, key, position.version).unwrap_or(started);
            return check_parameter(current, name, value);
        }
        if let Control::Message(name) = self {
            let current = version(models, key, position.version).unwrap_or(started);
            return check_message(current, name);
        }
        let Control::Migrate(v) = self else {
            return Ok(());
        };
        let target = version(models, key, *v)
            .ok_or_else(|| CoreError::NotFound(format!("version {v} of `{key}`")))?;
        match position.current() {
            Some(cur) if target.step(&cur.step).is_none() => Err(invalid(format!(
                "version {v} of `{key}` has no step `{}`, where the instance is: it cannot be migrated",
                cur.step
            ))),
            _ => Ok(()),
        }
    }

    /// The log event for applying it, by `by` at `at`.
    fn event(&self, at: Timestamp, by: &str) -> Event {
        let mut event = Event::control(self.kind(), at, by);
        match self {
            Control::Migrate(v) => event.version = Some(*v),
            Control::Parameter(n, v) => event.param = Some((n.clone(), v.clone())),
            Control::Message(m) => event.message = Some(m.clone()),
            _ => {}
        }
        event
    }
}

/// A message `name` sent to an instance of `model`: one its `wait` steps
/// wait for.
pub fn check_message(model: &Model, name: &str) -> Result<()> {
    let known = super::model::messages(model);
    if known.contains(name) {
        return Ok(());
    }
    let waits = if known.is_empty() {
        "it waits for no message".to_owned()
    } else {
        let names: Vec<&str> = known.into_iter().collect();
        format!("it waits for {}", names.join(", "))
    };
    Err(invalid(format!(
        "`{}` waits for no message `{}` ({waits})",
        model.file.key,
        super::engine::truncate_chars(name.to_owned(), 64)
    )))
}

/// A parameter `name` = `value` set on an instance of `model`: a model
/// that declares parameters takes only those, each a value of its type
/// (a model that declares none keeps free-form parameters, which no step
/// reads).
pub fn check_parameter(model: &Model, name: &str, value: &str) -> Result<()> {
    if model.parameters.is_empty() {
        return Ok(());
    }
    let Some(ty) = model.parameters.get(name) else {
        let known: Vec<&str> = model.parameters.keys().map(String::as_str).collect();
        return Err(invalid(format!(
            "`{}` declares no parameter `{name}` (it has {})",
            model.file.key,
            known.join(", ")
        )));
    };
    if value.trim().is_empty() {
        return Ok(()); // cleared: the step's own setting applies again
    }
    ty.check(value)
        .map(|_| ())
        .map_err(|e| invalid(format!("parameter `{name}`: {e}")))
}

/// Completes task `activity`: marks it done and advances its instance. The
/// log records the acting user as who completed it. A task whose step
/// asks for an outcome needs [`complete_task_with`].
pub fn complete_task<H: ProcessHost>(
    host: &mut H,
    activity: &RecordId,
) -> Result<Option<RecordId>, H::Error> {
    complete_task_with(host, activity, None)
}

/// Completes task `activity` with `outcome` (when given): records the
/// outcome, marks the task done and advances its instance, whose log then
/// holds the outcome as a variable. Refused, changing nothing, when the
/// instance is suspended or stopped (`process_held`) or the outcome does
/// not fit what the step asks for (`invalid_outcome`): the rule of
/// [`super::task_write`].
pub fn complete_task_with<H: ProcessHost>(
    host: &mut H,
    activity: &RecordId,
    outcome: Option<&str>,
) -> Result<Option<RecordId>, H::Error> {
    denied(host.access(), "complete_tasks", |p| p.complete_tasks)?;
    let task = host
        .record(activity)?
        .ok_or_else(|| CoreError::NotFound(activity.to_string()))?;
    if task.text("status") == Some("done") {
        return Err(invalid(format!("{activity} is done already")).into());
    }
    let outcome = outcome.map(str::trim).filter(|o| !o.is_empty());
    let mut after = task.fields.clone();
    after.insert("status".into(), FieldValue::Text("done".into()));
    if let Some(o) = outcome {
        after.insert("outcome".into(), FieldValue::Text(o.to_owned()));
    }
    let mut failed = None;
    let decided =
        super::task_write::check(activity, &task.fields, &after, None, &mut |id| match host
            .record(id)
        {
            Ok(r) => r,
            Err(e) => {
                failed.get_or_insert(e);
                None
            }
        });
    if let Some(e) = failed {
        return Err(e);
    }
    decided.map_err(CoreError::Denied)?;
    if let Some(o) = outcome {
        host.write(activity, "outcome", FieldValue::Text(o.to_owned()))?;
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
        let open = engine::open_visits(&instance, &pos, model);
        if let Some((branch, cur)) = open.into_iter().find(|(branch, c)| {
            c.step == step
                && engine::activity_id(&inst, &step_label(branch.as_deref(), step), c.pos)
                    == *activity
        }) {
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
                outcome: engine::task_outcome(model, step, done.as_ref()),
                message: None,
                branch,
            };
            let value =
                serde_json::to_value(&event).map_err(|e| CoreError::Corrupt(e.to_string()))?;
            let key = Event::done_key_in(event.branch.as_deref(), cur.pos, step, "task");
            host.put_entry(&inst, "events", &key, &value)?;
        }
    }
    run_contained(host, &models, &inst)?;
    Ok(Some(inst))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::model::duration;

    #[test]
    fn a_parameter_is_bounded_for_every_writer() {
        let param = |n: usize, v: usize| Control::Parameter("x".repeat(n), "y".repeat(v));
        assert!(param(1, 0).check_shape().is_ok());
        assert!(
            param(MAX_PARAMETER_NAME, MAX_PARAMETER_VALUE)
                .check_shape()
                .is_ok()
        );
        assert!(param(0, 1).check_shape().is_err());
        assert!(param(MAX_PARAMETER_NAME + 1, 1).check_shape().is_err());
        assert!(param(1, MAX_PARAMETER_VALUE + 1).check_shape().is_err());
        assert!(Control::Stop.check_shape().is_ok());
    }

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
