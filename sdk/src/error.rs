//! The SDK's error type.

use fieldwork_core::CoreError;

/// Everything that can go wrong on the device side.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// The core refused or failed (validation, policy, storage).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The device is not signed in.
    #[error("not signed in: run login first")]
    NotLoggedIn,
    /// Wrong user name or password.
    #[error("invalid user name or password")]
    InvalidCredentials,
    /// The session token was refused (expired or revoked): sign in again.
    #[error("the session has expired or was revoked; sign in again")]
    SessionExpired,
    /// Too many failed logins.
    #[error("too many failed logins; retry later")]
    RateLimited,
    /// The server could not be reached or the connection broke.
    #[error("cannot reach the server: {0}")]
    Network(String),
    /// The server answered with an error.
    #[error("server error ({code}): {message}")]
    Server {
        /// Stable code.
        code: String,
        /// Explanation.
        message: String,
    },
    /// The server URL is malformed.
    #[error("invalid server URL `{0}`: expected http://host:port or https://host:port")]
    BadUrl(String),
    /// A sync did not finish in time.
    #[error("sync did not finish within {0} s")]
    Timeout(u64),
}

/// Shorthand for results in this crate.
pub type Result<T, E = SdkError> = std::result::Result<T, E>;
