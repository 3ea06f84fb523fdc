//! The devices page (`/web/admin/devices`): every device (its user, id,
//! app version, last contact and address, unsent changes it reported,
//! where it stands with remote wipe), and remote wipe in two steps: the
//! Wipe button opens a page that says what the wipe loses and asks to
//! confirm; only that page's POST marks the device.
//!
//! Reads and the wipe call the office API's functions behind `GET
//! /v1/admin/devices` and `POST /v1/admin/devices/{id}/wipe`
//! ([`crate::api::admin::devices::all`], [`crate::api::admin::devices::wipe_by`]),
//! so the wipe is audited and delivered as the API's is.
//!
//! Guarantees: only administrators ([`super::require`]); nothing is wiped
//! without the confirming POST (form token, same origin); a device id is
//! bounded ([`crate::db::devices::valid_id`]); works without script.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::{MAX_TEXT, iso_ms, local_ms, refused, require, time_zone};
use crate::api::admin::devices::{self as api, DeviceView, WipeStateView};
use crate::api::problem::Problem;
use crate::db::devices::DeviceInfo;
use crate::state::AppState;
use crate::web::form;
use crate::web::i18n::{self, filters};
use crate::web::page::{self, CheckedPost, Nav, SignedInGet};
use crate::web::session::WebSession;

/// One device in the table.
#[derive(Debug, Clone)]
pub struct DeviceRow {
    /// Its id.
    pub id: String,
    /// Its user.
    pub user: String,
    /// The app version it reported.
    pub app_version: String,
    /// Its last contact, in the viewer's time zone (empty: never).
    pub last_seen: String,
    /// The same, RFC 3339.
    pub last_seen_at: String,
    /// The address it last connected from.
    pub address: String,
    /// Unsent changes it reported (empty: never reported).
    pub pending: String,
    /// `none`, `requested`, `delivered` or `confirmed`.
    pub wipe: &'static str,
    /// Who asked for the wipe and when.
    pub wipe_by: String,
    /// The confirmation page's address.
    pub wipe_href: String,
}

fn wipe_name(w: WipeStateView) -> &'static str {
    match w {
        WipeStateView::None => "none",
        WipeStateView::Requested => "requested",
        WipeStateView::Delivered => "delivered",
        WipeStateView::Confirmed => "confirmed",
    }
}

fn row(d: &DeviceView, session: &WebSession) -> DeviceRow {
    let tz = time_zone(session);
    DeviceRow {
        id: d.device_id.clone(),
        user: d.user.clone(),
        app_version: d.app_version.clone().unwrap_or_default(),
        last_seen: local_ms(d.last_seen, &tz),
        last_seen_at: iso_ms(d.last_seen),
        address: d.last_address.clone().unwrap_or_default(),
        pending: d.pending_changes.map(|n| n.to_string()).unwrap_or_default(),
        wipe: wipe_name(d.wipe),
        wipe_by: match (&d.wipe_requested_by, d.wipe_requested_at) {
            (Some(by), at) => format!("by {by} at {}", local_ms(at, &tz)),
            (None, _) => String::new(),
        },
        wipe_href: format!(
            "/web/admin/devices/wipe?{}",
            form_urlencoded::Serializer::new(String::new())
                .append_pair("device", &d.device_id)
                .finish()
        ),
    }
}

/// The devices page.
#[derive(Template)]
#[template(path = "web/admin_devices.html")]
pub struct DevicesPage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// The tab shown (`devices`).
    pub tab: &'static str,
    /// The devices, by user then id.
    pub devices: Vec<DeviceRow>,
    /// Only this user's (empty: everyone's).
    pub user: String,
    /// What was done.
    pub notice: Option<String>,
}

/// The wipe confirmation page.
#[derive(Template)]
#[template(path = "web/admin_wipe.html")]
pub struct WipePage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// The tab shown (`devices`).
    pub tab: &'static str,
    /// The device.
    pub device: DeviceRow,
    /// What the wipe loses, in words.
    pub lost: String,
}

/// `GET /web/admin/devices?user=NAME`: the devices.
pub async fn list(
    State(state): State<Arc<AppState>>,
    SignedInGet { session, query: q }: SignedInGet,
) -> Response {
    if let Err(answer) = require(&session) {
        return answer;
    }
    let user = q.text("user", MAX_TEXT);
    let all = match api::all(&state, user.clone()).await {
        Ok(all) => all,
        Err(p) => return refused(&session, &p),
    };
    let devices: Vec<DeviceRow> = all.iter().map(|d| row(d, &session)).collect();
    // Only a device that is marked is announced.
    let notice = q
        .text("wiped", 64)
        .and_then(|id| devices.iter().find(|d| d.id == id && d.wipe != "none"))
        .map(|d| {
            i18n::fill(
                "Device {0} of {1} is marked for wipe: it deletes its data at its next contact.",
                &[&d.id, &d.user],
            )
        });
    page::render(
        StatusCode::OK,
        &DevicesPage {
            nav: Some(session.nav("admin", "")),
            tab: "devices",
            devices,
            user: user.unwrap_or_default(),
            notice,
        },
    )
}

/// The device named by a form or query's `device` field.
async fn device_of(
    state: &AppState,
    session: &WebSession,
    fields: &form::Pairs,
) -> Result<DeviceInfo, Response> {
    let id = fields.get("device").unwrap_or_default();
    if !crate::db::devices::valid_id(id) {
        let p = Problem::bad_request(i18n::text("Name a device: its id has 1 to 64 characters."));
        return Err(refused(session, &p));
    }
    let id = id.to_owned();
    let found = state
        .db
        .read({
            let id = id.clone();
            move |c| crate::db::devices::info(c, &id)
        })
        .await
        .map_err(|e| refused(session, &Problem::from(e)))?;
    found.ok_or_else(|| refused(session, &Problem::not_found(format!("no device `{id}`"))))
}

/// `GET /web/admin/devices/wipe?device=ID`: what the wipe loses, and the
/// button that confirms it.
pub async fn confirm(
    State(state): State<Arc<AppState>>,
    SignedInGet { session, query: q }: SignedInGet,
) -> Response {
    if let Err(answer) = require(&session) {
        return answer;
    }
    let device = match device_of(&state, &session, &q).await {
        Ok(d) => d,
        Err(answer) => return answer,
    };
    page::render(
        StatusCode::OK,
        &WipePage {
            nav: Some(session.nav("admin", "")),
            tab: "devices",
            lost: crate::wipe::what_is_lost(&device),
            device: row(&DeviceView::from(device), &session),
        },
    )
}

/// `POST /web/admin/devices/wipe`: marks the device for wipe through the
/// API's function (the confirmation page's button).
pub async fn wipe(State(state): State<Arc<AppState>>, post: CheckedPost) -> Response {
    let CheckedPost { session, fields } = post;
    if let Err(answer) = require(&session) {
        return answer;
    }
    let device = match device_of(&state, &session, &fields).await {
        Ok(d) => d,
        Err(answer) => return answer,
    };
    match api::wipe_by(&state, session.user.name.clone(), device.device_id).await {
        Ok(w) => {
            let to = form_urlencoded::Serializer::new(String::new())
                .append_pair("wiped", &w.device.device_id)
                .finish();
            Redirect::to(&format!("/web/admin/devices?{to}")).into_response()
        }
        Err(p) => refused(&session, &p),
    }
}
