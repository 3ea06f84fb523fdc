//! The one error type apps see, mapped variant by variant from the SDK's and
//! the core's errors in one place: `From<SdkError>` (a core error is first
//! an `SdkError::Core`, so both go through the same match). The bindings'
//! own failures are `SdkError::Internal` too, so they reach apps as
//! `Internal` with the same stable codes.
//!
//! Variants and their fields are stable: apps match on them (Kotlin
//! `FieldworkException.Denied`, Swift `FieldworkError.Denied`, Python
//! `FieldworkError.Denied`). Messages name records, fields, codes and policy
//! rules, never another person's data; a validation message may quote back
//! the text the user just typed. (The field is `detail`, not `message`,
//! which Kotlin's `Throwable` already has: there, `message` is the whole
//! sentence.)

use fieldwork_core::CoreError;
use fieldwork_sdk::SdkError;

/// Everything a call into Fieldwork can fail with.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum FieldworkError {
    /// A value or a combination of values breaks the schema; nothing was written.
    #[error("invalid value{}: {detail}", field.as_ref().map(|f| format!(" for `{f}`")).unwrap_or_default())]
    Invalid {
        /// The field concerned, when the error is about one field.
        field: Option<String>,
        /// What is wrong, in words a user understands.
        detail: String,
    },
    /// The privacy policy forbids the operation; nothing was written.
    #[error("refused ({code}): {detail}")]
    Denied {
        /// Stable reason code, e.g. `class_not_writable` (docs/PROTOCOL.md).
        code: String,
        /// The field concerned, when there is one.
        field: Option<String>,
        /// The policy rule that decided, e.g. `roles.rep.write`.
        rule: String,
        /// A sentence for people.
        detail: String,
    },
    /// No record with this id is on the device (or the id is malformed).
    #[error("not found: {id}")]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// The device is not signed in.
    #[error("not signed in")]
    NotLoggedIn,
    /// Wrong user name or password.
    #[error("invalid user name or password")]
    InvalidCredentials,
    /// The session was refused (expired or revoked): sign in again.
    #[error("the session has expired or was revoked; sign in again")]
    SessionExpired,
    /// Too many failed logins; retry later.
    #[error("too many failed logins; retry later")]
    RateLimited,
    /// The server could not be reached, or the connection broke. Local work
    /// is untouched; retrying later is safe.
    #[error("cannot reach the server: {detail}")]
    Network {
        /// What failed.
        detail: String,
    },
    /// The server answered with an error.
    #[error("server error ({code}): {detail}")]
    Server {
        /// Stable code from the server.
        code: String,
        /// Explanation.
        detail: String,
    },
    /// The secure connection failed: the server's certificate is not
    /// trusted (pass its CA in `TlsOptions.ca_pem` or pin it), does not
    /// match the pinned fingerprint, is for another name, or has expired;
    /// or the CA or pin given at login is malformed. Retrying will not help
    /// until the server or the `TlsOptions` change.
    #[error("secure connection failed: {detail}")]
    Tls {
        /// What failed and what to do, in a sentence.
        detail: String,
    },
    /// A sync did not finish in time; what was exchanged is kept.
    #[error("sync did not finish within {seconds} s")]
    Timeout {
        /// The limit that was hit, in seconds (never negative; saturates
        /// at the maximum).
        seconds: i64,
    },
    /// The device store failed (disk full, corrupt file, a foreign file at
    /// the path). Nothing was written by the failed call.
    #[error("storage error: {detail}")]
    Storage {
        /// What failed.
        detail: String,
    },
    /// The key does not open the store (the keystore was reset, or the file
    /// belongs to another install). Nothing was changed.
    #[error("the store could not be opened with this key")]
    WrongKey,
    /// The store is encrypted and the keystore holds no key for it.
    #[error("the store is encrypted and no key was given")]
    KeyRequired,
    /// The app's keystore failed (locked, unavailable); nothing was changed.
    #[error("the keystore failed: {detail}")]
    Keystore {
        /// What the keystore said.
        detail: String,
    },
    /// An administrator wiped this device (remote wipe): its data and keys
    /// are deleted, unsent edits included, and every call on this device
    /// fails with this. Open a new device at the same path to sign in afresh.
    #[error("this device was wiped by an administrator: its local data and keys are deleted")]
    Wiped,
    /// The store file is already open in another `FieldworkDevice`, in this
    /// process or in another one: one handle per file. Nothing was read or
    /// written. Close the other handle (or keep using it) and retry.
    #[error(
        "the store `{path}` is already open in another handle or process; close it first or use the open one"
    )]
    StoreInUse {
        /// The store file.
        path: String,
    },
    /// This device was closed (`close_device`, or Kotlin's `close()`):
    /// every later call fails with this. Open the store again for a new
    /// handle.
    #[error("this device was closed; open the store again to use it")]
    Closed,
    /// Fieldwork itself failed (a bug, a panic that poisoned a lock, a
    /// background task or thread that died), not the app, the user, the
    /// network or the storage; please report it. Retrying may help.
    #[error("internal error ({code}): {detail}")]
    Internal {
        /// Stable code: one of the SDK's `internal_codes` (`lock_poisoned`,
        /// `task_failed`, `unusable_token`, `runtime`),
        /// `protocol` for data from the server that does not fit, or
        /// `report_mismatch` when the core answered another report than
        /// the one a typed report method asked for.
        code: String,
        /// What failed.
        detail: String,
    },
}

/// The code of [`FieldworkError::Internal`] for a core protocol error.
const PROTOCOL: &str = "protocol";

impl From<CoreError> for FieldworkError {
    /// Through [`SdkError::Core`]: the one mapping below.
    fn from(e: CoreError) -> Self {
        SdkError::from(e).into()
    }
}

impl From<SdkError> for FieldworkError {
    fn from(e: SdkError) -> Self {
        match e {
            SdkError::Core(core) => from_core(core),
            SdkError::NotLoggedIn => FieldworkError::NotLoggedIn,
            SdkError::InvalidCredentials => FieldworkError::InvalidCredentials,
            SdkError::SessionExpired => FieldworkError::SessionExpired,
            SdkError::RateLimited => FieldworkError::RateLimited,
            SdkError::Network(message) => FieldworkError::Network { detail: message },
            SdkError::Server { code, message } => FieldworkError::Server {
                code,
                detail: message,
            },
            SdkError::BadUrl(url) => FieldworkError::Invalid {
                field: Some("server".into()),
                detail: format!("`{url}` is not http://host:port or https://host:port"),
            },
            SdkError::Tls(detail) => FieldworkError::Tls { detail },
            // About the server address (plain http:// to another machine):
            // the same kind of mistake as a malformed URL.
            SdkError::InsecureHttp(detail) => FieldworkError::Invalid {
                field: Some("server".into()),
                detail,
            },
            SdkError::Timeout(seconds) => FieldworkError::Timeout {
                // Saturating, as `ints::count` (not called: `ints` depends on this module).
                seconds: i64::try_from(seconds).unwrap_or(i64::MAX),
            },
            SdkError::Secrets(e) => FieldworkError::Keystore { detail: e.0 },
            SdkError::Wiped => FieldworkError::Wiped,
            SdkError::StoreInUse { path } => FieldworkError::StoreInUse { path },
            SdkError::Closed => FieldworkError::Closed,
            // A file of the store (its lock file) could not be used: the
            // same kind of failure as the database's own.
            SdkError::Io(detail) => FieldworkError::Storage { detail },
            SdkError::Internal { code, message } => FieldworkError::Internal {
                code: code.to_owned(),
                detail: message,
            },
        }
    }
}

/// The core's errors, as apps see them (only called for `SdkError::Core`).
fn from_core(e: CoreError) -> FieldworkError {
    match e {
        CoreError::Invalid(v) => FieldworkError::Invalid {
            field: v.field,
            detail: v.message,
        },
        CoreError::Denied(d) => FieldworkError::Denied {
            code: d.code,
            field: d.field,
            rule: d.rule,
            detail: d.message,
        },
        CoreError::NotFound(id) | CoreError::InvalidId(id) => FieldworkError::NotFound { id },
        CoreError::Policy(problems) => FieldworkError::Invalid {
            field: None,
            detail: format!("invalid policy: {}", problems.join("; ")),
        },
        e @ (CoreError::Storage(_) | CoreError::Corrupt(_) | CoreError::Automerge(_)) => {
            FieldworkError::Storage {
                detail: e.to_string(),
            }
        }
        CoreError::WrongKey => FieldworkError::WrongKey,
        CoreError::KeyRequired => FieldworkError::KeyRequired,
        e @ CoreError::Protocol(_) => FieldworkError::Internal {
            code: PROTOCOL.to_owned(),
            detail: e.to_string(),
        },
    }
}

/// Shorthand for results crossing the FFI.
pub type Result<T, E = FieldworkError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use fieldwork_core::{Denial, ValidationError};

    #[test]
    fn lifecycle_errors_keep_their_variant_and_say_what_to_do() {
        let in_use: FieldworkError = SdkError::StoreInUse {
            path: "/data/fieldwork.db".into(),
        }
        .into();
        assert!(
            matches!(&in_use, FieldworkError::StoreInUse { path } if path == "/data/fieldwork.db"),
            "{in_use:?}"
        );
        assert!(in_use.to_string().contains("already open"), "{in_use}");
        let closed: FieldworkError = SdkError::Closed.into();
        assert!(matches!(closed, FieldworkError::Closed), "{closed:?}");
        assert_eq!(
            closed.to_string(),
            "this device was closed; open the store again to use it"
        );
    }

    #[test]
    fn core_errors_keep_their_field_code_and_rule() {
        let invalid: FieldworkError =
            CoreError::Invalid(ValidationError::field("email", "is not an e-mail address")).into();
        assert!(
            matches!(&invalid, FieldworkError::Invalid { field: Some(f), .. } if f == "email"),
            "{invalid:?}"
        );
        let denied: FieldworkError = CoreError::Denied(Denial {
            code: "class_not_writable".into(),
            doc: None,
            field: Some("credit_limit".into()),
            rule: "roles.rep.write".into(),
            message: "no".into(),
        })
        .into();
        assert!(matches!(
            &denied,
            FieldworkError::Denied { code, rule, .. } if code == "class_not_writable" && rule == "roles.rep.write"
        ));
        let offline: FieldworkError = SdkError::Network("refused".into()).into();
        assert_eq!(offline.to_string(), "cannot reach the server: refused");
    }

    #[test]
    fn the_sdks_own_failures_are_internal_with_their_code_not_storage() {
        let poisoned: FieldworkError = SdkError::internal(
            fieldwork_sdk::internal_codes::LOCK_POISONED,
            "the sync state was poisoned",
        )
        .into();
        assert!(
            matches!(&poisoned, FieldworkError::Internal { code, .. } if code == "lock_poisoned"),
            "{poisoned:?}"
        );
        let storage: FieldworkError = CoreError::Corrupt("bad page".into()).into();
        assert!(
            matches!(storage, FieldworkError::Storage { .. }),
            "{storage:?}"
        );
        let storage: FieldworkError = SdkError::Io("cannot lock `d.db.lock`".into()).into();
        assert!(
            matches!(storage, FieldworkError::Storage { .. }),
            "{storage:?}"
        );
    }
}
