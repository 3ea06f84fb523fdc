//! Duplicate candidates (issue 17): accounts or contacts the caller sees
//! that may be the same one, scored, with the reasons
//! ([`fieldwork_core::duplicates`]).
//!
//! Guarantees:
//! - A candidate rests only on what the caller may read: the identities are
//!   built from the same cards the record read answers ([`read::card_under`]),
//!   so a tax id a rep may not read never pairs two records for her, and a
//!   record she does not see is never named.
//! - The work is bounded: records are read one page at a time, compared by
//!   blocking keys (see the core module), and a caller runs one such scan
//!   at a time, sharing the export slots (`429 export_busy`).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use fieldwork_core::RecordKind;
use fieldwork_core::duplicates::{self, Candidate, Identity, Reason};
use serde::Serialize;

use super::caller::Caller;
use super::export::Export;
use super::problem::{ApiResult, Problem};
use super::records::RecordOut;
use super::{query, write};
use crate::error::ServerError;
use crate::state::AppState;

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/duplicates/{kind}", get(find))
}

/// One record of a candidate pair.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DuplicateRecord {
    /// Its id.
    pub id: String,
    /// Its display name.
    pub title: String,
}

/// Two records that may be one.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DuplicateOut {
    /// 0 to 100: how sure.
    pub score: u32,
    /// Why, strongest first: `{"reason": "email", "value": …}`, `phone`,
    /// `tax_id`, or `{"reason": "name", "similarity": 0..100}`.
    #[schema(value_type = Vec<Object>)]
    pub reasons: Vec<Reason>,
    /// The two records.
    pub records: [DuplicateRecord; 2],
}

/// The answer of a duplicate scan.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DuplicatesOut {
    /// Records of the kind the caller sees, all compared.
    pub compared: u64,
    /// The candidates, best first.
    pub candidates: Vec<DuplicateOut>,
}

/// Lists accounts or contacts the caller sees that may be duplicates.
#[utoipa::path(get, path = "/v1/duplicates/{kind}", tag = "records",
    params(
        ("kind" = String, Path, description = "`account` or `contact`"),
        ("min_score" = Option<u32>, Query, description = "only candidates scoring at least this (0 to 100, default 60)"),
    ),
    responses(
        (status = 200, body = DuplicatesOut),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "`export_busy`: this caller already runs a scan or an export"),
    ))]
pub async fn find(
    State(state): State<Arc<AppState>>,
    Path(kind): Path<String>,
    RawQuery(raw): RawQuery,
    caller: Caller,
) -> ApiResult<Json<DuplicatesOut>> {
    let kind = query::kind(&kind)?;
    if !matches!(kind, RecordKind::Account | RecordKind::Contact) {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "duplicates are found among accounts or contacts",
        ));
    }
    caller.may_read(kind)?;
    let min_score = min_score(raw.as_deref().unwrap_or(""))?;
    let _slot = state
        .exports
        .take(&caller.user.name)
        .map_err(super::export::busy)?;
    let actor = write::actor_for(&state.actor, &caller.user);
    let policy = caller
        .access
        .policy()
        .cloned()
        .ok_or_else(|| ServerError::Internal("a caller without a policy".into()))?;
    let q = query::list_query(kind, "")?;
    let mut scan = Export::new(
        caller.access,
        policy,
        q,
        actor,
        super::export::ExportFormat::Json,
    );
    let records: Vec<RecordOut> = state.db.read(move |c| scan.all_records(c)).await?;
    let identities: Vec<Identity> = records.iter().map(|r| identity(kind, r)).collect();
    let candidates = duplicates::candidates(&identities, min_score)
        .into_iter()
        .map(|c| out(&records, c))
        .collect();
    Ok(Json(DuplicatesOut {
        compared: records.len() as u64,
        candidates,
    }))
}

fn min_score(raw: &str) -> ApiResult<u32> {
    let mut score = 60;
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        match key.as_ref() {
            "min_score" => {
                score = value
                    .parse::<u32>()
                    .ok()
                    .filter(|s| *s <= 100)
                    .ok_or_else(|| {
                        Problem::new(
                            StatusCode::BAD_REQUEST,
                            "bad_request",
                            format!(
                                "min_score must be a whole number from 0 to 100, not `{value}`"
                            ),
                        )
                    })?;
            }
            other => {
                return Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    format!("unknown parameter `{other}`"),
                ));
            }
        }
    }
    Ok(score)
}

/// What identifies `record`, from the fields its reader may read.
fn identity(kind: RecordKind, record: &RecordOut) -> Identity {
    let field = |name: &str| record.fields.get(name).cloned();
    let all = |names: &[&str]| names.iter().filter_map(|n| field(n)).collect::<Vec<_>>();
    let name = match kind {
        RecordKind::Contact => all(&["first_name", "last_name"]).join(" "),
        _ => record.title.clone(),
    };
    Identity {
        name,
        emails: all(&["email", "email_secondary"]),
        phones: all(&["phone", "mobile"]),
        tax_ids: all(&["tax_id"]),
        country: field("country"),
    }
}

fn out(records: &[RecordOut], c: Candidate) -> DuplicateOut {
    let record = |i: usize| DuplicateRecord {
        id: records[i].id.clone(),
        title: records[i].title.clone(),
    };
    DuplicateOut {
        score: c.score,
        reasons: c.reasons,
        records: [record(c.first), record(c.second)],
    }
}
