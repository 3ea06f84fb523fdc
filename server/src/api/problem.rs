//! Errors of the office API as RFC 9457 problem details
//! (`application/problem+json`), carrying the stable codes of the sync
//! protocol: a write refused through the API has the same `code`, `field`
//! and `rule` as the same write pushed by a device.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fieldwork_core::{CoreError, Denial};
use serde::Serialize;

use crate::error::ServerError;

/// A problem detail. `type` is `urn:fieldwork:problem:CODE`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `urn:fieldwork:problem:` followed by the code.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short, human summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// A sentence for people.
    pub detail: String,
    /// The stable code for programs (the same as sync refusals).
    pub code: String,
    /// The field concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The rule that decided (`roles.rep.write`, `rules.NAME`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The class document concerned, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc: Option<String>,
    /// Seconds to wait before retrying (rate limits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem with a status, code and sentence.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("urn:fieldwork:problem:{code}"),
            title: status.canonical_reason().unwrap_or("error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            field: None,
            rule: None,
            doc: None,
            retry_after: None,
        }
    }

    /// `400 bad_request`.
    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }

    /// `404 not_found`.
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// `403 forbidden` (the caller may not use this endpoint at all).
    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// A refusal of the rule book or the policy: `403` for a denial of
    /// rights, `422` for a value or rule the record would break.
    pub fn refusal(status: StatusCode, d: Denial) -> Problem {
        Problem {
            field: d.field,
            rule: Some(d.rule),
            doc: d.doc,
            ..Problem::new(status, &d.code, d.message)
        }
    }
}

/// Refusal codes answered with `422` (the value or the record is wrong);
/// `409` for a write the record's state holds back (a task of a suspended
/// or stopped process); every other refusal of a write is `403` (the
/// caller lacks the right).
const UNPROCESSABLE: &[&str] = &[
    "invalid_value",
    "malformed_change",
    "unknown_field",
    "invalid_outcome",
];

impl From<Denial> for Problem {
    fn from(d: Denial) -> Problem {
        let status = if UNPROCESSABLE.contains(&d.code.as_str()) {
            StatusCode::UNPROCESSABLE_ENTITY
        } else if d.code == "process_held" {
            StatusCode::CONFLICT
        } else {
            StatusCode::FORBIDDEN
        };
        Problem::refusal(status, d)
    }
}

impl From<ServerError> for Problem {
    fn from(e: ServerError) -> Problem {
        match e {
            ServerError::Core(CoreError::Denied(d)) => d.into(),
            ServerError::Core(CoreError::Invalid(v)) => Problem {
                field: v.field.clone(),
                rule: Some("schema".into()),
                ..Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_value",
                    v.to_string(),
                )
            },
            ServerError::RateLimited(secs) => Problem {
                retry_after: Some(secs),
                ..Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", e.to_string())
            },
            other => {
                let (status, code) = other.code();
                if status == StatusCode::INTERNAL_SERVER_ERROR {
                    tracing::error!(error = %other, "API request failed");
                    return Problem::new(
                        status,
                        code,
                        "the server failed; the request id is in the logs",
                    );
                }
                Problem::new(status, code, other.to_string())
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry = self.retry_after;
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = retry
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            headers.insert(header::RETRY_AFTER, v);
        }
        response
    }
}

/// Results of API handlers.
pub type ApiResult<T> = Result<T, Problem>;
