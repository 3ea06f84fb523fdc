//! Fieldwork for Kotlin, Swift and Python.
//!
//! A thin [uniffi] layer over `fieldwork-sdk` and `fieldwork-core`: every
//! exported function converts its arguments, calls the SDK or the store, and
//! converts the answer. There is no business logic here; anything an app
//! needs that the core cannot answer belongs in the core.
//!
//! # Layout
//! - [`device`]: `FieldworkDevice`, the one object an app holds, and which
//!   calls block (read its module doc before calling from a UI thread);
//!   its lifecycle (one handle per store file, `close_device`, `wipe`,
//!   `store_size`) and [`close_all_devices`], the hook a process runs before
//!   it exits with devices open (Python: `atexit`).
//! - [`records`]: kinds, edits, list rows, cards, search hits, history,
//!   the quarantine.
//! - [`processes`]: task lists, calendars, process models and instances.
//! - [`reports`]: the core's reports (pipeline, win rate, cycle, funnel,
//!   activities, visits, an account's timeline) as typed records, and CSV.
//! - [`sync`]: sync status and reports, the signed-in user, listeners.
//! - [`device::observe`]: live queries (a list, a search, one record) as
//!   cancellable subscriptions served by one dispatcher thread per device.
//! - [`error`]: `FieldworkError`, the one error enum apps see.
//! - `ints`: numbers are signed in the public API (Kotlin `Int`/`Long`,
//!   Swift `Int32`/`Int64`): counts saturate at the maximum, a negative
//!   limit, offset or timeout is `Invalid` naming the argument.
//!
//! Generate the bindings with `bindings/scripts/generate.sh`.

uniffi::setup_scaffolding!("fieldwork");

pub mod device;
pub mod error;
mod ints;
pub mod keystore;
pub mod processes;
pub mod records;
pub mod reports;
pub mod sync;

pub use device::attachments::{AttachmentInfo, FileTransfer};
pub use device::observe::{
    ObserverError, QueryObserver, RecordObserver, SearchObserver, Subscription,
};
pub use device::{FieldworkDevice, StoreCompaction, close_all_devices};
pub use error::FieldworkError;
pub use keystore::{Keystore, KeystoreError};
