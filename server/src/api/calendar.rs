//! The office API: personal calendar feeds. A user makes a secret URL of
//! their activities for their calendar app (which cannot send an
//! `Authorization` header: the URL's token is the credential).
//!
//! | method | path | who | what |
//! |---|---|---|---|
//! | POST | `/v1/me/calendar-feed` | signed-in user | a new feed URL (the previous one stops working) |
//! | DELETE | `/v1/me/calendar-feed` | signed-in user | revoke the feed |
//! | GET | `/v1/calendar/{token}` (`.ics` optional) | whoever holds the URL | `text/calendar` |
//!
//! The feed holds one `VEVENT` per activity on the user's calendar
//! (assigned to them, or owned by them with no assignee; see
//! [`calendar_feeds::activities_of`]) from 90 days back to 400 days ahead,
//! at most [`MAX_EVENTS`], earliest first: `DTSTART` is `starts_at`, else
//! `due_at` (UTC); `DTEND` adds `duration_minutes` (30 when absent);
//! `SUMMARY` is the subject (with ` (done)` once done); `CATEGORIES` is
//! the type (`call`, `meeting`, ...); `DESCRIPTION` the topic and outcome;
//! `STATUS` is `CANCELLED` for cancelled activities, else `CONFIRMED`;
//! `UID` is `<record id>@fieldwork`.
//!
//! Guarantees:
//! - the feed is read through the user's access *now*: a record they no
//!   longer see is absent, and a field of a class their role may not read
//!   never appears (its class document is not even loaded), through
//!   [`visibility::doc_visible`];
//! - an unknown or revoked token, or a disabled user's, is `404`;
//! - API keys may not make feeds (`403 key_scope`): a feed shows all of
//!   the user's activities, more than a key limited to some kinds may;
//! - work is bounded: at most [`MAX_CANDIDATES`] records are read per
//!   fetch, and fetches of one feed are rate limited
//!   ([`limits::FEED_RATE_PER_MINUTE`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fieldwork_core::automerge::ActorId;
use fieldwork_core::policy::RecordFacts;
use fieldwork_core::{Access, DocId, FieldValue, Record, RecordId};
use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::limits;
use super::problem::{ApiResult, Problem};
use crate::db::{access, calendar_feeds, documents, facts, users};
use crate::error::Result;
use crate::ical;
use crate::state::AppState;
use crate::visibility;

/// Most events in a feed.
pub const MAX_EVENTS: usize = 2_000;

/// Most activity records read for one fetch.
pub const MAX_CANDIDATES: usize = 5_000;

/// How far back the feed reaches, in days.
const DAYS_BACK: i64 = 90;

/// How far ahead the feed reaches, in days.
const DAYS_AHEAD: i64 = 400;

/// An event's length when the activity has no `duration_minutes`.
const DEFAULT_MINUTES: i64 = 30;

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/v1/me/calendar-feed",
            post(create_feed).delete(revoke_feed),
        )
        .route("/v1/calendar/{token}", get(feed))
}

/// A new calendar feed.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CalendarFeed {
    /// The feed's path on this server (`/v1/calendar/<token>.ics`), to be
    /// prefixed with the server's public address.
    pub url: String,
    /// The secret token in it.
    pub token: String,
}

fn refuse_keys(caller: &Caller) -> ApiResult<()> {
    if caller.key.is_some() {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "key_scope",
            "calendar feeds are personal: sign in as the user to make one",
        ));
    }
    Ok(())
}

/// `POST /v1/me/calendar-feed`: a new secret feed URL for the caller; the
/// previous one stops working.
#[utoipa::path(
    post,
    path = "/v1/me/calendar-feed",
    tag = "calendar",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "the feed, shown this once", body = CalendarFeed),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "an API key may not make feeds", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "over the rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_feed(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<(StatusCode, Json<CalendarFeed>)> {
    refuse_keys(&caller)?;
    let (user, now) = (caller.user.id, state.now_ms());
    let token = state
        .db
        .write(move |w| calendar_feeds::create(&w.conn, user, now))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CalendarFeed {
            url: format!("/v1/calendar/{token}.ics"),
            token,
        }),
    ))
}

/// `DELETE /v1/me/calendar-feed`: revokes the caller's feed (if any).
#[utoipa::path(
    delete,
    path = "/v1/me/calendar-feed",
    tag = "calendar",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "no feed any more"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "an API key may not manage feeds", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_feed(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<StatusCode> {
    refuse_keys(&caller)?;
    let user = caller.user.id;
    state
        .db
        .write(move |w| calendar_feeds::revoke(&w.conn, user))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/calendar/{token}`: the feed, as `text/calendar`.
#[utoipa::path(
    get,
    path = "/v1/calendar/{token}",
    tag = "calendar",
    params(("token" = String, Path, description = "the feed's secret token, optionally followed by `.ics`")),
    responses(
        (status = 200, description = "the calendar (RFC 5545)", body = String, content_type = "text/calendar"),
        (status = 404, description = "unknown or revoked feed", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "fetched too often", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn feed(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let token = token.strip_suffix(".ics").unwrap_or(&token).to_owned();
    let gone = || Problem::not_found("no such calendar feed");
    let user = state
        .db
        .read(move |c| {
            let Some(id) = calendar_feeds::user_of(c, &token)? else {
                return Ok(None);
            };
            Ok(users::by_id(c, id)?.filter(|u| !u.disabled))
        })
        .await?
        .ok_or_else(gone)?;
    limits::admit_feed(&state, user.id)?;
    let now = state.now_ms();
    let actor = state.actor.clone();
    let calendar = state
        .db
        .read(move |c| calendar_of(c, &user, now, actor))
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        calendar.write(),
    )
        .into_response())
}

/// The calendar of `user` at `now_ms`, read through their current access.
pub fn calendar_of(
    conn: &Connection,
    user: &users::User,
    now_ms: i64,
    actor: ActorId,
) -> Result<ical::Calendar> {
    let now = Timestamp::from_millisecond(now_ms).unwrap_or(Timestamp::UNIX_EPOCH);
    let from = now - SignedDuration::from_hours(24 * DAYS_BACK);
    let until = now + SignedDuration::from_hours(24 * DAYS_AHEAD);
    let (_, access) = access::access_for(conn, user)?;
    let candidates = calendar_feeds::activities_of(conn, &user.name, MAX_CANDIDATES)?;
    let facts = facts::facts(conn, &candidates)?;
    let mut events = Vec::new();
    for id in &candidates {
        let Ok(record_id) = id.parse::<RecordId>() else {
            continue;
        };
        let Some((record, modified)) =
            read_visible(conn, &access, &record_id, facts.get(id), &actor)?
        else {
            continue;
        };
        if let Some(event) = event_of(&record, modified)
            && event.start >= from
            && event.start <= until
        {
            events.push(event);
        }
    }
    events.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.uid.cmp(&b.uid)));
    events.truncate(MAX_EVENTS);
    Ok(ical::Calendar {
        name: format!("Fieldwork: {}", user.name),
        stamp: now,
        events,
    })
}

/// The fields of `id` that `access` may read (from the class documents it
/// may receive only), with the time of the last change to them (ms).
/// `None`: nothing of it is visible. A document that fails to load is
/// skipped (and logged), so one bad record does not break a feed.
fn read_visible(
    conn: &Connection,
    access: &Access,
    id: &RecordId,
    facts: Option<&RecordFacts>,
    actor: &ActorId,
) -> Result<Option<(Record, Option<i64>)>> {
    let mut fields = BTreeMap::new();
    let mut classes = Vec::new();
    let mut modified: Option<i64> = None;
    for doc in documents::docs_of_record(conn, &id.to_string())? {
        let Ok(doc_id) = doc.parse::<DocId>() else {
            continue;
        };
        if !visibility::doc_visible(access, &doc_id, facts) {
            continue;
        }
        let loaded = match super::read::load_doc(conn, &doc_id, actor) {
            Ok(Some(d)) => d,
            Ok(None) => continue,
            Err(e @ crate::error::ServerError::Core(_)) => {
                tracing::warn!(doc = %doc, error = %e, "calendar feed: skipped a document that does not load");
                continue;
            }
            Err(e) => return Err(e),
        };
        fields.extend(loaded.fields());
        classes.push(doc_id.class().clone());
        let at: Option<i64> = conn
            .prepare_cached("SELECT max(received_at) FROM changes WHERE doc_id = ?1")?
            .query_row([&doc], |r| r.get(0))
            .optional()?
            .flatten();
        modified = modified.max(at);
    }
    if classes.is_empty() {
        return Ok(None);
    }
    let record = Record {
        id: id.clone(),
        fields,
        conflicts: BTreeMap::new(),
        classes,
    };
    Ok(Some((record, modified)))
}

/// The event of an activity; `None` without a readable start or due time.
fn event_of(record: &Record, modified_ms: Option<i64>) -> Option<ical::Event> {
    let time = |f: &str| record.text(f).and_then(|t| t.parse::<Timestamp>().ok());
    let start = time("starts_at").or_else(|| time("due_at"))?;
    let minutes = record
        .get("duration_minutes")
        .and_then(FieldValue::as_int)
        .unwrap_or(DEFAULT_MINUTES)
        .clamp(0, 100_000);
    let end = start
        .checked_add(SignedDuration::from_mins(minutes))
        .unwrap_or(start);
    let kind = record.text("type").map(str::to_owned);
    let status = record.text("status");
    let subject = record
        .text("subject")
        .map(str::to_owned)
        .or_else(|| kind.clone())
        .unwrap_or_else(|| "Activity".into());
    let summary = if status == Some("done") {
        format!("{subject} (done)")
    } else {
        subject
    };
    let description = match (record.text("topic"), record.text("outcome")) {
        (Some(t), Some(o)) => Some(format!("{t}\n\nOutcome: {o}")),
        (Some(t), None) => Some(t.to_owned()),
        (None, Some(o)) => Some(format!("Outcome: {o}")),
        (None, None) => None,
    };
    Some(ical::Event {
        uid: format!("{}@fieldwork", record.id),
        start,
        end,
        summary,
        description,
        category: kind,
        status: if status == Some("cancelled") {
            ical::Status::Cancelled
        } else {
            ical::Status::Confirmed
        },
        last_modified: modified_ms.and_then(|m| Timestamp::from_millisecond(m).ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldwork_core::RecordKind;

    fn activity(fields: &[(&str, FieldValue)]) -> Record {
        Record {
            id: RecordId::new_random(RecordKind::Activity),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            conflicts: BTreeMap::new(),
            classes: vec![],
        }
    }

    fn text(s: &str) -> FieldValue {
        FieldValue::Text(s.into())
    }

    #[test]
    fn an_activity_becomes_an_event_at_its_start_or_due_time() {
        let call = activity(&[
            ("type", text("call")),
            ("subject", text("Call Ana")),
            ("status", text("planned")),
            ("due_at", text("2027-01-08T09:00:00Z")),
            ("topic", text("renewal")),
        ]);
        let e = event_of(&call, Some(1_000)).expect("event");
        assert_eq!(
            e.start,
            "2027-01-08T09:00:00Z".parse::<Timestamp>().expect("t")
        );
        assert_eq!(
            e.end,
            "2027-01-08T09:30:00Z".parse::<Timestamp>().expect("t")
        );
        assert_eq!(e.summary, "Call Ana");
        assert_eq!(e.category.as_deref(), Some("call"));
        assert_eq!(e.description.as_deref(), Some("renewal"));
        assert_eq!(e.status, ical::Status::Confirmed);
        assert_eq!(e.uid, format!("{}@fieldwork", call.id));

        let meeting = activity(&[
            ("subject", text("Review")),
            ("status", text("done")),
            ("starts_at", text("2027-01-09T10:00:00Z")),
            ("due_at", text("2027-01-08T09:00:00Z")),
            ("duration_minutes", FieldValue::Int(90)),
            ("outcome", text("signed")),
        ]);
        let e = event_of(&meeting, None).expect("event");
        assert_eq!(
            e.start,
            "2027-01-09T10:00:00Z".parse::<Timestamp>().expect("t")
        );
        assert_eq!(
            e.end,
            "2027-01-09T11:30:00Z".parse::<Timestamp>().expect("t")
        );
        assert_eq!(e.summary, "Review (done)");
        assert_eq!(e.description.as_deref(), Some("Outcome: signed"));

        let cancelled = activity(&[
            ("status", text("cancelled")),
            ("due_at", text("2027-01-08T09:00:00Z")),
        ]);
        assert_eq!(
            event_of(&cancelled, None).expect("event").status,
            ical::Status::Cancelled
        );
        let unscheduled = activity(&[("subject", text("Someday"))]);
        assert!(event_of(&unscheduled, None).is_none());
    }
}
