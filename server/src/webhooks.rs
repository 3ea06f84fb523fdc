//! Webhooks for integrations: administrators subscribe URLs to record and
//! process events; the server POSTs each event, signed, from a durable
//! outbox in its database.
//!
//! # Events
//!
//! `record.created`, `record.changed` (with `changed_fields`),
//! `record.deleted`, `process.started`, `process.step_reached`,
//! `process.task_done`, `process.completed`, `process.failed`,
//! `process.notified`
//! ([`events::EVENT_TYPES`]). One event is one stored change of one class
//! document (a record's fields are split by class, see the policy). The
//! body:
//!
//! ```json
//! {"id": "01J…", "type": "record.changed", "occurred_at": "2026-…Z",
//!  "record": {"id": "account:01J…", "kind": "account"}, "class": "general",
//!  "fields": {"name": "…", "territory": "madrid"}, "changed_fields": ["name"],
//!  "actor": "ana", "process": {…}}
//! ```
//!
//! `fields` holds the document's fields after the change, `actor` is the
//! pushing user or `engine`; `process` (process events only) says which
//! step (`step`, `from`, `via`, `by`) or why it failed (`reason`).
//!
//! # Delivery and signature
//!
//! Each delivery is `POST url` with `Content-Type: application/json`,
//! `Fieldwork-Event-Id` (the event's ULID; the same event may arrive more
//! than once: deduplicate on it), `Fieldwork-Event-Type` and
//! `Fieldwork-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` where the
//! HMAC key is the subscription's secret (the hex text shown once at
//! subscription, as bytes) and the message is `"<t>.<body>"` (the raw
//! body bytes). Receivers must recompute it, compare in constant time,
//! and refuse a `t` more than 300 s from their clock (replays); see
//! [`sign::verify`]. A 2xx answer means delivered; anything else is retried
//! with exponential backoff ([`worker`]).
//!
//! Guarantees:
//! - events are written to the outbox in the transaction of the change
//!   they report (push path and process engine), so a committed change is
//!   reported at least once, across restarts and crashes;
//! - a payload contains only what the subscription's service user may
//!   read now: records they see, classes they read ([`events`]);
//! - one slow or failing receiver never delays deliveries to others;
//! - every attempt is logged, and administrators can redeliver any event
//!   (the office API's `webhooks` module).

pub mod client;
pub mod events;
pub mod sign;
pub mod worker;

pub use events::{after_engine_write, after_push, before_push, on_change};

/// A new subscription secret: 32 random bytes, hex.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    hex::encode(bytes)
}
