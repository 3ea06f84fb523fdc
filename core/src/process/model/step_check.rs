//! Checking one step as written ([`StepFile`]) into a runnable [`Step`].
//!
//! Guarantees: every problem of the step is pushed to the caller's list,
//! each prefixed `steps.ID`, in a fixed order (id, `next`, then what the
//! step's kind needs); a step comes back only when it added no problem.

use std::collections::{BTreeMap, BTreeSet};

mod create;
mod events;

use super::placeholders::check_placeholders;
use super::{
    Action, Assignee, Delay, MAX_PARALLEL_PATHS, MAX_SET_FIELDS, Step, StepFile, StepKind,
    check_condition_fields, delay, field_of, kind_name, valid_id,
};
use crate::ids::RecordKind;
use crate::process::condition::Condition;
use crate::process::outcome::{Form, ParamType};
use crate::schema::{self, FieldType};
use crate::value::{self, FieldValue};

/// The variables a model declares (`outcome.STEP`, `param.NAME`) and its
/// typed parameters.
pub(super) type Declared<'a> = (&'a BTreeSet<String>, &'a BTreeMap<String, ParamType>);

/// Checks `s`, a step of a model on `record` whose step ids are `ids` and
/// which declares `declared`, pushing every problem to `errors`.
pub(super) fn check_step(
    s: &StepFile,
    record: Option<RecordKind>,
    ids: &BTreeSet<&str>,
    declared: Declared<'_>,
    errors: &mut Vec<String>,
) -> Option<Step> {
    let before = errors.len();
    let mut check = StepCheck {
        s,
        record,
        ids,
        vars: declared.0,
        params: declared.1,
        at: format!("steps.{}", s.id),
        errors,
    };
    check.id();
    let next = check.next();
    let action = match s.kind {
        StepKind::Task => check.task(),
        StepKind::Activity => check.activity(),
        StepKind::Timer => check.timer(),
        StepKind::Gateway => check.gateway(),
        StepKind::Set => check.set(),
        StepKind::End => Action::End,
        StepKind::Wait => check.wait(),
        StepKind::Notify => check.notify(),
        StepKind::Create => check.create(),
        StepKind::Parallel => check.parallel(),
        StepKind::Inclusive => check.inclusive(),
        StepKind::Call => check.call(true),
        StepKind::Start => check.call(false),
    };
    check.only_where_read();
    (errors.len() == before).then(|| Step {
        id: s.id.clone(),
        name: s.name.clone().unwrap_or_else(|| s.id.clone()),
        action,
        next,
    })
}

/// One step being checked, and where its problems go.
struct StepCheck<'a> {
    s: &'a StepFile,
    record: Option<RecordKind>,
    ids: &'a BTreeSet<&'a str>,
    /// Variables the model declares.
    vars: &'a BTreeSet<String>,
    /// Parameters the model declares.
    params: &'a BTreeMap<String, ParamType>,
    /// `steps.ID`, the prefix of every problem.
    at: String,
    errors: &'a mut Vec<String>,
}

impl StepCheck<'_> {
    fn id(&mut self) {
        if !valid_id(&self.s.id) {
            let at = &self.at;
            self.errors.push(format!(
                "{at}: step ids are 1-64 letters, digits, `_` or `-`"
            ));
        }
    }

    /// The step `to` names, which must exist (`what` names the attribute).
    fn target(&mut self, what: &str, to: &Option<String>) -> Option<String> {
        match to {
            Some(t) if self.ids.contains(t.as_str()) => Some(t.clone()),
            Some(t) => {
                let at = &self.at;
                self.errors.push(format!("{at}.{what}: no step `{t}`"));
                None
            }
            None => None,
        }
    }

    /// A duration (ISO 8601 or business time), when given.
    fn span(&mut self, what: &str, v: &Option<String>) -> Option<Delay> {
        let text = v.as_deref()?;
        match delay(text) {
            Ok(span) => Some(span),
            Err(e) => {
                let at = &self.at;
                self.errors.push(format!("{at}.{what}: {e}"));
                None
            }
        }
    }

    /// `next`: required for every kind but gateways and ends, which have
    /// none.
    fn next(&mut self) -> Option<String> {
        let next = self.target("next", &self.s.next);
        let (at, kind) = (&self.at, self.s.kind);
        let needs_next = !matches!(kind, StepKind::Gateway | StepKind::End | StepKind::Wait);
        if needs_next && self.s.next.is_none() {
            let e = format!("{at}.next: required for a {kind:?} step").to_lowercase();
            self.errors.push(e);
        }
        if !needs_next && self.s.next.is_some() {
            let e = format!("{at}.next: a {kind:?} step has no `next`").to_lowercase();
            self.errors.push(e);
        }
        next
    }

    /// Who gets the task or activity (the owner when it is wrong: the
    /// step is refused anyway).
    fn assignee(&mut self) -> Assignee {
        let at = &self.at;
        let problem = match self.s.assignee.as_deref() {
            None => {
                format!("{at}.assignee: required (owner, owner_manager, role:NAME or user:NAME)")
            }
            Some(a) => match Assignee::parse(a) {
                Some(Assignee::Param(p)) if self.params.get(&p) != Some(&ParamType::User) => {
                    format!("{at}.assignee: `{a}`: the model declares no `user` parameter `{p}`")
                }
                Some(assignee) => return assignee,
                None => format!(
                    "{at}.assignee: `{a}` is not owner, owner_manager, role:NAME, user:NAME or param:NAME"
                ),
            },
        };
        self.errors.push(problem);
        Assignee::Owner
    }

    /// A non-blank subject.
    fn subject(&mut self) -> String {
        match &self.s.subject {
            Some(x) if !x.trim().is_empty() => {
                let key = format!("{}.subject", self.at);
                check_placeholders(&key, x, self.record, self.errors);
                x.clone()
            }
            _ => {
                let at = &self.at;
                self.errors.push(format!("{at}.subject: required"));
                String::new()
            }
        }
    }

    /// The topic, whose placeholders must name fields.
    fn topic(&mut self) -> Option<String> {
        let topic = self.s.topic.clone()?;
        let key = format!("{}.topic", self.at);
        check_placeholders(&key, &topic, self.record, self.errors);
        Some(topic)
    }

    fn task(&mut self) -> Action {
        let deadline = self.deadline();
        Action::Task {
            assignee: self.assignee(),
            subject: self.subject(),
            topic: self.topic(),
            due: self.span("due", &self.s.due),
            deadline,
            outcome: self.outcome(),
            due_param: self.duration_param("due_param", &self.s.due_param),
            reminders: self.reminders(),
        }
    }

    /// `outcome` and `due_param` belong to tasks, `duration_param` to
    /// timers: anywhere else they would be silently ignored.
    fn only_where_read(&mut self) {
        let s = self.s;
        let misplaced = [
            ("outcome", s.outcome.is_some(), StepKind::Task),
            ("due_param", s.due_param.is_some(), StepKind::Task),
            (
                "duration_param",
                s.duration_param.is_some(),
                StepKind::Timer,
            ),
            ("reminders", !s.reminders.is_empty(), StepKind::Task),
            ("notify", s.notify.is_some(), StepKind::Notify),
            ("create", s.create.is_some(), StepKind::Create),
            ("events", !s.events.is_empty(), StepKind::Wait),
            ("paths", !s.paths.is_empty(), StepKind::Parallel),
        ];
        if (s.process.is_some() || s.process_version.is_some())
            && !matches!(s.kind, StepKind::Call | StepKind::Start)
        {
            let at = &self.at;
            self.errors
                .push(format!("{at}.process: only a call or start step has it"));
        }
        if !s.fields.is_empty() && !matches!(s.kind, StepKind::Set | StepKind::Create) {
            let at = &self.at;
            self.errors
                .push(format!("{at}.fields: only a set or create step has them"));
        }
        for (what, given, kind) in misplaced {
            if given && s.kind != kind {
                let at = &self.at;
                let e = format!("{at}.{what}: only a {kind:?} step has it").to_lowercase();
                self.errors.push(e);
            }
        }
    }

    /// The outcome form a task asks for, when it asks for one.
    fn outcome(&mut self) -> Option<Form> {
        let text = self.s.outcome.as_deref()?;
        match Form::parse(text) {
            Ok(f) => Some(f),
            Err(e) => {
                let at = &self.at;
                self.errors.push(format!("{at}.outcome: {e}"));
                None
            }
        }
    }

    /// A parameter a step reads as a duration: declared, of type
    /// `duration`.
    fn duration_param(&mut self, what: &str, name: &Option<String>) -> Option<String> {
        let name = name.as_ref()?;
        if self.params.get(name) != Some(&ParamType::Duration) {
            let at = &self.at;
            self.errors.push(format!(
                "{at}.{what}: the model declares no `duration` parameter `{name}`"
            ));
        }
        Some(name.clone())
    }

    /// A task's deadline and the step it leads to: both or neither.
    fn deadline(&mut self) -> Option<(Delay, String)> {
        match (self.span("deadline", &self.s.deadline), &self.s.on_deadline) {
            (Some(d), Some(_)) => self
                .target("on_deadline", &self.s.on_deadline)
                .map(|t| (d, t)),
            (None, None) => None,
            _ => {
                let at = &self.at;
                self.errors
                    .push(format!("{at}: `deadline` and `on_deadline` go together"));
                None
            }
        }
    }

    fn activity(&mut self) -> Action {
        let activity = self.s.activity.clone().unwrap_or_default();
        if !schema::ACTIVITY_TYPES.contains(&activity.as_str()) {
            let at = &self.at;
            self.errors.push(format!(
                "{at}.activity: `{activity}` is not one of {}",
                schema::ACTIVITY_TYPES.join(", ")
            ));
        }
        Action::Activity {
            activity,
            assignee: self.assignee(),
            subject: self.subject(),
            topic: self.topic(),
            offset: self.span("offset", &self.s.offset).unwrap_or_default(),
            duration_minutes: self.s.duration_minutes,
        }
    }

    /// A timer: a duration, a date field of the record, or both.
    fn timer(&mut self) -> Action {
        let d = self.span("duration", &self.s.duration);
        let (at, record) = (&self.at, self.record);
        if let Some(f) = &self.s.until_field {
            match field_of(record, f) {
                Some(def) if matches!(def.ty, FieldType::Date | FieldType::DateTime) => {}
                _ => {
                    let e = format!(
                        "{at}.until_field: `{f}` is not a date field of {}",
                        kind_name(record)
                    );
                    self.errors.push(e);
                }
            }
        }
        if d.is_none() && self.s.until_field.is_none() {
            let at = &self.at;
            self.errors
                .push(format!("{at}: a timer needs `duration` or `until_field`"));
        }
        Action::Timer {
            duration: d,
            until_field: self.s.until_field.clone(),
            duration_param: self.duration_param("duration_param", &self.s.duration_param),
        }
    }

    /// A gateway: at least one branch, each a condition on the record's
    /// fields and an existing step, and a default.
    fn gateway(&mut self) -> Action {
        let mut branches = Vec::new();
        for (i, b) in self.s.branches.iter().enumerate() {
            if let Some(branch) = self.branch(i, &b.condition, &b.next) {
                branches.push(branch);
            }
        }
        let at = self.at.clone();
        if self.s.branches.is_empty() {
            self.errors
                .push(format!("{at}: a gateway needs at least one branch"));
        }
        let default = self.target("default", &self.s.default);
        if self.s.default.is_none() {
            self.errors
                .push(format!("{at}.default: a gateway needs a default branch"));
        }
        Action::Gateway {
            branches,
            default: default.unwrap_or_default(),
        }
    }

    /// A parallel step: 2 to [`MAX_PARALLEL_PATHS`] distinct paths, each
    /// starting at an existing step other than itself and its join (what
    /// the paths may hold is checked over the whole model: see
    /// [`super::parallel`]).
    fn parallel(&mut self) -> Action {
        let firsts: Vec<(String, String)> = self
            .s
            .paths
            .iter()
            .enumerate()
            .map(|(i, p)| (format!("paths[{i}]"), p.clone()))
            .collect();
        let paths = self.path_starts(&firsts, "paths");
        let when = vec![None; paths.len()];
        Action::Parallel {
            paths,
            when,
            default: None,
        }
    }

    /// An inclusive step: a path per branch whose condition holds when the
    /// step is entered, and the `default` path when none does (without
    /// one, the step goes on at its join).
    fn inclusive(&mut self) -> Action {
        let mut firsts = Vec::new();
        let mut when = Vec::new();
        for (i, b) in self.s.branches.iter().enumerate() {
            if let Some((condition, _)) = self.branch(i, &b.condition, &b.next) {
                firsts.push((format!("branches[{i}].next"), b.next.clone()));
                when.push(Some(condition));
            }
        }
        let default = self.s.default.clone().map(|d| {
            firsts.push(("default".to_owned(), d));
            when.push(None);
            when.len() - 1
        });
        let paths = self.path_starts(&firsts, "branches");
        if paths.len() != firsts.len() {
            when.clear(); // a problem was reported: the step is not built
        }
        Action::Parallel {
            paths,
            when,
            default,
        }
    }

    /// The first steps of a parallel or inclusive step's paths (`firsts`:
    /// where each is written, and the step), 2 to [`MAX_PARALLEL_PATHS`]
    /// distinct existing steps other than the step itself and its join.
    fn path_starts(&mut self, firsts: &[(String, String)], what: &str) -> Vec<String> {
        let at = self.at.clone();
        let n = firsts.len();
        if !(2..=MAX_PARALLEL_PATHS).contains(&n) {
            self.errors.push(format!(
                "{at}.{what}: a parallel or inclusive step runs 2 to {MAX_PARALLEL_PATHS} paths, not {n}"
            ));
        }
        let mut paths = Vec::new();
        for (written, first) in firsts {
            let Some(first) = self.target(written, &Some(first.clone())) else {
                continue;
            };
            if first == self.s.id || Some(&first) == self.s.next.as_ref() || paths.contains(&first)
            {
                self.errors.push(format!(
                    "{at}.{written}: `{first}` is this step, its join or another path's start"
                ));
                continue;
            }
            paths.push(first);
        }
        paths
    }

    /// A call or start step: the key of the model it runs (its version is
    /// pinned when the model is published: see [`super::pin_calls`]).
    fn call(&mut self, wait: bool) -> Action {
        let at = self.at.clone();
        let process = self.s.process.clone().unwrap_or_default();
        if !valid_id(&process) {
            self.errors.push(format!(
                "{at}.process: the key of the model to run (1-64 letters, digits, `_` or `-`)"
            ));
        }
        if self.s.process_version.is_some_and(|v| v < 1) {
            self.errors.push(format!(
                "{at}.process_version: a published version (1 or more)"
            ));
        }
        Action::Call {
            process,
            version: self.s.process_version,
            wait,
        }
    }

    /// Branch `i` of a gateway: its condition and target.
    fn branch(&mut self, i: usize, condition: &str, next: &str) -> Option<(Condition, String)> {
        let at = self.at.clone();
        match Condition::parse(condition) {
            Ok(c) => {
                check_condition_fields(
                    &c,
                    self.record,
                    self.vars,
                    &format!("{at}.branches[{i}]"),
                    self.errors,
                );
                let t = self.target(&format!("branches[{i}].next"), &Some(next.to_owned()))?;
                Some((c, t))
            }
            Err(e) => {
                self.errors.push(format!("{at}.branches[{i}]: {e}"));
                None
            }
        }
    }

    /// A `set` step: `field` and `value`, or `fields`; each a field users
    /// may write, with a value it accepts.
    fn set(&mut self) -> Action {
        let at = self.at.clone();
        let mut written: Vec<(String, Option<String>)> = self
            .s
            .fields
            .iter()
            .map(|(f, v)| (f.clone(), Some(v.clone())))
            .collect();
        match (&self.s.field, written.is_empty()) {
            (Some(f), true) => written.push((f.clone(), self.s.value.clone())),
            (Some(_), false) => self.errors.push(format!(
                "{at}: give `field` and `value`, or `fields`, not both"
            )),
            (None, true) => self.errors.push(format!(
                "{at}: a set step needs `field` and `value`, or `fields`"
            )),
            (None, false) => {}
        }
        if written.len() > MAX_SET_FIELDS {
            self.errors.push(format!(
                "{at}.fields: a set step writes at most {MAX_SET_FIELDS} fields"
            ));
            written.clear();
        }
        let writes = written
            .into_iter()
            .filter_map(|(field, value)| {
                let value = self.settable(&field, value.as_deref())?;
                Some((field, value))
            })
            .collect();
        Action::Set { writes }
    }

    /// `value` for `field`, which users may write, as that field reads it.
    fn settable(&mut self, field: &str, value: Option<&str>) -> Option<FieldValue> {
        let (at, record) = (self.at.clone(), self.record);
        match field_of(record, field) {
            Some(def) if !def.system => match value::parse(def, value.unwrap_or_default()) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.errors.push(format!("{at}.value: `{field}`: {e}"));
                    None
                }
            },
            _ => {
                self.errors.push(format!(
                    "{at}.field: `{field}` is not a settable field of {}",
                    kind_name(record)
                ));
                None
            }
        }
    }
}
