//! `fieldwork-server process ...`: publish models, migrate instances, monitor.
//!
//! These run against the database directly, like `user add`, so they work
//! whether or not the server is running; a running server picks up new
//! model versions on its next push or scheduler pass, and devices receive
//! them on their next sync. No restart.

use std::path::Path;

use fieldwork_core::RecordId;
use fieldwork_core::RecordKind;
use fieldwork_core::process::ProcessHost;
use fieldwork_core::process::bpmn;
use fieldwork_core::process::instance::Instance;
use fieldwork_core::process::model::{Model, ModelFile, check_people};
use fieldwork_core::process::monitor::{self, VersionReport};
use fieldwork_core::process::runner::{self, Control};

use crate::error::{Result, ServerError};
use crate::processes::with_host;
use crate::state::AppState;

/// How a model is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelFormat {
    /// BPMN 2.0 XML, the subset a standard modeler exports.
    Bpmn,
    /// JSON (the stored form).
    Json,
    /// TOML (`docs/PROCESSES.md`).
    Toml,
}

impl ModelFormat {
    /// The format of a file by its extension: `.bpmn` and `.xml` are BPMN,
    /// `.json` JSON, anything else TOML.
    pub fn of_path(path: &Path) -> ModelFormat {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or_default()
        {
            "bpmn" | "xml" => ModelFormat::Bpmn,
            "json" => ModelFormat::Json,
            _ => ModelFormat::Toml,
        }
    }
}

/// Parses model text written in `format` and checks it as it would be
/// published, so nothing half-imported is ever written. The one parser of
/// models for the CLI and the office API. `Err` holds every problem, one
/// line each (a BPMN problem names its line, element id and name).
pub fn parse_model(format: ModelFormat, text: &str) -> std::result::Result<ModelFile, Vec<String>> {
    let file = match format {
        ModelFormat::Bpmn => bpmn::import(text).map_err(|e| e.lines())?,
        ModelFormat::Json => Model::from_json(text, 0).map_err(|e| e.0)?.file,
        ModelFormat::Toml => Model::from_toml(text).map_err(|e| e.0)?.file,
    };
    Model::check(file.clone(), 1).map_err(|e| e.0)?;
    Ok(file)
}

/// A refused model, for the server CLI (which prints an error on one
/// line): what was refused, how many problems, then every problem.
fn refused(what: &str, problems: &[String]) -> ServerError {
    ServerError::Invalid(format!(
        "{what}: the process model cannot be published ({} problem{}): {}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        problems.join("; ")
    ))
}

/// Reads a model file: BPMN 2.0 XML (`.bpmn`, `.xml`), JSON or TOML (see
/// [`parse_model`]). A refusal names the file and every problem.
pub fn read_model(path: &Path) -> Result<ModelFile> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ServerError::Internal(format!("reading {}: {e}", path.display())))?;
    parse_model(ModelFormat::of_path(path), &text)
        .map_err(|lines| refused(&path.display().to_string(), &lines))
}

/// A publication: the new version's (id, version), or the problems that
/// refused it.
pub type Published = std::result::Result<(RecordId, i64), Vec<String>>;

/// Publishes `file` through `host` after the checks only the server can
/// make: every `role:NAME` assignee is a role of the policy in force and
/// every `user:NAME` assignee an active user
/// ([`fieldwork_core::process::model::check_people`]). `Ok(Err(problems))`
/// when they fail, and nothing is written. The CLI and the office API both
/// publish through here.
pub fn publish_checked<H: ProcessHost>(
    host: &mut H,
    file: ModelFile,
) -> std::result::Result<Published, H::Error> {
    let directory = host.directory()?;
    if let Some(policy) = host.policy() {
        let problems = check_people(&file, &directory, policy);
        if !problems.is_empty() {
            return Ok(Err(problems));
        }
    }
    runner::publish(host, file).map(Ok)
}

/// Publishes `file` as the next version of its model; returns (id, version).
/// A scheduled model's instances run as its publisher, who must therefore
/// be an active user.
pub fn publish(state: &AppState, file: ModelFile, by: &str) -> Result<(RecordId, i64)> {
    if file.trigger.kind == fieldwork_core::process::model::TriggerKind::Schedule {
        let active = state
            .db
            .read_blocking(|conn| crate::db::users::by_name(conn, by))?
            .is_some_and(|u| !u.disabled);
        if !active {
            return Err(ServerError::Invalid(format!(
                "instances of a scheduled model run with its publisher's rights, and `{by}` is not an active user; publish it --as an active user"
            )));
        }
    }
    let now = state.clock.now();
    let key = file.key.clone();
    let out = state.db.write_blocking(|w| {
        with_host(w, Some(&state.hub), &state.actor, now, by, |h| {
            publish_checked(h, file)
        })
    })?;
    let out = out.map_err(|problems| refused(&key, &problems))?;
    // Tell a running server (another process) that documents changed.
    state
        .db
        .write_blocking(|w| crate::db::bump_admin_version(&w.conn))?;
    Ok(out)
}

/// Moves an instance to another version of its model, after checking that
/// its current step exists there.
pub fn migrate(state: &AppState, instance: &RecordId, version: i64, by: &str) -> Result<()> {
    let now = state.clock.now();
    state.db.write_blocking(|w| {
        with_host(w, Some(&state.hub), &state.actor, now, by, |h| {
            runner::control(h, instance, Control::Migrate(version)).map(|_| ())
        })
    })?;
    state
        .db
        .write_blocking(|w| crate::db::bump_admin_version(&w.conn))?;
    Ok(())
}

/// Moves every instance of version `from` of model `key` to version `to`
/// (`dry_run`: only says which would move and which cannot, and why), as
/// `by` with `by`'s `migrate` right: core's
/// [`runner::migrate_all`], which decides each instance by the
/// single-instance rule. Applied in one transaction.
pub fn migrate_all(
    state: &AppState,
    key: &str,
    from: i64,
    to: i64,
    dry_run: bool,
    by: &str,
) -> Result<runner::Migration> {
    let now = state.clock.now();
    let plan = state.db.write_blocking(|w| {
        with_host(w, Some(&state.hub), &state.actor, now, by, |h| {
            runner::migrate_all(h, key, from, to, dry_run)
        })
    })?;
    if !dry_run && !plan.migrated.is_empty() {
        state
            .db
            .write_blocking(|w| crate::db::bump_admin_version(&w.conn))?;
    }
    Ok(plan)
}

/// Published models: (key, version, name).
pub fn list(state: &AppState) -> Result<Vec<(String, i64, String)>> {
    let now = state.clock.now();
    state.db.write_blocking(|w| {
        with_host(w, None, &state.actor, now, "admin", |h| {
            let mut out: Vec<_> = h
                .models()?
                .into_iter()
                .map(|m| (m.file.key.clone(), m.version, m.file.name.clone()))
                .collect();
            out.sort();
            Ok(out)
        })
    })
}

/// Monitoring per model version over every instance on the server.
pub fn report(state: &AppState) -> Result<Vec<VersionReport>> {
    let now = state.clock.now();
    state.db.write_blocking(|w| {
        with_host(w, None, &state.actor, now, "admin", |h| {
            let models = h.models()?;
            let mut instances = Vec::new();
            let mut activities = Vec::new();
            for id in h.records_of(RecordKind::ProcessInstance)? {
                if let Some(i) = h.record(&id)?.as_ref().and_then(Instance::from_record) {
                    instances.push(i);
                }
            }
            // Activities process steps created that are past due and not
            // done (tasks by `due_at`, calls and meetings by `starts_at`).
            for id in crate::db::facts::process_tasks(h.conn())? {
                if let Some(a) = h
                    .record(&id)?
                    .as_ref()
                    .and_then(monitor::StepActivity::from_record)
                    .filter(|a| a.overdue_at(now))
                {
                    activities.push(a);
                }
            }
            let failures = crate::processes::failures(h.conn())?.into_iter().collect();
            Ok(monitor::report(&monitor::Inputs {
                models: &models,
                instances: &instances,
                activities: &activities,
                failures: &failures,
                now,
            }))
        })
    })
}

/// Instances the engine gave up on, with why: (instance, reason).
pub fn failures(state: &AppState) -> Result<Vec<(String, String)>> {
    state.db.read_blocking(crate::processes::failures)
}
