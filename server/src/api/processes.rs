//! The office API's processes: models, instances, process cards, controls
//! and the monitor, with the caller's rights.
//!
//! | method | path | right | what |
//! |---|---|---|---|
//! | GET | `/v1/processes/models` | any caller | published model versions |
//! | POST | `/v1/processes/models` | process `publish` | publish the next version of a model |
//! | POST | `/v1/processes/models/{key}/migrate` | process `migrate` | move every instance of one version to another (`dry_run` first) |
//! | GET | `/v1/processes/instances` | any caller | instances the caller sees, newest first |
//! | POST | `/v1/processes/instances` | process `start` | start a model by hand on a record |
//! | GET | `/v1/processes/instances/{id}` | any caller | the process card |
//! | POST | `/v1/processes/instances/{id}/control` | `suspend`, `stop`, `change_parameters`, `migrate` | suspend, resume, stop, set a parameter, migrate |
//! | GET | `/v1/processes/monitor` | any caller | per model version: where instances are, how long steps take |
//!
//! Guarantees:
//! - a caller sees exactly the instances a device of theirs would receive:
//!   instances and their activities are read through [`super::read`]
//!   (visibility and readable classes, as for sync); one they do not see
//!   answers `404 not_found` like one that does not exist, and is absent
//!   from lists and the monitor;
//! - writes run the device's runner ([`fieldwork_core::process::runner`])
//!   on the server's writer with the caller's rights
//!   ([`crate::processes::with_host_as`]): a missing process right is
//!   refused by core with the code and rule a device gets
//!   (`403 process_forbidden`, `roles.ROLE.process.RIGHT`); an instance
//!   started here runs as (is owned by) the caller; what the engine writes
//!   is one transaction, relayed live to devices and to webhooks;
//! - a control that does not apply to the instance where it stands
//!   (resuming a running instance, anything on a stopped one, migrating to
//!   a version without its current step) is `409 control_not_applicable`
//!   and changes nothing; controls of one instance are ordered as they were
//!   made (one made within the second of the instance's last control is
//!   stamped a second after it, the log being ordered by time to the
//!   second);
//! - a model is parsed by the CLI's parser ([`crate::process_admin::parse_model`]);
//!   an invalid one is `422 invalid_model` with every problem in `errors`;
//! - a read-only API key may only read, a key scoped to other kinds
//!   nothing (`403 key_scope`); bodies are bounded ([`super::body`]).
//!
//! Layout: `models`, `instances`, `controls` and `monitor` hold the
//! handlers and the views they take and answer; `card` the process card
//! they share; `seen` (reading with the caller's visibility) and `engine`
//! (running the engine with the caller's rights) are leaves they build on.

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use serde::Serialize;
use utoipa::OpenApi;

use crate::process_admin::ModelFormat;
use crate::state::AppState;

mod card;
mod controls;
mod engine;
mod instances;
mod migrate;
mod models;
mod monitor;
mod seen;

pub use card::{ActivityRef, CardOut, ControlOut, StatusName, VisitOut};
pub use controls::{ControlAction, ControlIn, control};
pub use instances::{InstanceQuery, StartIn, SummaryOut, get_instance, list_instances, start};
pub use migrate::{MigrateIn, MigrationOut, RefusedOut, migrate_all};
pub use models::{InvalidModel, ModelOut, PublishIn, StepOut, TriggerOut, list_models, publish};
pub use monitor::{FailedOut, MonitorOut, StepStatsOut, VersionOut, monitor};
pub(crate) use seen::{seen_record, stored_model_records};

/// The routes of this module on the public listener.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/v1/processes/models",
            get(models::list_models).post(models::publish),
        )
        .route(
            "/v1/processes/models/{key}/migrate",
            post(migrate::migrate_all),
        )
        .route(
            "/v1/processes/instances",
            get(instances::list_instances).post(instances::start),
        )
        .route("/v1/processes/instances/{id}", get(instances::get_instance))
        .route(
            "/v1/processes/instances/{id}/control",
            post(controls::control),
        )
        .route("/v1/processes/monitor", get(monitor::monitor))
}

/// This module's part of the public OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    paths(
        models::list_models,
        models::publish,
        migrate::migrate_all,
        instances::list_instances,
        instances::start,
        instances::get_instance,
        controls::control,
        monitor::monitor,
    ),
    components(schemas(
        models::ModelOut,
        models::TriggerOut,
        models::StepOut,
        models::PublishIn,
        ModelFormat,
        models::InvalidModel,
        migrate::MigrateIn,
        migrate::MigrationOut,
        migrate::RefusedOut,
        instances::StartIn,
        controls::ControlIn,
        controls::ControlAction,
        card::StatusName,
        card::CardOut,
        card::VisitOut,
        card::ActivityRef,
        card::ControlOut,
        instances::SummaryOut,
        monitor::MonitorOut,
        monitor::VersionOut,
        monitor::StepStatsOut,
        monitor::FailedOut,
        monitor::OverdueOut,
    )),
    tags((name = "processes", description = "Process models, instances, process cards, controls and the monitor, with the caller's process rights"))
)]
pub struct ProcessesDoc;

/// The snake_case name a serde enum is written with.
fn name_of<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
