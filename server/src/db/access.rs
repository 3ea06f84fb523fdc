//! A user's access: their role, territories and team under the policy in
//! force; what every reader and writer (sync, API, calendar feeds,
//! webhooks) checks a user's rights against.

use fieldwork_core::Access;
use rusqlite::Connection;

use crate::db::{policy, users};
use crate::error::Result;

/// The user's access under the current policy, with the policy's revision.
pub fn access_for(conn: &Connection, user: &users::User) -> Result<(u64, Access)> {
    let (revision, policy) = policy::current(conn)?;
    let context = users::context(conn, user)?;
    Ok((
        revision,
        Access::User {
            user: context,
            policy,
        },
    ))
}
