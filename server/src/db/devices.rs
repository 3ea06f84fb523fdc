//! Devices and the documents each one holds (to revoke what it may no
//! longer see).

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Result, ServerError};

/// What the server remembers about a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The device's id.
    pub device_id: String,
    /// The user it belongs to.
    pub user_id: i64,
    /// The policy revision its document set was last reconciled with.
    pub policy_revision: u64,
    /// The user version its document set was last reconciled with.
    pub user_version: i64,
}

/// Whether `id` is an acceptable device id: 1 to 64 bytes, no control
/// characters (it is stored, logged and shown to administrators). The one
/// rule for login and for the sync `hello`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && !id.chars().any(char::is_control)
}

/// Registers a device for a user, or returns it. A device id is bound to
/// the first user who syncs with it.
pub fn register(conn: &Connection, device_id: &str, user_id: i64, now_ms: i64) -> Result<Device> {
    conn.execute(
        "INSERT INTO devices(device_id, user_id, last_seen) VALUES (?1, ?2, ?3)
         ON CONFLICT(device_id) DO UPDATE SET last_seen = ?3",
        params![device_id, user_id, now_ms],
    )?;
    let device = conn
        .query_row(
            "SELECT device_id, user_id, policy_revision, user_version FROM devices WHERE device_id = ?1",
            [device_id],
            |r| {
                Ok(Device {
                    device_id: r.get(0)?,
                    user_id: r.get(1)?,
                    policy_revision: r.get::<_, i64>(2)? as u64,
                    user_version: r.get(3)?,
                })
            },
        )
        .optional()?
        .ok_or_else(|| ServerError::Internal("device vanished".into()))?;
    if device.user_id != user_id {
        return Err(ServerError::Forbidden(format!(
            "device {device_id} belongs to another user"
        )));
    }
    Ok(device)
}

/// Records which policy revision and user version the device's document set
/// now reflects.
pub fn reconciled(
    conn: &Connection,
    device_id: &str,
    policy_revision: u64,
    user_version: i64,
) -> Result<()> {
    conn.execute(
        "UPDATE devices SET policy_revision = ?2, user_version = ?3 WHERE device_id = ?1",
        params![device_id, policy_revision as i64, user_version],
    )?;
    Ok(())
}

/// Notes that the device now holds these documents, in their current generation.
pub fn hold(conn: &Connection, device_id: &str, docs: &[String]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO device_docs(device_id, doc_id, generation)
         VALUES (?1, ?2, COALESCE((SELECT generation FROM documents WHERE doc_id = ?2), 0))
         ON CONFLICT(device_id, doc_id) DO UPDATE SET generation = excluded.generation",
    )?;
    for doc in docs {
        stmt.execute(params![device_id, doc])?;
    }
    Ok(())
}

/// Notes that the device no longer holds these documents.
pub fn release(conn: &Connection, device_id: &str, docs: &[String]) -> Result<()> {
    let mut stmt =
        conn.prepare_cached("DELETE FROM device_docs WHERE device_id = ?1 AND doc_id = ?2")?;
    for doc in docs {
        stmt.execute(params![device_id, doc])?;
    }
    Ok(())
}

/// Forgets every document the device held (it starts over).
pub fn release_all(conn: &Connection, device_id: &str) -> Result<()> {
    conn.execute("DELETE FROM device_docs WHERE device_id = ?1", [device_id])?;
    Ok(())
}

/// The documents the device holds among `docs`, with whether its copy is
/// of an older generation than the server's (it must be replaced).
pub fn held_among(
    conn: &Connection,
    device_id: &str,
    docs: &[String],
) -> Result<Vec<(String, bool)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT h.generation < COALESCE(d.generation, 0)
           FROM device_docs h LEFT JOIN documents d ON d.doc_id = h.doc_id
          WHERE h.device_id = ?1 AND h.doc_id = ?2",
    )?;
    let mut out = Vec::new();
    for doc in docs {
        let stale: Option<bool> = stmt
            .query_row(params![device_id, doc], |r| r.get(0))
            .optional()?;
        if let Some(stale) = stale {
            out.push((doc.clone(), stale));
        }
    }
    Ok(out)
}

/// Every document the device holds.
pub fn held(conn: &Connection, device_id: &str) -> Result<Vec<String>> {
    let mut stmt =
        conn.prepare("SELECT doc_id FROM device_docs WHERE device_id = ?1 ORDER BY doc_id")?;
    let rows = stmt.query_map([device_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The feed position the device's cursor must reach to confirm what
/// `device_docs` records it holds (0: nothing unconfirmed, also for a
/// device the server does not know).
pub fn docs_confirm_seq(conn: &Connection, device_id: &str) -> Result<u64> {
    let seq: Option<i64> = conn
        .query_row(
            "SELECT docs_confirm_seq FROM devices WHERE device_id = ?1",
            [device_id],
            |r| r.get(0),
        )
        .optional()?;
    Ok(seq.map_or(0, |s| s.max(0) as u64))
}

/// Raises [`docs_confirm_seq`] to `seq`, keeping a higher one already
/// recorded; writes nothing when it is already at least `seq`. Runs in the
/// caller's transaction. Fails (changing nothing) when the device is not
/// registered: a confirmation position that could not be recorded must not
/// pass for "confirmed".
pub fn raise_docs_confirm_seq(conn: &Connection, device_id: &str, seq: u64) -> Result<()> {
    let seq = seq.min(i64::MAX as u64) as i64;
    let raised = conn.execute(
        "UPDATE devices SET docs_confirm_seq = ?2
          WHERE device_id = ?1 AND docs_confirm_seq < ?2",
        params![device_id, seq],
    )?;
    if raised == 0 && !registered(conn, device_id)? {
        return Err(ServerError::Internal(format!(
            "device {device_id} is not registered"
        )));
    }
    Ok(())
}

/// Resets [`docs_confirm_seq`] to 0 (the device's `device_docs` was
/// emptied, to be rebuilt); writes nothing when it already is 0 or the
/// device is not registered. Runs in the caller's transaction.
pub fn reset_docs_confirm_seq(conn: &Connection, device_id: &str) -> Result<()> {
    conn.execute(
        "UPDATE devices SET docs_confirm_seq = 0 WHERE device_id = ?1 AND docs_confirm_seq <> 0",
        [device_id],
    )?;
    Ok(())
}

fn registered(conn: &Connection, device_id: &str) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM devices WHERE device_id = ?1",
            [device_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Longest app version recorded, in bytes.
pub const MAX_APP_VERSION_BYTES: usize = 128;

/// Where a device stands with remote wipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WipeState {
    /// Not marked for wipe.
    None,
    /// Marked; the device has not contacted the server since.
    Requested,
    /// The wipe order was given to the device; it has not confirmed yet.
    Delivered,
    /// The device confirmed that its store and secrets are deleted.
    Confirmed,
}

impl WipeState {
    /// The state's name as shown to administrators.
    pub fn as_str(self) -> &'static str {
        match self {
            WipeState::None => "none",
            WipeState::Requested => "requested",
            WipeState::Delivered => "delivered",
            WipeState::Confirmed => "confirmed",
        }
    }
}

/// A device as administrators see it (`device list`, `GET /v1/admin/devices`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DeviceInfo {
    /// The device's id.
    pub device_id: String,
    /// The name of the user it belongs to.
    pub user: String,
    /// The last sync hello (ms since the Unix epoch).
    pub last_seen: Option<i64>,
    /// The app version it reported then.
    pub app_version: Option<String>,
    /// The local changes it had not sent yet when it last said hello, less
    /// those it pushed on that connection (`None`: it never reported).
    pub pending_changes: Option<u64>,
    /// The address it last connected from.
    pub last_address: Option<String>,
    /// Where it stands with remote wipe.
    pub wipe: WipeState,
    /// When an administrator marked it for wipe.
    pub wipe_requested_at: Option<i64>,
    /// Who did.
    pub wipe_requested_by: Option<String>,
    /// When the wipe order was first given to it.
    pub wipe_delivered_at: Option<i64>,
    /// When it confirmed the wipe.
    pub wipe_confirmed_at: Option<i64>,
}

const INFO_SELECT: &str =
    "SELECT d.device_id, u.name, d.last_seen, d.app_version, d.pending_changes,
        d.last_address, d.wipe_requested_at, d.wipe_requested_by, d.wipe_delivered_at,
        d.wipe_confirmed_at, d.user_id
   FROM devices d JOIN users u ON u.id = d.user_id";

fn info_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceInfo> {
    let requested: Option<i64> = r.get(6)?;
    let delivered: Option<i64> = r.get(8)?;
    let confirmed: Option<i64> = r.get(9)?;
    let wipe = match (requested, delivered, confirmed) {
        (_, _, Some(_)) => WipeState::Confirmed,
        (_, Some(_), None) => WipeState::Delivered,
        (Some(_), None, None) => WipeState::Requested,
        (None, None, None) => WipeState::None,
    };
    Ok(DeviceInfo {
        device_id: r.get(0)?,
        user: r.get(1)?,
        last_seen: r.get(2)?,
        app_version: r.get(3)?,
        pending_changes: r.get::<_, Option<i64>>(4)?.map(|n| n.max(0) as u64),
        last_address: r.get(5)?,
        wipe,
        wipe_requested_at: requested,
        wipe_requested_by: r.get(7)?,
        wipe_delivered_at: delivered,
        wipe_confirmed_at: confirmed,
    })
}

/// Every device, or those of `user`, by user then device id.
pub fn list(conn: &Connection, user: Option<&str>) -> Result<Vec<DeviceInfo>> {
    let mut stmt = conn.prepare(&format!(
        "{INFO_SELECT} WHERE ?1 IS NULL OR u.name = ?1 ORDER BY u.name, d.device_id"
    ))?;
    let rows = stmt.query_map([user], info_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One device.
pub fn info(conn: &Connection, device_id: &str) -> Result<Option<DeviceInfo>> {
    Ok(conn
        .query_row(
            &format!("{INFO_SELECT} WHERE d.device_id = ?1"),
            [device_id],
            info_from_row,
        )
        .optional()?)
}

/// The ids of a user's devices that are not wiped yet (not confirmed).
pub fn of_user(conn: &Connection, user_id: i64) -> Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT device_id FROM devices WHERE user_id = ?1 AND wipe_confirmed_at IS NULL
         ORDER BY device_id",
    )?;
    let rows = stmt.query_map([user_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Records what a device reported in its hello (with [`register`], which
/// sets `last_seen`): its app version (kept only when at most
/// [`MAX_APP_VERSION_BYTES`] bytes without control characters), its unsent
/// local changes, and the address it connected from.
pub fn record_hello(
    conn: &Connection,
    device_id: &str,
    app_version: Option<&str>,
    pending_changes: Option<u64>,
    address: Option<&str>,
) -> Result<()> {
    let app_version = app_version.filter(|v| {
        !v.is_empty() && v.len() <= MAX_APP_VERSION_BYTES && !v.chars().any(char::is_control)
    });
    let pending = pending_changes.map(|n| n.min(i64::MAX as u64) as i64);
    conn.execute(
        "UPDATE devices SET app_version = ?2, pending_changes = ?3,
                last_address = COALESCE(?4, last_address)
          WHERE device_id = ?1",
        params![device_id, app_version, pending, address],
    )?;
    Ok(())
}

/// The device pushed `n` changes the server answered (accepted or refused):
/// they are no longer unsent.
pub fn pushed(conn: &Connection, device_id: &str, n: usize) -> Result<()> {
    conn.execute(
        "UPDATE devices SET pending_changes = max(pending_changes - ?2, 0)
          WHERE device_id = ?1 AND pending_changes IS NOT NULL",
        params![device_id, n.min(i64::MAX as usize) as i64],
    )?;
    Ok(())
}

/// Whether `device_id`, belonging to `user_id`, is marked for wipe and has
/// not confirmed it.
pub fn wipe_pending(conn: &Connection, device_id: &str, user_id: i64) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM devices WHERE device_id = ?1 AND user_id = ?2
                AND wipe_requested_at IS NOT NULL AND wipe_confirmed_at IS NULL",
            params![device_id, user_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Marks a device for wipe; returns `false` (changing nothing) when it
/// already was.
pub fn mark_for_wipe(conn: &Connection, device_id: &str, by: &str, now_ms: i64) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE devices SET wipe_requested_at = ?2, wipe_requested_by = ?3
          WHERE device_id = ?1 AND wipe_requested_at IS NULL",
        params![device_id, now_ms, by],
    )? > 0)
}

/// Notes that the wipe order was given (the first time counts).
pub fn wipe_delivered(conn: &Connection, device_id: &str, now_ms: i64) -> Result<()> {
    conn.execute(
        "UPDATE devices SET wipe_delivered_at = COALESCE(wipe_delivered_at, ?2)
          WHERE device_id = ?1",
        params![device_id, now_ms],
    )?;
    Ok(())
}

/// Notes that the device confirmed its wipe; it holds no documents any more.
pub fn wipe_confirmed(conn: &Connection, device_id: &str, now_ms: i64) -> Result<()> {
    conn.execute(
        "UPDATE devices SET wipe_confirmed_at = ?2, wipe_delivered_at = COALESCE(wipe_delivered_at, ?2)
          WHERE device_id = ?1",
        params![device_id, now_ms],
    )?;
    release_all(conn, device_id)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().expect("open");
        crate::db::migrations::migrate(&mut conn, Path::new("server.db")).expect("migrate");
        conn.execute(
            "INSERT INTO users(id, name, role, password_hash, created_at) VALUES (1, 'ann', 'rep', 'h', 1)",
            [],
        )
        .expect("user");
        conn
    }

    #[test]
    fn the_confirmation_position_only_rises_until_reset() {
        let conn = db();
        register(&conn, "d1", 1, 1).expect("register");
        assert_eq!(docs_confirm_seq(&conn, "d1").expect("read"), 0);
        raise_docs_confirm_seq(&conn, "d1", 7).expect("raise");
        raise_docs_confirm_seq(&conn, "d1", 3).expect("lower is kept");
        assert_eq!(docs_confirm_seq(&conn, "d1").expect("read"), 7);
        // A later hello does not forget it.
        register(&conn, "d1", 1, 2).expect("register again");
        assert_eq!(docs_confirm_seq(&conn, "d1").expect("read"), 7);
        reset_docs_confirm_seq(&conn, "d1").expect("reset");
        assert_eq!(docs_confirm_seq(&conn, "d1").expect("read"), 0);
    }

    #[test]
    fn an_unregistered_device_is_refused_a_mark_and_reads_as_confirmed() {
        let conn = db();
        assert!(matches!(
            raise_docs_confirm_seq(&conn, "ghost", 5),
            Err(ServerError::Internal(_))
        ));
        assert_eq!(docs_confirm_seq(&conn, "ghost").expect("read"), 0);
        reset_docs_confirm_seq(&conn, "ghost").expect("reset is a no-op");
    }
}
