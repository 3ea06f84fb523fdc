//! A device's `Push`: bounded, checked and stored by [`crate::sync::push`],
//! answered with a `PushResult`.
//!
//! Guarantees: every pushed change is either acknowledged (stored, on disk)
//! or refused with a code; a push beyond the configured bounds is refused
//! whole (`batch_too_large`) before the writer is taken; a disabled user's
//! push closes the connection with `user_disabled`; an accepted edit of a
//! merged record is then forwarded to the record kept
//! ([`crate::sync::redirect`]), never undoing the push.

use fieldwork_core::sync::protocol::{
    Ack, Batch, Push, PushResult, PushedChange, Refusal, ServerMessage, error_codes,
};
use serde_bytes::ByteBuf;

use super::{Close, Open, Step, close};
use crate::db::{devices, users};
use crate::sync::push::{self, Incoming, PushCtx, PushOutcome};

impl Open {
    pub(super) fn on_push(&mut self, push: Push) -> Step {
        let config = &self.state.config;
        let bytes: usize = push.changes.iter().map(|c| c.bytes.len()).sum();
        if push.changes.len() > config.max_push_changes || bytes > config.max_push_bytes {
            let message = format!(
                "a push may hold at most {} changes and {} bytes; this one has {} and {bytes}",
                config.max_push_changes,
                config.max_push_bytes,
                push.changes.len()
            );
            tracing::warn!(user = %self.user.name, changes = push.changes.len(), bytes, "refused an oversized push");
            let changes: Vec<Incoming> = push.changes.into_iter().map(incoming).collect();
            self.send(ServerMessage::PushResult(PushResult {
                batch: push.batch,
                accepted: Vec::new(),
                refused: too_large(&changes, &message),
            }));
            return Ok(());
        }
        let outcome = self.push_changes(push.changes.into_iter().map(incoming).collect())?;
        self.send(ServerMessage::PushResult(PushResult {
            batch: push.batch,
            accepted: outcome
                .accepted
                .iter()
                .map(|(doc, hash)| Ack {
                    doc: doc.to_string(),
                    hash: ByteBuf::from(hash.0.to_vec()),
                })
                .collect(),
            refused: outcome.refused,
        }));
        let again: Vec<String> = outcome
            .accepted
            .iter()
            .map(|(d, _)| d.to_string())
            .filter(|d| self.revoked.resent(d))
            .collect();
        if !again.is_empty() {
            self.send_whole_again(&again)?;
        }
        Ok(())
    }

    /// Sends `docs` whole: the device pushed to them before a revocation
    /// reached it and was sent them again without its change (see
    /// `super::revoked`); it merges what it already has.
    fn send_whole_again(&mut self, docs: &[String]) -> Step {
        let whole = self.state.db.read_blocking(|c| {
            let mut out = Vec::new();
            for doc in docs {
                out.extend(super::delivery::whole(c, doc, false)?);
            }
            Ok(out)
        })?;
        self.send(ServerMessage::Batch(Batch {
            docs: whole,
            cursor: None,
            done: None,
        }));
        Ok(())
    }

    /// Runs changes through the writer's checks and stores what passes.
    pub(super) fn push_changes(&mut self, changes: Vec<Incoming>) -> Result<PushOutcome, Close> {
        // Byte-bounded prechecks before the writer is taken: each change is
        // measured without Automerge (size, chunk type, operations), and a
        // push whose operations add up to more than `max_push_ops` is
        // refused whole here. Inside, a change that fails the measure is
        // refused by the same byte scan before any Automerge parsing.
        let max_ops = self.state.config.max_push_ops;
        let ops = changes
            .iter()
            .map(Incoming::ops)
            .fold(0u64, u64::saturating_add);
        if ops > max_ops as u64 {
            tracing::warn!(user = %self.user.name, ops, "refused a push with too many operations");
            let message =
                format!("a push may hold at most {max_ops} operations in all; this one has {ops}");
            return Ok(PushOutcome {
                refused: too_large(&changes, &message),
                ..Default::default()
            });
        }
        let state = &self.state;
        let now = state.now_ms();
        let (user, revision) = (self.user.clone(), self.policy_revision);
        let (access, device, revoked) = (&self.access, self.device.as_str(), &self.revoked);
        state
            .db
            .write_blocking(|w| {
                // Rights are read where the push is decided: a user disabled,
                // or whose role, territories or policy changed, since the
                // connection last heard is judged by what is in force now,
                // not after the next administrative event. (`None`:
                // disabled.) Until the connection hears of the change and
                // tells the device, each push re-reads them here.
                let Some(fresh) = users::by_id(&w.conn, user.id)?.filter(|u| !u.disabled) else {
                    return Ok(None);
                };
                let (user, access) = if fresh.version == user.version
                    && crate::db::policy::revision(&w.conn)? == revision
                {
                    (user, access.clone())
                } else {
                    let (_, access) = crate::db::access::access_for(&w.conn, &fresh)?;
                    (fresh, access)
                };
                let outcome = push::apply_measured(
                    w,
                    &state.hub,
                    &state.actor,
                    PushCtx {
                        user: &user,
                        access: &access,
                        device: Some(device),
                        now_ms: now,
                        all_or_nothing: false,
                    },
                    changes,
                )?;
                // A document revoked on this connection and pushed to
                // before the device applied the revocation: it is about to
                // drop it, so it does not hold it (see `super::revoked`).
                let dropping: Vec<String> = outcome
                    .accepted
                    .iter()
                    .map(|(d, _)| d.to_string())
                    .filter(|d| revoked.covers(d))
                    .collect();
                devices::release(&w.conn, device, &dropping)?;
                // Answered changes leave the device's outbox: keep its
                // reported count of unsent changes truthful.
                devices::pushed(
                    &w.conn,
                    device,
                    outcome.accepted.len() + outcome.refused.len(),
                )?;
                // Edits of merged records go on to the records kept.
                let who = crate::sync::redirect::Editing {
                    state,
                    user: &user,
                    access: &access,
                };
                crate::sync::redirect::after_push(w, who, &outcome.events);
                // Instances touched by the push run now, next to the data.
                // Their failure must not undo the accepted push.
                let docs: Vec<_> = outcome.accepted.iter().map(|(d, _)| d.clone()).collect();
                if let Err(e) = crate::processes::after_push(
                    w,
                    &state.hub,
                    &state.actor,
                    state.clock.now(),
                    &docs,
                ) {
                    tracing::warn!(error = %e, "process engine failed after a push");
                }
                Ok(Some(outcome))
            })?
            .ok_or_else(|| close(error_codes::USER_DISABLED, "this user was disabled"))
    }
}

/// A pushed change, measured once on arrival.
pub(super) fn incoming(c: PushedChange) -> Incoming {
    Incoming::new(c.doc, c.bytes.into_vec())
}

/// Every change of a push refused as `batch_too_large`, saying `message`.
fn too_large(changes: &[Incoming], message: &str) -> Vec<Refusal> {
    changes
        .iter()
        .map(|c| Refusal {
            hash: ByteBuf::from(c.hash.map(|h| h.0.to_vec()).unwrap_or_default()),
            doc: c.doc.clone(),
            code: error_codes::BATCH_TOO_LARGE.into(),
            field: None,
            rule: "limits".into(),
            message: message.to_owned(),
        })
        .collect()
}
