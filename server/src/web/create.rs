//! Creating records from the web: the "New account", "New contact", "New
//! deal", ... form and its save.
//!
//! The form offers exactly the fields the user's role may fill in when
//! creating a record of that kind ([`creatable_fields`], the policy check
//! the card's `writable` marks come from, asked for a record that does not
//! exist yet). A saved form becomes the office API's writes (typed text
//! parsed by `api::records::field_writes`, as `POST /v1/records/{kind}`
//! parses it) made through [`crate::api::write::write`] with `creating`
//! set: the push path of devices, then the process engine, as the API's
//! create does.
//!
//! Guarantees:
//! - the form shows no field the role may not write; a hand-made POST
//!   naming one is judged by the server's policy anyway and refused with
//!   its message, and nothing is created;
//! - a value or right the server refuses is shown next to its field (above
//!   the form for a field not on it) with the server's message, the form
//!   keeps everything the user typed, and nothing is stored (the edit is
//!   stored all or nothing);
//! - the POST is checked like every other (form token, same origin);
//! - on success the browser goes to the new record's card.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use fieldwork_core::card::{CardField, creatable_fields};
use fieldwork_core::{RecordId, RecordKind};

use super::card::{FieldView, card_href, field_view};
use super::form;
use super::i18n::{self, filters};
use super::money_input;
use super::page::{self, CheckedPost, Nav};
use super::session::WebSession;
use super::time_input;
use crate::api::problem::Problem;
use crate::error::ServerError;
use crate::state::AppState;

/// The kinds the web creates, with their name for people.
pub const KINDS: &[(RecordKind, &str)] = &[
    (RecordKind::Account, "account"),
    (RecordKind::Contact, "contact"),
    (RecordKind::Deal, "deal"),
    (RecordKind::Activity, "activity"),
    (RecordKind::Note, "note"),
];

/// Most fields one form may fill in.
const MAX_FIELDS: usize = 200;

/// Longest value taken from the address to pre-fill a field, in bytes.
const MAX_PREFILL: usize = 200;

/// The new-record page.
#[derive(Template)]
#[template(path = "web/new.html")]
pub struct NewPage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// `account`, `contact`, ... for people.
    pub kind: &'static str,
    /// Where the form posts.
    pub action: String,
    /// The fields the user may fill in, in schema order.
    pub fields: Vec<FieldView>,
    /// A refusal not tied to a field on the form.
    pub error: Option<String>,
}

/// The address of the form creating a `kind` record.
pub fn new_href(kind: RecordKind) -> String {
    format!("/web/new/{}", kind.as_str())
}

/// Whether the session may create `kind` records at all (some field is
/// writable on a new one).
pub fn may_create(session: &WebSession, kind: RecordKind) -> bool {
    session
        .access
        .policy()
        .is_some_and(|p| !creatable_fields(&session.access, p, kind).is_empty())
}

fn kind_of(name: &str) -> Option<(RecordKind, &'static str)> {
    KINDS.iter().copied().find(|(k, _)| k.as_str() == name)
}

fn unknown_kind(session: &WebSession) -> Response {
    page::message_for(
        session,
        StatusCode::NOT_FOUND,
        i18n::text("Not found"),
        i18n::text("Records of this kind are not created here."),
    )
}

/// `GET /web/new/{kind}`: the empty form, pre-filled from the address
/// (`?account=account:…` on an account's "New contact").
pub async fn form(
    Path(kind): Path<String>,
    RawQuery(raw): RawQuery,
    session: WebSession,
) -> Response {
    let Some((kind, name)) = kind_of(&kind) else {
        return unknown_kind(&session);
    };
    let query = match form::query(raw.as_deref()) {
        Ok(q) => q,
        Err(e) => {
            return page::message_for(&session, e.status, i18n::text("Bad address"), &e.message);
        }
    };
    let inputs: BTreeMap<String, String> = session
        .access
        .policy()
        .into_iter()
        .flat_map(|p| p.fields(kind))
        .filter_map(|d| {
            query
                .text(d.name, MAX_PREFILL)
                .map(|v| (d.name.to_owned(), v))
        })
        .collect();
    render(
        &session,
        kind,
        name,
        &inputs,
        BTreeMap::new(),
        Vec::new(),
        StatusCode::OK,
    )
}

/// `POST /web/new/{kind}`: creates the record, then shows its card.
pub async fn create(
    State(state): State<Arc<AppState>>,
    Path(kind): Path<String>,
    CheckedPost { session, fields }: CheckedPost,
) -> Response {
    let Some((kind, name)) = kind_of(&kind) else {
        return unknown_kind(&session);
    };
    // Browsers send line breaks as CRLF; stored text uses LF.
    let inputs: BTreeMap<String, String> = fields
        .with_prefix("f.")
        .into_iter()
        .map(|(k, v)| (k, v.replace("\r\n", "\n")))
        .collect();
    if inputs.len() > MAX_FIELDS {
        return page::message_for(
            &session,
            StatusCode::BAD_REQUEST,
            i18n::text("Request refused"),
            &format!("A form may fill in at most {MAX_FIELDS} fields."),
        );
    }
    let mut errors = BTreeMap::new();
    let mut general = Vec::new();
    let mut writes = Vec::new();
    let zone = super::process_card::time_zone(&session);
    let offered = session
        .access
        .policy()
        .map(|policy| creatable_fields(&session.access, policy, kind))
        .unwrap_or_default();
    for (field, value) in &inputs {
        // An empty input is a field left blank: not written.
        if value.trim().is_empty() {
            continue;
        }
        let mut value = value.clone();
        // Money the form offered is typed in major units with its currency
        // on the same form; a field it did not offer goes on as sent, for
        // the policy to judge first.
        if money_input::is_money(kind, field) && offered.contains(field) {
            let currency = money_input::currency_for(kind, field, &inputs, &BTreeMap::new());
            match money_input::to_minor(&value, currency.as_deref()) {
                Ok(minor) => value = minor,
                Err(why) => {
                    errors.insert(field.clone(), why);
                    continue;
                }
            }
        }
        if offered.contains(field) {
            value = time_input::to_stored(kind, field, &value, &zone);
        }
        let one = BTreeMap::from([(field.clone(), serde_json::Value::String(value))]);
        match crate::api::records::field_writes(kind, one) {
            Ok(w) => writes.extend(w),
            Err(p) => note(&mut errors, &mut general, p, field),
        }
    }
    if !errors.is_empty() || !general.is_empty() {
        return render(
            &session,
            kind,
            name,
            &inputs,
            errors,
            general,
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    let id = RecordId::new_random(kind);
    let (st, user, target) = (state.clone(), session.user.clone(), id.clone());
    let written = state
        .db
        .write(move |w| {
            Ok(crate::api::write::write(
                w, &st, &user, &target, true, writes,
            ))
        })
        .await;
    match written {
        Ok(Ok(_)) => Redirect::to(&card_href(&id)).into_response(),
        Ok(Err(problem)) => {
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::FORBIDDEN);
            tracing::info!(user = %session.user.name, code = %problem.code, "web create refused");
            note(&mut errors, &mut general, problem, "");
            render(&session, kind, name, &inputs, errors, general, status)
        }
        Err(e) => page::server_error(&e),
    }
}

/// Files a refusal next to its field (or `fallback`), or above the form
/// when it names no field.
fn note(
    errors: &mut BTreeMap<String, String>,
    general: &mut Vec<String>,
    p: Problem,
    fallback: &str,
) {
    let field = p.field.clone().unwrap_or_else(|| fallback.to_owned());
    if field.is_empty() {
        general.push(i18n::refusals::refusal(&p));
    } else {
        errors.insert(field, i18n::refusals::refusal(&p));
    }
}

/// The form of a new `kind` record with what the user typed and the
/// server's refusals.
fn render(
    session: &WebSession,
    kind: RecordKind,
    name: &'static str,
    inputs: &BTreeMap<String, String>,
    mut errors: BTreeMap<String, String>,
    mut general: Vec<String>,
    status: StatusCode,
) -> Response {
    let Some(policy) = session.access.policy() else {
        return page::server_error(&ServerError::Internal("no policy".into()));
    };
    let mut fields: Vec<FieldView> = creatable_fields(&session.access, policy, kind)
        .into_iter()
        .filter_map(|field| policy.field(kind, &field))
        .map(|def| {
            let empty = CardField {
                name: def.name.to_owned(),
                type_name: def.ty.describe(),
                value: None,
                display: None,
                amount: None,
                currency: None,
                writable: true,
                required: def.required,
                conflicts: Vec::new(),
            };
            let view = field_view(
                kind,
                Some(def.ty),
                &empty,
                inputs.get(def.name),
                &jiff::tz::TimeZone::UTC,
            );
            super::card::custom_label(view, Some(policy), kind)
        })
        .collect();
    for (field, message) in std::mem::take(&mut errors) {
        match fields.iter_mut().find(|f| f.name == field) {
            Some(f) => f.error = Some(message),
            None => general.push(format!("{}: {message}", page::label(&field))),
        }
    }
    if fields.is_empty() && general.is_empty() {
        general.push(format!(
            "Your role (`{}`) may not create {name} records.",
            session.user.role
        ));
    }
    let section = match kind {
        RecordKind::Account => "accounts",
        RecordKind::Contact => "contacts",
        RecordKind::Deal => "pipeline",
        _ => "",
    };
    let template = NewPage {
        nav: Some(session.nav(section, "")),
        kind: name,
        action: new_href(kind),
        fields,
        error: (!general.is_empty()).then(|| general.join(" ")),
    };
    page::render(status, &template)
}
