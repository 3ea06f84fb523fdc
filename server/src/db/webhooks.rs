//! Webhook subscriptions, the durable outbox of deliveries and the log of
//! delivery attempts (tables of migration 008; the events and the worker
//! are in [`crate::webhooks`]).
//!
//! Guarantees:
//! - a delivery is written by [`enqueue`] in the caller's transaction, so
//!   it exists exactly when the change it reports was committed;
//! - [`claim`] hands out at most one delivery per subscription per call and
//!   pushes its `next_attempt_at` forward by a lease: a claim lost with a
//!   crashed worker becomes due again when the lease ends (at least once);
//! - a delivery leaves `pending` only through [`finish`] (delivered, or
//!   failed after the last attempt) or when its subscription is deleted
//!   ([`deactivate`]); [`redeliver`] makes any delivery pending and due now;
//! - every list is bounded by a limit.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use crate::error::Result;

/// A subscription as stored (the secret is never read back out of here
/// except by the delivery worker, [`claim`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Subscription {
    /// Its id.
    pub id: i64,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The service user whose rights filter the payloads.
    pub user: String,
    /// The event types it receives.
    pub events: Vec<String>,
    /// The record kinds it receives (`None`: every kind).
    pub kinds: Option<Vec<String>>,
    /// Whether it still receives events (deleted subscriptions do not).
    pub active: bool,
    /// When it was made (ms since the Unix epoch).
    pub created_at: i64,
    /// The administrator who made it.
    pub created_by: String,
}

/// An active subscription with what the event builder needs.
#[derive(Debug, Clone)]
pub struct Active {
    /// Its id.
    pub id: i64,
    /// Its service user's row id.
    pub user_id: i64,
    /// The event types it receives.
    pub events: Vec<String>,
    /// The record kinds it receives (`None`: every kind).
    pub kinds: Option<Vec<String>>,
}

impl Active {
    /// Whether it receives `event` about a record of `kind`.
    pub fn wants(&self, event: &str, kind: &str) -> bool {
        self.events.iter().any(|e| e == event)
            && self
                .kinds
                .as_ref()
                .is_none_or(|k| k.iter().any(|k| k == kind))
    }
}

/// A new subscription.
#[derive(Debug, Clone)]
pub struct NewSubscription<'a> {
    /// Target URL (already checked).
    pub url: &'a str,
    /// Signing secret (hex).
    pub secret: &'a str,
    /// The service user's row id.
    pub user_id: i64,
    /// Event types.
    pub events: &'a [String],
    /// Record kinds, or `None` for all.
    pub kinds: Option<&'a [String]>,
    /// Now (ms).
    pub now_ms: i64,
    /// The administrator.
    pub by: &'a str,
}

/// Stores a new subscription; returns its id.
pub fn create(conn: &Connection, s: &NewSubscription<'_>) -> Result<i64> {
    let events =
        serde_json::to_string(s.events).map_err(|e| crate::ServerError::Internal(e.to_string()))?;
    let kinds = s
        .kinds
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| crate::ServerError::Internal(e.to_string()))?;
    conn.execute(
        "INSERT INTO webhook_subscriptions(url, secret, user_id, events, kinds, active, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7)",
        params![s.url, s.secret, s.user_id, events, kinds, s.now_ms, s.by],
    )?;
    Ok(conn.last_insert_rowid())
}

fn json_list(text: Option<String>) -> Option<Vec<String>> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

const SUBSCRIPTION_COLUMNS: &str =
    "s.id, s.url, u.name, s.events, s.kinds, s.active, s.created_at, s.created_by";

fn subscription_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Subscription> {
    Ok(Subscription {
        id: r.get(0)?,
        url: r.get(1)?,
        user: r.get(2)?,
        events: json_list(r.get(3)?).unwrap_or_default(),
        kinds: json_list(r.get(4)?),
        active: r.get(5)?,
        created_at: r.get(6)?,
        created_by: r.get(7)?,
    })
}

/// Active subscriptions, oldest first (at most `limit`).
pub fn list(conn: &Connection, limit: usize) -> Result<Vec<Subscription>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions s JOIN users u ON u.id = s.user_id
          WHERE s.active = 1 ORDER BY s.id LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit as i64], subscription_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// One subscription, deleted or not.
pub fn get(conn: &Connection, id: i64) -> Result<Option<Subscription>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions s JOIN users u ON u.id = s.user_id
                  WHERE s.id = ?1"
            ),
            [id],
            subscription_row,
        )
        .optional()?)
}

/// Every active subscription, for the event builder: one indexed query,
/// nothing read when there are none.
pub fn active(conn: &Connection) -> Result<Vec<Active>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, user_id, events, kinds FROM webhook_subscriptions WHERE active = 1 ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Active {
            id: r.get(0)?,
            user_id: r.get(1)?,
            events: json_list(r.get(2)?).unwrap_or_default(),
            kinds: json_list(r.get(3)?),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Whether any subscription is active (cheap, indexed).
pub fn any_active(conn: &Connection) -> Result<bool> {
    let mut stmt = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM webhook_subscriptions WHERE active = 1)")?;
    Ok(stmt.query_row([], |r| r.get(0))?)
}

/// Deletes a subscription: it receives nothing more and its pending
/// deliveries fail (`subscription deleted`); its log is kept. Returns
/// whether an active subscription `id` existed.
pub fn deactivate(conn: &Connection, id: i64) -> Result<bool> {
    let n = conn.execute(
        "UPDATE webhook_subscriptions SET active = 0 WHERE id = ?1 AND active = 1",
        [id],
    )?;
    conn.execute(
        "UPDATE webhook_deliveries SET state = 'failed', last_error = 'subscription deleted'
          WHERE subscription_id = ?1 AND state = 'pending'",
        [id],
    )?;
    Ok(n > 0)
}

/// One event for one subscription, to write to the outbox.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    /// The subscription.
    pub subscription: i64,
    /// The event's id (a ULID; the same for every subscription).
    pub event_id: &'a str,
    /// The event type.
    pub event_type: &'a str,
    /// The JSON body to POST.
    pub payload: &'a str,
    /// Now (ms): created and due.
    pub now_ms: i64,
}

/// Writes a delivery to the outbox, due now.
pub fn enqueue(conn: &Connection, d: &NewDelivery<'_>) -> Result<i64> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO webhook_deliveries(subscription_id, event_id, event_type, payload, created_at, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )?;
    stmt.execute(params![
        d.subscription,
        d.event_id,
        d.event_type,
        d.payload,
        d.now_ms
    ])?;
    Ok(conn.last_insert_rowid())
}

/// A delivery claimed by the worker, with what it needs to send it.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The delivery.
    pub id: i64,
    /// Its subscription.
    pub subscription: i64,
    /// The event's id.
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// The body.
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: u32,
    /// Where to send it.
    pub url: String,
    /// The signing secret (hex).
    pub secret: String,
}

/// Claims up to `max` due pending deliveries of active subscriptions, at
/// most one per subscription and none of `busy` (subscriptions with a
/// delivery in flight), oldest first; each is leased until
/// `now_ms + lease_ms`.
pub fn claim(
    conn: &Connection,
    now_ms: i64,
    lease_ms: i64,
    max: usize,
    busy: &[i64],
) -> Result<Vec<Claimed>> {
    let mut out: Vec<Claimed> = Vec::new();
    if max == 0 {
        return Ok(out);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, d.subscription_id, d.event_id, d.event_type, d.payload, d.attempts, s.url, s.secret
           FROM webhook_deliveries d JOIN webhook_subscriptions s ON s.id = d.subscription_id
          WHERE d.state = 'pending' AND d.next_attempt_at <= ?1 AND s.active = 1
          ORDER BY d.next_attempt_at, d.id LIMIT 256",
    )?;
    let mut rows = stmt.query([now_ms])?;
    while let Some(r) = rows.next()? {
        let subscription: i64 = r.get(1)?;
        if busy.contains(&subscription) || out.iter().any(|c| c.subscription == subscription) {
            continue;
        }
        out.push(Claimed {
            id: r.get(0)?,
            subscription,
            event_id: r.get(2)?,
            event_type: r.get(3)?,
            payload: r.get(4)?,
            attempts: u32::try_from(r.get::<_, i64>(5)?).unwrap_or(u32::MAX),
            url: r.get(6)?,
            secret: r.get(7)?,
        });
        if out.len() >= max {
            break;
        }
    }
    drop(rows);
    let mut lease = conn.prepare_cached(
        "UPDATE webhook_deliveries SET next_attempt_at = ?2 WHERE id = ?1 AND state = 'pending'",
    )?;
    for c in &out {
        lease.execute(params![c.id, now_ms.saturating_add(lease_ms)])?;
    }
    Ok(out)
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// When it started (ms).
    pub at: i64,
    /// The HTTP status, when one came back.
    pub status: Option<u16>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
    /// Whether the receiver accepted it (a 2xx status).
    pub delivered: bool,
}

/// Logs an attempt and moves the delivery on: delivered; or, when
/// `retry_at` is `Some`, pending until then; else failed for good. A
/// delivery no longer pending (its subscription was deleted meanwhile)
/// keeps its state.
pub fn finish(conn: &Connection, id: i64, a: &Attempt, retry_at: Option<i64>) -> Result<()> {
    conn.execute(
        "INSERT INTO webhook_attempts(delivery_id, at, status, error, duration_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, a.at, a.status, a.error, a.duration_ms],
    )?;
    let (state, next) = match (a.delivered, retry_at) {
        (true, _) => ("delivered", None),
        (false, Some(at)) => ("pending", Some(at)),
        (false, None) => ("failed", None),
    };
    conn.execute(
        "UPDATE webhook_deliveries
            SET attempts = attempts + 1, last_status = ?2, last_error = ?3, state = ?4,
                next_attempt_at = coalesce(?5, next_attempt_at),
                delivered_at = CASE WHEN ?4 = 'delivered' THEN ?6 ELSE delivered_at END
          WHERE id = ?1 AND state = 'pending'",
        params![
            id,
            a.status,
            a.error,
            state,
            next,
            a.at.saturating_add(a.duration_ms)
        ],
    )?;
    Ok(())
}

/// A delivery as shown to administrators (the log of its attempts with it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// Its id (for redelivery).
    pub id: i64,
    /// The subscription.
    pub subscription: i64,
    /// The event's id.
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// The last HTTP status received.
    pub last_status: Option<i64>,
    /// The last error.
    pub last_error: Option<String>,
    /// When it was written (ms).
    pub created_at: i64,
    /// When it is due next (ms; meaningful while pending).
    pub next_attempt_at: i64,
    /// When the receiver accepted it (ms).
    pub delivered_at: Option<i64>,
    /// Its attempts, oldest first (the newest 50).
    pub log: Vec<AttemptLog>,
}

/// One logged attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AttemptLog {
    /// When (ms).
    pub at: i64,
    /// The HTTP status received.
    pub status: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: i64,
}

/// The newest `limit` deliveries of subscription `id`, newest first.
pub fn deliveries(conn: &Connection, subscription: i64, limit: usize) -> Result<Vec<Delivery>> {
    let mut stmt = conn.prepare(
        "SELECT id, subscription_id, event_id, event_type, state, attempts, last_status, last_error,
                created_at, next_attempt_at, delivered_at
           FROM webhook_deliveries WHERE subscription_id = ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![subscription, limit as i64], |r| {
        Ok(Delivery {
            id: r.get(0)?,
            subscription: r.get(1)?,
            event_id: r.get(2)?,
            event_type: r.get(3)?,
            state: r.get(4)?,
            attempts: r.get(5)?,
            last_status: r.get(6)?,
            last_error: r.get(7)?,
            created_at: r.get(8)?,
            next_attempt_at: r.get(9)?,
            delivered_at: r.get(10)?,
            log: Vec::new(),
        })
    })?;
    let mut out: Vec<Delivery> = rows.collect::<rusqlite::Result<_>>()?;
    let mut log = conn.prepare_cached(
        "SELECT at, status, error, duration_ms FROM (
            SELECT id, at, status, error, duration_ms FROM webhook_attempts
             WHERE delivery_id = ?1 ORDER BY id DESC LIMIT 50) ORDER BY id",
    )?;
    for d in &mut out {
        d.log = log
            .query_map([d.id], |r| {
                Ok(AttemptLog {
                    at: r.get(0)?,
                    status: r.get(1)?,
                    error: r.get(2)?,
                    duration_ms: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
    }
    Ok(out)
}

/// Queues delivery `id` again, due now, with a fresh attempt budget, if
/// its subscription is active. Returns its subscription, or `None` when
/// there is no such delivery or its subscription was deleted.
pub fn redeliver(conn: &Connection, id: i64, now_ms: i64) -> Result<Option<i64>> {
    let subscription: Option<i64> = conn
        .query_row(
            "SELECT d.subscription_id FROM webhook_deliveries d
               JOIN webhook_subscriptions s ON s.id = d.subscription_id
              WHERE d.id = ?1 AND s.active = 1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    if subscription.is_some() {
        conn.execute(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?2
              WHERE id = ?1",
            params![id, now_ms],
        )?;
    }
    Ok(subscription)
}

/// Process instances marked failed, noted by migration 008's triggers
/// (oldest first, at most `limit`): `(note id, instance, reason)`.
pub fn process_failures(conn: &Connection, limit: usize) -> Result<Vec<(i64, String, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, instance, reason FROM webhook_process_failures ORDER BY id LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Removes a note of [`process_failures`] once its events are queued.
pub fn forget_process_failure(conn: &Connection, id: i64) -> Result<()> {
    conn.execute("DELETE FROM webhook_process_failures WHERE id = ?1", [id])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::db::users::{self, NewUser};

    fn setup() -> (tempfile::TempDir, Db, i64, i64) {
        let dir = tempfile::tempdir().expect("dir");
        let db = Db::open(dir.path()).expect("open");
        let (a, b) = db
            .write_blocking(|w| {
                let user = NewUser {
                    name: "svc".into(),
                    role: "rep".into(),
                    territories: vec![],
                    manager: None,
                    time_zone: None,
                };
                let u = users::add(&w.conn, &user, "x", 0)?;
                let events = ["record.created".to_owned()];
                let new = |url| NewSubscription {
                    url,
                    secret: "s",
                    user_id: u.id,
                    events: &events,
                    kinds: None,
                    now_ms: 0,
                    by: "admin",
                };
                Ok((
                    create(&w.conn, &new("http://a/"))?,
                    create(&w.conn, &new("http://b/"))?,
                ))
            })
            .expect("setup");
        (dir, db, a, b)
    }

    fn delivery(conn: &Connection, subscription: i64, event: &str, now_ms: i64) -> i64 {
        enqueue(
            conn,
            &NewDelivery {
                subscription,
                event_id: event,
                event_type: "record.created",
                payload: "{}",
                now_ms,
            },
        )
        .expect("enqueue")
    }

    fn failed(at: i64) -> Attempt {
        Attempt {
            at,
            status: Some(500),
            error: Some("500".into()),
            duration_ms: 1,
            delivered: false,
        }
    }

    #[test]
    fn claims_take_one_per_subscription_and_a_lost_lease_comes_back() {
        let (_dir, db, a, b) = setup();
        db.write_blocking(|w| {
            let c = &w.conn;
            let a1 = delivery(c, a, "a1", 10);
            let a2 = delivery(c, a, "a2", 10);
            let b1 = delivery(c, b, "b1", 10);
            let got = claim(c, 100, 1000, 8, &[])?;
            let ids: Vec<i64> = got.iter().map(|c| c.id).collect();
            assert_eq!(ids, [a1, b1], "one per subscription, oldest first");
            assert!(claim(c, 100, 1000, 8, &[a, b])?.is_empty(), "busy");
            // a1 and b1 are leased; a2 is due, but `a` is busy in flight.
            assert!(claim(c, 500, 1000, 8, &[a])?.is_empty());
            // The worker died: after the lease, its claims are due again
            // (behind a2, older by due time: order is not guaranteed).
            let again: Vec<i64> = claim(c, 1200, 1000, 8, &[])?.iter().map(|c| c.id).collect();
            assert_eq!(again, [a2, b1]);
            let last: Vec<i64> = claim(c, 2300, 1000, 8, &[])?.iter().map(|c| c.id).collect();
            assert_eq!(last, [a1, b1]);
            Ok(())
        })
        .expect("test");
    }

    #[test]
    fn attempts_are_logged_retried_failed_and_redelivered() {
        let (_dir, db, a, _) = setup();
        db.write_blocking(|w| {
            let c = &w.conn;
            let id = delivery(c, a, "e1", 0);
            finish(c, id, &failed(10), Some(50))?;
            assert!(
                claim(c, 40, 1000, 8, &[])?.is_empty(),
                "not due before retry"
            );
            assert_eq!(claim(c, 50, 1000, 8, &[])?.len(), 1);
            finish(c, id, &failed(60), None)?;
            let d = &deliveries(c, a, 10)?[0];
            assert_eq!((d.state.as_str(), d.attempts), ("failed", 2));
            assert_eq!(d.log.len(), 2);
            assert!(claim(c, 10_000, 1000, 8, &[])?.is_empty(), "failed stays");
            assert_eq!(redeliver(c, id, 70)?, Some(a));
            let again = claim(c, 70, 1000, 8, &[])?;
            assert_eq!((again.len(), again[0].attempts), (1, 0));
            let ok = Attempt {
                status: Some(204),
                error: None,
                delivered: true,
                ..failed(80)
            };
            finish(c, id, &ok, None)?;
            let d = &deliveries(c, a, 10)?[0];
            assert_eq!((d.state.as_str(), d.delivered_at), ("delivered", Some(81)));
            assert_eq!(d.log.len(), 3, "the log keeps every attempt");
            Ok(())
        })
        .expect("test");
    }

    #[test]
    fn a_deleted_subscription_fails_its_pending_deliveries_and_cannot_redeliver() {
        let (_dir, db, a, b) = setup();
        db.write_blocking(|w| {
            let c = &w.conn;
            let id = delivery(c, a, "e1", 0);
            delivery(c, b, "e2", 0);
            assert!(deactivate(c, a)?);
            assert!(!deactivate(c, a)?, "only once");
            assert_eq!(deliveries(c, a, 10)?[0].state, "failed");
            assert_eq!(redeliver(c, id, 5)?, None);
            let due: Vec<i64> = claim(c, 5, 1000, 8, &[])?
                .iter()
                .map(|c| c.subscription)
                .collect();
            assert_eq!(due, [b]);
            assert_eq!(list(c, 10)?.len(), 1);
            assert!(get(c, a)?.is_some_and(|s| !s.active));
            Ok(())
        })
        .expect("test");
    }
}
