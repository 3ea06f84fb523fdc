//! The business-process layer: models, instances and the engine.
//!
//! - [`condition`]: the condition language of triggers and gateways.
//! - [`model`]: process models (TOML/JSON), checked before they can run.
//! - [`bpmn`]: importing the BPMN 2.0 subset a standard modeler exports.
//! - [`creation`]: how the engine creates a record, byte-identical everywhere.
//! - [`instance`]: an instance's grow-only event log and where it is.
//! - [`engine`]: the pure step function (model, instance, record, now) →
//!   actions, with ids derived from (instance, step, position).
//! - [`runner`]: triggers, the scheduler and person-made changes, over a
//!   [`runner::ProcessHost`] (the device store or the server).
//! - [`rights`]: with whose rights an instance runs and what it may see.
//! - [`guard`]: what the server accepts in pushed models and instances.
//! - [`tasks`]: task lists and calendars in a user's time zone.
//! - [`monitor`]: per model version, where instances are and how long
//!   steps take.
//!
//! See `docs/PROCESSES.md` for the model format and the guarantees.

pub mod bpmn;
pub mod condition;
pub mod creation;
pub mod engine;
pub mod guard;
pub mod instance;
pub mod model;
pub mod monitor;
pub mod rights;
pub mod runner;
pub mod tasks;

pub use engine::{Action, Outcome};
pub use instance::{Event, EventKind, Instance, Position, Status};
pub use model::{Model, ModelError};
pub use runner::ProcessHost;
