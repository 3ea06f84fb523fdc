//! `GET /v1/search`: full-text search over the records the caller sees.
//!
//! Guarantees:
//! - the same matching as the device (every word a prefix, accents and case
//!   ignored, all words must match), over the text of classes the caller
//!   may read, of records the caller sees ([`record_index::search`]);
//! - an API key limited to some kinds finds only those kinds (other kinds
//!   asked for are skipped, not refused);
//! - a malformed query string is a `400` problem, never a panic; the query
//!   text, the kinds and the hits are bounded.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use fieldwork_core::RecordKind;
use serde::Serialize;

use super::caller::Caller;
use super::problem::{ApiResult, Problem};
use crate::db::record_index::{self, MAX_SEARCH_HITS as MAX_HITS};
use crate::state::AppState;

/// Longest query string accepted, in bytes.
const MAX_QUERY_STRING: usize = 4096;
/// Longest search text, in characters.
const MAX_TEXT: usize = 200;
/// Hits answered when no `limit` is given.
const DEFAULT_LIMIT: usize = 20;

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/search", get(search))
}

/// The query of `GET /v1/search`.
#[derive(Debug, Clone, PartialEq, Eq, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The text to find: words, each matched as a prefix, accents and case
    /// ignored (at most 200 characters).
    pub q: String,
    /// Only records of these kinds (repeat the parameter for several:
    /// `kind=account&kind=contact`); every kind when absent.
    #[param(value_type = Option<Vec<String>>)]
    pub kind: Vec<RecordKind>,
    /// At most this many hits (1 to 100, default 20).
    pub limit: Option<usize>,
}

/// One record found.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SearchHitJson {
    /// The record's id (`contact:01J…`).
    pub id: String,
    /// Its kind (`account`, `contact`, ...).
    pub kind: String,
    /// Its display name, from the fields the caller may read.
    pub title: String,
    /// BM25 relevance: lower is better; hits come best first.
    pub rank: f64,
}

/// The answer of `GET /v1/search`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SearchResults {
    /// The records found, best first.
    pub hits: Vec<SearchHitJson>,
}

/// Searches the records the caller sees.
#[utoipa::path(
    get,
    path = "/v1/search",
    tag = "search",
    security(("bearer" = [])),
    params(SearchParams),
    responses(
        (status = 200, description = "the records found, best first", body = SearchResults),
        (status = 400, description = "no text, an unknown kind or a bad limit", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "over the rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn search(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<SearchResults>> {
    let params = SearchParams::parse(raw.as_deref().unwrap_or(""))?;
    let kinds: Option<Vec<RecordKind>> = if params.kind.is_empty() {
        // Every kind, or those the API key may read.
        caller.key.as_ref().and_then(|k| k.kinds.clone())
    } else {
        Some(
            params
                .kind
                .into_iter()
                .filter(|k| caller.may_read(*k).is_ok())
                .collect(),
        )
    };
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT);
    let access = caller.access;
    let hits = state
        .db
        .read(move |c| record_index::search(c, &access, &params.q, kinds.as_deref(), limit))
        .await?;
    Ok(Json(SearchResults {
        hits: hits
            .into_iter()
            .map(|h| SearchHitJson {
                id: h.record_id,
                kind: h.kind.as_str().to_owned(),
                title: h.title,
                rank: h.rank,
            })
            .collect(),
    }))
}

impl SearchParams {
    /// Reads the query string; refuses what is malformed with a `400`.
    pub fn parse(raw: &str) -> ApiResult<SearchParams> {
        let mut q = None;
        let mut kind = Vec::new();
        let mut limit = None;
        for (key, value) in query_pairs(raw)? {
            match key.as_str() {
                "q" => q = Some(value),
                "kind" => {
                    for k in value.split(',').filter(|k| !k.trim().is_empty()) {
                        let parsed: RecordKind = k.trim().parse().map_err(|_| {
                            Problem::bad_request(format!("`{k}` is not a kind of record"))
                        })?;
                        if !kind.contains(&parsed) {
                            kind.push(parsed);
                        }
                    }
                }
                "limit" => {
                    let n: usize = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_HITS).contains(n))
                        .ok_or_else(|| {
                            Problem::bad_request(format!("limit must be from 1 to {MAX_HITS}"))
                        })?;
                    limit = Some(n);
                }
                _ => {}
            }
        }
        let q = q
            .filter(|q| !q.trim().is_empty())
            .ok_or_else(|| Problem::bad_request("`q` (the text to find) is required"))?;
        if q.chars().count() > MAX_TEXT {
            return Err(Problem::bad_request(format!(
                "`q` is longer than {MAX_TEXT} characters"
            )));
        }
        Ok(SearchParams { q, kind, limit })
    }
}

/// The decoded `key=value` pairs of a URL query string (`+` is a space,
/// `%XX` a byte; a key without `=` has an empty value), in order. Refuses
/// an overlong string, a bad escape or text that is not UTF-8.
pub(crate) fn query_pairs(raw: &str) -> ApiResult<Vec<(String, String)>> {
    if raw.len() > MAX_QUERY_STRING {
        return Err(Problem::bad_request("the query string is too long"));
    }
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

fn percent_decode(text: &str) -> ApiResult<String> {
    let bad = || Problem::bad_request("the query string is not validly encoded");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_decoded_with_repeated_kinds() {
        let p =
            SearchParams::parse("q=Jos%C3%A9+Sz%C5%91ke&kind=account&kind=contact,deal&limit=5")
                .expect("valid");
        assert_eq!(p.q, "José Szőke");
        assert_eq!(
            p.kind,
            vec![RecordKind::Account, RecordKind::Contact, RecordKind::Deal]
        );
        assert_eq!(p.limit, Some(5));
        assert!(SearchParams::parse("q=x").expect("valid").kind.is_empty());
    }

    #[test]
    fn malformed_query_strings_are_bad_requests() {
        for raw in [
            "",
            "q=",
            "q=+++",
            "kind=account",
            "q=x&kind=planet",
            "q=x&limit=0",
            "q=x&limit=101",
            "q=x&limit=-1",
            "q=%",
            "q=%4",
            "q=%zz",
            "q=%C3",
            "q=%E2%82",
        ] {
            let err = SearchParams::parse(raw).expect_err(raw);
            assert_eq!(
                (err.status, err.code.as_str()),
                (400, "bad_request"),
                "{raw}"
            );
        }
        let long = format!("q={}", "a".repeat(201));
        assert!(SearchParams::parse(&long).is_err());
        let huge = format!("q=a&x={}", "b".repeat(MAX_QUERY_STRING));
        assert!(SearchParams::parse(&huge).is_err());
    }
}
