//! The record card: the fields the user may read, an edit form for those
//! they may write, the records related to it and, for an account, its
//! touchpoint timeline.
//!
//! The card is the office API's ([`read::card`]: exactly the fields `GET
//! /v1/records/{kind}/{id}` returns this user, with the same `writable`
//! marks). A saved form becomes the API's writes (typed text parsed by
//! the office API's `api::records::field_writes`) made through
//! [`crate::api::write::write`]: the push path of devices, then the
//! process engine as a device runs it after its own write.
//!
//! Guarantees:
//! - a field the user may not read is neither shown nor offered; a field
//!   they may not write is shown as text, without an input;
//! - only fields whose submitted text differs from the text the form was
//!   rendered with are written, so saving never overwrites a field the
//!   user did not touch with a stale value; a hand-made POST naming any
//!   field is still judged by the server's rules and policy;
//! - a value or right the server refuses is shown next to its field (or
//!   above the form for a field not on the card) with the server's
//!   message, the form keeps everything the user typed, and nothing of
//!   the edit is stored (the edit's changes are stored all or nothing);
//! - a record the user does not see is "not found", like one that does
//!   not exist; related lists and the timeline hold only records the user
//!   sees, through the classes they may read.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use fieldwork_core::card::{RecordCard, creatable_fields};
use fieldwork_core::report::ReportQuery;
use fieldwork_core::report::timeline::{self, EventKind};
use fieldwork_core::schema::{self, FieldType};
use fieldwork_core::{RecordId, RecordKind};

use super::customers::{Choice, record_href};
use super::form;
use super::i18n::{self, filters};
use super::long_text::{self, Clash, LongEdit};
use super::money_input;
use super::page::{self, CheckedPost, Nav};
use super::session::WebSession;
use super::time_input;
use crate::api::problem::Problem;
use crate::api::{query, read, write};
use crate::db::record_index::{self, FactsScope, Loaded};
use crate::error::ServerError;
use crate::state::AppState;

/// Related records listed per kind (the newest).
pub const RELATED_PER_KIND: usize = 50;

/// Most fields one form may write.
const MAX_FIELDS: usize = 200;

/// The kinds listed as related records, in order.
const RELATED: &[(RecordKind, &str)] = &[
    (RecordKind::Contact, i18n::mark("Contacts")),
    (RecordKind::Deal, i18n::mark("Deals")),
    (RecordKind::Activity, i18n::mark("Activities")),
    (RecordKind::Note, i18n::mark("Notes")),
];

/// The kinds a timeline reads.
const TIMELINE_KINDS: &[RecordKind] = &[
    RecordKind::Account,
    RecordKind::Contact,
    RecordKind::Deal,
    RecordKind::Activity,
    RecordKind::Note,
];

/// One field of the card as the page shows it.
#[derive(Debug, Clone)]
pub struct FieldView {
    /// The field's name.
    pub name: String,
    /// Its name for people.
    pub label: String,
    /// Its type in words (the input's hint).
    pub hint: String,
    /// The text in the input: what the user typed, else the stored value.
    pub value: String,
    /// The stored value as the form was rendered (to see what changed).
    pub original: String,
    /// The stored value for people.
    pub display: String,
    /// A link, for references to other records.
    pub href: Option<String>,
    /// Whether the user may change it.
    pub writable: bool,
    /// Whether it must have a value.
    pub required: bool,
    /// `text`, `textarea` or `select`.
    pub input: &'static str,
    /// The choices of a select.
    pub options: Vec<Choice>,
    /// Values written concurrently, for people.
    pub conflicts: String,
    /// Why the server refused what the user typed.
    pub error: Option<String>,
    /// For an amount of money: the currency it is shown in (posted back as
    /// `c.FIELD`, [`super::money_input`]).
    pub currency: Option<String>,
    /// The text stored now, when the user's edit of this long text clashed
    /// with someone else's ([`super::long_text`]).
    pub stored: Option<String>,
}

/// A link to a related record.
#[derive(Debug, Clone)]
pub struct Link {
    /// The card's address.
    pub href: String,
    /// The record's display name.
    pub title: String,
}

/// Related records of one kind.
#[derive(Debug, Clone)]
pub struct RelatedList {
    /// `Contacts`, `Deals`, ...
    pub heading: &'static str,
    /// The records (the newest [`RELATED_PER_KIND`]).
    pub items: Vec<Link>,
    /// How many more there are.
    pub more: usize,
}

/// One touchpoint of the timeline.
#[derive(Debug, Clone)]
pub struct Touchpoint {
    /// When, in the user's time zone (empty when unknown).
    pub at: String,
    /// What happened, for people.
    pub what: String,
    /// The record's card.
    pub href: String,
    /// The record's display name.
    pub title: String,
    /// Stage entered, or an activity's type and status.
    pub detail: String,
    /// Who.
    pub who: String,
}

/// The card page.
#[derive(Template)]
#[template(path = "web/card.html")]
pub struct CardPage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// The record's kind, for people.
    pub kind: String,
    /// The record's id.
    pub id: String,
    /// Its display name.
    pub title: String,
    /// Where the form posts.
    pub action: String,
    /// The fields, in schema order.
    pub fields: Vec<FieldView>,
    /// Whether any field is writable (else no form).
    pub editable: bool,
    /// A refusal not tied to a field on the card.
    pub error: Option<String>,
    /// Whether the last save succeeded.
    pub saved: bool,
    /// Whether the form shows refusals (live updates then leave it alone,
    /// so nothing typed is lost).
    pub hold: bool,
    /// Related records by kind.
    pub related: Vec<RelatedList>,
    /// The account's touchpoints (accounts only).
    pub timeline: Option<Vec<Touchpoint>>,
    /// Why the timeline is not shown, if it is not.
    pub timeline_error: Option<String>,
    /// The record's field history page.
    pub history: String,
    /// New records pre-filled with this one ("New contact", "New deal" on
    /// an account), those the user may create.
    pub new_links: Vec<Link>,
    /// The models page's start form for this record, when the user's role
    /// may start processes ([`super::process_start`]).
    pub start_process: Option<String>,
}

/// What the user typed and what the server said about it.
#[derive(Debug, Default)]
struct Typed {
    inputs: BTreeMap<String, String>,
    errors: BTreeMap<String, String>,
    general: Vec<String>,
    /// Long texts whose edit clashed: field → the text stored now.
    stored: BTreeMap<String, String>,
}

/// `GET /web/records/{kind}/{id}`.
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path((kind, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    session: WebSession,
) -> Response {
    let Ok(id) = query::record_id(&kind, &id) else {
        return not_found(&session);
    };
    let saved = form::query(raw.as_deref())
        .ok()
        .is_some_and(|q| q.get("saved") == Some("1"));
    page_of(
        &state,
        &session,
        &id,
        Typed::default(),
        saved,
        StatusCode::OK,
    )
    .await
}

/// `POST /web/records/{kind}/{id}`: saves the changed fields.
pub async fn save(
    State(state): State<Arc<AppState>>,
    Path((kind, id)): Path<(String, String)>,
    CheckedPost { session, fields }: CheckedPost,
) -> Response {
    let Ok(id) = query::record_id(&kind, &id) else {
        return not_found(&session);
    };
    // Browsers send line breaks as CRLF; stored text uses LF.
    let lf = |m: BTreeMap<String, String>| -> BTreeMap<String, String> {
        m.into_iter()
            .map(|(k, v)| (k, v.replace("\r\n", "\n")))
            .collect()
    };
    let inputs = lf(fields.with_prefix("f."));
    let originals = lf(fields.with_prefix("o."));
    let shown_in = fields.with_prefix("c.");
    let zone = super::process_card::time_zone(&session);
    if inputs.len() > MAX_FIELDS {
        return page::message_for(
            &session,
            StatusCode::BAD_REQUEST,
            i18n::text("Request refused"),
            &format!("A form may change at most {MAX_FIELDS} fields."),
        );
    }
    let mut typed = Typed {
        inputs: inputs.clone(),
        ..Typed::default()
    };
    let mut writes = Vec::new();
    let mut long = Vec::new();
    for (name, value) in &inputs {
        if originals.get(name) == Some(value) {
            continue;
        }
        if schema::field(id.kind(), name).is_some_and(|d| d.ty == FieldType::LongText) {
            long.push(LongEdit {
                field: name.clone(),
                base: originals.get(name).cloned().unwrap_or_default(),
                mine: value.clone(),
            });
            continue;
        }
        let mut value = value.clone();
        // Only money the form offered is read in major units; a field the
        // form did not show goes on as sent, for the policy to judge first.
        if money_input::is_money(id.kind(), name)
            && originals.contains_key(name)
            && !value.trim().is_empty()
        {
            let currency = money_input::currency_for(id.kind(), name, &inputs, &shown_in);
            match money_input::to_minor(&value, currency.as_deref()) {
                Ok(minor) => value = minor,
                Err(why) => {
                    typed.errors.insert(name.clone(), why);
                    continue;
                }
            }
        }
        if originals.contains_key(name) {
            value = time_input::to_stored(id.kind(), name, &value, &zone);
        }
        let json = if value.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::Value::String(value)
        };
        let one = BTreeMap::from([(name.clone(), json)]);
        match crate::api::records::field_writes(id.kind(), one) {
            Ok(w) => writes.extend(w),
            Err(p) => typed.note(p, name),
        }
    }
    if !typed.errors.is_empty() || !typed.general.is_empty() {
        return page_of(
            &state,
            &session,
            &id,
            typed,
            false,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    if writes.is_empty() && long.is_empty() {
        return Redirect::to(&card_href(&id)).into_response();
    }
    let (st, user, target) = (state.clone(), session.user.clone(), id.clone());
    let (access, actor) = (
        session.access.clone(),
        write::actor_for(&state.actor, &session.user),
    );
    let written = state
        .db
        .write(move |w| {
            let mut writes = writes;
            if !long.is_empty() {
                match long_text::merged_writes(&w.conn, &access, &actor, &target, long)? {
                    Ok(merged) => writes.extend(merged),
                    Err(clash) => return Ok(Err(clash)),
                }
            }
            if writes.is_empty() {
                return Ok(Ok(0));
            }
            Ok(write::write(w, &st, &user, &target, false, writes).map_err(Clash::Refused))
        })
        .await;
    match written {
        Ok(Ok(_)) => Redirect::to(&format!("{}?saved=1", card_href(&id))).into_response(),
        Ok(Err(Clash::Conflict {
            field,
            stored,
            line,
        })) => {
            let why = i18n::fill(
                "Someone else changed this text at the same place while you were editing it (around line {0}). None of it was saved: your text is still in the box, the stored text is below it. Merge them and save again.",
                &[&line],
            );
            typed.errors.insert(field.clone(), why);
            typed.stored.insert(field, stored);
            page_of(&state, &session, &id, typed, false, StatusCode::CONFLICT).await
        }
        Ok(Err(Clash::Refused(problem))) => {
            let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::FORBIDDEN);
            if status == StatusCode::NOT_FOUND {
                return not_found(&session);
            }
            tracing::info!(user = %session.user.name, code = %problem.code, "web edit refused");
            typed.note(problem, "");
            page_of(&state, &session, &id, typed, false, status).await
        }
        Err(e) => page::server_error(&e),
    }
}

impl Typed {
    /// Files a refusal next to its field (or `fallback`), or above the
    /// form when it names no field.
    fn note(&mut self, p: Problem, fallback: &str) {
        let field = p.field.clone().unwrap_or_else(|| fallback.to_owned());
        if field.is_empty() {
            self.general.push(i18n::refusals::refusal(&p));
        } else {
            self.errors.insert(field, i18n::refusals::refusal(&p));
        }
    }
}

/// The card's address.
pub fn card_href(id: &RecordId) -> String {
    format!("/web/records/{}/{}", id.kind().as_str(), id)
}

fn not_found(session: &WebSession) -> Response {
    page::message_for(
        session,
        StatusCode::NOT_FOUND,
        i18n::text("Not found"),
        i18n::text("There is no such record, or you may not see it."),
    )
}

/// What one database read gathers for a card page.
struct Gathered {
    card: RecordCard,
    related: Vec<RelatedList>,
    timeline: Option<Result<timeline::Timeline, String>>,
}

/// Renders the card of `id` with what the user typed.
async fn page_of(
    state: &Arc<AppState>,
    session: &WebSession,
    id: &RecordId,
    mut typed: Typed,
    saved: bool,
    status: StatusCode,
) -> Response {
    let gathered = match gather(state, session, id).await {
        Ok(Some(g)) => g,
        Ok(None) => return not_found(session),
        Err(e) => return page::server_error(&e),
    };
    let tz = super::process_card::time_zone(session);
    let mut fields: Vec<FieldView> = gathered
        .card
        .fields
        .iter()
        .map(|f| {
            let ty = session.access.field(id.kind(), &f.name).map(|d| d.ty);
            let view = field_view(id.kind(), ty, f, typed.inputs.get(&f.name), &tz);
            custom_label(view, session.access.policy(), id.kind())
        })
        .collect();
    // Refusals of fields the card shows go next to them, others above
    // the form.
    for f in &mut fields {
        f.stored = typed.stored.remove(&f.name);
    }
    for (field, message) in std::mem::take(&mut typed.errors) {
        match fields.iter_mut().find(|f| f.name == field) {
            Some(f) => f.error = Some(message),
            None => typed
                .general
                .push(format!("{}: {message}", page::label(&field))),
        }
    }
    let (timeline, timeline_error) = match gathered.timeline {
        None => (None, None),
        Some(Ok(t)) => (
            Some(t.events.iter().map(|e| touchpoint(e, &tz)).collect()),
            None,
        ),
        Some(Err(why)) => (None, Some(why)),
    };
    let template = CardPage {
        nav: Some(session.nav(
            section_of(id.kind()),
            "account contact deal activity note relationship",
        )),
        kind: page::label(id.kind().as_str()),
        id: id.to_string(),
        title: gathered.card.title.clone(),
        action: card_href(id),
        editable: fields.iter().any(|f| f.writable),
        hold: !typed.general.is_empty() || fields.iter().any(|f| f.error.is_some()),
        fields,
        error: (!typed.general.is_empty()).then(|| typed.general.join(" ")),
        saved,
        related: gathered
            .related
            .into_iter()
            .map(|r| RelatedList {
                heading: i18n::text(r.heading),
                ..r
            })
            .collect(),
        timeline,
        timeline_error,
        history: format!("{}/history", card_href(id)),
        new_links: new_links(session, id),
        start_process: session
            .access
            .check_process("start", |p| p.start)
            .is_ok()
            .then(|| {
                form_urlencoded::Serializer::new("/web/processes?".to_owned())
                    .append_pair("record", &id.to_string())
                    .finish()
                    + "#start"
            }),
    };
    page::render(status, &template)
}

/// "New contact" and "New deal" for an account, pre-filled with it, when
/// the user may create such records (the new-record form,
/// `super::create`).
fn new_links(session: &WebSession, id: &RecordId) -> Vec<Link> {
    let Some(policy) = session.access.policy() else {
        return Vec::new();
    };
    if id.kind() != RecordKind::Account {
        return Vec::new();
    }
    [
        (RecordKind::Contact, i18n::text("New contact")),
        (RecordKind::Deal, i18n::text("New deal")),
    ]
    .into_iter()
    .filter(|(kind, _)| {
        creatable_fields(&session.access, policy, *kind).contains(&"account".to_owned())
    })
    .map(|(kind, title)| Link {
        href: format!("/web/new/{}?account={id}", kind.as_str()),
        title: title.to_owned(),
    })
    .collect()
}

fn section_of(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Account => "accounts",
        RecordKind::Contact => "contacts",
        RecordKind::Deal => "pipeline",
        _ => "",
    }
}

/// One field as a form shows it: `typed` when the user typed something,
/// else the stored value (also the new-record form's, [`super::create`]);
/// the value as read, the label and the hint in the request's language,
/// instants in `zone`; `ty` is the field's type under the policy in force
/// (custom fields and picklists included: a choice is a select).
pub(super) fn field_view(
    kind: RecordKind,
    ty: Option<FieldType>,
    f: &fieldwork_core::card::CardField,
    typed: Option<&String>,
    zone: &jiff::tz::TimeZone,
) -> FieldView {
    // Money is edited in its currency's major units, as people write it.
    let currency = f.currency.clone().filter(|_| ty == Some(FieldType::Money));
    let original = match (&currency, f.value.as_deref().map(str::parse::<i64>)) {
        (Some(c), Some(Ok(minor))) => i18n::current().amount_for_input(minor, c),
        _ if ty == Some(FieldType::DateTime) => f
            .value
            .as_deref()
            .and_then(|v| time_input::for_input(v, zone).or_else(|| Some(v.to_owned())))
            .unwrap_or_default(),
        _ => f.value.clone().unwrap_or_default(),
    };
    let value = typed.cloned().unwrap_or_else(|| original.clone());
    let (input, options) = match ty {
        Some(FieldType::Enum(values)) => ("select", choices(values, &value, f.required)),
        Some(FieldType::Bool) => ("select", choices(&["true", "false"], &value, false)),
        Some(FieldType::LongText) => ("textarea", Vec::new()),
        other => (time_input::input_type(other), Vec::new()),
    };
    let href = match ty {
        Some(FieldType::Ref(_)) => f.value.as_deref().and_then(record_href),
        _ => None,
    };
    FieldView {
        name: f.name.clone(),
        label: page::label(&f.name),
        hint: match (&currency, ty) {
            (Some(c), _) => i18n::fill("amount in {0}", &[c]),
            (None, ty) => ty.map_or_else(|| f.type_name.clone(), i18n::values::hint),
        },
        value,
        original,
        display: i18n::values::card_field(kind, f, zone),
        href,
        writable: f.writable,
        required: f.required,
        input,
        options,
        conflicts: f.conflicts.join(", "),
        error: None,
        currency,
        stored: None,
    }
}

/// `view` with the label the policy gives its custom field, if any (a
/// built-in field keeps its translated label).
pub(super) fn custom_label(
    mut view: FieldView,
    policy: Option<&fieldwork_core::Policy>,
    kind: RecordKind,
) -> FieldView {
    if let Some(label) = policy.and_then(|p| p.label(kind, &view.name)) {
        view.label = label.to_owned();
    }
    view
}

fn choices(values: &[&str], current: &str, required: bool) -> Vec<Choice> {
    let mut out = Vec::new();
    if !required {
        out.push(Choice {
            value: String::new(),
            label: i18n::text("(none)").to_owned(),
            selected: current.is_empty(),
        });
    }
    out.extend(values.iter().map(|v| Choice {
        value: (*v).to_owned(),
        label: page::label(v),
        selected: *v == current,
    }));
    if !current.is_empty() && !values.contains(&current) {
        // A value typed by hand that is not a choice stays visible, so
        // the refusal next to it makes sense.
        out.push(Choice {
            value: current.to_owned(),
            label: current.to_owned(),
            selected: true,
        });
    }
    out
}

fn touchpoint(e: &timeline::TimelineEvent, tz: &jiff::tz::TimeZone) -> Touchpoint {
    let what = match e.kind {
        EventKind::AccountStage => i18n::text("Account stage"),
        EventKind::DealCreated => i18n::text("Deal created"),
        EventKind::DealStage => i18n::text("Deal stage"),
        EventKind::Activity => i18n::text("Activity"),
        EventKind::Note => i18n::text("Note"),
        EventKind::Contact => i18n::text("Contact added"),
    };
    Touchpoint {
        at: e
            .at
            .map(|t| i18n::date_time(t.to_zoned_datetime(tz.clone()).datetime()))
            .unwrap_or_default(),
        what: what.to_owned(),
        href: record_href(&e.record).unwrap_or_default(),
        title: e.title.clone(),
        detail: e.detail.clone(),
        who: e.who.clone().unwrap_or_default(),
    }
}

/// Reads the card, its related records and (accounts) its timeline in
/// one database read; `None` when the user does not see the record.
async fn gather(
    state: &Arc<AppState>,
    session: &WebSession,
    id: &RecordId,
) -> Result<Option<Gathered>, ServerError> {
    let access = session.access.clone();
    let actor = write::actor_for(&state.actor, &session.user);
    let id = id.clone();
    let now = state.clock.now();
    state
        .db
        .read(move |c| {
            let Some((card, _)) = read::card(c, &access, &id, &actor)? else {
                return Ok(None);
            };
            let children = crate::db::facts::children_of(c, &id.to_string())?;
            let mut related = Vec::new();
            for (kind, heading) in RELATED {
                let mut ids: Vec<String> = children
                    .iter()
                    .filter(|r| r.parse::<RecordId>().is_ok_and(|r| r.kind() == *kind))
                    .cloned()
                    .collect();
                ids.sort();
                let skip = ids.len().saturating_sub(RELATED_PER_KIND);
                let newest = ids.split_off(skip);
                let cards = read::cards(c, &access, &newest, &actor)?;
                if cards.is_empty() {
                    continue;
                }
                let items: Vec<Link> = cards
                    .into_iter()
                    .rev()
                    .map(|(card, _)| Link {
                        href: card_href(&card.id),
                        title: card.title,
                    })
                    .collect();
                related.push(RelatedList {
                    heading,
                    items,
                    more: skip,
                });
            }
            let timeline = if id.kind() == RecordKind::Account
                && record_index::sees_account(c, &access, &id)?
            {
                let scope = FactsScope {
                    kinds: TIMELINE_KINDS.to_vec(),
                    account: Some(id.clone()),
                    created_at: true,
                    ..FactsScope::default()
                };
                Some(match record_index::report_facts(c, &access, &scope)? {
                    Loaded::Facts(facts) => {
                        Ok(timeline::timeline(&id, &facts, &ReportQuery::new(now)))
                    }
                    Loaded::TooMany => Err(i18n::text(
                        "This account has too many records for a timeline here.",
                    )
                    .to_owned()),
                })
            } else {
                None
            };
            Ok(Some(Gathered {
                card,
                related,
                timeline,
            }))
        })
        .await
}
