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
