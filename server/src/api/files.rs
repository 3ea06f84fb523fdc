//! Files: the bytes of photos and documents that records refer to
//! (`FieldType::File` fields holding an [`AttachmentRef`]), uploaded in
//! resumable chunks and downloaded (with ranges) by their SHA-256.
//!
//! `PUT /v1/files/{sha256}?record=ID&field=NAME&offset=N` appends one chunk
//! (at most [`MAX_CHUNK_BYTES`]); `GET /v1/files/{sha256}?record=ID&field=NAME`
//! answers the bytes. A blob is stored once whatever the number of records
//! that refer to it (content addressing: [`crate::db::blobs`]).
//!
//! Guarantees:
//! - who may touch a blob is decided by one function, [`referenced`]: the
//!   record's current value of the field, read through the record read of
//!   `GET /v1/records/{kind}/{id}` (the steps of [`read::card_under`]: the
//!   same visibility and readable classes), must be a reference to this very hash. A record the
//!   caller does not see is `404 not_found` like the record read; a field
//!   the caller may not read is `403 class_not_readable`; a field that does
//!   not refer to the hash is `409 not_referenced`, whether the blob exists
//!   or not, so asking reveals nothing about other records' files;
//! - an upload stores only bytes the reference announces: never past its
//!   size, only at the end of what was received, and a blob is complete
//!   only once its bytes match the hash (else the upload is dropped,
//!   `422 hash_mismatch`);
//! - work is bounded per byte: a chunk body is read with a hard limit and
//!   the body timeout; every request counts against the caller's rate
//!   limit ([`Caller`]).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fieldwork_core::attachment::{self, AttachmentRef, split_thumbnail};
use fieldwork_core::automerge::ActorId;
use fieldwork_core::card::can_read;
use fieldwork_core::policy::codes;
use fieldwork_core::schema::{self, FieldType};
use fieldwork_core::{Access, Denial, FieldValue, RecordId};
use rusqlite::Connection;
use serde::Serialize;

use super::caller::Caller;
use super::problem::{ApiResult, Problem};
use super::{query, read, write};
use crate::db::blobs::{self, Appended};
use crate::error::{Result, ServerError};
use crate::request::read_body_bytes;
use crate::state::AppState;

/// Largest chunk one `PUT` may carry (4 MiB): a 25 MiB file is seven.
pub const MAX_CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// The routes of this module.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/v1/files/{sha256}", get(download).put(upload))
}

/// Where an upload stands.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct UploadOut {
    /// Bytes the server holds of the file (its size once complete).
    pub received: u64,
    /// Whether the file is complete and verified against its hash.
    pub complete: bool,
}

/// The record field a request names, and where a chunk goes.
struct FileQuery {
    record: RecordId,
    field: String,
    offset: u64,
}

/// `record=ID&field=NAME` (and `offset=N` when `with_offset`).
fn file_query(raw: Option<&str>, with_offset: bool) -> ApiResult<FileQuery> {
    let (mut record, mut field, mut offset) = (None, None, None);
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if value.len() > 200 {
            return Err(Problem::bad_request(format!("`{key}` is too long")));
        }
        match key.as_ref() {
            "record" => record = Some(value.into_owned()),
            "field" => field = Some(value.into_owned()),
            "offset" if with_offset => {
                offset = Some(value.parse::<u64>().map_err(|_| {
                    Problem::bad_request("`offset` is a number of bytes (0 or more)")
                })?);
            }
            other => {
                let known = if with_offset {
                    "record, field, offset"
                } else {
                    "record, field"
                };
                return Err(Problem::bad_request(format!(
                    "unknown parameter `{other}` ({known})"
                )));
            }
        }
    }
    let record = record.ok_or_else(|| {
        Problem::bad_request("`record` (the id of the record that refers to the file) is missing")
    })?;
    let field = field.ok_or_else(|| {
        Problem::bad_request("`field` (the file field that refers to the file) is missing")
    })?;
    let record = match record.split_once(':') {
        Some((kind, _)) => query::record_id(kind, &record)?,
        None => return Err(Problem::not_found(format!("no record {record}"))),
    };
    Ok(FileQuery {
        record,
        field,
        offset: offset.unwrap_or(0),
    })
}

/// A blob name from the path: 64 lower-case hex digits.
fn sha256_of(path: &str) -> ApiResult<String> {
    if attachment::is_sha256_hex(path) {
        Ok(path.to_owned())
    } else {
        Err(Problem::bad_request(
            "a file is named by its SHA-256: 64 lower-case hex digits",
        ))
    }
}

/// The one rule of who may touch blob `sha256` through field `field` of
/// record `id`: the caller (`access`) sees the record and may read the
/// field as `GET /v1/records/{kind}/{id}` decides (the steps of
/// [`read::card_under`]: [`read::facts_of`], [`read::readable_with`],
/// [`read::assemble`], and the card's [`can_read`]), the field is a file
/// field, and its current value refers to exactly this hash. Answers that
/// reference, else the refusal (see the module's guarantees). Nothing about
/// the blob itself is read, so the answer is the same whether it is stored
/// or not.
pub fn referenced(
    conn: &Connection,
    access: &Access,
    id: &RecordId,
    field: &str,
    sha256: &str,
    actor: &ActorId,
) -> Result<std::result::Result<AttachmentRef, Problem>> {
    let Some(policy) = access.policy() else {
        return Err(ServerError::Internal("no policy".into()));
    };
    let facts = read::facts_of(conn, id)?;
    let Some(mut docs) = read::readable_with(conn, access, id, &facts, actor)? else {
        return Ok(Err(Problem::not_found(format!("no record {id}"))));
    };
    // `photo.thumbnail` addresses the thumbnail of `photo`, under the same
    // rule as the photo.
    let asked = field;
    let (field, thumbnail) = split_thumbnail(asked);
    let kind = id.kind();
    if !schema::field(kind, field).is_some_and(|def| def.ty == FieldType::File) {
        return Ok(Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_a_file_field",
            format!("`{field}` is not a photo or file field of {kind} records"),
        )));
    }
    if !can_read(access, policy, kind, field) {
        let role = match access {
            Access::User { user, .. } => user.role.as_str(),
            Access::Local => "",
        };
        return Ok(Err(Problem::refusal(
            StatusCode::FORBIDDEN,
            Denial {
                code: codes::CLASS_NOT_READABLE.into(),
                doc: None,
                field: Some(field.to_owned()),
                rule: format!("roles.{role}.read"),
                message: format!("role `{role}` may not read `{field}`, so not its file either"),
            },
        )));
    }
    let (record, _) = read::assemble(id, &mut docs)?;
    let wanted = match record.get(field) {
        Some(FieldValue::Text(text)) => AttachmentRef::parse(text).ok().and_then(|r| {
            if thumbnail {
                r.thumbnail_ref()
            } else {
                Some(r)
            }
        }),
        _ => None,
    };
    if let Some(reference) = wanted
        && reference.sha256 == sha256
    {
        return Ok(Ok(reference));
    }
    Ok(Err(Problem {
        field: Some(asked.to_owned()),
        ..Problem::new(
            StatusCode::CONFLICT,
            "not_referenced",
            format!(
                "`{field}` of {id} does not refer to this file; push the change that attaches it first"
            ),
        )
    }))
}

/// What the read before an upload found.
enum Before {
    Complete(u64),
    Received(AttachmentRef, u64),
}

/// Uploads one chunk of a file that a record's file field refers to.
#[utoipa::path(put, path = "/v1/files/{sha256}", tag = "files",
    params(
        ("sha256" = String, Path, description = "the file's SHA-256, 64 lower-case hex digits, as in the field's reference"),
        ("record" = String, Query, description = "the id (`kind:ID`) of a record whose field refers to the file"),
        ("field" = String, Query, description = "that file field (`photo`, `document`, `business_card`, `contract`)"),
        ("offset" = Option<u64>, Query, description = "where this chunk starts: the bytes received so far (default 0)"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "the chunk's bytes, at most 4 MiB (Content-Type is ignored)"),
    responses(
        (status = 200, body = UploadOut, description = "stored (or complete already: nothing stored)"),
        (status = 409, body = Problem, content_type = "application/problem+json",
            description = "`not_referenced`: the field does not refer to this file; `offset_mismatch`: resume at `received` (a member of the problem)"),
        (status = 413, body = Problem, content_type = "application/problem+json",
            description = "`payload_too_large`: a chunk over 4 MiB; `too_large`: past the file's size"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "`not_a_file_field`; `hash_mismatch`: the bytes do not match the hash, the upload is dropped"),
    ))]
pub async fn upload(
    State(state): State<Arc<AppState>>,
    Path(sha256): Path<String>,
    RawQuery(raw): RawQuery,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let sha256 = sha256_of(&sha256)?;
    let q = file_query(raw.as_deref(), true)?;
    caller.may_write(q.record.kind())?;
    // The body is read before anything is decided (bounded by the chunk
    // limit and the body timeout), so that a client still sending always
    // gets the answer rather than a reset connection.
    let chunk = read_body_bytes(&headers, body, MAX_CHUNK_BYTES, state.config.body_timeout)
        .await
        .map_err(|e| {
            let (status, code, detail) = e.describe();
            Problem::new(status, code, detail)
        })?;
    let actor = write::actor_for(&state.actor, &caller.user);
    let access = caller.access.clone();
    let (id, field, sha) = (q.record.clone(), q.field.clone(), sha256.clone());
    let before = state
        .db
        .read(move |c| {
            let reference = match referenced(c, &access, &id, &field, &sha, &actor)? {
                Ok(r) => r,
                Err(refused) => return Ok(Err(refused)),
            };
            if let Some(size) = blobs::complete_size(c, &sha)? {
                return Ok(Ok(Before::Complete(size)));
            }
            let received = blobs::received(c, &sha)?;
            Ok(Ok(Before::Received(reference, received)))
        })
        .await??;
    let reference = match before {
        Before::Complete(size) => return Ok(uploaded(size, true)),
        Before::Received(_, received) if received != q.offset => {
            return Ok(offset_mismatch(received));
        }
        Before::Received(reference, _) => reference,
    };
    if q.offset.saturating_add(chunk.len() as u64) > reference.size {
        return Err(too_large(&reference, q.offset));
    }
    let now = jiff::Timestamp::from_millisecond(state.now_ms())
        .map(|t| t.to_string())
        .unwrap_or_default();
    let offset = q.offset;
    let r = reference.clone();
    let appended = state
        .db
        .write(move |w| blobs::append(&mut w.conn, &r, offset, &chunk, &now))
        .await?;
    match appended {
        Appended::Partial(received) => Ok(uploaded(received, false)),
        Appended::Complete | Appended::AlreadyComplete => Ok(uploaded(reference.size, true)),
        Appended::OffsetMismatch(received) => Ok(offset_mismatch(received)),
        Appended::TooLarge => Err(too_large(&reference, offset)),
        Appended::HashMismatch => Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "hash_mismatch",
            format!(
                "the {} bytes received do not have SHA-256 {}; the upload is dropped: send the right bytes from offset 0",
                reference.size, reference.sha256
            ),
        )),
    }
}

fn uploaded(received: u64, complete: bool) -> Response {
    Json(UploadOut { received, complete }).into_response()
}

fn too_large(reference: &AttachmentRef, offset: u64) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "the file is {} bytes; a chunk at offset {offset} may hold at most {}",
            reference.size,
            reference.size.saturating_sub(offset)
        ),
    )
}

/// `409 offset_mismatch` with `received`, where the client resumes.
fn offset_mismatch(received: u64) -> Response {
    let problem = Problem::new(
        StatusCode::CONFLICT,
        "offset_mismatch",
        format!(
            "the server holds {received} bytes of this file: send the next chunk at offset {received}"
        ),
    );
    let mut body = serde_json::to_value(&problem).unwrap_or_default();
    if let Some(members) = body.as_object_mut() {
        members.insert("received".into(), received.into());
    }
    (
        StatusCode::CONFLICT,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        )],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response()
}

/// A byte range asked for with `Range`, resolved against the size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    /// The whole file (no `Range`, or one this server ignores).
    Whole,
    /// Bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// A range outside the file: `416`.
    Unsatisfiable,
}

/// Resolves `Range: bytes=N-`, `bytes=N-M` or `bytes=-S` against `size`.
/// Other forms (other units, several ranges, malformed) are ignored, as
/// RFC 9110 allows: the whole file is answered.
fn wanted(range: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return Wanted::Whole;
    };
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Wanted::Whole;
    };
    let number = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (first, last) = (first.trim(), last.trim());
    match (number(first), number(last)) {
        (Some(start), None) if last.is_empty() => {
            if start < size {
                Wanted::Part {
                    start,
                    end: size - 1,
                }
            } else {
                Wanted::Unsatisfiable
            }
        }
        (Some(start), Some(end)) if start <= end => {
            if start < size {
                Wanted::Part {
                    start,
                    end: end.min(size - 1),
                }
            } else {
                Wanted::Unsatisfiable
            }
        }
        (None, Some(suffix)) if first.is_empty() => {
            if suffix == 0 || size == 0 {
                Wanted::Unsatisfiable
            } else {
                Wanted::Part {
                    start: size - suffix.min(size),
                    end: size - 1,
                }
            }
        }
        _ => Wanted::Whole,
    }
}

/// What a download found.
enum Found {
    Bytes {
        reference: AttachmentRef,
        wanted: Wanted,
        bytes: Vec<u8>,
    },
    NotModified,
    Unsatisfiable(u64),
}

/// Downloads a file that a record's file field refers to, or part of it.
#[utoipa::path(get, path = "/v1/files/{sha256}", tag = "files",
    params(
        ("sha256" = String, Path, description = "the file's SHA-256, 64 lower-case hex digits, as in the field's reference"),
        ("record" = String, Query, description = "the id (`kind:ID`) of a record whose field refers to the file"),
        ("field" = String, Query, description = "that file field"),
        ("Range" = Option<String>, Header, description = "`bytes=N-`, `bytes=N-M` or `bytes=-N` to resume a download"),
    ),
    responses(
        (status = 200, description = "the bytes, with the reference's media type and file name (Content-Disposition)", body = Vec<u8>, content_type = "*/*"),
        (status = 206, description = "the range asked for (Content-Range)", body = Vec<u8>, content_type = "*/*"),
        (status = 304, description = "If-None-Match named this file's ETag"),
        (status = 404, body = Problem, content_type = "application/problem+json",
            description = "`not_found`: no such record, or one the caller does not see; `file_not_uploaded`: not complete yet"),
        (status = 409, body = Problem, content_type = "application/problem+json",
            description = "`not_referenced`: the field does not refer to this file"),
        (status = 416, body = Problem, content_type = "application/problem+json",
            description = "`range_not_satisfiable`: the range is outside the file"),
        (status = 422, body = Problem, content_type = "application/problem+json",
            description = "`not_a_file_field`"),
    ))]
pub async fn download(
    State(state): State<Arc<AppState>>,
    Path(sha256): Path<String>,
    RawQuery(raw): RawQuery,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let sha256 = sha256_of(&sha256)?;
    let q = file_query(raw.as_deref(), false)?;
    caller.may_read(q.record.kind())?;
    let etag = format!("\"{sha256}\"");
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let not_modified = text(header::IF_NONE_MATCH)
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    // A range applies only to this very file (If-Range with another tag:
    // the whole file).
    let range = match text(header::IF_RANGE) {
        Some(tag) if tag.trim() != etag => None,
        _ => text(header::RANGE).map(str::to_owned),
    };
    let actor = write::actor_for(&state.actor, &caller.user);
    let access = caller.access.clone();
    let (id, field, sha) = (q.record.clone(), q.field.clone(), sha256.clone());
    let found = state
        .db
        .read(move |c| {
            let reference = match referenced(c, &access, &id, &field, &sha, &actor)? {
                Ok(r) => r,
                Err(refused) => return Ok(Err(refused)),
            };
            let Some(size) = blobs::complete_size(c, &sha)? else {
                return Ok(Err(Problem::new(
                    StatusCode::NOT_FOUND,
                    "file_not_uploaded",
                    format!("`{field}` of {id} refers to a file the server does not hold yet; its uploader has not finished"),
                )));
            };
            if not_modified {
                return Ok(Ok(Found::NotModified));
            }
            let wanted = wanted(range.as_deref(), size);
            let (start, len) = match wanted {
                Wanted::Whole => (0, size),
                Wanted::Part { start, end } => (start, end - start + 1),
                Wanted::Unsatisfiable => return Ok(Ok(Found::Unsatisfiable(size))),
            };
            let bytes = blobs::range(c, &sha, start, len)?.unwrap_or_default();
            Ok(Ok(Found::Bytes {
                reference,
                wanted,
                bytes,
            }))
        })
        .await??;
    let mut response = match found {
        Found::NotModified => StatusCode::NOT_MODIFIED.into_response(),
        Found::Unsatisfiable(size) => {
            let mut response = Problem::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!("the file has {size} bytes"),
            )
            .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            response
        }
        Found::Bytes {
            reference,
            wanted,
            bytes,
        } => file_response(&reference, wanted, bytes),
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    Ok(response)
}

/// The bytes with the headers a download needs: media type, length, file
/// name, and never rendered as a page of this site (`nosniff`, `sandbox`).
fn file_response(reference: &AttachmentRef, wanted: Wanted, bytes: Vec<u8>) -> Response {
    let status = match wanted {
        Wanted::Part { .. } => StatusCode::PARTIAL_CONTENT,
        _ => StatusCode::OK,
    };
    let length = bytes.len();
    let mut response = (status, bytes).into_response();
    let h = response.headers_mut();
    let media_type = HeaderValue::from_str(&reference.media_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, media_type);
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename*=UTF-8''{}",
        percent_encode(&reference.name)
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    if let Wanted::Part { start, end } = wanted
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{}", reference.size))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    response
}

/// `name` as an RFC 8187 `value-chars`: attr-chars kept, every other byte
/// of its UTF-8 as `%XX`.
fn percent_encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len() * 3);
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_against_the_size() {
        use Wanted::*;
        assert_eq!(wanted(None, 10), Whole);
        assert_eq!(wanted(Some("bytes=0-"), 10), Part { start: 0, end: 9 });
        assert_eq!(wanted(Some("bytes=4-"), 10), Part { start: 4, end: 9 });
        assert_eq!(wanted(Some("bytes=4-6"), 10), Part { start: 4, end: 6 });
        assert_eq!(wanted(Some("bytes=4-600"), 10), Part { start: 4, end: 9 });
        assert_eq!(wanted(Some("bytes=-3"), 10), Part { start: 7, end: 9 });
        assert_eq!(wanted(Some("bytes=-30"), 10), Part { start: 0, end: 9 });
        assert_eq!(wanted(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(wanted(Some("bytes=10-12"), 10), Unsatisfiable);
        assert_eq!(wanted(Some("bytes=-0"), 10), Unsatisfiable);
        assert_eq!(wanted(Some("bytes=0-"), 0), Unsatisfiable);
        // Ignored: the whole file.
        assert_eq!(wanted(Some("bytes=6-4"), 10), Whole);
        assert_eq!(wanted(Some("bytes=0-1,4-5"), 10), Whole);
        assert_eq!(wanted(Some("items=0-1"), 10), Whole);
        assert_eq!(wanted(Some("bytes=+1-2"), 10), Whole);
        assert_eq!(wanted(Some("bytes=99999999999999999999999-"), 10), Whole);
        assert_eq!(wanted(Some("bytes=-"), 10), Whole);
    }

    #[test]
    fn file_names_are_percent_encoded() {
        assert_eq!(percent_encode("shelf.jpg"), "shelf.jpg");
        assert_eq!(
            percent_encode("Contrato Núñez \"final\";.pdf"),
            "Contrato%20N%C3%BA%C3%B1ez%20%22final%22%3B.pdf"
        );
    }
}
