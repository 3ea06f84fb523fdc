//! Running the process engine for the office API: the device's runner on
//! the server's writer, as the caller and with the caller's rights, in one
//! transaction relayed to devices and webhooks.

use std::sync::Arc;

use crate::api::caller::Caller;
use crate::error::Result;
use crate::processes::{self, with_host_as};
use crate::state::AppState;

/// Runs `f` with a process host on the writer with the caller's rights,
/// acting as the caller, in one transaction published to the hub.
pub(super) async fn engine_write<T: Send + 'static>(
    state: &Arc<AppState>,
    caller: &Caller,
    f: impl FnOnce(&mut processes::ServerHost<'_>) -> Result<T> + Send + 'static,
) -> Result<T> {
    let st = state.clone();
    let (user, access) = (caller.user.name.clone(), caller.access.clone());
    let now = state.clock.now();
    state
        .db
        .write(move |w| with_host_as(w, Some(&st.hub), &st.actor, now, &user, access, f))
        .await
}
