//! Starting a process by hand from the web app: the form on the models
//! page (reached from a record card's **Start a process** link, which
//! fills in the record).
//!
//! Guarantees: the start goes through the office API's handler
//! ([`crate::api::processes::start`]) as the signed-in user, so the right
//! `start`, the record's visibility and the model's existence are checked
//! there and refused with its code and message; the form's values are
//! bounded before they are sent on.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::i18n;
use super::page::{self, CheckedPost};
use super::process_card::instance_href;
use super::processes::{MAX_RECORD, models_page};
use crate::state::AppState;

/// Longest model key the form sends, in bytes.
const MAX_MODEL: usize = 200;

/// `POST /web/processes/start`: starts the newest version of `model` on
/// `record`, then opens the new instance's card; a refusal shows the
/// models page again with the reason and what was typed.
pub async fn start(
    State(state): State<Arc<AppState>>,
    CheckedPost { session, fields }: CheckedPost,
) -> Response {
    let model = fields.text("model", MAX_MODEL).unwrap_or_default();
    let record = fields.text("record", MAX_RECORD).unwrap_or_default();
    let mut json = HeaderMap::new();
    json.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let body = serde_json::json!({ "model": model, "record": record }).to_string();
    let answer = crate::api::processes::start(
        State(state.clone()),
        session.caller(),
        json,
        Body::from(body),
    )
    .await;
    match answer {
        Ok((_, Json(card))) => Redirect::to(&instance_href(&card.id)).into_response(),
        Err(p) => {
            let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::BAD_REQUEST);
            let mut view = match models_page(&state, &session).await {
                Ok(v) => v,
                Err(answer) => return answer,
            };
            view.start_error = Some(i18n::fill(
                "The process was not started: {0}",
                &[&i18n::refusals::refusal(&p)],
            ));
            view.start_record = record;
            page::render(status, &view)
        }
    }
}
