//! Administrative changes seen by a connection: a disabled user is closed,
//! a device marked for wipe is told so, and a change of role, territories or
//! policy is announced and reconciled.
//!
//! Guarantees: the device hears a `Policy` update before any revocation or
//! document the change causes; a disabled user's connection closes with
//! `user_disabled`.

use fieldwork_core::Access;
use fieldwork_core::sync::protocol::{PolicyUpdate, ServerMessage, error_codes};

use super::{Close, Open, Step, close};
use crate::db::access::access_for;
use crate::db::devices;
use crate::db::users;

use crate::state::AppState;

/// The wipe order for a device marked for wipe (recorded as delivered),
/// `None` otherwise: a marked device is never welcomed nor kept connected.
pub(super) fn wipe_ordered(
    state: &AppState,
    device: &str,
    user_id: i64,
    via: &'static str,
) -> Option<Close> {
    match state
        .db
        .read_blocking(|c| devices::wipe_pending(c, device, user_id))
    {
        Ok(false) => None,
        Ok(true) => match crate::wipe::delivered_in_session(state, device, user_id, via) {
            Ok(order) => Some(close(error_codes::DEVICE_WIPED, order.message)),
            Err(e) => Some(e.into()),
        },
        Err(e) => Some(e.into()),
    }
}

impl Open {
    /// Users or the policy changed: re-read this user's rights and act on
    /// what changed.
    pub(super) fn on_admin_changed(&mut self) -> Step {
        if let Some(c) = wipe_ordered(&self.state, &self.device, self.user.id, "sync") {
            return Err(c);
        }
        let id = self.user.id;
        let (user, revision, access) = self
            .state
            .db
            .read_blocking(|c| match users::by_id(c, id)? {
                Some(u) if !u.disabled => {
                    let (revision, access) = access_for(c, &u)?;
                    Ok(Some((u, revision, access)))
                }
                _ => Ok(None),
            })?
            .ok_or_else(|| close(error_codes::USER_DISABLED, "this user was disabled"))?;
        if user.version == self.user.version && revision == self.policy_revision {
            return Ok(());
        }
        self.user = user;
        self.policy_revision = revision;
        self.access = access;
        if let Access::User { user, policy } = &self.access {
            let update = ServerMessage::Policy(PolicyUpdate {
                user: user.clone(),
                policy: policy.source().to_owned(),
                policy_revision: revision,
            });
            self.send(update);
        }
        if self.compare.is_some() {
            // Compare ends by sending what is visible then; until then,
            // revoke what is no longer visible.
            return self.revoke_in_compare();
        }
        self.reconcile(super::catchup::Then::Stay)
    }
}
