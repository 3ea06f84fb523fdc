//! The administration pages: users, the policy, devices and remote wipe,
//! the audit log, API keys, webhooks and imports, for users whose role the policy
//! in force makes an administrator.
//!
//! Every page and every action calls the office API's admin functions
//! (`crate::api::admin::*`, `crate::api::keys`, `crate::api::webhooks`:
//! the work their handlers do once the caller is known to be an
//! administrator), so the checks, the lock-out guards, the audit log and
//! the refusals are the API's; the pages add only the question of who may
//! open them ([`require`], the API's [`crate::api::caller::Caller::require_admin`]).
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/web/admin` | users, and the form to add one ([`users`]) |
//! | POST | `/web/admin/users` | adds a user |
//! | GET, POST | `/web/admin/users/{name}` | one user: change role, territories, manager, time zone |
//! | POST | `/web/admin/users/{name}/disable`, `/enable` | disables (ends sessions, marks devices for wipe) or enables |
//! | POST | `/web/admin/users/{name}/calendar-feed/revoke` | revokes the user's calendar feed |
//! | GET, POST | `/web/admin/policy` | the policy in force, its roles, and the form to replace it ([`policy`]) |
//! | GET | `/web/admin/devices` | devices and their wipe state ([`devices`]) |
//! | GET, POST | `/web/admin/devices/wipe` | asks to confirm, then marks a device for wipe |
//! | GET | `/web/admin/audit` | the audit log, newest first, 50 a page ([`audit`]) |
//! | GET, POST | `/web/admin/keys` | API keys; a new key's secret shown once ([`keys`]) |
//! | POST | `/web/admin/keys/{id}/revoke` | revokes a key |
//! | GET, POST | `/web/admin/webhooks` | webhooks and their newest deliveries; a new one's secret shown once ([`webhooks`]) |
//! | POST | `/web/admin/webhooks/{id}/delete` | deletes a webhook |
//! | POST | `/web/admin/webhooks/deliveries/{id}/redeliver` | queues a delivery again |
//! | GET, POST | `/web/admin/import` | the upload form; a CSV or XLSX file checked (dry run) with its report ([`import`]) |
//! | POST | `/web/admin/import/confirm` | imports the file just checked |
//!
//! Guarantees:
//! - only a user whose role the policy in force makes an administrator
//!   sees these pages or gets an action done; anyone else gets `403` with
//!   a sentence saying so, on every page and on every POST (even one with
//!   a valid form token), and nothing changes;
//! - every POST is a [`super::page::CheckedPost`] (form token and same
//!   origin) or, for the policy's long text, read with the API's body limit
//!   and then checked the same way ([`super::page::check_post`]);
//! - a refusal shows the API's own message (next to its field when it is
//!   about one), keeps what was typed, and changes nothing;
//! - no page shows a password, a password hash, a token or a secret,
//!   except a new API key's or webhook's secret once, in the answer to its
//!   creation;
//! - every input is bounded ([`MAX_TEXT`], [`super::form`]).

pub mod audit;
pub mod devices;
pub mod import;
pub mod import_pending;
pub mod keys;
pub mod policy;
pub mod users;
pub mod webhooks;

use axum::http::StatusCode;
use axum::response::Response;
use jiff::tz::TimeZone;

use super::page;
use super::session::WebSession;
use crate::api::problem::Problem;
use crate::web::i18n;

/// Longest one-line value of an administration form, in bytes.
pub const MAX_TEXT: usize = 1024;

/// Refuses (`403`, with a sentence) a session whose role the policy in
/// force does not make an administrator.
pub fn require(session: &WebSession) -> Result<(), Response> {
    session.caller().require_admin().map_err(|p| {
        tracing::warn!(user = %session.user.name, "web administration refused: not an administrator");
        page::message_for(
            session,
            StatusCode::FORBIDDEN,
            i18n::text("Administrators only"),
            &i18n::fill(
                "Only an administrator may use the administration pages ({0}). Nothing was changed.",
                &[&p.detail],
            ),
        )
    })
}

/// The page for a refusal of the API that is not about a form's field
/// (a user or device that does not exist, a storage failure).
pub fn refused(session: &WebSession, p: &Problem) -> Response {
    let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(detail = %p.detail, "web administration failed");
        return page::message_for(
            session,
            status,
            i18n::text("Something went wrong"),
            i18n::text("The server failed to answer; the request id is in its log."),
        );
    }
    page::message_for(
        session,
        status,
        i18n::text("Refused"),
        &i18n::refusals::refusal(p),
    )
}

/// The time zone times are shown in: the signed-in user's (`time_zone` of
/// the directory), else UTC.
pub fn time_zone(session: &WebSession) -> TimeZone {
    fieldwork_core::process::tasks::zone(session.user.time_zone.as_deref()).unwrap_or(TimeZone::UTC)
}

/// A time in ms since the Unix epoch as `YYYY-MM-DD HH:MM` in `tz` (empty
/// for none).
pub fn local_ms(ms: Option<i64>, tz: &TimeZone) -> String {
    ms.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|t| {
            t.to_zoned_datetime(tz.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// A time in ms as RFC 3339 (for `<time datetime>`; empty for none).
pub fn iso_ms(ms: Option<i64>) -> String {
    ms.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// A secret shown once, in the answer to its creation.
#[derive(Debug, Clone)]
pub struct Secret {
    /// The id of what was created.
    pub id: i64,
    /// The secret.
    pub value: String,
}

/// A choice of a `<select>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// The value sent.
    pub value: String,
    /// For people.
    pub label: String,
    /// Whether it is chosen.
    pub selected: bool,
}

/// The choices of `options` with `chosen` selected; a `chosen` value that
/// is not among them (typed by hand, refused) is kept as the first choice,
/// so the form shows what was sent. `blank`: a first choice with the value
/// `""` and this label.
pub fn choices(options: &[String], chosen: &str, blank: Option<&str>) -> Vec<Choice> {
    let mut out = Vec::with_capacity(options.len() + 2);
    if let Some(label) = blank {
        out.push(Choice {
            value: String::new(),
            label: label.to_owned(),
            selected: chosen.is_empty(),
        });
    }
    if !chosen.is_empty() && !options.iter().any(|o| o == chosen) {
        out.push(Choice {
            value: chosen.to_owned(),
            label: chosen.to_owned(),
            selected: true,
        });
    }
    out.extend(options.iter().map(|o| Choice {
        value: o.clone(),
        label: o.clone(),
        selected: o == chosen,
    }));
    out
}

/// A form field as typed, with the refusal shown next to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Field {
    /// What was typed (kept when refused).
    pub value: String,
    /// Why it was refused.
    pub error: Option<String>,
}

impl Field {
    /// A field holding `value`, not refused.
    pub fn of(value: impl Into<String>) -> Field {
        Field {
            value: value.into(),
            error: None,
        }
    }

    /// Adds `why` to this field's refusal.
    pub fn refuse(&mut self, why: &str) {
        self.error = Some(match self.error.take() {
            Some(e) => format!("{e}; {why}"),
            None => why.to_owned(),
        });
    }
}

/// `fields`' value of `name` (empty when absent) and a refusal when it is
/// longer than `max` bytes.
pub fn bounded(fields: &super::form::Pairs, name: &str, max: usize) -> Field {
    let value = fields.get(name).unwrap_or_default().trim();
    if value.len() > max {
        return Field {
            value: value.chars().take(max / 4).collect(),
            error: Some(format!("At most {max} bytes.")),
        };
    }
    Field::of(value)
}

/// Splits a comma-separated list, trimming and leaving out blanks.
pub fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_keep_a_value_that_is_not_offered() {
        let roles = vec!["admin".to_owned(), "rep".to_owned()];
        let c = choices(&roles, "boss", None);
        assert_eq!(c[0].value, "boss");
        assert!(c[0].selected);
        assert_eq!(c.iter().filter(|c| c.selected).count(), 1);
        let c = choices(&roles, "", Some("(none)"));
        assert!(c[0].selected && c[0].value.is_empty());
        assert_eq!(c.len(), 3);
    }

    #[test]
    fn times_and_lists_read_for_people() {
        assert_eq!(local_ms(Some(0), &TimeZone::UTC), "1970-01-01 00:00");
        assert_eq!(local_ms(None, &TimeZone::UTC), "");
        assert_eq!(list(" a, ,b ,"), vec!["a", "b"]);
    }

    #[test]
    fn long_values_are_refused_not_kept_whole() {
        let long = "x".repeat(MAX_TEXT + 1);
        let pairs = super::super::form::Pairs(vec![("name".into(), long)]);
        let f = bounded(&pairs, "name", MAX_TEXT);
        assert!(f.error.is_some());
        assert!(f.value.len() < MAX_TEXT);
    }
}
