//! The import page (`/web/admin/import`): an administrator uploads a CSV
//! or XLSX file of accounts, contacts, deals or activities, sees what the
//! import would do (a dry run: counts, every refused row with its line,
//! column and reason, possible duplicates), then presses "Import" to
//! write it.
//!
//! Every run is the office API's import ([`crate::api::import::run`], the
//! function behind `POST /v1/import/{kind}` and `fieldwork-server
//! import`), so the checks, the writes and the report are the API's. The
//! file travels as `multipart/form-data` ([`crate::web::upload`]); the
//! checked bytes wait for the confirmation in [`super::import_pending`]
//! (why: see there). A saved mapping is chosen from the ones `GET
//! /v1/admin/import-mappings` lists, and "Save this mapping as" saves the
//! typed one through the API's function
//! ([`crate::api::admin::import_mappings`]).
//!
//! Guarantees:
//! - only administrators ([`super::require`]), asked before the body is
//!   read; both POSTs need the session's form token and a same-origin
//!   request ([`crate::web::page::check_post`]), checked before the file
//!   is used; a refused POST changes nothing;
//! - checking writes nothing (a dry run); "Import" writes the very bytes
//!   checked, for the user who checked them, once, within
//!   [`super::import_pending::TTL`], and the rows are checked again as they
//!   are written (all or nothing, unless "skip invalid rows" was ticked);
//! - the upload is bounded ([`fieldwork_core::import::MAX_BYTES`] for the
//!   file, [`crate::api::import::route::BODY_TIMEOUT`] for its arrival);
//!   one import or export at a time per user, as for the API; at most
//!   [`MAX_LISTED`] refused rows and warnings are listed (the rest counted).

use std::sync::Arc;

use askama::Template;
use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use fieldwork_core::RecordKind;
use fieldwork_core::import::{Issue, KINDS, MAX_BYTES, Mapping};

use super::import_pending::{Checked, Pending};
use super::{Choice, Field, choices, refused, require};
use crate::api::admin::import_mappings::{self as saved, MAX_MAPPING, MAX_NAME};
use crate::api::import::{self as api, Options, Report};
use crate::error::ServerError;
use crate::state::AppState;
use crate::web::i18n::{self, filters};
use crate::web::page::{self, CheckedPost, Nav, SignedInGet};
use crate::web::session::WebSession;
use crate::web::upload;

/// Most refused rows (and, apart, warnings) listed on the page.
pub const MAX_LISTED: usize = 500;

/// One row of the refused rows' or warnings' table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRow {
    /// The file's line (the spreadsheet's row).
    pub line: u64,
    /// The column's header (empty when not about one column).
    pub column: String,
    /// What is wrong, with the field when it names one.
    pub message: String,
}

impl From<&Issue> for IssueRow {
    fn from(i: &Issue) -> IssueRow {
        IssueRow {
            line: i.line,
            column: i.column.clone().unwrap_or_default(),
            message: match (&i.column, &i.field) {
                (None, Some(f)) => format!("{f}: {}", i.message),
                _ => i.message.clone(),
            },
        }
    }
}

/// What a run did (or, for the check, would do).
#[derive(Debug, Clone)]
pub struct ReportView {
    /// The file's name as the browser gave it.
    pub file_name: String,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Rows created (or that would be).
    pub created: usize,
    /// Rows that update a record.
    pub updated: usize,
    /// Rows whose record holds every value already.
    pub unchanged: usize,
    /// Rows refused.
    pub refused: usize,
    /// Whether the whole file is refused (nothing is imported).
    pub refused_whole: bool,
    /// The refused rows' problems, by line.
    pub errors: Vec<IssueRow>,
    /// Problems not listed.
    pub errors_hidden: usize,
    /// Possible duplicates, by line.
    pub warnings: Vec<IssueRow>,
    /// Warnings not listed.
    pub warnings_hidden: usize,
}

impl ReportView {
    fn of(r: &Report, file_name: &str) -> ReportView {
        ReportView {
            file_name: file_name.to_owned(),
            dry_run: r.dry_run,
            created: r.created,
            updated: r.updated,
            unchanged: r.unchanged,
            refused: r.refused,
            refused_whole: r.refused_whole,
            errors: r
                .errors
                .iter()
                .take(MAX_LISTED)
                .map(IssueRow::from)
                .collect(),
            errors_hidden: r.errors.len().saturating_sub(MAX_LISTED),
            warnings: r
                .warnings
                .iter()
                .take(MAX_LISTED)
                .map(IssueRow::from)
                .collect(),
            warnings_hidden: r.warnings.len().saturating_sub(MAX_LISTED),
        }
    }
}

/// The import form as sent, with refusals.
#[derive(Debug, Clone, Default)]
pub struct ImportForm {
    /// The kind (`account`, ...).
    pub kind: Field,
    /// The file (only its refusal: a browser never fills a file input).
    pub file: Field,
    /// The saved mapping chosen (its name).
    pub saved: Field,
    /// The mapping typed, JSON.
    pub mapping: Field,
    /// The name to save the typed mapping as.
    pub save_as: Field,
    /// Whether the valid rows are imported when some are refused.
    pub skip_invalid: bool,
}

/// The import page.
#[derive(Template)]
#[template(path = "web/admin_import.html")]
pub struct ImportPage {
    /// The navigation.
    pub nav: Option<Nav>,
    /// The tab shown (`import`).
    pub tab: &'static str,
    /// The largest file, in MB.
    pub max_mb: usize,
    /// The kinds offered.
    pub kinds: Vec<Choice>,
    /// The saved mappings offered (`name (kind)`).
    pub saved: Vec<Choice>,
    /// The form as sent.
    pub form: ImportForm,
    /// The last run's report.
    pub report: Option<ReportView>,
    /// The token of the checked file, for the "Import" button (none: there
    /// is nothing to import).
    pub token: Option<String>,
    /// A refusal of the whole request or file.
    pub error: Option<String>,
    /// What was done.
    pub notice: Option<String>,
}

async fn import_page(
    state: &AppState,
    session: &WebSession,
    form: ImportForm,
) -> Result<ImportPage, Response> {
    let mappings = saved::all(state).await.map_err(|p| refused(session, &p))?;
    let kinds: Vec<String> = KINDS.iter().map(|k| k.as_str().to_owned()).collect();
    let names: Vec<String> = mappings.iter().map(|m| m.name.clone()).collect();
    let mut offered = choices(&names, &form.saved.value, Some(i18n::text("(none)")));
    // Each saved mapping says which kind it maps.
    for choice in &mut offered {
        if let Some(m) = mappings.iter().find(|m| m.name == choice.value) {
            choice.label = format!("{} ({})", m.name, m.kind);
        }
    }
    Ok(ImportPage {
        nav: Some(session.nav("admin", "")),
        tab: "import",
        max_mb: MAX_BYTES / 1_000_000,
        kinds: choices(&kinds, &form.kind.value, None),
        saved: offered,
        form,
        report: None,
        token: None,
        error: None,
        notice: None,
    })
}

/// `GET /web/admin/import`: the upload form.
pub async fn show(
    State(state): State<Arc<AppState>>,
    SignedInGet { session, .. }: SignedInGet,
) -> Response {
    if let Err(answer) = require(&session) {
        return answer;
    }
    let form = ImportForm {
        kind: Field::of("account"),
        ..ImportForm::default()
    };
    match import_page(&state, &session, form).await {
        Ok(view) => page::render(StatusCode::OK, &view),
        Err(answer) => answer,
    }
}

/// `POST /web/admin/import`: reads the upload, saves the typed mapping
/// when asked, and shows the dry run's report with an "Import" button.
pub async fn check(
    State(state): State<Arc<AppState>>,
    Extension(pending): Extension<Pending>,
    session: WebSession,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // Like the API, the body is not read before the caller is known to be
    // an administrator, nor from another site.
    if let Err(answer) = require(&session) {
        return answer;
    }
    // Another origin is refused before the file is read; the form token,
    // inside the body, is checked (with the origin again) once it is read.
    if crate::web::csrf::same_origin(&headers, session.config.tls).is_err() {
        tracing::warn!(user = %session.user.name, "web import refused: not same-origin");
        return page::forbidden_post("it did not come from this site");
    }
    let up = match upload::read(
        &headers,
        body,
        "file",
        MAX_BYTES,
        crate::api::import::route::BODY_TIMEOUT,
    )
    .await
    {
        Ok(up) => up,
        Err(e) => {
            return page::message_for(
                &session,
                e.status,
                i18n::text("Request refused"),
                &e.message,
            );
        }
    };
    if let Err(answer) = page::check_post(&session, &headers, &up.fields) {
        return answer;
    }
    let fields = &up.fields;
    let mut form = ImportForm {
        kind: super::bounded(fields, "kind", 32),
        file: Field::default(),
        saved: super::bounded(fields, "saved", MAX_NAME * 2),
        mapping: super::bounded(fields, "mapping", MAX_MAPPING),
        save_as: super::bounded(fields, "save_as", MAX_NAME * 2),
        skip_invalid: fields.get("skip_invalid").is_some(),
    };
    let kind = form
        .kind
        .value
        .parse::<RecordKind>()
        .ok()
        .filter(|k| KINDS.contains(k));
    if kind.is_none() {
        form.kind.refuse(i18n::text(
            "Choose accounts, contacts, deals or activities.",
        ));
    }
    if up.file.is_empty() {
        form.file.refuse(i18n::text("Choose a file."));
    }
    if !form.saved.value.is_empty() && !form.mapping.value.is_empty() {
        form.mapping
            .refuse(i18n::text("Choose a saved mapping or type one, not both."));
    }
    if !form.save_as.value.is_empty() && form.mapping.value.is_empty() {
        form.save_as.refuse(i18n::text("Type the mapping to save."));
    }
    let mut notice = None;
    let mapping = match kind {
        Some(kind) if no_refusal(&form) => mapping_of(&state, &session, kind, &mut form).await,
        _ => None,
    };
    if mapping.is_some() && !form.save_as.value.is_empty() {
        notice = Some(i18n::fill("Saved the mapping {0}.", &[&form.save_as.value]));
    }
    let (Some(kind), Some(mapping)) = (kind, mapping) else {
        return form_again(&state, &session, form, None, None).await;
    };
    let bytes = Arc::new(up.file);
    let options = Options {
        dry_run: true,
        skip_invalid: form.skip_invalid,
    };
    let report = match run(
        &state,
        &session,
        kind,
        bytes.clone(),
        mapping.clone(),
        options,
    )
    .await
    {
        Ok(r) => r,
        Err(answer) => return answer_or_form(&state, &session, form, answer, notice).await,
    };
    let token = (!report.refused_whole && report.created + report.updated > 0).then(|| {
        pending.keep(Checked {
            user: session.user.name.clone(),
            kind,
            file_name: up.file_name.clone(),
            bytes,
            mapping,
            skip_invalid: form.skip_invalid,
        })
    });
    let status = if report.refused_whole {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut view = match import_page(&state, &session, form).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    view.report = Some(ReportView::of(&report, &up.file_name));
    view.token = token;
    view.notice = notice;
    page::render(status, &view)
}

/// `POST /web/admin/import/confirm`: imports the file checked under the
/// form's `token` and shows what was done.
pub async fn confirm(
    State(state): State<Arc<AppState>>,
    Extension(pending): Extension<Pending>,
    post: CheckedPost,
) -> Response {
    let CheckedPost { session, fields } = post;
    if let Err(answer) = require(&session) {
        return answer;
    }
    let token = fields.get("token").unwrap_or_default();
    let Some(checked) = pending.take(token, &session.user.name) else {
        let error = i18n::text("The checked file is no longer kept: check it again.");
        return form_again(
            &state,
            &session,
            ImportForm::default(),
            Some(error.to_owned()),
            None,
        )
        .await;
    };
    let options = Options {
        dry_run: false,
        skip_invalid: checked.skip_invalid,
    };
    let form = ImportForm {
        kind: Field::of(checked.kind.as_str()),
        skip_invalid: checked.skip_invalid,
        ..ImportForm::default()
    };
    let report = match run(
        &state,
        &session,
        checked.kind,
        checked.bytes,
        checked.mapping,
        options,
    )
    .await
    {
        Ok(r) => r,
        Err(answer) => return answer_or_form(&state, &session, form, answer, None).await,
    };
    let status = if report.refused_whole {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut view = match import_page(&state, &session, form).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    if !report.refused_whole {
        view.notice = Some(i18n::fill(
            "Imported: {0} created, {1} updated, {2} unchanged.",
            &[&report.created, &report.updated, &report.unchanged],
        ));
    }
    view.report = Some(ReportView::of(&report, &checked.file_name));
    page::render(status, &view)
}

fn no_refusal(form: &ImportForm) -> bool {
    [
        &form.kind,
        &form.file,
        &form.saved,
        &form.mapping,
        &form.save_as,
    ]
    .iter()
    .all(|f| f.error.is_none())
}

/// The mapping the form asks for (saved, typed, or none), saving the typed
/// one first when "Save this mapping as" is filled; `None` with the
/// refusal put on its field.
async fn mapping_of(
    state: &AppState,
    session: &WebSession,
    kind: RecordKind,
    form: &mut ImportForm,
) -> Option<Mapping> {
    if !form.saved.value.is_empty() {
        let name = form.saved.value.clone();
        let found = state
            .db
            .read(move |c| api::saved_mapping(c, &name, kind))
            .await;
        return match found {
            Ok(m) => Some(m),
            Err(e) => {
                form.saved.refuse(&e.to_string());
                None
            }
        };
    }
    if form.mapping.value.is_empty() {
        return Some(Mapping::default());
    }
    if !form.save_as.value.is_empty() {
        let saving = saved::save_by(
            state,
            &session.user.name,
            &form.save_as.value,
            kind.as_str(),
            &form.mapping.value,
        )
        .await;
        if let Err(p) = saving {
            if p.status == 422 {
                form.mapping.refuse(&p.detail);
            } else {
                form.save_as.refuse(&p.detail);
            }
            return None;
        }
    }
    match Mapping::from_json(form.mapping.value.as_bytes()) {
        Ok(m) => Some(m),
        Err(e) => {
            form.mapping.refuse(&e);
            None
        }
    }
}

/// Why a run gave no report.
enum NoReport {
    /// A problem with the whole file, for people.
    File(String),
    /// The answer to send (busy, server failure).
    Answer(Response),
}

/// Runs the import off the async workers, holding the user's import or
/// export slot.
async fn run(
    state: &Arc<AppState>,
    session: &WebSession,
    kind: RecordKind,
    bytes: Arc<Vec<u8>>,
    mapping: Mapping,
    options: Options,
) -> Result<Report, NoReport> {
    let Ok(_slot) = state.exports.take(&session.user.name) else {
        return Err(NoReport::File(
            i18n::text("An import or export of yours is running; try again when it ends.")
                .to_owned(),
        ));
    };
    let running = state.clone();
    let done = tokio::task::spawn_blocking(move || {
        api::run(&running, kind, &bytes, &mapping, options, &mut |_, _| {})
    })
    .await
    .unwrap_or_else(|e| Err(ServerError::Internal(format!("import: {e}"))));
    match done {
        Ok(report) => Ok(report),
        Err(ServerError::Invalid(why)) => Err(NoReport::File(why)),
        Err(e) => Err(NoReport::Answer(refused(
            session,
            &crate::api::problem::Problem::from(e),
        ))),
    }
}

/// The answer to a run that gave no report: the form again with why, or
/// the answer `no` carries; `notice` says what was done before (a mapping
/// saved).
async fn answer_or_form(
    state: &AppState,
    session: &WebSession,
    form: ImportForm,
    no: NoReport,
    notice: Option<String>,
) -> Response {
    match no {
        NoReport::Answer(answer) => answer,
        NoReport::File(why) => {
            let error = i18n::fill("The file was refused: {0}", &[&why]);
            form_again(state, session, form, Some(error), notice).await
        }
    }
}

/// The form again, with its refusals (and `error`, and `notice`),
/// answered `422`.
async fn form_again(
    state: &AppState,
    session: &WebSession,
    form: ImportForm,
    error: Option<String>,
    notice: Option<String>,
) -> Response {
    let mut view = match import_page(state, session, form).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    view.error = error;
    view.notice = notice;
    page::render(StatusCode::UNPROCESSABLE_ENTITY, &view)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issue_shows_its_column_or_else_its_field() {
        let with_column = Issue {
            line: 4,
            column: Some("E-mail".into()),
            field: Some("email".into()),
            message: "is not an e-mail address".into(),
        };
        let row = IssueRow::from(&with_column);
        assert_eq!((row.line, row.column.as_str()), (4, "E-mail"));
        assert_eq!(row.message, "is not an e-mail address");
        let with_field = Issue {
            column: None,
            ..with_column
        };
        assert_eq!(
            IssueRow::from(&with_field).message,
            "email: is not an e-mail address"
        );
    }
}
