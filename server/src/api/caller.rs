//! Who is calling the office API: a user signed in with a session token,
//! or an integration with an API key (a service user with a role, scoped).
//!
//! Both arrive as `Authorization: Bearer …`; API keys start with `fwk_`
//! ([`crate::db::api_keys`]). The caller's [`Access`] is read from the
//! database on every request, so a change of role, territories or policy
//! applies to the next request.
//!
//! Guarantees: a disabled user, an expired session or a revoked key is
//! refused (`401 unauthorized`); a read-only key cannot write and a key
//! limited to some kinds cannot touch others (`403 key_scope`); every
//! request counts against the caller's rate limit before any work
//! (`429 rate_limited` with `Retry-After`).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use fieldwork_core::{Access, RecordKind};

use super::problem::Problem;
use crate::db::users::User;
use crate::db::{access, api_keys, tokens};
use crate::error::ServerError;
use crate::state::AppState;

pub use crate::db::api_keys::KeyScope;

/// The authenticated caller of an API request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user (for a key, its service user).
    pub user: User,
    /// Their access under the current policy.
    pub access: Access,
    /// The key's scope, for a caller with an API key.
    pub key: Option<KeyScope>,
}

impl Caller {
    /// Refuses unless the caller may read records of `kind` (key scope;
    /// field and record rights are checked on the data).
    pub fn may_read(&self, kind: RecordKind) -> Result<(), Problem> {
        match &self.key {
            Some(KeyScope {
                kinds: Some(kinds), ..
            }) if !kinds.contains(&kind) => Err(Problem::new(
                StatusCode::FORBIDDEN,
                "key_scope",
                format!("this API key may not touch {kind} records"),
            )),
            _ => Ok(()),
        }
    }

    /// Refuses unless the caller may write records of `kind` (key scope;
    /// field and record rights are checked by the push path).
    pub fn may_write(&self, kind: RecordKind) -> Result<(), Problem> {
        if self.key.as_ref().is_some_and(|k| k.read_only) {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "key_scope",
                "this API key is read-only",
            ));
        }
        self.may_read(kind)
    }

    /// Refuses callers whose role the policy does not make administrators.
    pub fn require_admin(&self) -> Result<(), Problem> {
        let admin = self
            .access
            .policy()
            .and_then(|p| p.role(&self.user.role))
            .is_some_and(|r| r.admin);
        if admin {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "role `{}` may not administer",
                self.user.role
            )))
        }
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Problem> {
        let presented = bearer(parts).ok_or_else(unauthorized)?;
        let now = state.now_ms();
        let caller = state
            .db
            .read(move |c| {
                let (user, key) = if presented.starts_with(api_keys::PREFIX) {
                    match api_keys::authenticate(c, &presented, now)? {
                        Some((user, key)) => (user, Some(key)),
                        None => return Ok(None),
                    }
                } else {
                    match tokens::lookup(c, &presented, now)? {
                        Some(user) => (user, None),
                        None => return Ok(None),
                    }
                };
                if user.disabled {
                    return Ok(None);
                }
                let (_, access) = access::access_for(c, &user)?;
                Ok(Some(Caller { user, access, key }))
            })
            .await
            .map_err(Problem::from)?
            .ok_or_else(unauthorized)?;
        super::limits::admit(state, &caller.user, caller.key.as_ref()).map_err(Problem::from)?;
        Ok(caller)
    }
}

fn unauthorized() -> Problem {
    ServerError::Unauthorized.into()
}

fn bearer(parts: &Parts) -> Option<String> {
    let value = parts.headers.get("authorization")?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?
        .trim();
    (!token.is_empty() && token.len() <= 256).then(|| token.to_owned())
}

/// The signed-in administrator of a request on the admin listener (a
/// session token whose user's role the policy makes an administrator).
pub async fn admin_of(
    state: &Arc<AppState>,
    auth: Result<crate::request::Authenticated, ServerError>,
) -> Result<User, Problem> {
    let auth = auth?;
    let st = state.clone();
    let user = auth.user.clone();
    tokio::task::spawn_blocking(move || crate::request::require_admin(&st, &user))
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))??;
    Ok(auth.user)
}
