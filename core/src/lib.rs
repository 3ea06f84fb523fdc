//! Fieldwork's shared core: an offline-first CRM's records, privacy policy,
//! device store and sync client, with no network I/O of its own.
//!
//! # Layout
//! - [`ids`]: record, class and document identifiers.
//! - [`schema`] and [`value`]: the fields of each kind of record and the
//!   values they accept; the same checks run on the device and the server.
//! - [`policy`]: the privacy policy (field classes, roles, visibility) and
//!   access decisions.
//! - [`document`]: one class document of a record as an Automerge map.
//! - [`record`]: a record assembled from its class documents.
//! - [`rules`]: the one rule book for record content: the system writes a
//!   write implies, required and cross-field rules, territory inheritance.
//! - [`store`]: the SQLite device store (documents, outbox, index, search,
//!   quarantine).
//! - [`history`]: who changed what, from Automerge history.
//! - [`sync`]: the sync protocol's messages, framing and client state machine.
//! - [`validate`]: the per-operation check of incoming changes (server side).
//! - [`change_limits`]: bounds on a device's raw change bytes (size, chunk
//!   type, operation count), checked before Automerge parses them.
//! - [`process`]: process models, the pure engine, task lists, monitoring.
//! - [`clock`]: the injectable source of "now".
//! - [`error`]: the crate's one error type.
//!
//! Every record is split into one Automerge document per field class, so that
//! the server can withhold a whole class from a user who may not read it; see
//! `ARCHITECTURE.md` at the repository root.

pub mod change_limits;
pub mod clock;
pub mod document;
pub mod error;
pub mod history;
pub mod ids;
pub mod policy;
pub mod process;
pub mod record;
pub mod rules;
pub mod schema;
pub mod store;
pub mod sync;
pub mod validate;
pub mod value;

pub use automerge;
pub use clock::{Clock, FixedClock, SystemClock};
pub use error::{CoreError, Denial, Result, ValidationError};
pub use ids::{ClassName, DocId, RecordId, RecordKind};
pub use policy::{Access, Policy, UserContext};
pub use record::Record;
pub use store::{FieldWrite, ListQuery, Sort, Store, StoreKey};
pub use value::FieldValue;
