//! Devices on the admin listener: list them, mark one for remote wipe
//! (routes in [`super`]; the wipe itself: [`crate::wipe`]).
//!
//! Guarantees: a wipe request goes through the same function as
//! `fieldwork-server device wipe` ([`crate::wipe::wipe_device`]), audited
//! as `device_wipe_requested` by the administrator; the answer says what
//! the wipe loses (the unsent changes the device reported last).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

use super::{admin, bad_path, bad_query, blocking};
use crate::api::problem::{ApiResult, Problem};
use crate::db::devices::{DeviceInfo, WipeState};
use crate::error::ServerError;
use crate::request::Authenticated;
use crate::state::AppState;

/// Where a device stands with remote wipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WipeStateView {
    /// Not marked for wipe.
    None,
    /// Marked; the device has not contacted the server since.
    Requested,
    /// The wipe order was given to the device; it has not confirmed yet.
    Delivered,
    /// The device confirmed that its store and secrets are deleted.
    Confirmed,
}

impl From<WipeState> for WipeStateView {
    fn from(w: WipeState) -> WipeStateView {
        match w {
            WipeState::None => WipeStateView::None,
            WipeState::Requested => WipeStateView::Requested,
            WipeState::Delivered => WipeStateView::Delivered,
            WipeState::Confirmed => WipeStateView::Confirmed,
        }
    }
}

/// A device as administrators see it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeviceView {
    /// The device's id.
    pub device_id: String,
    /// The name of the user it belongs to.
    pub user: String,
    /// The last sync hello (ms since the Unix epoch).
    pub last_seen: Option<i64>,
    /// The app version it reported then.
    pub app_version: Option<String>,
    /// The local changes it had not sent yet when it last said hello, less
    /// those it pushed on that connection (absent: it never reported).
    pub pending_changes: Option<u64>,
    /// The address it last connected from.
    pub last_address: Option<String>,
    /// Where it stands with remote wipe.
    pub wipe: WipeStateView,
    /// When an administrator marked it for wipe (ms).
    pub wipe_requested_at: Option<i64>,
    /// Who did.
    pub wipe_requested_by: Option<String>,
    /// When the wipe order was first given to it (ms).
    pub wipe_delivered_at: Option<i64>,
    /// When it confirmed the wipe (ms).
    pub wipe_confirmed_at: Option<i64>,
}

impl From<DeviceInfo> for DeviceView {
    fn from(d: DeviceInfo) -> DeviceView {
        DeviceView {
            device_id: d.device_id,
            user: d.user,
            last_seen: d.last_seen,
            app_version: d.app_version,
            pending_changes: d.pending_changes,
            last_address: d.last_address,
            wipe: d.wipe.into(),
            wipe_requested_at: d.wipe_requested_at,
            wipe_requested_by: d.wipe_requested_by,
            wipe_delivered_at: d.wipe_delivered_at,
            wipe_confirmed_at: d.wipe_confirmed_at,
        }
    }
}

/// The answer to a wipe request: the device as it now stands, and what the
/// wipe loses.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WipeView {
    /// The device.
    pub device: DeviceView,
    /// What the wipe loses (the unsent local changes it reported at its
    /// last contact), in words.
    pub lost: String,
}

/// `?user=NAME`
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeviceFilter {
    /// Only this user's devices (an unknown user has none).
    #[serde(default)]
    pub user: Option<String>,
}

/// `GET /v1/admin/devices?user=NAME`: devices, with their last contact and
/// wipe state.
#[utoipa::path(
    get,
    path = "/v1/admin/devices",
    operation_id = "list_devices",
    tag = "devices",
    security(("bearer" = [])),
    params(DeviceFilter),
    responses(
        (status = 200, description = "the devices", body = [DeviceView]),
        (status = 400, description = "a bad query string (`bad_request`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    filter: Result<Query<DeviceFilter>, QueryRejection>,
) -> ApiResult<Json<Vec<DeviceView>>> {
    admin(&state, auth).await?;
    let Query(filter) = filter.map_err(bad_query)?;
    Ok(Json(all(&state, filter.user).await?))
}

/// Every device, or those of `user`, as [`list`] answers them (for a
/// caller already known to be an administrator).
pub(crate) async fn all(state: &AppState, user: Option<String>) -> ApiResult<Vec<DeviceView>> {
    let all = state
        .db
        .read(move |c| crate::db::devices::list(c, user.as_deref()))
        .await?;
    Ok(all.into_iter().map(DeviceView::from).collect())
}

/// `POST /v1/admin/devices/{id}/wipe`: marks a device for remote wipe (its
/// next contact gets the wipe order).
#[utoipa::path(
    post,
    path = "/v1/admin/devices/{id}/wipe",
    operation_id = "wipe_device",
    tag = "devices",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "the device's id")),
    responses(
        (status = 200, description = "the device as it now stands and what the wipe loses", body = WipeView),
        (status = 401, description = "not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "not an administrator", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "no such device", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn wipe(
    State(state): State<Arc<AppState>>,
    auth: Result<Authenticated, ServerError>,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<WipeView>> {
    let by = admin(&state, auth).await?.name;
    let Path(id) = id.map_err(bad_path)?;
    Ok(Json(wipe_by(&state, by, id).await?))
}

/// What [`wipe`] does once the caller `by` is known to be an
/// administrator: marks the device for wipe (audited).
pub(crate) async fn wipe_by(state: &Arc<AppState>, by: String, id: String) -> ApiResult<WipeView> {
    let st = state.clone();
    let device = blocking(move || crate::wipe::wipe_device(&st, &id, &by)).await?;
    Ok(WipeView {
        lost: crate::wipe::what_is_lost(&device),
        device: device.into(),
    })
}
