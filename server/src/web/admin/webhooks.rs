//! The webhooks page (`/web/admin/webhooks`): the active subscriptions
//! with their newest [`DELIVERIES`] deliveries (state, attempts, last
//! status and error), the form to subscribe a URL (the service user whose
//! rights filter the payloads, the event types, the record kinds), and
//! deleting a subscription; queueing a delivery again.
//!
//! Every action calls the office API's functions behind `/v1/admin/webhooks`
//! ([`crate::api::webhooks::create_webhook_by`],
//! [`crate::api::webhooks::all_webhooks`],
//! [`crate::api::webhooks::deliveries_of`],
//! [`crate::api::webhooks::delete_webhook_by`],
//! [`crate::api::webhooks::redeliver_by`]): the same checks of the
//! URL, events and kinds, the same audit entries.
//!
//! Guarantees: only administrators ([`super::require`]); a new
//! subscription's signing secret is shown once, in the answer to the POST
//! that created it, never in the list; a refusal is shown with the API's
//! message (next to its field when the API names one), what was typed
//! kept; inputs are bounded.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use fieldwork_core::RecordKind;

use super::keys::KindBox;
use super::{
    Choice, Field, MAX_TEXT, Secret, bounded, choices, local_ms, refused, require, time_zone,
};
use crate::api::webhooks::{self as api, NewWebhook};
use crate::state::AppState;
use crate::web::form;
use crate::web::i18n::{self, filters};
use crate::web::page::{self, CheckedPost, Nav, SignedInGet};
use crate::web::session::WebSession;
use crate::webhooks::events::EVENT_TYPES;

/// Deliveries shown per subscription.
pub const DELIVERIES: usize = 10;

/// One delivery.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    /// Its id.
    pub id: i64,
    /// The event type.
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    /// Attempts made.
    pub attempts: i64,
    /// The last HTTP status, and the last error.
    pub last: String,
    /// When it was written.
    pub created: String,
    /// The redeliver form's action.
    pub redeliver: String,
}

/// One subscription.
#[derive(Debug, Clone)]
pub struct HookRow {
    /// Its id.
    pub id: i64,
    /// Where it posts.
    pub url: String,
    /// The service user.
    pub user: String,
    /// Event types.
    pub events: String,
    /// Record kinds (`all`).
    pub kinds: String,
    /// When made and by whom.
    pub created: String,
    /// Its newest deliveries.
    pub deliveries: Vec<DeliveryRow>,
    /// The delete form's action.
    pub delete: String,
}

/// The subscribe form as typed.
#[derive(Debug, Clone, Default)]
pub struct HookForm {
    /// The URL.
    pub url: Field,
    /// The service user.
    pub user: Field,
    /// Event types ticked, comma-separated.
    pub events: Field,
    /// Kinds ticked, comma-separated.
    pub kinds: Field,
}

/// The webhooks page.
#[derive(Template)]
#[template(path = "web/admin_webhooks.html")]
pub struct WebhooksPage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// The tab shown (`webhooks`).
    pub tab: &'static str,
    /// Active subscriptions.
    pub hooks: Vec<HookRow>,
    /// Enabled users.
    pub users: Vec<Choice>,
    /// Event types offered.
    pub events: Vec<KindBox>,
    /// Record kinds offered.
    pub kinds: Vec<KindBox>,
    /// The form as typed.
    pub form: HookForm,
    /// The subscription just made and its secret (shown this once).
    pub created: Option<Secret>,
    /// A refusal not about one field.
    pub error: Option<String>,
    /// What was done.
    pub notice: Option<String>,
}

fn boxes(names: &[&'static str], ticked: &str) -> Vec<KindBox> {
    let ticked = super::list(ticked);
    names
        .iter()
        .map(|n| KindBox {
            name: n,
            checked: ticked.iter().any(|t| t == n),
        })
        .collect()
}

async fn webhooks_page(
    state: &AppState,
    session: &WebSession,
    form: HookForm,
) -> Result<WebhooksPage, Response> {
    let tz = time_zone(session);
    let subs = api::all_webhooks(state)
        .await
        .map_err(|p| refused(session, &p))?;
    let mut hooks = Vec::with_capacity(subs.len());
    for s in subs {
        let deliveries = api::deliveries_of(state, &s.id.to_string(), DELIVERIES)
            .await
            .map_err(|p| refused(session, &p))?
            .into_iter()
            .map(|d| DeliveryRow {
                id: d.id,
                event: d.event_type,
                state: d.state,
                attempts: d.attempts,
                last: [
                    d.last_status.map(|s| format!("HTTP {s}")),
                    d.last_error.clone(),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": "),
                created: local_ms(Some(d.created_at), &tz),
                redeliver: format!("/web/admin/webhooks/deliveries/{}/redeliver", d.id),
            })
            .collect();
        hooks.push(HookRow {
            id: s.id,
            url: s.url,
            user: s.user,
            events: s.events.join(", "),
            kinds: s.kinds.map_or_else(|| "all".to_owned(), |k| k.join(", ")),
            created: format!("{} by {}", local_ms(Some(s.created_at), &tz), s.created_by),
            deliveries,
            delete: format!("/web/admin/webhooks/{}/delete", s.id),
        });
    }
    let users: Vec<String> = crate::api::admin::users::all(state)
        .await
        .map_err(|p| refused(session, &p))?
        .into_iter()
        .filter(|u| !u.disabled)
        .map(|u| u.name)
        .collect();
    let kind_names: Vec<&'static str> = RecordKind::ALL.iter().map(|k| k.as_str()).collect();
    Ok(WebhooksPage {
        nav: Some(session.nav("admin", "")),
        tab: "webhooks",
        hooks,
        users: choices(&users, &form.user.value, Some("(choose a user)")),
        events: boxes(EVENT_TYPES, &form.events.value),
        kinds: boxes(&kind_names, &form.kinds.value),
        form,
        created: None,
        error: None,
        notice: None,
    })
}

/// `GET /web/admin/webhooks`: the subscriptions and the form.
pub async fn show(
    State(state): State<Arc<AppState>>,
    SignedInGet { session, query: q }: SignedInGet,
) -> Response {
    if let Err(answer) = require(&session) {
        return answer;
    }
    let mut view = match webhooks_page(&state, &session, HookForm::default()).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    if let Some(id) = q.get("redelivered").and_then(|i| i.parse::<i64>().ok())
        && view
            .hooks
            .iter()
            .any(|h| h.deliveries.iter().any(|d| d.id == id))
    {
        view.notice = Some(i18n::fill("Delivery {0} is queued again, due now.", &[&id]));
    }
    if let Some(id) = q.get("deleted").and_then(|i| i.parse::<i64>().ok())
        && !view.hooks.iter().any(|h| h.id == id)
    {
        view.notice = Some(i18n::fill(
            "Deleted webhook {0}: it receives nothing more.",
            &[&id],
        ));
    }
    page::render(StatusCode::OK, &view)
}

/// The values of repeated checkboxes `name`, each at most 64 bytes, at
/// most `max`.
fn ticked(fields: &form::Pairs, name: &str, max: usize) -> Vec<String> {
    fields
        .0
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.chars().take(64).collect())
        .take(max)
        .collect()
}

/// `POST /web/admin/webhooks`: subscribes a URL through the API's
/// function and shows its secret this once, or the form again with the
/// refusal.
pub async fn create(State(state): State<Arc<AppState>>, post: CheckedPost) -> Response {
    let CheckedPost { session, fields } = post;
    if let Err(answer) = require(&session) {
        return answer;
    }
    // One more than the API allows, so that the API refuses too many.
    let events = ticked(&fields, "event", 33);
    let kinds = ticked(&fields, "kind", 33);
    let mut f = HookForm {
        url: bounded(&fields, "url", 2 * MAX_TEXT + 64),
        user: bounded(&fields, "user", MAX_TEXT),
        events: Field::of(events.join(",")),
        kinds: Field::of(kinds.join(",")),
    };
    let mut error = None;
    if f.url.error.is_none() && f.user.error.is_none() {
        let req = NewWebhook {
            url: f.url.value.clone(),
            user: f.user.value.clone(),
            events,
            kinds: (!kinds.is_empty()).then_some(kinds),
        };
        match api::create_webhook_by(&state, session.user.name.clone(), req).await {
            Ok(created) => {
                let mut view = match webhooks_page(&state, &session, HookForm::default()).await {
                    Ok(v) => v,
                    Err(answer) => return answer,
                };
                view.created = Some(Secret {
                    id: created.subscription.id,
                    value: created.secret,
                });
                return page::render(StatusCode::CREATED, &view);
            }
            Err(p) if p.status >= 500 => return refused(&session, &p),
            Err(p) => match p.field.as_deref() {
                Some("url") => f.url.refuse(&p.detail),
                Some("user") => f.user.refuse(&p.detail),
                _ if p.detail.starts_with("events") || p.detail.contains("event type") => {
                    f.events.refuse(&p.detail)
                }
                _ if p.detail.contains("kind") => f.kinds.refuse(&p.detail),
                _ => error = Some(p.detail.clone()),
            },
        }
    }
    let mut view = match webhooks_page(&state, &session, f).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    view.error = Some(error.unwrap_or_else(|| {
        i18n::text("The webhook was not created: see the fields marked below.").to_owned()
    }));
    page::render(StatusCode::UNPROCESSABLE_ENTITY, &view)
}

/// `POST /web/admin/webhooks/{id}/delete`: deletes the subscription
/// through the API's function.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    post: CheckedPost,
) -> Response {
    if let Err(answer) = require(&post.session) {
        return answer;
    }
    let id: String = id.chars().take(32).collect();
    match api::delete_webhook_by(&state, post.session.user.name.clone(), &id).await {
        Ok(()) => Redirect::to(&format!("/web/admin/webhooks?deleted={id}")).into_response(),
        Err(p) => refused(&post.session, &p),
    }
}

/// `POST /web/admin/webhooks/deliveries/{id}/redeliver`: queues a delivery
/// again, due now, through the API's function.
pub async fn redeliver(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    post: CheckedPost,
) -> Response {
    if let Err(answer) = require(&post.session) {
        return answer;
    }
    let id: String = id.chars().take(32).collect();
    match api::redeliver_by(&state, post.session.user.name.clone(), &id).await {
        Ok(()) => Redirect::to(&format!("/web/admin/webhooks?redelivered={id}")).into_response(),
        Err(p) => refused(&post.session, &p),
    }
}
