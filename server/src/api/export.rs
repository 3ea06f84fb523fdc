//! Exports (issue 17): every record of one kind that a user sees, with
//! only the fields they may read, as CSV or a JSON array. Streamed by the
//! office API (`GET /v1/export/{kind}`) and written to standard output by
//! the server CLI (`fieldwork-server export KIND --as USER`, or `--all`:
//! the organisation's export, every record and field, for administrators
//! at the server).
//!
//! Guarantees:
//! - An export holds what the office API's list answers the same user for
//!   the same filters, every page of it: the same visibility rule, the same
//!   cards ([`read::card`]). The CSV columns are `id`, `title`,
//!   `updated_at` and the kind's fields the user may read
//!   ([`readable_fields`]), so a field they may not read is never a column.
//! - Memory is bounded by one page ([`MAX_LIMIT`] records) whatever the
//!   count: [`Export::next_chunk`] reads one page per call, each in its own
//!   short read, so an export never holds a connection for long.
//! - CSV is RFC 4180 with a header line and no cell that runs as a formula
//!   in a spreadsheet ([`csv_line`]); JSON is an array of the API's record
//!   objects ([`RecordOut`]).
//! - A user runs one export at a time and the server a few
//!   ([`crate::slots`]); a busy caller gets `429 export_busy`.
//! - A bad filter or sort is a `400` before anything is sent; a page that
//!   fails later cuts the answer short (the JSON array is left unclosed,
//!   so a client cannot take a partial export for a whole one).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fieldwork_core::automerge::ActorId;
use fieldwork_core::card::readable_fields;
use fieldwork_core::policy::Policy;
use fieldwork_core::report::table::csv_line;
use fieldwork_core::{Access, RecordId};
use rusqlite::Connection;
use serde::Deserialize;

use super::caller::Caller;
use super::problem::{ApiResult, Problem};
use super::records::{KindName, RecordOut};
use super::{query, read, write};
use crate::db::record_index::{self, ListQuery, MAX_LIMIT};
use crate::error::{Result, ServerError};
use crate::slots::{Busy, Slot};
use crate::state::AppState;

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/export/{kind}", get(export))
}

/// What an export is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// RFC 4180 CSV with a header line.
    Csv,
    /// A JSON array of record objects.
    Json,
}

/// An export in progress: call [`Export::next_chunk`] until it answers
/// `None`; the chunks, concatenated, are the whole file.
pub struct Export {
    query: ListQuery,
    access: Access,
    policy: Policy,
    actor: ActorId,
    format: ExportFormat,
    columns: Vec<&'static str>,
    stage: Stage,
    records: u64,
}

/// Where an export is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Header,
    Pages,
    Done,
}

impl Export {
    /// An export of what `access` sees of `query` (its kind, filters, sort
    /// and `after` cursor; its page size is set to [`MAX_LIMIT`]) under
    /// `policy` (a user's access carries it; [`Access::Local`], every record
    /// and field, takes the organisation's). `actor` loads documents (see
    /// [`write::actor_for`]).
    pub fn new(
        access: Access,
        policy: Policy,
        mut query: ListQuery,
        actor: ActorId,
        format: ExportFormat,
    ) -> Export {
        let columns = readable_fields(&access, &policy, query.kind);
        query.limit = MAX_LIMIT;
        Export {
            query,
            access,
            policy,
            actor,
            format,
            columns,
            stage: Stage::Header,
            records: 0,
        }
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The next piece of the file: the header first, then one page of
    /// records per call (the JSON array's end with the last one); `None`
    /// once all is written.
    pub fn next_chunk(&mut self, conn: &Connection) -> Result<Option<String>> {
        match self.stage {
            Stage::Header => {
                self.stage = Stage::Pages;
                Ok(Some(self.header()))
            }
            Stage::Pages => self.page(conn).map(Some),
            Stage::Done => Ok(None),
        }
    }

    /// Every record of the export as the API's record objects, page by
    /// page, for a scan that needs them all at once (duplicates): memory is
    /// one small object per record.
    pub fn all_records(&mut self, conn: &Connection) -> Result<Vec<RecordOut>> {
        let mut out = Vec::new();
        while self.stage != Stage::Done {
            out.extend(self.next_records(conn)?);
        }
        Ok(out)
    }

    /// The records of the next page, as the caller may read them; moves
    /// the cursor on (to [`Stage::Done`] after the last page).
    fn next_records(&mut self, conn: &Connection) -> Result<Vec<RecordOut>> {
        let page = record_index::list(conn, &self.access, &self.query)?;
        let mut out = Vec::with_capacity(page.ids.len());
        for id in &page.ids {
            let Ok(id) = id.parse::<RecordId>() else {
                continue;
            };
            // None: no longer seen since the page was listed.
            if let Some((card, updated)) =
                read::card_under(conn, &self.access, &self.policy, &id, &self.actor)?
            {
                out.push(RecordOut::from_card(card, updated));
            }
        }
        self.query.after = page.next;
        if self.query.after.is_none() {
            self.stage = Stage::Done;
        }
        Ok(out)
    }

    fn header(&self) -> String {
        match self.format {
            ExportFormat::Csv => {
                let fixed = ["id", "title", "updated_at"];
                csv_line(&fixed.iter().chain(&self.columns).collect::<Vec<_>>())
            }
            ExportFormat::Json => "[".to_owned(),
        }
    }

    fn page(&mut self, conn: &Connection) -> Result<String> {
        let mut out = String::new();
        for record in self.next_records(conn)? {
            match self.format {
                ExportFormat::Csv => out.push_str(&self.csv_row(&record)),
                ExportFormat::Json => {
                    out.push_str(if self.records == 0 { "\n" } else { ",\n" });
                    let json = serde_json::to_string(&record)
                        .map_err(|e| ServerError::Internal(format!("export: {e}")))?;
                    out.push_str(&json);
                }
            }
            self.records += 1;
        }
        if self.stage == Stage::Done && self.format == ExportFormat::Json {
            out.push_str("\n]\n");
        }
        Ok(out)
    }

    fn csv_row(&self, record: &RecordOut) -> String {
        let fixed = [&record.id, &record.title, &record.updated_at];
        let fields = self
            .columns
            .iter()
            .map(|c| record.fields.get(*c).map(String::as_str).unwrap_or(""));
        csv_line(
            &fixed
                .iter()
                .map(|s| s.as_str())
                .chain(fields)
                .collect::<Vec<_>>(),
        )
    }
}

/// Exports every record of one kind the caller sees.
#[utoipa::path(get, path = "/v1/export/{kind}", tag = "records",
    params(
        ("kind" = KindName, Path, description = "the kind of records"),
        ("format" = Option<ExportFormat>, Query, description = "csv (default) or json"),
        ("filter" = Option<Vec<String>>, Query, description = "FIELD:OP:VALUE, repeatable, as for the list"),
        ("sort" = Option<String>, Query, description = "a field, `-field` for descending"),
        ("archived" = Option<String>, Query, description = "`exclude` (default), `include` or `only` archived records"),
    ),
    responses(
        (status = 200, description = "the whole export, streamed",
            content((String = "text/csv"), (Object = "application/json"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json", description = "`export_busy`: this caller already runs an export, or the server runs its most"),
    ))]
pub async fn export(
    State(state): State<Arc<AppState>>,
    Path(kind): Path<String>,
    RawQuery(raw): RawQuery,
    caller: Caller,
) -> ApiResult<Response> {
    let kind = query::kind(&kind)?;
    caller.may_read(kind)?;
    let (format, rest) = split_format(raw.as_deref().unwrap_or(""))?;
    let q = query::list_query(kind, &rest)?;
    let slot = state.exports.take(&caller.user.name).map_err(busy)?;
    let actor = write::actor_for(&state.actor, &caller.user);
    let policy = caller
        .access
        .policy()
        .cloned()
        .ok_or_else(|| ServerError::Internal("a caller without a policy".into()))?;
    let export = Export::new(caller.access, policy, q, actor, format);
    stream(state, export, slot, kind, format).await
}

/// Answers with `export` streamed page by page, holding `slot` until the
/// last page. The header and the first page are read before answering, so
/// a bad filter or sort is a `400`, not a cut-off body. Shared by the
/// user's export and the administrators' organisation export
/// (`GET /v1/admin/export/{kind}`).
pub(super) async fn stream(
    state: Arc<AppState>,
    export: Export,
    slot: Slot,
    kind: fieldwork_core::RecordKind,
    format: ExportFormat,
) -> ApiResult<Response> {
    let (export, head) = state
        .db
        .read(move |c| {
            let mut export = export;
            let mut head = export.next_chunk(c)?.unwrap_or_default();
            head.push_str(&export.next_chunk(c)?.unwrap_or_default());
            Ok((export, head))
        })
        .await?;
    let rest = futures_util::stream::unfold(Some((export, slot)), move |running| {
        let state = state.clone();
        async move { next_piece(&state, running?).await }
    });
    let first = futures_util::stream::once(async move { Ok::<_, ServerError>(head) });
    let (content_type, extension) = match format {
        ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
        ExportFormat::Json => ("application/json", "json"),
    };
    let disposition = format!("attachment; filename=\"{}.{extension}\"", kind.as_str());
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(futures_util::StreamExt::chain(first, rest)),
    )
        .into_response())
}

/// One more page of a running export, with what to continue with (`None`
/// after a failure: the stream ends there, the slot is freed).
async fn next_piece(
    state: &Arc<AppState>,
    (export, slot): (Export, Slot),
) -> Option<(Result<String>, Option<(Export, Slot)>)> {
    let read = state
        .db
        .read(move |c| {
            let mut export = export;
            let chunk = export.next_chunk(c)?;
            Ok((export, chunk))
        })
        .await;
    match read {
        Ok((export, Some(chunk))) => Some((Ok(chunk), Some((export, slot)))),
        Ok((_, None)) => None,
        Err(e) => {
            tracing::warn!(error = %e, "an export failed part way");
            Some((Err(e), None))
        }
    }
}

/// Takes `format` out of the query string, leaving the list's parameters;
/// `limit` is refused (an export has every page).
pub(super) fn split_format(raw: &str) -> ApiResult<(ExportFormat, String)> {
    let mut format = ExportFormat::Csv;
    let mut rest = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        match key.as_ref() {
            "format" => {
                format = match value.as_ref() {
                    "csv" => ExportFormat::Csv,
                    "json" => ExportFormat::Json,
                    other => {
                        return Err(Problem::bad_request(format!(
                            "unknown format `{other}` (csv or json)"
                        )));
                    }
                }
            }
            "limit" => {
                return Err(Problem::bad_request(
                    "an export has every record: `limit` does not apply (use the list for pages)",
                ));
            }
            _ => {
                rest.append_pair(&key, &value);
            }
        }
    }
    Ok((format, rest.finish()))
}

pub(super) fn busy(why: Busy) -> Problem {
    let detail = match why {
        Busy::User => "an export of yours is still running; retry when it has finished",
        Busy::Server => "the server is running its most exports at once; retry in a minute",
    };
    Problem::new(StatusCode::TOO_MANY_REQUESTS, "export_busy", detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_taken_out_and_limit_is_refused() {
        let (format, rest) =
            split_format("format=json&filter=city%3Aeq%3ABilbao&sort=-name").expect("valid");
        assert_eq!(format, ExportFormat::Json);
        assert_eq!(rest, "filter=city%3Aeq%3ABilbao&sort=-name");
        assert_eq!(split_format("").expect("valid").0, ExportFormat::Csv);
        assert!(split_format("format=xlsx").is_err());
        assert!(split_format("limit=5").is_err());
    }
}
