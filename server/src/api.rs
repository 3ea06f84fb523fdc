//! The office API, v1: records, files, search, phone lookup, calendars, API
//! keys and webhooks over JSON, for managers' tools and other systems. Served on
//! the public listener next to sync; described by the OpenAPI document at
//! `/v1/openapi.json` (generated from these handlers, see [`openapi`]); the
//! guide is `docs/API.md`.
//!
//! Callers authenticate with `Authorization: Bearer` and either a session
//! token from `/v1/login` or an API key (`fwk_…`, see [`caller`]). Every
//! answer carries an `x-request-id`; every error is
//! `application/problem+json` (RFC 9457) with the same stable `code`,
//! `field` and `rule` a refused sync push carries ([`problem`]).
//!
//! Guarantees:
//! - a caller reads only what their role may read: record fields are
//!   filtered by class, records by visibility, with the same functions the
//!   sync server uses ([`crate::visibility`]);
//! - a write is one Automerge change per class document made on the server
//!   by an actor bound to the caller, and is accepted only through the same
//!   path as a device's push ([`crate::sync::push`]): the same rule book,
//!   the same policy, the same refusal codes, stored in the feed and
//!   relayed live;
//! - request bodies are limited in size and time, requests per caller are
//!   rate limited; CORS is off unless origins are configured.

pub mod admin;
pub mod archive;
pub mod body;
pub mod calendar;
pub mod caller;
pub mod duplicates;
pub mod edge;
pub mod export;
pub mod files;
pub mod import;
pub mod keys;
pub mod limits;
pub mod lookup;
pub mod merge;
pub mod openapi;
pub mod problem;
pub mod processes;
pub mod query;
pub mod read;
pub mod records;
pub mod reports;
pub mod search;
pub mod tasks;
pub mod webhooks;
pub mod write;

use std::sync::Arc;

use axum::Router;

use crate::state::AppState;

/// The API's routes on the public listener.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .merge(openapi::routes())
        .merge(records::routes())
        .merge(archive::routes())
        .merge(duplicates::routes())
        .merge(merge::routes())
        .merge(export::routes())
        .merge(import::route::routes())
        .merge(files::routes())
        .merge(tasks::routes())
        .merge(search::routes())
        .merge(lookup::routes())
        .merge(calendar::routes())
        .merge(keys::routes())
        .merge(webhooks::routes())
        .merge(processes::routes())
        .merge(reports::routes())
}

/// The API's routes on the admin listener (keys and webhooks).
pub fn admin_routes() -> Router<Arc<AppState>> {
    Router::new()
        .merge(openapi::admin_routes())
        .merge(keys::admin_routes())
        .merge(webhooks::admin_routes())
        .merge(admin::admin_routes())
}
