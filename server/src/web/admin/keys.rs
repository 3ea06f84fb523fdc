//! The API keys page (`/web/admin/keys`): every key, live and revoked,
//! without its secret; the form to create one (a name, the service user it
//! acts as, read-only or not, the record kinds it may touch, its own rate
//! limit); and revoking a key.
//!
//! Every action calls the office API's functions behind `POST`, `GET` and
//! `DELETE /v1/admin/api-keys` ([`crate::api::keys::create_key_by`],
//! [`crate::api::keys::all_keys`], [`crate::api::keys::revoke_key_by`]): the
//! same checks, the same audit entries.
//!
//! Guarantees: only administrators ([`super::require`]); a new key is
//! shown once, in the answer to the POST that created it (a page that is
//! never stored, `Cache-Control: no-store`), never in the list or
//! anywhere else; a refusal is shown next to its field with the API's
//! message, what was typed kept; inputs are bounded.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use fieldwork_core::RecordKind;

use super::{
    Choice, Field, MAX_TEXT, Secret, bounded, choices, iso_ms, local_ms, refused, require,
    time_zone,
};
use crate::api::keys::{self as api, ApiKeyView, NewApiKey};
use crate::state::AppState;
use crate::web::i18n::{self, filters};
use crate::web::page::{self, CheckedPost, Nav, SignedInGet};
use crate::web::session::WebSession;

/// One key in the table.
#[derive(Debug, Clone)]
pub struct KeyRow {
    /// Its id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The user it acts as.
    pub user: String,
    /// `read only` or `read and write`.
    pub access: &'static str,
    /// The kinds it may touch (`all`).
    pub kinds: String,
    /// Its rate limit (empty: the server's).
    pub rate: String,
    /// When created, and by whom.
    pub created: String,
    /// When created, RFC 3339.
    pub created_at: String,
    /// When last used (empty: never).
    pub last_used: String,
    /// When revoked (empty: live).
    pub revoked: String,
    /// The revoke form's action.
    pub revoke: String,
}

/// A record kind offered in the form.
#[derive(Debug, Clone)]
pub struct KindBox {
    /// Its name.
    pub name: &'static str,
    /// Whether ticked.
    pub checked: bool,
}

/// The create form as typed, with refusals.
#[derive(Debug, Clone, Default)]
pub struct KeyForm {
    /// The key's name.
    pub name: Field,
    /// The service user.
    pub user: Field,
    /// Whether read-only.
    pub read_only: bool,
    /// The kinds ticked (none: every kind).
    pub kinds: Field,
    /// The rate per minute (empty: the server's).
    pub rate: Field,
}

/// The API keys page.
#[derive(Template)]
#[template(path = "web/admin_keys.html")]
pub struct KeysPage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// The tab shown (`keys`).
    pub tab: &'static str,
    /// Every key, oldest first.
    pub keys: Vec<KeyRow>,
    /// The enabled users a key may act as.
    pub users: Vec<Choice>,
    /// The record kinds.
    pub kinds: Vec<KindBox>,
    /// The form as typed.
    pub form: KeyForm,
    /// The key just created (shown this once).
    pub created: Option<Secret>,
    /// A refusal not about one field.
    pub error: Option<String>,
    /// What was done.
    pub notice: Option<String>,
}

fn row(k: &ApiKeyView, tz: &jiff::tz::TimeZone) -> KeyRow {
    KeyRow {
        id: k.id,
        name: k.name.clone(),
        user: k.user.clone(),
        access: if k.read_only {
            "read only"
        } else {
            "read and write"
        },
        kinds: k
            .kinds
            .as_ref()
            .map_or_else(|| "all".to_owned(), |k| k.join(", ")),
        rate: k
            .rate_per_minute
            .map(|r| format!("{r}/min"))
            .unwrap_or_default(),
        created: format!("{} by {}", local_ms(Some(k.created_at), tz), k.created_by),
        created_at: iso_ms(Some(k.created_at)),
        last_used: local_ms(k.last_used_at, tz),
        revoked: local_ms(k.revoked_at, tz),
        revoke: format!("/web/admin/keys/{}/revoke", k.id),
    }
}

async fn keys_page(
    state: &AppState,
    session: &WebSession,
    form: KeyForm,
) -> Result<KeysPage, Response> {
    let keys = api::all_keys(state)
        .await
        .map_err(|p| refused(session, &p))?;
    let users: Vec<String> = crate::api::admin::users::all(state)
        .await
        .map_err(|p| refused(session, &p))?
        .into_iter()
        .filter(|u| !u.disabled)
        .map(|u| u.name)
        .collect();
    let tz = time_zone(session);
    let ticked = super::list(&form.kinds.value);
    Ok(KeysPage {
        nav: Some(session.nav("admin", "")),
        tab: "keys",
        keys: keys.iter().map(|k| row(k, &tz)).collect(),
        users: choices(&users, &form.user.value, Some("(choose a user)")),
        kinds: RecordKind::ALL
            .iter()
            .map(|k| KindBox {
                name: k.as_str(),
                checked: ticked.iter().any(|t| t == k.as_str()),
            })
            .collect(),
        form,
        created: None,
        error: None,
        notice: None,
    })
}

/// `GET /web/admin/keys`: the keys and the form.
pub async fn show(
    State(state): State<Arc<AppState>>,
    SignedInGet { session, query: q }: SignedInGet,
) -> Response {
    if let Err(answer) = require(&session) {
        return answer;
    }
    let mut view = match keys_page(&state, &session, KeyForm::default()).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    if let Some(id) = q.get("revoked")
        && let Some(k) = view
            .keys
            .iter()
            .find(|k| k.id.to_string() == id && !k.revoked.is_empty())
    {
        view.notice = Some(i18n::fill(
            "Revoked key {0} ({1}): its next request is refused.",
            &[&k.id, &k.name],
        ));
    }
    page::render(StatusCode::OK, &view)
}

/// `POST /web/admin/keys`: creates a key through the API's function and
/// shows it this once, or shows the form again with the refusal.
pub async fn create(State(state): State<Arc<AppState>>, post: CheckedPost) -> Response {
    let CheckedPost { session, fields } = post;
    if let Err(answer) = require(&session) {
        return answer;
    }
    let kinds: Vec<String> = fields
        .0
        .iter()
        .filter(|(k, _)| k == "kind")
        .map(|(_, v)| v.chars().take(64).collect())
        .take(RecordKind::ALL.len() + 1)
        .collect();
    let mut f = KeyForm {
        name: bounded(&fields, "name", MAX_TEXT),
        user: bounded(&fields, "user", MAX_TEXT),
        read_only: fields.get("read_only").is_some(),
        kinds: super::Field::of(kinds.join(",")),
        rate: bounded(&fields, "rate", 32),
    };
    let rate = match f.rate.value.as_str() {
        "" => None,
        text => match text.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => {
                f.rate.refuse(i18n::text(
                    "A whole number of requests per minute, or empty.",
                ));
                None
            }
        },
    };
    if f.user.value.is_empty() && f.user.error.is_none() {
        f.user
            .refuse(i18n::text("Choose the user the key acts as."));
    }
    let mut error = None;
    if [&f.name, &f.user, &f.rate]
        .iter()
        .all(|x| x.error.is_none())
    {
        let req = NewApiKey {
            name: f.name.value.clone(),
            user: f.user.value.clone(),
            read_only: f.read_only,
            kinds: (!kinds.is_empty()).then_some(kinds),
            rate_per_minute: rate,
        };
        match api::create_key_by(&state, session.user.name.clone(), req).await {
            Ok(created) => {
                let mut view = match keys_page(&state, &session, KeyForm::default()).await {
                    Ok(v) => v,
                    Err(answer) => return answer,
                };
                view.created = Some(Secret {
                    id: created.view.id,
                    value: created.key,
                });
                return page::render(StatusCode::CREATED, &view);
            }
            Err(p) if p.status >= 500 => return refused(&session, &p),
            Err(p) => {
                let d = p.detail.as_str();
                if d.contains("record kind") {
                    f.kinds.refuse(d);
                } else if d.starts_with("rate") {
                    f.rate.refuse(d);
                } else if d.starts_with("user `") {
                    f.user.refuse(d);
                } else if d.starts_with("the key's name") {
                    f.name.refuse(d);
                } else {
                    error = Some(p.detail.clone());
                }
            }
        }
    }
    let mut view = match keys_page(&state, &session, f).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    view.error = Some(error.unwrap_or_else(|| {
        i18n::text("The key was not created: see the fields marked below.").to_owned()
    }));
    page::render(StatusCode::UNPROCESSABLE_ENTITY, &view)
}

/// `POST /web/admin/keys/{id}/revoke`: revokes the key through the API's
/// function.
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    post: CheckedPost,
) -> Response {
    if let Err(answer) = require(&post.session) {
        return answer;
    }
    let id: String = id.chars().take(32).collect();
    match api::revoke_key_by(&state, post.session.user.name.clone(), &id).await {
        Ok(k) => Redirect::to(&format!("/web/admin/keys?revoked={}", k.id)).into_response(),
        Err(p) => refused(&post.session, &p),
    }
}
