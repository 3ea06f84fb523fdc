//! The OpenAPI 3.1 document of the office API, generated from the
//! handlers' annotations and types (utoipa) and served at
//! `/v1/openapi.json`. Because it is generated from the code, it describes
//! the routes as built; the test suite validates it with an independent
//! validator and exercises it against a live server
//! (`scripts/check-openapi.sh`).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::problem::Problem;
use super::{
    admin, archive, calendar, duplicates, export, files, import, keys, lookup, processes, records,
    reports, search, tasks, webhooks,
};
use crate::state::AppState;

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Fieldwork office API",
        description = "Records, search, phone lookup, calendars, API keys and webhooks, under the same per-field privacy policy as sync. Guide: docs/API.md.",
    ),
    paths(
        records::list,
        records::get_one,
        records::create,
        records::update,
        records::history,
        records::related,
        records::complete,
        duplicates::find,
        export::export,
        import::route::import,
        files::upload,
        files::download,
        archive::archive,
        archive::restore,
        tasks::task_list,
        tasks::calendar,
        search::search,
        lookup::lookup_phone,
        keys::me,
        calendar::create_feed,
        calendar::revoke_feed,
        calendar::feed,
        reports::report_named,
        reports::timeline,
    ),
    components(schemas(
        Problem,
        records::KindName,
        records::RecordOut,
        records::RecordPage,
        records::FieldsIn,
        records::CompleteIn,
        duplicates::DuplicatesOut,
        duplicates::DuplicateOut,
        duplicates::DuplicateRecord,
        export::ExportFormat,
        files::UploadOut,
        tasks::TaskItem,
        tasks::TasksOut,
        tasks::CalendarOut,
        records::RelatedOut,
        records::RelatedRecord,
        search::SearchResults,
        search::SearchHitJson,
        lookup::PhoneLookup,
        lookup::PhoneMatch,
        keys::Me,
        keys::MeKey,
        calendar::CalendarFeed,
        reports::ReportKindName,
        reports::ReportFormat,
        reports::ReportGroupBy,
    )),
    modifiers(&Bearer, &Problems),
    security(("bearer" = [])),
    tags(
        (name = "records", description = "Accounts, contacts, relationships, deals, activities and notes"),
        (name = "files", description = "Photos and documents that records refer to, uploaded in resumable chunks and downloaded by their SHA-256"),
        (name = "tasks", description = "Activities on people's calendars"),
        (name = "search", description = "Search across kinds and phone lookup for call routing"),
        (name = "me", description = "Who is calling"),
        (name = "calendar", description = "Secret iCalendar feeds of each user's activities"),
        (name = "reports", description = "Pipeline, win rate, cycle, funnel, activities, visits and timelines over what the caller sees"),
    )
)]
pub struct ApiDoc;

/// The admin listener's document (API keys, webhooks, calendar feeds of
/// users), served there at `/v1/admin/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Fieldwork admin API (office integrations)",
        description = "API keys and webhooks, served on the admin listener (--admin-listen). Guide: docs/API.md.",
    ),
    paths(
        keys::create_key,
        keys::list_keys,
        keys::revoke_key,
        keys::revoke_user_feed,
        webhooks::create_webhook,
        webhooks::list_webhooks,
        webhooks::delete_webhook,
        webhooks::list_deliveries,
        webhooks::redeliver,
    ),
    components(schemas(
        Problem,
        keys::NewApiKey,
        keys::ApiKeyView,
        keys::CreatedApiKey,
        webhooks::NewWebhook,
        webhooks::CreatedWebhook,
        crate::db::webhooks::Subscription,
        crate::db::webhooks::Delivery,
        crate::db::webhooks::AttemptLog,
    )),
    modifiers(&Bearer, &Problems),
    security(("bearer" = [])),
    tags(
        (name = "admin", description = "Administration of integrations"),
    )
)]
pub struct AdminDoc;

/// Adds the bearer scheme: a session token from `/v1/login` or an API key.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A session token from POST /v1/login, or an API key (fwk_...)",
                    ))
                    .build(),
            ),
        );
    }
}

/// Adds the answers every operation may give, as problem details, where an
/// operation does not describe them itself: a malformed request (400), no
/// or a bad token (401), a right the caller lacks (403), an unknown record
/// kind or record (404), a body too slow (408) or too large (413), a value
/// the schema refuses (422), too many requests (429).
struct Problems;

impl Modify for Problems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let common: [(&str, &str); 8] = [
            ("400", "A malformed request (`bad_request`)"),
            (
                "401",
                "No token, or an unknown, expired or revoked one (`unauthorized`)",
            ),
            (
                "403",
                "The caller may not do this (`forbidden`, `key_scope`, or a policy refusal)",
            ),
            (
                "404",
                "No such record kind or record, or one the caller does not see (`not_found`)",
            ),
            ("408", "The body did not arrive in time (`request_timeout`)"),
            ("413", "The body is too large (`payload_too_large`)"),
            (
                "422",
                "A value or a rule of the record is wrong (`invalid_value`, `unknown_field`)",
            ),
            ("429", "Too many requests; see Retry-After (`rate_limited`)"),
        ];
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                for (code, description) in common {
                    op.responses
                        .responses
                        .entry(code.to_owned())
                        .or_insert_with(|| {
                            ResponseBuilder::new()
                                .description(description)
                                .content(
                                    "application/problem+json",
                                    ContentBuilder::new()
                                        .schema(Some(Ref::from_schema_name("Problem")))
                                        .build(),
                                )
                                .build()
                                .into()
                        });
                }
            }
        }
    }
}

/// The document as served: every module's paths merged, then the bearer
/// scheme and the common problem answers added to all of them.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi()
        .merge_from(processes::ProcessesDoc::openapi())
        .merge_from(super::merge::MergeDoc::openapi());
    Bearer.modify(&mut doc);
    Problems.modify(&mut doc);
    doc
}

/// The admin listener's document as served (see [`document`]).
pub fn admin_document() -> utoipa::openapi::OpenApi {
    let mut doc = AdminDoc::openapi().merge_from(admin::AdminResourcesDoc::openapi());
    Bearer.modify(&mut doc);
    Problems.modify(&mut doc);
    doc
}

/// The route serving the document.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/openapi.json", get(|| async { Json(document()) }))
}

/// The route serving the admin document on the admin listener.
pub fn admin_routes() -> Router<Arc<AppState>> {
    Router::new().route(
        "/v1/admin/openapi.json",
        get(|| async { Json(admin_document()) }),
    )
}
