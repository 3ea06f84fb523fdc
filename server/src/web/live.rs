//! Live updates: a server-sent event stream per signed-in page that says
//! which records the user sees have changed, so the page refreshes its
//! regions without a reload.
//!
//! The stream listens to the same hub as live sync connections
//! ([`crate::hub`]): every committed change (a device's push, an office
//! API or web write, the process engine) is announced there in feed order.
//! For each batch the stream asks the one visibility rule
//! ([`visibility::visible_among`]) which of the changed documents this
//! user may receive, and sends their records' ids and kinds.
//!
//! Events: `change` with `{"records": [{"id", "kind"}]}`; `refresh` when
//! the stream fell behind the hub or a batch is too large to list (the
//! page refreshes everything); `signed-out` when the session ended (the
//! stream then closes).
//!
//! Guarantees:
//! - **ids and kinds only**: no field value is ever sent, and only ids of
//!   records whose changed document the user may receive now;
//! - the session is checked again every [`RECHECK`] and on every
//!   administrative change (role, territories, policy): a revoked session
//!   or disabled user gets `signed-out` and the stream ends; the user's
//!   access is re-read then, so visibility follows role changes;
//! - at most [`super::MAX_STREAMS`] streams are open at once (`503`
//!   beyond), and at most [`super::MAX_STREAMS_PER_USER`] of one user
//!   (`429` beyond); a stream ends when the server shuts down.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use fieldwork_core::{Access, DocId};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{OwnedSemaphorePermit, broadcast, watch};

use super::WebConfig;
use super::session::{self, WebSession};
use crate::db::{access, tokens};
use crate::hub::{FeedEvent, HubEvent};
use crate::state::AppState;
use crate::visibility;

/// How often a stream checks that its session is still live.
pub const RECHECK: Duration = Duration::from_secs(15);

/// Most records named in one `change` event (beyond: `refresh`).
pub const MAX_RECORDS: usize = 200;

/// One changed record, as a `change` event names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Changed {
    /// The record id.
    pub id: String,
    /// Its kind.
    pub kind: String,
}

#[derive(Serialize)]
struct ChangeData<'a> {
    records: &'a [Changed],
}

/// `GET /web/events`: the stream of the signed-in user (`401` without a
/// session).
pub async fn events(
    State(state): State<Arc<AppState>>,
    Extension(config): Extension<WebConfig>,
    headers: HeaderMap,
) -> Response {
    let session = match session::lookup(&state, &headers, &config).await {
        Ok(Some(s)) => s,
        Ok(None) => return (StatusCode::UNAUTHORIZED, "not signed in").into_response(),
        Err(answer) => return answer,
    };
    let Some(slot) = UserSlot::take(&config, session.user.id) else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "too many live streams for this user",
        )
            .into_response();
    };
    let Ok(permit) = config.streams.clone().try_acquire_owned() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many live streams").into_response();
    };
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    recheck.reset();
    let watcher = Watcher {
        hub: state.hub.subscribe(),
        shutdown: state.shutdown.subscribe(),
        state,
        session,
        recheck,
        ended: false,
        _permit: permit,
        _slot: slot,
    };
    let stream = futures_util::stream::unfold(watcher, |mut w| async move {
        let event = w.next().await?;
        Some((Ok::<Event, Infallible>(event), w))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
        .into_response()
}

/// The state of one stream.
struct Watcher {
    state: Arc<AppState>,
    session: WebSession,
    hub: broadcast::Receiver<HubEvent>,
    shutdown: watch::Receiver<bool>,
    recheck: tokio::time::Interval,
    ended: bool,
    _permit: OwnedSemaphorePermit,
    _slot: UserSlot,
}

/// One of a user's live streams, counted while it is open.
struct UserSlot {
    counts: Arc<std::sync::Mutex<std::collections::HashMap<i64, usize>>>,
    user: i64,
}

impl UserSlot {
    /// Counts a stream of `user`; `None` when they have
    /// [`super::MAX_STREAMS_PER_USER`] open already.
    fn take(config: &WebConfig, user: i64) -> Option<UserSlot> {
        let mut counts = config.per_user.lock().ok()?;
        let n = counts.entry(user).or_default();
        if *n >= super::MAX_STREAMS_PER_USER {
            return None;
        }
        *n += 1;
        Some(UserSlot {
            counts: config.per_user.clone(),
            user,
        })
    }
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.counts.lock()
            && let Some(n) = counts.get_mut(&self.user)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&self.user);
            }
        }
    }
}

impl Watcher {
    /// The next event to send; `None` ends the stream.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if self.ended || *self.shutdown.borrow() {
                return None;
            }
            tokio::select! {
                _ = self.shutdown.changed() => return None,
                _ = self.recheck.tick() => {
                    if !self.still_signed_in().await {
                        return Some(self.signed_out());
                    }
                }
                event = self.hub.recv() => match event {
                    Ok(HubEvent::Changes(changes)) => {
                        if let Some(e) = self.changes(&changes).await {
                            return Some(e);
                        }
                    }
                    Ok(HubEvent::AdminChanged) => {
                        if !self.still_signed_in().await {
                            return Some(self.signed_out());
                        }
                        return Some(Event::default().event("refresh").data("{}"));
                    }
                    Ok(HubEvent::Shutdown) | Err(RecvError::Closed) => return None,
                    Err(RecvError::Lagged(_)) => {
                        return Some(Event::default().event("refresh").data("{}"));
                    }
                },
            }
        }
    }

    fn signed_out(&mut self) -> Event {
        self.ended = true;
        Event::default().event("signed-out").data("{}")
    }

    /// Whether the session is still live; re-reads the user's access.
    async fn still_signed_in(&mut self) -> bool {
        let (token, now) = (self.session.token.clone(), self.state.now_ms());
        let found = self
            .state
            .db
            .read(move |c| {
                let Some(user) = tokens::lookup(c, &token, now)? else {
                    return Ok(None);
                };
                let (_, access) = access::access_for(c, &user)?;
                Ok(Some((user, access)))
            })
            .await;
        match found {
            Ok(Some((user, access))) if !user.disabled => {
                self.session.user = user;
                self.session.access = access;
                true
            }
            Ok(_) => false,
            // A failing database says nothing about the session: keep it
            // and try again at the next check.
            Err(e) => {
                tracing::warn!(error = %e, "live stream could not re-check its session");
                true
            }
        }
    }

    /// The event announcing the visible records among `changes`, if any.
    async fn changes(&mut self, changes: &[FeedEvent]) -> Option<Event> {
        let docs: Vec<String> = changes.iter().map(|c| c.doc.to_string()).collect();
        let access: Access = self.session.access.clone();
        let visible = self
            .state
            .db
            .read(move |c| visibility::visible_among(c, &access, &docs))
            .await;
        let visible = match visible {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "live stream could not check visibility");
                return Some(Event::default().event("refresh").data("{}"));
            }
        };
        let records: BTreeSet<Changed> = changes
            .iter()
            .filter(|c| visible.contains(&c.doc.to_string()))
            .map(|c| record_of(&c.doc))
            .collect();
        if records.is_empty() {
            return None;
        }
        if records.len() > MAX_RECORDS {
            return Some(Event::default().event("refresh").data("{}"));
        }
        let records: Vec<Changed> = records.into_iter().collect();
        let data = serde_json::to_string(&ChangeData { records: &records }).ok()?;
        Some(Event::default().event("change").data(data))
    }
}

fn record_of(doc: &DocId) -> Changed {
    Changed {
        id: doc.record().to_string(),
        kind: doc.record().kind().as_str().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_has_a_bounded_number_of_streams() {
        let config = WebConfig {
            tls: false,
            streams: Arc::new(tokio::sync::Semaphore::new(super::super::MAX_STREAMS)),
            per_user: Arc::default(),
        };
        let held: Vec<UserSlot> = (0..super::super::MAX_STREAMS_PER_USER)
            .map(|_| UserSlot::take(&config, 7).expect("within the bound"))
            .collect();
        assert!(UserSlot::take(&config, 7).is_none(), "one too many");
        assert!(
            UserSlot::take(&config, 8).is_some(),
            "others are not affected"
        );
        drop(held);
        assert!(
            UserSlot::take(&config, 7).is_some(),
            "closed streams free their slots"
        );
        assert!(
            config.per_user.lock().expect("lock").get(&7).is_none(),
            "no count is kept for a user without streams"
        );
    }
}
