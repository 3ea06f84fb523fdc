//! The `wait` step: the first of a message, a change of the record or a
//! timeout leads on (BPMN's event-based gateway, message and conditional
//! catch events, receive tasks).
//!
//! Guarantees:
//! - **A message counts once, and only when it was waited for**: a message
//!   sent at or after the step was entered, and not already used to leave
//!   an earlier visit on the path, leaves the step at the moment it was
//!   sent. A message sent before (nobody was waiting) stays in the log and
//!   leaves nothing.
//! - **Timeouts are as exact as timers**: dated when due (business time in
//!   the calendar's zone), whichever replica notices.
//! - **A condition leaves when an engine sees it hold** (on a write of the
//!   record on the device, on an accepted push of it on the server, or on
//!   any run of the instance): dated then, not earlier than the step's
//!   entry. Two replicas that see it at different moments write one event
//!   each; the earliest wins, as for any step ([`super::super::instance`]).
//! - Of several events that happened, the earliest leads on; at the same
//!   instant, the first as written.

use std::collections::BTreeSet;

use jiff::Timestamp;

use super::{ENGINE, Here, Run};
use crate::process::instance::{Event, EventKind, Position, fold};
use crate::process::model::WaitOn;

/// How a wait step is left, found at `at`.
enum Exit {
    /// By the message logged under this key.
    Message(String),
    Timer,
    Condition,
}

impl Run<'_, '_> {
    /// A `wait` step: leaves by the earliest event that happened;
    /// otherwise waits (until the timeout, or for a message or a change).
    pub(super) fn wait(
        &mut self,
        at: &Here<'_>,
        events: &[(WaitOn, String)],
    ) -> Option<(String, Event)> {
        let position = fold(&self.instance, self.inputs.start);
        let paths = super::branch_paths(&self.instance, &position, self.inputs.model);
        let used = used_messages(&position, &paths);
        let mut best: Option<(Timestamp, usize, Exit)> = None;
        for (i, (on, _)) in events.iter().enumerate() {
            let found = match on {
                WaitOn::Message(name) => self
                    .first_message(name, at.entered, &used)
                    .map(|(key, t)| (t, Exit::Message(key))),
                WaitOn::After(delay) => {
                    let due = self.org_after(at.entered, *delay).max(at.entered);
                    if due > self.inputs.now {
                        self.wake(due);
                        None
                    } else {
                        Some((due, Exit::Timer))
                    }
                }
                WaitOn::Condition(c) => {
                    self.watch = true;
                    c.eval(&self.condition_fields(at.record))
                        .then(|| (self.inputs.now.max(at.entered), Exit::Condition))
                }
            };
            if let Some((t, exit)) = found
                && best.as_ref().is_none_or(|(bt, _, _)| t < *bt)
            {
                best = Some((t, i, exit));
            }
        }
        let (when, i, exit) = best?;
        let to = events.get(i).map(|(_, to)| to.clone());
        Some(match exit {
            Exit::Message(key) => {
                let (plain_key, mut event) = at.left("message", when, ENGINE, to);
                event.message = Some(key);
                // Keyed by the message's name, as the server expects.
                (event.own_key().unwrap_or(plain_key), event)
            }
            Exit::Timer => at.left("timer", when, ENGINE, to),
            Exit::Condition => at.left("condition", when, ENGINE, to),
        })
    }

    /// The earliest message `name` sent at or after `since` that no earlier
    /// visit used: its key and when it was sent.
    fn first_message(
        &self,
        name: &str,
        since: Timestamp,
        used: &BTreeSet<String>,
    ) -> Option<(String, Timestamp)> {
        self.instance
            .events
            .iter()
            .filter(|(key, e)| {
                e.kind == EventKind::Message
                    && e.message.as_deref() == Some(name)
                    && e.at >= since
                    && !used.contains(*key)
            })
            .min_by(|a, b| (a.1.at, a.0).cmp(&(b.1.at, b.0)))
            .map(|(key, e)| (key.clone(), e.at))
    }
}

/// The messages the path (and the paths of its parallel steps) used to
/// leave a step.
fn used_messages(position: &Position, paths: &[super::PathVisits]) -> BTreeSet<String> {
    position
        .path
        .iter()
        .chain(paths.iter().flat_map(|p| p.visits.iter()))
        .filter_map(|v| v.left.as_ref())
        .filter(|(_, e)| e.via.as_deref() == Some("message"))
        .filter_map(|(_, e)| e.message.clone())
        .collect()
}
