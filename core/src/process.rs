//! The business-process layer: models, instances and the engine.
//!
//! - [`condition`]: the condition language of triggers and gateways.
//! - [`model`]: process models (TOML/JSON), checked before they can run.
//! - [`bpmn`]: importing the BPMN 2.0 subset a standard modeler exports.
//! - [`card`]: the process card of an instance and its list line (pure).
//! - [`creation`]: how the engine creates a record, byte-identical everywhere.
//! - [`instance`]: an instance's grow-only event log and where it is.
//! - [`engine`]: the pure step function (model, instance, record, now) →
//!   actions, with ids derived from (instance, step, position).
//! - [`host`]: where processes run, the [`ProcessHost`] (the device store or
//!   the server), and the error it returns.
//! - [`runner`]: triggers, the scheduler and person-made changes, over a
//!   [`ProcessHost`].
//! - [`rights`]: with whose rights an instance runs and what it may see.
//! - [`guard`]: what the server accepts in pushed models and instances.
//! - [`held`]: a suspended or stopped instance's tasks cannot be completed
//!   (the one rule every writer asks).
//! - [`outcome`]: task outcomes (typed forms) and the variables gateways
//!   read (`outcome.STEP`, `param.NAME`).
//! - [`variables`]: the outcome rule and the variables where an instance
//!   stands.
//! - [`span`]: durations as models write them: ISO 8601 and business time
//!   (`P2BD`, counted in the policy's business-hours calendar).
//! - [`task_write`]: the one rule for a write to a process task (held,
//!   outcome), which every writer asks.
//! - [`tasks`]: task lists and calendars in a user's time zone.
//! - [`monitor`]: per model version, where instances are and how long
//!   steps take.
//!
//! See `docs/PROCESSES.md` for the model format and the guarantees.
//!
//! # Example
//!
//! A model published on a device store runs there: creating a record that
//! triggers it starts an instance, and the instance's first step gives the
//! record's owner a task, due two days after the step was entered.
//!
//! ```
//! use std::sync::Arc;
//!
//! use fieldwork_core::process::Status;
//! use fieldwork_core::process::model::Model;
//! use fieldwork_core::{FieldWrite, FixedClock, RecordKind, Store};
//!
//! let model = Model::from_toml(r#"
//!     key = "call-new-accounts"
//!     name = "Call every new account"
//!     trigger = { kind = "record_created", record = "account" }
//!
//!     [[steps]]
//!     id = "call"
//!     kind = "task"
//!     assignee = "owner"
//!     subject = "Call {name}"
//!     due = "P2D"
//!     next = "done"
//!
//!     [[steps]]
//!     id = "done"
//!     kind = "end"
//! "#)?;
//!
//! let dir = tempfile::tempdir()?;
//! let clock = FixedClock("2027-01-04T09:00:00Z".parse()?);
//! let mut store = Store::open(&dir.path().join("device.db"), Arc::new(clock))?;
//! let (_, version) = store.publish_model(model.file)?;
//! assert_eq!(version, 1);
//!
//! // The write that triggers the model runs it, in the same call.
//! store.create(RecordKind::Account, vec![FieldWrite::set("name", "Acme")])?;
//!
//! let instances = store.process_instances()?;
//! assert_eq!(instances.len(), 1);
//! assert_eq!(instances[0].status, Status::Running);
//! let tasks = store.tasks("local", None)?;
//! assert_eq!(tasks.upcoming.len(), 1, "{tasks:?}");
//! assert_eq!(tasks.upcoming[0].subject, "Call Acme");
//! assert_eq!(tasks.upcoming[0].at, Some("2027-01-06T09:00:00Z".parse()?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bpmn;
pub mod card;
pub mod condition;
pub mod creation;
pub mod engine;
pub mod guard;
pub mod held;
pub mod host;
pub mod instance;
pub mod model;
pub mod monitor;
pub mod outcome;
pub mod paths;
pub mod rights;
pub mod runner;
pub mod span;
pub mod task_write;
pub mod tasks;
pub mod variables;

pub use card::{ProcessCard, ProcessSummary, StepVisit};
pub use engine::{Action, Outcome};
pub use host::{HostError, ProcessHost};
pub use instance::{Event, EventKind, Instance, Position, Status};
pub use model::{Model, ModelError};
