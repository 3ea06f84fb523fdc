//! The server's error type and how it maps to HTTP answers.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fieldwork_core::CoreError;
use serde::Serialize;

/// Everything that can go wrong in the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// SQLite failed.
    #[error("storage error: {0}")]
    Storage(#[from] rusqlite::Error),
    /// The core refused or failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// Unknown user or wrong password (deliberately not saying which).
    #[error("invalid user name or password")]
    InvalidCredentials,
    /// Too many failed logins for this user or address.
    #[error("too many failed logins; retry in {0} s")]
    RateLimited(u64),
    /// Missing, unknown or expired token.
    #[error("missing, unknown or expired session token")]
    Unauthorized,
    /// The user may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// No such thing.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request is malformed or inconsistent.
    #[error("{0}")]
    Invalid(String),
    /// A bug or an unexpected condition.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Shorthand for results in this crate.
pub type Result<T, E = ServerError> = std::result::Result<T, E>;

/// The JSON body of an error answer.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// Stable code.
    pub code: &'static str,
    /// Explanation.
    pub message: String,
}

impl ServerError {
    /// The stable code and HTTP status for this error.
    pub fn code(&self) -> (StatusCode, &'static str) {
        match self {
            ServerError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            ServerError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ServerError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ServerError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ServerError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ServerError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            ServerError::Core(CoreError::Policy(_)) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_policy")
            }
            ServerError::Core(CoreError::Invalid(_) | CoreError::InvalidId(_)) => {
                (StatusCode::BAD_REQUEST, "invalid_request")
            }
            ServerError::Core(CoreError::Denied(_)) => (StatusCode::FORBIDDEN, "forbidden"),
            ServerError::Core(CoreError::NotFound(_)) => (StatusCode::NOT_FOUND, "not_found"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let (status, code) = self.code();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "request failed");
        }
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            "internal error; see the server log".to_owned()
        } else {
            self.to_string()
        };
        let mut response = (status, Json(ErrorBody { code, message })).into_response();
        if let ServerError::RateLimited(seconds) = self
            && let Ok(v) = seconds.to_string().parse()
        {
            response.headers_mut().insert("retry-after", v);
        }
        response
    }
}
