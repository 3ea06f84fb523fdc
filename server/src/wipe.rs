//! Remote wipe: an administrator marks a device (or disables its user, which
//! marks all of theirs); the device's next contact is answered with a wipe
//! order; the device deletes its store and secrets and confirms.
//!
//! # Guarantees
//!
//! - **Shown before done.** [`preview`] gives the unsent local changes the
//!   device reported at its last contact and when; the CLI prints them and
//!   asks before [`wipe_device`] marks anything. They are lost by design:
//!   a wiped device deletes its store without sending them.
//! - **Every step is audited** ([`audit::codes`]): the request (who, which
//!   device, the count shown), each delivery (how: sync or login, from
//!   where) and the confirmation, each in the same transaction as the state
//!   change it records.
//! - **Recognised even when locked out.** A device is recognised by the
//!   login token it presents, live, expired or ended (its user
//!   disabled, its token revoked; see [`tokens::device_of`]), and at a
//!   login that names it once the password of its owner is right (even if
//!   the owner is disabled). That recognition serves the wipe order only:
//!   such a token authenticates nothing else.
//! - **Nothing for strangers.** An unknown token, or a login with wrong
//!   credentials, gets the usual `401`: the answer says nothing
//!   about any device. The order itself, `410 Gone` with
//!   `{code: "device_wiped", message}`, says nothing but that.
//! - **Confirmation only by the device.** `POST /v1/devices/wiped` is
//!   accepted only with a token that named a device that is marked
//!   and not yet confirmed; it then revokes every token of the device.
//! - A device that never contacts the server again is never wiped.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rusqlite::TransactionBehavior;
use serde::{Deserialize, Serialize};

use crate::admin;
use crate::auth;
use crate::db::devices::{self, DeviceInfo, WipeState};
use crate::db::users::{self, User};
use crate::db::{self, audit, tokens};
use crate::error::{Result, ServerError};
use crate::state::AppState;

/// The stable error code of a wipe order (HTTP `410 Gone`, or a sync
/// `error` frame).
pub const DEVICE_WIPED: &str = fieldwork_core::sync::protocol::error_codes::DEVICE_WIPED;

/// The stable error code of a wipe confirmation for a device that is not
/// marked for wipe (HTTP `409 Conflict`).
pub const NOT_MARKED: &str = "not_marked_for_wipe";

/// What the server answers a device marked for wipe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WipeOrder {
    /// Always [`DEVICE_WIPED`].
    pub code: String,
    /// For people.
    pub message: String,
    /// At a login: a token to confirm the wipe with (the device may hold
    /// none). At a sync connection the device confirms with its own token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm_token: Option<String>,
}

impl WipeOrder {
    fn new(confirm_token: Option<String>) -> WipeOrder {
        WipeOrder {
            code: DEVICE_WIPED.to_owned(),
            message: "this device was wiped by an administrator: delete its data and secrets, \
                      then confirm with POST /v1/devices/wiped"
                .to_owned(),
            confirm_token,
        }
    }
}

impl IntoResponse for WipeOrder {
    fn into_response(self) -> Response {
        (StatusCode::GONE, Json(self)).into_response()
    }
}

fn when(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// What a wipe of `d` loses, in one sentence for an administrator:
/// the unsent local changes it reported at its last contact, and when.
pub fn what_is_lost(d: &DeviceInfo) -> String {
    let seen = d.last_seen.map(when).unwrap_or_else(|| "never".to_owned());
    match d.pending_changes {
        Some(n) => format!(
            "device {} ({}): {n} unsent local change(s) reported at its last contact ({seen}); \
             a wipe deletes them without sending them, by design",
            d.device_id, d.user
        ),
        None => format!(
            "device {} ({}): last contact {seen}, no count of unsent local changes reported; \
             whatever it has not sent is deleted without being sent, by design",
            d.device_id, d.user
        ),
    }
}

/// The device as it stands, to show before wiping it.
pub fn preview(state: &AppState, device_id: &str) -> Result<DeviceInfo> {
    state
        .db
        .read_blocking(|c| devices::info(c, device_id))?
        .ok_or_else(|| ServerError::NotFound(format!("device `{device_id}`")))
}

/// Marks one device for wipe, with its audit entry, in one transaction
/// (`by`: who asks). Marking a device already marked changes nothing.
/// Returns the device as it now stands.
pub fn wipe_device(state: &AppState, device_id: &str, by: &str) -> Result<DeviceInfo> {
    let now = state.now_ms();
    let info = state.db.write_blocking(|w| {
        let tx = w
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let info = devices::info(&tx, device_id)?
            .ok_or_else(|| ServerError::NotFound(format!("device `{device_id}`")))?;
        if info.wipe == WipeState::Confirmed {
            return Err(ServerError::Invalid(format!(
                "device `{device_id}` was already wiped"
            )));
        }
        mark(&tx, &info, by, now, "")?;
        let info = devices::info(&tx, device_id)?
            .ok_or_else(|| ServerError::Internal("device vanished".into()))?;
        tx.commit()?;
        Ok(info)
    })?;
    admin::announce(state);
    Ok(info)
}

/// Disables a user (revoking their login tokens) and marks every device of
/// theirs that is not wiped yet, with the audit entries (`admin_disable_user`
/// by `by`, and `device_wipe_requested` per device), in one transaction; the
/// one path of `fieldwork-server user disable` and the admin API. Returns the user and their devices as they now stand.
pub fn disable_user(state: &AppState, name: &str, by: &str) -> Result<(User, Vec<DeviceInfo>)> {
    let now = state.now_ms();
    let out = state.db.write_blocking(|w| {
        let tx = w
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = disable_user_in(&tx, name, by, now)?;
        let what = format!("disabled user `{}`", out.0.name);
        audit::record(
            &tx,
            &audit::AuditEntry::admin(now, by, admin::codes::DISABLE_USER, what),
        )?;
        tx.commit()?;
        Ok(out)
    })?;
    tracing::info!(by, target = %out.0.name, "admin action: user disabled");
    admin::announce(state);
    Ok(out)
}

/// [`disable_user`] inside the caller's transaction (`conn`), which must
/// commit it and then [`admin::announce`].
pub fn disable_user_in(
    conn: &rusqlite::Connection,
    name: &str,
    by: &str,
    now: i64,
) -> Result<(User, Vec<DeviceInfo>)> {
    let user = users::set_disabled(conn, name, true)?;
    let mut marked = Vec::new();
    for id in devices::of_user(conn, user.id)? {
        if let Some(info) = devices::info(conn, &id)? {
            mark(conn, &info, by, now, " (user disabled)")?;
        }
        if let Some(info) = devices::info(conn, &id)? {
            marked.push(info);
        }
    }
    Ok((user, marked))
}

fn mark(
    conn: &rusqlite::Connection,
    info: &DeviceInfo,
    by: &str,
    now: i64,
    why: &str,
) -> Result<()> {
    if devices::mark_for_wipe(conn, &info.device_id, by, now)? {
        audit::record(
            conn,
            &audit::device_entry(
                now,
                by,
                &info.device_id,
                audit::codes::DEVICE_WIPE_REQUESTED,
                format!("wipe requested{why}: {}", what_is_lost(info)),
            ),
        )?;
        db::bump_admin_version(conn)?;
    }
    Ok(())
}

/// Records a delivery: the first delivery time, and an audit entry.
fn delivered(
    conn: &rusqlite::Connection,
    user_id: i64,
    device_id: &str,
    via: &str,
    address: Option<&str>,
    now: i64,
) -> Result<()> {
    devices::wipe_delivered(conn, device_id, now)?;
    let user = users::by_id(conn, user_id)?
        .map(|u| u.name)
        .unwrap_or_else(|| format!("user #{user_id}"));
    audit::record(
        conn,
        &audit::device_entry(
            now,
            &user,
            device_id,
            audit::codes::DEVICE_WIPE_DELIVERED,
            format!(
                "wipe order given at {via}{}",
                address.map(|a| format!(" to {a}")).unwrap_or_default()
            ),
        ),
    )
}

/// The wipe order for the device the login token `token` (live, expired
/// or ended) named, if that device is marked for wipe; records the delivery.
/// `None` for any other token, including one that matches nothing.
pub async fn deliver_for_token(
    state: &AppState,
    token: &str,
    via: &'static str,
    address: Option<String>,
) -> Result<Option<WipeOrder>> {
    let t = token.to_owned();
    let marked = state
        .db
        .read(move |c| match tokens::device_of(c, &t)? {
            Some((user_id, device)) if devices::wipe_pending(c, &device, user_id)? => {
                Ok(Some((user_id, device)))
            }
            _ => Ok(None),
        })
        .await?;
    let Some((user_id, device)) = marked else {
        return Ok(None);
    };
    record_delivery(state, user_id, &device, via, address).await?;
    Ok(Some(WipeOrder::new(None)))
}

/// Records, in one transaction with its audit entry, that the wipe order
/// was given to `device_id` (see [`delivered`]).
async fn record_delivery(
    state: &AppState,
    user_id: i64,
    device_id: &str,
    via: &'static str,
    address: Option<String>,
) -> Result<()> {
    let now = state.now_ms();
    let d = device_id.to_owned();
    state
        .db
        .write(move |w| {
            let tx = w
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            delivered(&tx, user_id, &d, via, address.as_deref(), now)?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    tracing::info!(device = %device_id, via, "wipe order delivered");
    Ok(())
}

/// Whether the device a login names is marked for wipe and belongs to
/// `user` (then its owner's password is checked even if they are disabled).
pub fn login_names_marked_device(
    conn: &rusqlite::Connection,
    user: &User,
    device_id: Option<&str>,
) -> Result<bool> {
    match device_id {
        Some(d) => devices::wipe_pending(conn, d, user.id),
        None => Ok(false),
    }
}

/// The wipe order for a login whose credentials were right and that named
/// a device of that user marked for wipe; records the delivery and issues
/// the token the device confirms with.
pub async fn deliver_at_login(
    state: &AppState,
    user: &str,
    device_id: &str,
    address: Option<String>,
) -> Result<WipeOrder> {
    let now = state.now_ms();
    let confirm = auth::new_token();
    let (name, device, c) = (user.to_owned(), device_id.to_owned(), confirm.clone());
    state
        .db
        .write(move |w| {
            let tx = w
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let user = users::by_name(&tx, &name)?.ok_or(ServerError::InvalidCredentials)?;
            if !devices::wipe_pending(&tx, &device, user.id)? {
                return Err(ServerError::Internal(
                    "the wipe was confirmed meanwhile".into(),
                ));
            }
            tokens::create_ended(&tx, &c, user.id, &device, now)?;
            delivered(&tx, user.id, &device, "login", address.as_deref(), now)?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    tracing::info!(device = %device_id, "wipe order delivered at login");
    Ok(WipeOrder::new(Some(confirm)))
}

/// A device's confirmation that it deleted its store and secrets
/// (`POST /v1/devices/wiped` with the token it was given the order with).
/// `Err(Unauthorized)`: the token matches no login token that named a device;
/// `Ok(None)`: that device is not marked for wipe (nothing recorded);
/// `Ok(Some(device))`: recorded, and every token of the device revoked.
pub async fn confirm(state: &AppState, token: &str) -> Result<Option<DeviceInfo>> {
    let now = state.now_ms();
    let t = token.to_owned();
    let out = state
        .db
        .write(move |w| {
            let tx = w
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let (user_id, device) = tokens::device_of(&tx, &t)?.ok_or(ServerError::Unauthorized)?;
            if !devices::wipe_pending(&tx, &device, user_id)? {
                return Ok(None);
            }
            devices::wipe_confirmed(&tx, &device, now)?;
            let ended = tokens::revoke_device(&tx, &device)?;
            let user = users::by_id(&tx, user_id)?
                .map(|u| u.name)
                .unwrap_or_else(|| format!("user #{user_id}"));
            audit::record(
                &tx,
                &audit::device_entry(
                    now,
                    &user,
                    &device,
                    audit::codes::DEVICE_WIPE_CONFIRMED,
                    format!("the device confirmed its wipe; {ended} session(s) of it ended"),
                ),
            )?;
            let info = devices::info(&tx, &device)?;
            tx.commit()?;
            Ok(info)
        })
        .await?;
    if let Some(d) = &out {
        tracing::info!(device = %d.device_id, user = %d.user, "wipe confirmed");
    }
    Ok(out)
}

/// The refusal of a confirmation for a device not marked for wipe.
pub fn not_marked() -> Response {
    (
        StatusCode::CONFLICT,
        Json(crate::error::ErrorBody {
            code: NOT_MARKED,
            message: "this device is not marked for wipe".to_owned(),
        }),
    )
        .into_response()
}

/// Records the delivery of a wipe order inside a sync connection (the
/// device was marked while connected, or said hello as a marked device),
/// on the current thread: the sync state machine's step runs it.
pub fn delivered_in_session(
    state: &AppState,
    device_id: &str,
    user_id: i64,
    via: &'static str,
) -> Result<WipeOrder> {
    let now = state.now_ms();
    state.db.write_blocking(|w| {
        let tx = w
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        delivered(&tx, user_id, device_id, via, None, now)?;
        tx.commit()?;
        Ok(())
    })?;
    tracing::info!(device = %device_id, via, "wipe order delivered");
    Ok(WipeOrder::new(None))
}
