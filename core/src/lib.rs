//! Fieldwork's shared core: an offline-first CRM's records, privacy policy,
//! device store and sync client, with no network I/O of its own.
//!
//! # Layout
//! In dependency order: a module uses only those above it (leaves first;
//! `tests/tests/module_tree.rs` fails on a cycle).
//! - [`error`]: the crate's one error type; [`clock`]: the injectable
//!   source of "now"; [`migrate`]: the schema migration runner the device
//!   store and the server database share; [`fold`]: text folded for search
//!   and comparison (case, accents, `ł`, `ß`…), the same on device and server.
//! - [`wire`]: the types and codes the store, the engine and the sync
//!   protocol share (cursor, directory entries, error and refusal codes).
//! - [`ids`]: record, class and document identifiers.
//! - [`schema`] and [`value`]: the fields of each kind of record and the
//!   values they accept; the same checks run on the device and the server.
//! - [`attachment`]: what a photo or file field holds (hash, size, type,
//!   name) and the rules every side checks it by.
//! - [`policy`]: the privacy policy (field classes, roles, visibility) and
//!   access decisions.
//! - [`rules`]: the one rule book for record content: the system writes a
//!   write implies, required and cross-field rules, territory inheritance.
//! - [`record`]: a record assembled from its class documents.
//! - [`card`]: a record as its screen shows it to one user (readable
//!   fields, each with its writable flag).
//! - [`change_limits`]: bounds on a device's raw change bytes (size, chunk
//!   type, operation count), checked before Automerge parses them.
//! - [`document`]: one class document of a record as an Automerge map.
//! - [`validate`]: the per-operation check of incoming changes (server side).
//! - [`edit`]: one edit of one record as a user asks for it, checked and
//!   turned into changes; the device store and the server's API share it.
//! - [`import`]: CSV files of records read (UTF-8 or Windows-1252, any
//!   usual delimiter), mapped to fields and checked row by row before the
//!   server's `import` command writes anything.
//! - [`history`]: who changed what, from Automerge history.
//! - [`duplicates`]: duplicate candidates (same e-mail, phone, tax id, or
//!   a name that reads alike), scored, with their reasons.
//! - [`merge`]: what merging a duplicate into its survivor writes, its
//!   undo, and which later edits of the merged record are forwarded.
//! - [`summary`]: a record as a list row shows it (the store's index rows,
//!   read by task lists).
//! - [`report`]: pure reports (pipeline, win rate, funnel, activities,
//!   visits, timelines) over records' facts; the device and the server
//!   share them.
//! - [`process`]: process models, the pure engine, task lists, monitoring.
//! - [`store`]: the SQLite device store (documents, outbox, index, search,
//!   quarantine); it runs the process engine.
//! - [`sync`]: the sync protocol's messages, framing and client state machine.
//!
//! Every record is split into one Automerge document per field class, so that
//! the server can withhold a whole class from a user who may not read it; see
//! `ARCHITECTURE.md` at the repository root.

pub mod attachment;
pub mod card;
pub mod change_limits;
pub mod clock;
pub mod document;
pub mod duplicates;
pub mod edit;
pub mod error;
pub mod fold;
pub mod history;
pub mod ids;
pub mod import;
pub mod locale;
pub mod merge;
pub mod migrate;
pub mod policy;
pub mod process;
pub mod record;
pub mod report;
pub mod rules;
pub mod schema;
pub mod store;
pub mod summary;
pub mod sync;
pub mod text_merge;
pub mod validate;
pub mod value;
pub mod wire;

pub use automerge;
pub use clock::{Clock, FixedClock, SystemClock};
pub use error::{CoreError, Denial, Result, ValidationError};
pub use ids::{ClassName, DocId, RecordId, RecordKind};
pub use policy::{Access, Policy, UserContext};
pub use record::Record;
pub use store::{FieldWrite, ListQuery, Sort, Store, StoreKey, TextWrite};
pub use value::FieldValue;
