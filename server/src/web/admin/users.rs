//! The users page (`/web/admin`, the administration's landing page) and
//! one user's page: add a user, change their role, territories, manager
//! and time zone, disable and enable them.
//!
//! Every action calls the office API's user functions
//! ([`crate::api::admin::users`]: `create_by`, `update_by`, `disable_by`,
//! `enable_by`), the work of `POST /v1/admin/users`, `PATCH
//! /v1/admin/users/{name}` and `POST /v1/admin/users/{name}/disable` once
//! the caller is known to be an administrator; so the checks (a role of
//! the policy in force, valid territory names, an existing manager who is
//! not managed by the user, a known time zone, a free name), the lock-out
//! guards, the audit log and the announcement to live devices are theirs.
//!
//! Guarantees:
//! - only administrators ([`super::require`]) see the pages or get an
//!   action done, `403` otherwise;
//! - a refused value is shown next to its field with the API's message
//!   (every problem the API names; when adding a user the API stops at the
//!   first), everything typed is kept except the password, and nothing
//!   changes;
//! - disabling a user ends their sessions (web included) and marks their
//!   devices for wipe, as the API does; an administrator cannot disable
//!   themself nor take away their own administrator's role;
//! - revoking a user's calendar feed goes through the API's function too
//!   ([`crate::api::keys::revoke_user_feed_by`]);
//! - no password or hash is ever shown; inputs are bounded
//!   ([`super::MAX_TEXT`], [`MAX_TERRITORIES`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::tz::TimeZone;

use super::{Choice, Field, MAX_TEXT, bounded, choices, local_ms, refused, require, time_zone};
use crate::api::admin::roles::TerritoryView;
use crate::api::admin::users::{self as api, NewUserRequest, UserPatch, UserView};
use crate::api::problem::Problem;
use crate::auth::MAX_PASSWORD_BYTES;
use crate::state::AppState;
use crate::web::form;
use crate::web::i18n::{self, filters};
use crate::web::page::{self, CheckedPost, Nav, SignedInGet};
use crate::web::session::WebSession;

/// Most territories typed for one user.
pub const MAX_TERRITORIES: usize = 100;

/// One user in the table.
#[derive(Debug, Clone)]
pub struct UserRow {
    /// The name.
    pub name: String,
    /// The role.
    pub role: String,
    /// Territories, comma-separated.
    pub territories: String,
    /// The manager (empty: none).
    pub manager: String,
    /// The time zone (empty: none, UTC).
    pub time_zone: String,
    /// Whether disabled.
    pub disabled: bool,
    /// The newest contact of any of their devices (empty: none).
    pub last_seen: String,
    /// Their page.
    pub href: String,
}

/// What the add and edit forms hold, as typed, with refusals.
#[derive(Debug, Clone, Default)]
pub struct UserForm {
    /// The name (add only).
    pub name: Field,
    /// The password (add only; never shown again).
    pub password: Field,
    /// The role.
    pub role: Field,
    /// Territories, comma-separated.
    pub territories: Field,
    /// The manager's name (empty: none).
    pub manager: Field,
    /// The IANA time zone (empty: none).
    pub time_zone: Field,
}

impl UserForm {
    /// Puts each problem of an API refusal (`; `-separated) next to its
    /// field; those about no field are returned.
    fn refuse(&mut self, detail: &str) -> Vec<String> {
        let mut rest = Vec::new();
        for problem in detail.split("; ").filter(|p| !p.is_empty()) {
            match field_of(problem) {
                Some("name") => self.name.refuse(problem),
                Some("password") => self.password.refuse(problem),
                Some("role") => self.role.refuse(problem),
                Some("territories") => self.territories.refuse(problem),
                Some("manager") => self.manager.refuse(problem),
                Some("time_zone") => self.time_zone.refuse(problem),
                _ => rest.push(problem.to_owned()),
            }
        }
        rest
    }

    /// Whether a field is refused.
    fn refused(&self) -> bool {
        [
            &self.name,
            &self.password,
            &self.role,
            &self.territories,
            &self.manager,
            &self.time_zone,
        ]
        .iter()
        .any(|f| f.error.is_some())
    }
}

/// The field an API message about a user is about, by the words the
/// API's checks start it with (`crate::db::users`).
fn field_of(problem: &str) -> Option<&'static str> {
    let p = problem.trim();
    if p.starts_with("user name") || (p.starts_with("user `") && p.ends_with("already exists")) {
        Some("name")
    } else if p.starts_with("password") {
        Some("password")
    } else if p.starts_with("role `") {
        Some("role")
    } else if p.starts_with("territory `") || p.starts_with("territories") {
        Some("territories")
    } else if p.starts_with("manager `") || p.ends_with("cannot be their own manager") {
        Some("manager")
    } else if p.contains("IANA time zone") {
        Some("time_zone")
    } else {
        None
    }
}

/// The users page.
#[derive(Template)]
#[template(path = "web/admin_users.html")]
pub struct UsersPage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// The tab shown (`users`).
    pub tab: &'static str,
    /// Every user, by name.
    pub users: Vec<UserRow>,
    /// Territories in use, with how many users and accounts have each.
    pub territories: Vec<TerritoryView>,
    /// The roles of the policy in force.
    pub roles: Vec<Choice>,
    /// The users who may be a manager.
    pub managers: Vec<Choice>,
    /// The add form as typed.
    pub form: UserForm,
    /// A refusal of the form not about one field.
    pub error: Option<String>,
    /// What was done.
    pub notice: Option<String>,
}

/// One user's page.
#[derive(Template)]
#[template(path = "web/admin_user.html")]
pub struct UserPage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// The tab shown (`users`).
    pub tab: &'static str,
    /// The user as they stand.
    pub user: UserRow,
    /// Whether it is the signed-in administrator.
    pub me: bool,
    /// The form's action.
    pub action: String,
    /// The roles of the policy in force.
    pub roles: Vec<Choice>,
    /// The users who may be their manager.
    pub managers: Vec<Choice>,
    /// The edit form as typed.
    pub form: UserForm,
    /// A refusal not about one field.
    pub error: Option<String>,
    /// What was done.
    pub notice: Option<String>,
}

/// What every users page reads: users, role names, last contacts.
struct Directory {
    users: Vec<UserView>,
    roles: Vec<String>,
    last_seen: BTreeMap<String, i64>,
}

async fn directory(state: &AppState) -> Result<Directory, Problem> {
    let users = api::all(state).await?;
    let roles = crate::api::admin::roles::all(state)
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect();
    let mut last_seen: BTreeMap<String, i64> = BTreeMap::new();
    for d in crate::api::admin::devices::all(state, None).await? {
        if let Some(at) = d.last_seen {
            let e = last_seen.entry(d.user).or_insert(at);
            *e = (*e).max(at);
        }
    }
    Ok(Directory {
        users,
        roles,
        last_seen,
    })
}

fn row(u: &UserView, dir: &Directory, tz: &TimeZone) -> UserRow {
    UserRow {
        name: u.name.clone(),
        role: u.role.clone(),
        territories: u.territories.join(", "),
        manager: u.manager.clone().unwrap_or_default(),
        time_zone: u.time_zone.clone().unwrap_or_default(),
        disabled: u.disabled,
        last_seen: local_ms(dir.last_seen.get(&u.name).copied(), tz),
        href: href(&u.name),
    }
}

/// The page of user `name`.
fn href(name: &str) -> String {
    let escaped: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
    format!("/web/admin/users/{escaped}")
}

fn user_names(dir: &Directory, except: Option<&str>) -> Vec<String> {
    dir.users
        .iter()
        .filter(|u| Some(u.name.as_str()) != except)
        .map(|u| u.name.clone())
        .collect()
}

/// The users page with `form` (refused or empty).
async fn users_page(
    state: &AppState,
    session: &WebSession,
    form: UserForm,
) -> Result<UsersPage, Response> {
    let dir = directory(state).await.map_err(|p| refused(session, &p))?;
    let tz = time_zone(session);
    let role = if form.role.value.is_empty() {
        dir.roles
            .iter()
            .find(|r| *r == "rep")
            .or(dir.roles.first())
            .cloned()
            .unwrap_or_default()
    } else {
        form.role.value.clone()
    };
    let territories = crate::api::admin::roles::in_use(state)
        .await
        .map_err(|p| refused(session, &p))?;
    Ok(UsersPage {
        nav: Some(session.nav("admin", "")),
        tab: "users",
        users: dir.users.iter().map(|u| row(u, &dir, &tz)).collect(),
        territories,
        roles: choices(&dir.roles, &role, None),
        managers: choices(&user_names(&dir, None), &form.manager.value, Some("(none)")),
        form,
        error: None,
        notice: None,
    })
}

/// `GET /web/admin`: every user and the form to add one.
pub async fn list(
    State(state): State<Arc<AppState>>,
    SignedInGet { session, query: q }: SignedInGet,
) -> Response {
    if let Err(answer) = require(&session) {
        return answer;
    }
    let mut view = match users_page(&state, &session, UserForm::default()).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    // Only a user who exists is announced (not any text of the address).
    if let Some(added) = q.text("added", MAX_TEXT)
        && let Some(u) = view.users.iter().find(|u| u.name == added)
    {
        view.notice = Some(i18n::fill("Added user {0}.", &[&u.name]));
    }
    page::render(StatusCode::OK, &view)
}

/// The typed add or edit form: bounded values, the territories as a list
/// (`None` when refused).
fn typed(fields: &form::Pairs, with_name: bool) -> (UserForm, Option<Vec<String>>) {
    let mut f = UserForm {
        role: bounded(fields, "role", MAX_TEXT),
        territories: bounded(fields, "territories", 16 * MAX_TEXT),
        manager: bounded(fields, "manager", MAX_TEXT),
        time_zone: bounded(fields, "time_zone", MAX_TEXT),
        ..UserForm::default()
    };
    if with_name {
        f.name = bounded(fields, "name", MAX_TEXT);
        let password = fields.get("password").unwrap_or_default();
        if password.is_empty() {
            f.password
                .refuse(i18n::text("Type a password for the new user."));
        } else if password.len() > MAX_PASSWORD_BYTES {
            f.password
                .refuse(&format!("At most {MAX_PASSWORD_BYTES} bytes."));
        }
        f.password.value = password.to_owned();
    }
    if f.role.value.is_empty() && f.role.error.is_none() {
        f.role.refuse(i18n::text("Choose a role."));
    }
    let territories = super::list(&f.territories.value);
    let territories = if territories.len() > MAX_TERRITORIES {
        f.territories
            .refuse(&format!("At most {MAX_TERRITORIES} territories."));
        None
    } else {
        Some(territories)
    };
    (f, territories)
}

/// `POST /web/admin/users`: adds a user through the API's function, or
/// shows the form again with the refusal next to its field.
pub async fn create(State(state): State<Arc<AppState>>, post: CheckedPost) -> Response {
    let CheckedPost { session, fields } = post;
    if let Err(answer) = require(&session) {
        return answer;
    }
    let (mut f, territories) = typed(&fields, true);
    let mut error = None;
    if !f.refused()
        && let Some(territories) = territories
    {
        let req = NewUserRequest {
            name: f.name.value.clone(),
            role: f.role.value.clone(),
            territories,
            manager: Some(f.manager.value.clone()).filter(|m| !m.is_empty()),
            time_zone: Some(f.time_zone.value.clone()).filter(|t| !t.is_empty()),
            password: f.password.value.clone(),
        };
        match api::create_by(&state, &session.user.name, req).await {
            Ok(user) => {
                let to = form_urlencoded::Serializer::new(String::new())
                    .append_pair("added", &user.name)
                    .finish();
                return Redirect::to(&format!("/web/admin?{to}")).into_response();
            }
            Err(p) if p.status >= 500 => return refused(&session, &p),
            Err(p) => {
                let rest = f.refuse(&p.detail);
                if !rest.is_empty() {
                    error = Some(rest.join("; "));
                }
            }
        }
    }
    // The password is never sent back to the browser.
    f.password.value.clear();
    if f.password.error.is_none() {
        f.password.error = Some(i18n::text("Type the password again.").into());
    }
    let mut view = match users_page(&state, &session, f).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    view.error = Some(error.unwrap_or_else(|| {
        i18n::text("The user was not added: see the fields marked below. Nothing was changed.")
            .into()
    }));
    page::render(StatusCode::UNPROCESSABLE_ENTITY, &view)
}

/// One user's page with `form` (`None`: as the user stands).
async fn user_page(
    state: &AppState,
    session: &WebSession,
    name: &str,
    form: Option<UserForm>,
) -> Result<UserPage, Response> {
    let dir = directory(state).await.map_err(|p| refused(session, &p))?;
    let Some(u) = dir.users.iter().find(|u| u.name == name) else {
        return Err(refused(
            session,
            &Problem::not_found(format!("no user `{name}`")),
        ));
    };
    let tz = time_zone(session);
    let user = row(u, &dir, &tz);
    let form = form.unwrap_or_else(|| UserForm {
        role: Field::of(&user.role),
        territories: Field::of(&user.territories),
        manager: Field::of(&user.manager),
        time_zone: Field::of(&user.time_zone),
        ..UserForm::default()
    });
    Ok(UserPage {
        nav: Some(session.nav("admin", "")),
        tab: "users",
        me: user.name == session.user.name,
        action: user.href.clone(),
        roles: choices(&dir.roles, &form.role.value, None),
        managers: choices(
            &user_names(&dir, Some(name)),
            &form.manager.value,
            Some("(none)"),
        ),
        user,
        form,
        error: None,
        notice: None,
    })
}

/// `GET /web/admin/users/{name}`: the user and the form to change them.
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    SignedInGet { session, query: q }: SignedInGet,
) -> Response {
    if let Err(answer) = require(&session) {
        return answer;
    }
    let mut view = match user_page(&state, &session, &name, None).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    view.notice = match q.get("done") {
        Some("saved") => Some(i18n::text("Saved.").to_owned()),
        Some("disabled") => Some(
            i18n::text("Disabled: their sessions are ended and their devices are marked for wipe.")
                .to_owned(),
        ),
        Some("enabled") => Some(i18n::text("Enabled: they may sign in again.").to_owned()),
        Some("feed") => Some(
            i18n::text("Their calendar feed is revoked: its address no longer answers.").to_owned(),
        ),
        _ => None,
    };
    page::render(StatusCode::OK, &view)
}

fn done(name: &str, what: &str) -> Response {
    Redirect::to(&format!("{}?done={what}", href(name))).into_response()
}

/// `POST /web/admin/users/{name}`: changes the user's role, territories,
/// manager and time zone through the API's function (checked whole), or
/// shows the form again with every problem next to its field.
pub async fn update(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    post: CheckedPost,
) -> Response {
    let CheckedPost { session, fields } = post;
    if let Err(answer) = require(&session) {
        return answer;
    }
    let (mut f, territories) = typed(&fields, false);
    let mut error = None;
    if !f.refused()
        && let Some(territories) = territories
    {
        let patch = UserPatch {
            role: Some(f.role.value.clone()),
            territories: Some(territories),
            manager: Some(Some(f.manager.value.clone()).filter(|m| !m.is_empty())),
            time_zone: Some(Some(f.time_zone.value.clone()).filter(|t| !t.is_empty())),
        };
        match api::update_by(&state, &session.user.name, name.clone(), patch).await {
            Ok(u) => return done(&u.name, "saved"),
            Err(p) if p.status >= 500 || p.status == 404 => return refused(&session, &p),
            Err(p) if p.code == "would_lock_out" => f.role.refuse(&p.detail),
            Err(p) => {
                let rest = f.refuse(&p.detail);
                if !rest.is_empty() {
                    error = Some(rest.join("; "));
                }
            }
        }
    }
    let mut view = match user_page(&state, &session, &name, Some(f)).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    view.error = Some(error.unwrap_or_else(|| {
        i18n::text("The user was not changed: see the fields marked below.").into()
    }));
    page::render(StatusCode::UNPROCESSABLE_ENTITY, &view)
}

/// `POST /web/admin/users/{name}/disable`: disables the user through the
/// API's function: their sessions end and their devices are marked for
/// wipe.
pub async fn disable(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    post: CheckedPost,
) -> Response {
    if let Err(answer) = require(&post.session) {
        return answer;
    }
    let by = post.session.user.name.clone();
    match api::disable_by(&state, by, name).await {
        Ok(u) => done(&u.name, "disabled"),
        Err(p) => refused(&post.session, &p),
    }
}

/// `POST /web/admin/users/{name}/enable`: enables the user again through
/// the API's function.
pub async fn enable(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    post: CheckedPost,
) -> Response {
    if let Err(answer) = require(&post.session) {
        return answer;
    }
    let by = post.session.user.name.clone();
    match api::enable_by(&state, by, name).await {
        Ok(u) => done(&u.name, "enabled"),
        Err(p) => refused(&post.session, &p),
    }
}

/// `POST /web/admin/users/{name}/calendar-feed/revoke`: revokes the user's
/// calendar feed through the API's function (the next fetch of its
/// address is `404`).
pub async fn revoke_feed(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    post: CheckedPost,
) -> Response {
    if let Err(answer) = require(&post.session) {
        return answer;
    }
    let by = post.session.user.name.clone();
    match crate::api::keys::revoke_user_feed_by(&state, by, name.clone()).await {
        Ok(()) => done(&name, "feed"),
        Err(p) => refused(&post.session, &p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_problems_land_next_to_their_fields() {
        let mut f = UserForm::default();
        let rest = f.refuse(
            "role `boss` is not in the policy (roles: admin, rep); `Mars/Olympus` is not a known IANA time zone; manager `zed` is not a user; something else",
        );
        assert!(f.role.error.as_deref().is_some_and(|e| e.contains("boss")));
        assert!(f.time_zone.error.is_some());
        assert!(f.manager.error.is_some());
        assert!(f.name.error.is_none() && f.territories.error.is_none());
        assert_eq!(rest, vec!["something else"]);
        let mut f = UserForm::default();
        f.refuse("user `ana` already exists");
        assert!(f.name.error.is_some());
        f.refuse("passwords must have at least 8 characters");
        assert!(f.password.error.is_some());
        f.refuse(
            "territory `\\n` must have 1-64 bytes, no control characters and no surrounding spaces",
        );
        assert!(f.territories.error.is_some());
    }
}
