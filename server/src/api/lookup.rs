//! `GET /v1/lookup/phone`: which accounts and contacts have a phone number
//! (caller identification for telephony integrations).
//!
//! Guarantees:
//! - the number is read as E.164 ([`crate::phone::normalise`], national
//!   numbers in [`crate::phone::DEFAULT_REGION`]) and found with one index
//!   lookup; what cannot be read as a number is a `400 bad_request`;
//! - only records the caller sees, through phone fields of classes the
//!   caller may read, of kinds an API key may read; titles come from
//!   readable fields only.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::routing::get;
use axum::{Json, Router};
use fieldwork_core::RecordKind;
use serde::Serialize;

use super::caller::Caller;
use super::problem::{ApiResult, Problem};
use super::search::query_pairs;
use crate::db::record_index;
use crate::phone;
use crate::state::AppState;

/// Most matches answered.
const MAX_MATCHES: usize = 50;

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/lookup/phone", get(lookup_phone))
}

/// The query of `GET /v1/lookup/phone`.
#[derive(Debug, Clone, PartialEq, Eq, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PhoneParams {
    /// The number, as dialled or shown by the phone system: E.164
    /// (`+34600112233`), international with spaces or punctuation, or
    /// national (read in the server's region, Spain).
    pub number: String,
}

/// A record with the number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PhoneMatch {
    /// The record's id.
    pub id: String,
    /// `account` or `contact`.
    pub kind: String,
    /// The field holding the number (`phone`, `mobile`).
    pub field: String,
    /// The record's display name, from the fields the caller may read.
    pub title: String,
}

/// The answer of `GET /v1/lookup/phone`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PhoneLookup {
    /// The number looked up, in E.164.
    pub number: String,
    /// The accounts and contacts with it, by record id.
    pub matches: Vec<PhoneMatch>,
}

/// Finds the accounts and contacts the caller sees with a phone number.
#[utoipa::path(
    get,
    path = "/v1/lookup/phone",
    tag = "search",
    security(("bearer" = [])),
    params(PhoneParams),
    responses(
        (status = 200, description = "the number in E.164 and the records with it (possibly none)", body = PhoneLookup),
        (status = 400, description = "not a phone number", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "over the rate limit", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn lookup_phone(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<PhoneLookup>> {
    let params = PhoneParams::parse(raw.as_deref().unwrap_or(""))?;
    let number = phone::normalise(&params.number, phone::DEFAULT_REGION)
        .ok_or_else(|| Problem::bad_request("not a phone number"))?;
    let kinds: Vec<RecordKind> = [RecordKind::Account, RecordKind::Contact]
        .into_iter()
        .filter(|k| caller.may_read(*k).is_ok())
        .collect();
    let access = caller.access;
    let e164 = number.clone();
    let matches = state
        .db
        .read(move |c| {
            let hits: Vec<record_index::PhoneHit> =
                record_index::by_phone(c, &access, &e164, record_index::MAX_PHONE_HITS)?
                    .into_iter()
                    .filter(|h| kinds.contains(&h.kind))
                    .take(MAX_MATCHES)
                    .collect();
            let ids: Vec<String> = hits.iter().map(|h| h.record_id.clone()).collect();
            let titles = record_index::titles(c, &access, &ids)?;
            Ok(hits
                .into_iter()
                .map(|h| PhoneMatch {
                    title: titles
                        .get(&h.record_id)
                        .cloned()
                        .unwrap_or_else(|| h.record_id.clone()),
                    id: h.record_id,
                    kind: h.kind.as_str().to_owned(),
                    field: h.field,
                })
                .collect())
        })
        .await?;
    Ok(Json(PhoneLookup { number, matches }))
}

impl PhoneParams {
    /// Reads the query string; refuses a missing number with a `400`. A
    /// leading `+` left unencoded (`number=+34…`, common from phone
    /// systems) is read as the international prefix, not as a space.
    pub fn parse(raw: &str) -> ApiResult<PhoneParams> {
        let number = query_pairs(raw)?
            .into_iter()
            .find(|(k, _)| k == "number")
            .map(|(_, number)| number)
            .filter(|n| !n.trim().is_empty())
            .ok_or_else(|| Problem::bad_request("`number` is required"))?;
        let plus = raw.split('&').any(|p| p.starts_with("number=+"));
        let number = match number.strip_prefix(' ') {
            Some(rest) if plus => format!("+{rest}"),
            _ => number,
        };
        Ok(PhoneParams { number })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_parameter_is_decoded_and_required() {
        assert_eq!(
            PhoneParams::parse("number=%2B34+600+11+22+33")
                .expect("valid")
                .number,
            "+34 600 11 22 33"
        );
        assert_eq!(
            PhoneParams::parse("number=+34600112233")
                .expect("valid")
                .number,
            "+34600112233"
        );
        assert_eq!(
            PhoneParams::parse("number=600+11+22+33")
                .expect("valid")
                .number,
            "600 11 22 33"
        );
        for raw in ["", "number=", "num=600112233", "number=%G0", "number=+"] {
            let err = PhoneParams::parse(raw).expect_err(raw);
            assert_eq!(err.status, 400, "{raw}");
        }
    }
}
