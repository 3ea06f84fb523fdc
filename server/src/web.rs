//! The manager's web app, served by the server itself on the public
//! listener: sign-in, customers (accounts and contacts), the record card,
//! the pipeline board, the calendar and tasks, processes, reports and live updates. Pages are rendered on the server
//! from askama templates (`server/templates/web/`, checked at compile
//! time); one small hand-written script and one style sheet are embedded in
//! the binary ([`assets`]). Nothing is fetched from the internet. The guide
//! is `docs/WEB.md`.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/`, `/web` | to the customers page (or the sign-in page) |
//! | GET, POST | `/web/login` | the sign-in form ([`signin`]) |
//! | POST | `/web/logout` | signs out (ends the session on the server) |
//! | GET | `/web/accounts`, `/web/contacts` | lists with search, filters, sorting, pages ([`customers`]) |
//! | GET, POST | `/web/records/{kind}/{id}` | the record card and its edit form ([`card`]) |
//! | GET | `/web/records/{kind}/{id}/history` | the record's field changes, newest first ([`history`]) |
//! | GET, POST | `/web/new/{kind}` | the new-record form and its save ([`create`]) |
//! | GET | `/web/pipeline` | deals by stage ([`board`]) |
//! | POST | `/web/deals/{id}/stage` | moves a deal to another stage |
//! | GET | `/web/calendar` | the week's activities, overdue tasks, the team's ([`calendar`]) |
//! | POST | `/web/tasks/{id}/complete` | completes an activity with its outcome |
//! | GET | `/web/processes` | model versions and the upload form ([`processes`]) |
//! | POST | `/web/processes/models` | publishes the next version of a model |
//! | POST | `/web/processes/start` | starts a model by hand on a record ([`process_start`]) |
//! | GET | `/web/processes/instances` | instances with filters ([`process_list`]) |
//! | GET | `/web/processes/instances/{id}` | the process card ([`process_card`]) |
//! | POST | `/web/processes/instances/{id}/control` | suspends, resumes, stops, migrates an instance or sets a parameter |
//! | GET | `/web/processes/monitor` | counts, stuck and failed instances, drawings ([`process_monitor`]) |
//! | GET | `/web/reports`, `/web/reports/{name}` | reports as table and chart, CSV with `format=csv` ([`reports`]) |
//! | GET | `/web/admin` | users and the form to add one, for administrators ([`admin`]) |
//! | POST | `/web/admin/users` | adds a user |
//! | GET, POST | `/web/admin/users/{name}` | one user: change role, territories, manager, time zone |
//! | POST | `/web/admin/users/{name}/disable`, `/web/admin/users/{name}/enable` | disables or enables a user |
//! | POST | `/web/admin/users/{name}/calendar-feed/revoke` | revokes a user's calendar feed |
//! | GET, POST | `/web/admin/policy` | the policy in force and the form to replace it |
//! | GET | `/web/admin/devices` | devices and their wipe state |
//! | GET, POST | `/web/admin/devices/wipe` | confirms, then marks a device for remote wipe |
//! | GET | `/web/admin/audit` | the audit log, newest first, paged |
//! | GET, POST | `/web/admin/keys` | API keys; creates one (its secret shown once) |
//! | POST | `/web/admin/keys/{id}/revoke` | revokes an API key |
//! | GET, POST | `/web/admin/webhooks` | webhooks with their newest deliveries; subscribes a URL |
//! | POST | `/web/admin/webhooks/{id}/delete` | deletes a webhook |
//! | POST | `/web/admin/webhooks/deliveries/{id}/redeliver` | queues a webhook delivery again |
//! | GET, POST | `/web/admin/import` | the import form; checks an uploaded CSV or XLSX file (dry run) and shows its report |
//! | POST | `/web/admin/import/confirm` | imports the file just checked |
//! | GET | `/web/events` | server-sent events: which visible records changed ([`live`]) |
//! | GET | `/web/locale?lang=es&next=…` | remembers the language and goes back ([`i18n`]) |
//! | GET | `/web/static/app.css`, `/web/static/app.js` | the embedded assets |
//!
//! Guarantees:
//! - **The API's rules, not new ones.** Reads go through the office API's
//!   functions ([`crate::api::read`], [`crate::db::record_index`]), so a
//!   page shows exactly the fields and records `GET /v1/records/...` shows
//!   the same user; writes go through [`crate::api::write::write`], the
//!   push path of devices, so a value or right the server refuses is
//!   refused here with the same code and message, and then the process
//!   engine runs as a device runs it after its own write;
//!   reports are computed by the API's [`crate::api::reports::run`];
//!   process pages call the API's process handlers
//!   ([`crate::api::processes`]), so rights and refusals are theirs.
//! - **Sessions are login tokens** ([`session`]): signing in follows the
//!   rules of `/v1/login` (same checks, same back-off per user and
//!   address), the cookie `fw_session` is `HttpOnly`, `SameSite=Strict`,
//!   `Path=/` and `Secure` when the listener serves TLS; revoking a user's
//!   tokens or disabling the user ends the web session too.
//! - **Every POST is checked twice** ([`csrf`]): a token bound to the
//!   session (or, for the sign-in form, to a pre-session cookie) compared
//!   in constant time, and a same-origin `Origin`/`Referer`; a request
//!   failing either is refused with `403` and changes nothing.
//! - **Strict headers** on every answer ([`headers`]): a
//!   `Content-Security-Policy` without inline script (`script-src 'self'`),
//!   `frame-ancestors 'none'`, `Referrer-Policy`, `X-Content-Type-Options`,
//!   and `Cache-Control: no-store` on pages.
//! - **Hostile input is bounded**: form bodies, query parameters and field
//!   counts have limits ([`form`]); templates escape every value.

pub mod admin;
pub mod assets;
pub mod board;
pub mod calendar;
pub mod card;
pub mod chart;
pub mod cookies;
pub mod create;
pub mod csrf;
pub mod customers;
pub mod form;
pub mod headers;
pub mod history;
pub mod i18n;
pub mod live;
pub mod long_text;
pub mod money_input;
pub mod page;
pub mod paths;
pub mod process_card;
pub mod process_graph;
pub mod process_list;
pub mod process_monitor;
pub mod process_start;
pub mod processes;
pub mod render;
pub mod report_charts;
pub mod reports;
pub mod session;
pub mod signin;
pub mod task_outcome;
pub mod time_input;
pub mod upload;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::{Extension, Router};
use tokio::sync::Semaphore;

use crate::state::AppState;

/// Most live event streams open at once on one server.
pub const MAX_STREAMS: usize = 1024;

/// Most live event streams one user may have open at once.
pub const MAX_STREAMS_PER_USER: usize = 32;

/// Settings of the web app, fixed when its routes are built.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Whether the listener serves TLS: the session cookie is then
    /// `Secure`, and same-origin checks expect `https://`.
    pub tls: bool,
    /// One permit per open live event stream ([`MAX_STREAMS`]).
    pub streams: Arc<Semaphore>,
    /// Open live event streams per user id ([`MAX_STREAMS_PER_USER`]).
    pub per_user: Arc<std::sync::Mutex<std::collections::HashMap<i64, usize>>>,
}

/// The web app's routes, for the public listener (`tls`: whether that
/// listener serves TLS).
pub fn routes(tls: bool) -> Router<Arc<AppState>> {
    let config = WebConfig {
        tls,
        streams: Arc::new(Semaphore::new(MAX_STREAMS)),
        per_user: Arc::default(),
    };
    Router::new()
        .route("/", get(page::home))
        .route("/web", get(page::home))
        .route("/web/login", get(signin::form).post(signin::submit))
        .route("/web/logout", post(signin::logout))
        .route("/web/accounts", get(customers::accounts))
        .route("/web/contacts", get(customers::contacts))
        .route("/web/records/{kind}/{id}", get(card::show).post(card::save))
        .route("/web/records/{kind}/{id}/history", get(history::show))
        .route("/web/new/{kind}", get(create::form).post(create::create))
        .route("/web/pipeline", get(board::show))
        .route("/web/deals/{id}/stage", post(board::move_deal))
        .route("/web/calendar", get(calendar::show))
        .route("/web/tasks/{id}/complete", post(calendar::complete))
        .route("/web/processes", get(processes::show))
        .route("/web/processes/models", post(processes::publish))
        .route("/web/processes/start", post(process_start::start))
        .route("/web/processes/instances", get(process_list::show))
        .route("/web/processes/instances/{id}", get(process_card::show))
        .route(
            "/web/processes/instances/{id}/control",
            post(process_card::control),
        )
        .route("/web/processes/monitor", get(process_monitor::show))
        .route("/web/reports", get(reports::index))
        .route("/web/reports/{name}", get(reports::show))
        .route("/web/admin", get(admin::users::list))
        .route("/web/admin/users", post(admin::users::create))
        .route(
            "/web/admin/users/{name}",
            get(admin::users::show).post(admin::users::update),
        )
        .route(
            "/web/admin/users/{name}/disable",
            post(admin::users::disable),
        )
        .route("/web/admin/users/{name}/enable", post(admin::users::enable))
        .route(
            "/web/admin/users/{name}/calendar-feed/revoke",
            post(admin::users::revoke_feed),
        )
        .route(
            "/web/admin/policy",
            get(admin::policy::show).post(admin::policy::install),
        )
        .route("/web/admin/devices", get(admin::devices::list))
        .route(
            "/web/admin/devices/wipe",
            get(admin::devices::confirm).post(admin::devices::wipe),
        )
        .route("/web/admin/audit", get(admin::audit::show))
        .route(
            "/web/admin/keys",
            get(admin::keys::show).post(admin::keys::create),
        )
        .route("/web/admin/keys/{id}/revoke", post(admin::keys::revoke))
        .route(
            "/web/admin/webhooks",
            get(admin::webhooks::show).post(admin::webhooks::create),
        )
        .route(
            "/web/admin/webhooks/{id}/delete",
            post(admin::webhooks::delete),
        )
        .route(
            "/web/admin/webhooks/deliveries/{id}/redeliver",
            post(admin::webhooks::redeliver),
        )
        .route(
            "/web/admin/import",
            get(admin::import::show).post(admin::import::check),
        )
        .route("/web/admin/import/confirm", post(admin::import::confirm))
        .route("/web/events", get(live::events))
        .route("/web/locale", get(i18n::choose))
        .merge(assets::routes())
        .layer(axum::middleware::from_fn(headers::secure))
        .layer(axum::middleware::from_fn(i18n::negotiate))
        .layer(Extension(config))
        .layer(Extension(admin::import_pending::Pending::default()))
}
