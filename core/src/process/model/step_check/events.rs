//! Checking what a `wait` step waits for and a task's reminders.
//!
//! Guarantees: a checked `wait` waits for 1 to [`MAX_WAIT_EVENTS`] events,
//! each exactly one of a message (a valid, unique name), a condition over
//! the record's fields and the model's variables, or a timeout (at most
//! one), each leading to an existing step. A checked reminder has a
//! positive delay, 1 to [`MAX_REMINDER_REPEAT`] repetitions, a known
//! activity type, an assignee and a subject whose placeholders name fields.

use std::collections::BTreeSet;

use super::StepCheck;
use crate::process::condition::Condition;
use crate::process::model::placeholders::check_placeholders;
use crate::process::model::{
    Action, Assignee, MAX_REMINDER_REPEAT, MAX_REMINDERS, MAX_WAIT_EVENTS, Reminder, WaitOn,
    check_condition_fields, valid_id,
};
use crate::schema;

impl StepCheck<'_> {
    /// A `wait` step: what it waits for.
    pub(super) fn wait(&mut self) -> Action {
        let at = self.at.clone();
        let written = &self.s.events;
        if written.is_empty() || written.len() > MAX_WAIT_EVENTS {
            self.errors.push(format!(
                "{at}.events: a wait step waits for 1 to {MAX_WAIT_EVENTS} events"
            ));
        }
        let mut events = Vec::new();
        let mut names = BTreeSet::new();
        let mut timeouts = 0;
        for (i, e) in written.iter().enumerate() {
            let key = format!("{at}.events[{i}]");
            let target = self.target(&format!("events[{i}].next"), &Some(e.next.clone()));
            let on = match (&e.message, &e.condition, &e.after) {
                (Some(m), None, None) => self.message(&key, m, &mut names),
                (None, Some(c), None) => self.wait_condition(&key, c),
                (None, None, Some(a)) => {
                    timeouts += 1;
                    self.span(&format!("events[{i}].after"), &Some(a.clone()))
                        .map(WaitOn::After)
                }
                _ => {
                    self.errors.push(format!(
                        "{key}: give exactly one of `message`, `condition` or `after`"
                    ));
                    None
                }
            };
            if let (Some(on), Some(to)) = (on, target) {
                events.push((on, to));
            }
        }
        if timeouts > 1 {
            self.errors
                .push(format!("{at}.events: at most one `after` (the timeout)"));
        }
        Action::Wait { events }
    }

    /// A message name: an id, unique within the step.
    fn message(&mut self, key: &str, name: &str, seen: &mut BTreeSet<String>) -> Option<WaitOn> {
        if !valid_id(name) {
            self.errors.push(format!(
                "{key}.message: `{name}`: names are 1-64 letters, digits, `_` or `-`"
            ));
            return None;
        }
        if !seen.insert(name.to_owned()) {
            self.errors
                .push(format!("{key}.message: `{name}` is waited for twice"));
            return None;
        }
        Some(WaitOn::Message(name.to_owned()))
    }

    /// A condition over the record's fields and the model's variables.
    fn wait_condition(&mut self, key: &str, text: &str) -> Option<WaitOn> {
        match Condition::parse(text) {
            Ok(c) => {
                check_condition_fields(&c, self.record, self.vars, key, self.errors);
                Some(WaitOn::Condition(c))
            }
            Err(e) => {
                self.errors.push(format!("{key}.condition: {e}"));
                None
            }
        }
    }

    /// A `notify` step: the notice's name.
    pub(super) fn notify(&mut self) -> Action {
        let name = self.s.notify.clone().unwrap_or_default();
        if !valid_id(&name) {
            let at = &self.at;
            self.errors.push(format!(
                "{at}.notify: `{name}`: a notice's name is 1-64 letters, digits, `_` or `-`"
            ));
        }
        Action::Notify { name }
    }

    /// A task's reminders.
    pub(super) fn reminders(&mut self) -> Vec<Reminder> {
        let at = self.at.clone();
        if self.s.reminders.len() > MAX_REMINDERS {
            self.errors.push(format!(
                "{at}.reminders: a task has at most {MAX_REMINDERS} reminders"
            ));
            return Vec::new();
        }
        let task_assignee = self.s.assignee.clone();
        let task_subject = self.s.subject.clone().unwrap_or_default();
        let mut out = Vec::new();
        for (i, r) in self.s.reminders.iter().enumerate() {
            let key = format!("{at}.reminders[{i}]");
            let after = self.span(&format!("reminders[{i}].after"), &Some(r.after.clone()));
            if after.as_ref().is_some_and(|d| !d.is_positive()) {
                self.errors.push(format!(
                    "{key}.after: a reminder comes after more than zero"
                ));
            }
            let repeat = r.repeat.unwrap_or(1);
            if !(1..=MAX_REMINDER_REPEAT).contains(&repeat) {
                self.errors.push(format!(
                    "{key}.repeat: 1 to {MAX_REMINDER_REPEAT} reminders"
                ));
            }
            if !schema::ACTIVITY_TYPES.contains(&r.activity.as_str()) {
                self.errors.push(format!(
                    "{key}.activity: `{}` is not one of {}",
                    r.activity,
                    schema::ACTIVITY_TYPES.join(", ")
                ));
            }
            let assignee = match r.assignee.as_deref().or(task_assignee.as_deref()) {
                Some(a) => self.reminder_assignee(&key, a),
                None => Some(Assignee::Owner),
            };
            let subject = r
                .subject
                .clone()
                .unwrap_or_else(|| format!("Reminder: {task_subject}"));
            check_placeholders(
                &format!("{key}.subject"),
                &subject,
                self.record,
                self.errors,
            );
            if let Some(topic) = &r.topic {
                check_placeholders(&format!("{key}.topic"), topic, self.record, self.errors);
            }
            if let (Some(after), Some(assignee)) = (after, assignee) {
                out.push(Reminder {
                    after,
                    repeat,
                    activity: r.activity.clone(),
                    assignee,
                    subject,
                    topic: r.topic.clone(),
                });
            }
        }
        out
    }

    /// A reminder's assignee, read like a task's.
    fn reminder_assignee(&mut self, key: &str, text: &str) -> Option<Assignee> {
        match Assignee::parse(text) {
            Some(Assignee::Param(p))
                if self.params.get(&p) != Some(&crate::process::outcome::ParamType::User) =>
            {
                self.errors.push(format!(
                    "{key}.assignee: `{text}`: the model declares no `user` parameter `{p}`"
                ));
                None
            }
            Some(a) => Some(a),
            None => {
                self.errors.push(format!(
                    "{key}.assignee: `{text}` is not owner, owner_manager, role:NAME, user:NAME or param:NAME"
                ));
                None
            }
        }
    }
}
