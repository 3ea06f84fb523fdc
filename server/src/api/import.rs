//! `fieldwork-server import`: a CSV or XLSX file ([`xlsx`], told apart by
//! its first bytes) of accounts, contacts, deals or activities checked whole, then written through the office API's write
//! path (docs/API.md, "Import").
//!
//! The file is read and every row checked by the core
//! ([`fieldwork_core::import`]); here each row is matched with what the
//! server holds: its external id (table `import_keys`) makes it an update
//! of the record an earlier import made, its `account` is resolved (an
//! account's external id, else its exact name), and a new row with the
//! name or e-mail of an existing record is flagged as a possible duplicate.
//! Every row then goes through the edit ([`fieldwork_core::edit::Editor`]:
//! policy, schema, rule book) before anything is written.
//!
//! Guarantees:
//! - nothing is written when any row is refused, unless `skip_invalid`
//!   (then the valid rows are written and the refused ones reported); a
//!   header at fault refuses the whole file; a dry run writes nothing and
//!   reports what would happen;
//! - writes are edits pushed through [`crate::sync::push`] exactly like an
//!   office API write (checked again, stored in the feed, indexed, audited,
//!   announced to webhooks and delivered to devices at their next sync),
//!   as the author `import`, 500 rows per transaction; a running server
//!   (another process) is told after each batch, as for the other admin
//!   commands that write documents;
//! - importing the same file again changes nothing (an update writes only
//!   the fields whose value differs); a row's key is stored before its
//!   record, so a crash between the two makes the next run create it.

pub mod route;
pub mod xlsx;

use std::collections::HashMap;

use fieldwork_core::automerge::ActorId;
use fieldwork_core::edit::{FieldWrite, empty_record};
use fieldwork_core::import::{self, Issue, Mapping, Row};
use fieldwork_core::policy::{Scope, UserContext};
use fieldwork_core::record::Record;
use fieldwork_core::{Access, CoreError, RecordId, RecordKind};
use rusqlite::{Connection, params};
use serde::Serialize;

use super::{read, write};
use crate::db::users::User;
use crate::db::{documents, import_keys, import_mappings, policy, record_index};
use crate::error::{Result, ServerError};
use crate::state::AppState;
use crate::sync::push::{self, Incoming, PushCtx};

/// The author stamped on imported changes.
pub const AUTHOR: &str = "import";
/// Rows written per transaction.
pub const BATCH: usize = 500;
/// Progress is reported every this many rows.
pub const PROGRESS_EVERY: usize = 1000;

/// How to import.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Check and report only; write nothing.
    pub dry_run: bool,
    /// Write the valid rows even when some are refused.
    pub skip_invalid: bool,
}

/// What an import did (or, for a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The kind imported.
    pub kind: String,
    /// The file's format, told by its first bytes: `csv` or `xlsx`.
    pub format: &'static str,
    /// How the file was read (`UTF-8`, `Windows-1252`; `UTF-8` for XLSX).
    pub encoding: &'static str,
    /// Its delimiter (empty for XLSX).
    pub delimiter: String,
    /// A dry run (nothing written).
    pub dry_run: bool,
    /// Rows created (or that would be).
    pub created: usize,
    /// Rows that updated a record.
    pub updated: usize,
    /// Rows whose record already held every value.
    pub unchanged: usize,
    /// Rows refused (see `errors`).
    pub refused: usize,
    /// Whether the import was refused as a whole (nothing written).
    pub refused_whole: bool,
    /// What is wrong, by line.
    pub errors: Vec<Issue>,
    /// What may be wrong (possible duplicates), by line.
    pub warnings: Vec<Issue>,
}

/// What to do with one valid row.
struct Planned {
    row: Row,
    id: RecordId,
    creating: bool,
    account: Option<RecordId>,
}

/// The mapping saved as `name` (`PUT /v1/admin/import-mappings/{name}`)
/// for an import of `kind`; [`ServerError::Invalid`] when no mapping has
/// that name or it maps another kind.
pub fn saved_mapping(conn: &Connection, name: &str, kind: RecordKind) -> Result<Mapping> {
    // Checked before it is looked up or quoted back.
    if !crate::api::admin::import_mappings::valid_name(name) {
        return Err(ServerError::Invalid(
            crate::api::admin::import_mappings::name_rule(),
        ));
    }
    let Some(saved) = import_mappings::get(conn, name)? else {
        return Err(ServerError::Invalid(format!(
            "no import mapping is saved as `{name}`"
        )));
    };
    if saved.kind != kind.as_str() {
        return Err(ServerError::Invalid(format!(
            "the import mapping `{name}` maps {} records, not {kind}",
            saved.kind
        )));
    }
    Mapping::from_json(saved.mapping.as_bytes()).map_err(ServerError::Invalid)
}

/// Who imports: the organisation, as a user named [`AUTHOR`] with a role
/// of the policy in force that sees and edits every record and writes
/// every class (`admin` in the shipped policy), so that the push path
/// keeps the records' visibility facts as for any user's write.
fn importer(conn: &Connection) -> Result<(User, Access)> {
    let (_, policy) = policy::current(conn)?;
    let role = policy
        .roles()
        .iter()
        .find(|(_, r)| {
            r.sees.contains(&Scope::All)
                && r.edits.contains(&Scope::All)
                && r.archive
                && policy.classes().keys().all(|c| r.write.contains(c))
        })
        .map(|(name, _)| name.clone())
        .ok_or_else(|| {
            ServerError::Invalid(
                "the policy has no role that sees and edits every record and writes every class; \
                 an import acts as one (like `admin` in the shipped policy)"
                    .into(),
            )
        })?;
    let user = User {
        id: 0,
        name: AUTHOR.to_owned(),
        role: role.clone(),
        territories: Vec::new(),
        manager: None,
        time_zone: None,
        disabled: false,
        version: 0,
    };
    let access = Access::User {
        user: UserContext {
            name: AUTHOR.to_owned(),
            role,
            territories: Vec::new(),
            team: Vec::new(),
        },
        policy,
    };
    Ok((user, access))
}

/// The edit of one planned row: its changes, or why it is refused.
fn edit(
    conn: &Connection,
    state: &AppState,
    access: &Access,
    actor: &ActorId,
    p: &Planned,
) -> Result<std::result::Result<Vec<Incoming>, Issue>> {
    let Some(policy) = access.policy() else {
        return Err(ServerError::Internal("an import without a policy".into()));
    };
    let current: Record = if p.creating {
        empty_record(&p.id)
    } else {
        let Some(mut docs) = read::readable_docs(conn, access, &p.id, actor)? else {
            return Err(ServerError::Internal(format!("{} vanished", p.id)));
        };
        read::assemble(&p.id, &mut docs)?.0
    };
    let mut writes = p.row.writes.clone();
    if let Some(account) = &p.account {
        writes.push(FieldWrite::set(import::ACCOUNT, account.to_string()));
    }
    let who = write::EditAs {
        access,
        policy,
        author: AUTHOR,
        actor,
    };
    let changes = write::edit_changes(conn, who, state.now_ms(), &current, p.creating, writes);
    Ok(match changes {
        Ok(incoming) => Ok(incoming),
        Err(e) => Err(refusal(p.row.line, e)),
    })
}

/// A refused edit as a row's issue.
fn refusal(line: u64, e: CoreError) -> Issue {
    let (field, message) = match e {
        CoreError::Invalid(v) => (v.field, v.message),
        CoreError::Denied(d) => (d.field, d.message),
        other => (None, other.to_string()),
    };
    Issue {
        field,
        ..Issue::row(line, message)
    }
}

/// Records of `kind` whose `field` has the index key of `text`.
fn by_key(conn: &Connection, kind: RecordKind, field: &str, text: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT record_id FROM record_fields WHERE kind = ?1 AND field = ?2 AND sort_key = ?3
         ORDER BY record_id LIMIT 20",
    )?;
    let rows = stmt.query_map(
        params![kind.as_str(), field, record_index::text_key(text)],
        |r| r.get(0),
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The value of `field` of record `id` in the index, as stored JSON.
fn value_json(conn: &Connection, id: &str, field: &str) -> Result<Option<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT value_json FROM record_fields WHERE record_id = ?1 AND field = ?2 LIMIT 1",
    )?;
    let mut rows = stmt.query(params![id, field])?;
    Ok(match rows.next()? {
        Some(r) => Some(r.get(0)?),
        None => None,
    })
}

/// The account a row names: an account's external id, else its exact name.
fn resolve_account(conn: &Connection, text: &str) -> Result<std::result::Result<RecordId, String>> {
    if let Some(id) = import_keys::get(conn, RecordKind::Account, text)?
        && exists(conn, &id)?
    {
        return Ok(Ok(id));
    }
    let exact = serde_json::Value::String(text.to_owned());
    let mut named = Vec::new();
    for id in by_key(conn, RecordKind::Account, "name", text)? {
        let value = value_json(conn, &id, "name")?;
        if value.and_then(|v| serde_json::from_str::<serde_json::Value>(&v).ok())
            == Some(exact.clone())
        {
            named.push(id);
        }
    }
    Ok(match named.as_slice() {
        [] => Err(format!(
            "no account has the external id or the name \"{text}\""
        )),
        [one] => one
            .parse()
            .map_err(|_| format!("the account \"{text}\" has a malformed id")),
        many => Err(format!(
            "{} accounts are named \"{text}\"; give the account's external id instead",
            many.len()
        )),
    })
}

/// Whether record `id` is stored.
fn exists(conn: &Connection, id: &RecordId) -> Result<bool> {
    Ok(!documents::docs_of_record(conn, &id.to_string())?.is_empty())
}

/// The name a new row is compared by for duplicates (folded), if its kind
/// has one.
fn name_of(kind: RecordKind, row: &Row) -> Option<String> {
    match kind {
        RecordKind::Account | RecordKind::Deal => row.text("name").map(record_index::text_key),
        RecordKind::Contact => {
            let last = row.text("last_name")?;
            Some(record_index::text_key(&format!(
                "{} {last}",
                row.text("first_name").unwrap_or("")
            )))
        }
        _ => None,
    }
}

/// Existing records of `kind` with the same folded name or the same e-mail
/// as new `row`, as warnings.
fn duplicates(conn: &Connection, kind: RecordKind, row: &Row) -> Result<Vec<Issue>> {
    let mut out = Vec::new();
    let title = match kind {
        RecordKind::Contact => "last_name",
        _ => "name",
    };
    if let (Some(name), Some(title_text)) = (name_of(kind, row), row.text(title)) {
        for id in by_key(conn, kind, title, title_text)? {
            let same = match kind {
                RecordKind::Contact => {
                    let first = value_json(conn, &id, "first_name")?
                        .and_then(|v| serde_json::from_str::<String>(&v).ok())
                        .unwrap_or_default();
                    record_index::text_key(&format!("{first} {title_text}")) == name
                }
                _ => true,
            };
            if same {
                out.push(Issue {
                    field: Some(title.to_owned()),
                    ..Issue::row(
                        row.line,
                        format!("a {kind} with this name exists already ({id}); imported anyway"),
                    )
                });
            }
        }
    }
    if let Some(email) = row.text("email") {
        for id in by_key(conn, kind, "email", email)? {
            out.push(Issue {
                field: Some("email".to_owned()),
                ..Issue::row(
                    row.line,
                    format!(
                        "a {kind} with the e-mail {email} exists already ({id}); imported anyway"
                    ),
                )
            });
        }
    }
    Ok(out)
}

/// Imports `bytes` (a CSV file, or an XLSX file: [`xlsx::is_xlsx`]) as
/// records of `kind`, mapped by `mapping`.
/// `progress(done, total)` is called every [`PROGRESS_EVERY`] rows
/// written. `Err` is a problem with the whole file (or the server); row
/// problems are in the report.
pub fn run(
    state: &AppState,
    kind: RecordKind,
    bytes: &[u8],
    mapping: &Mapping,
    options: Options,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Report> {
    let is_xlsx = xlsx::is_xlsx(bytes);
    let prepared = if is_xlsx {
        xlsx::read(bytes).and_then(|table| import::prepare_table(kind, table, mapping))
    } else {
        import::prepare(kind, bytes, mapping)
    }
    .map_err(ServerError::Invalid)?;
    let header_refused = prepared.header_refused();
    let mut report = Report {
        kind: kind.as_str().to_owned(),
        format: if is_xlsx { "xlsx" } else { "csv" },
        encoding: prepared.encoding.name(),
        delimiter: if is_xlsx {
            String::new()
        } else {
            prepared.delimiter.to_string()
        },
        dry_run: options.dry_run,
        created: 0,
        updated: 0,
        unchanged: 0,
        refused: 0,
        refused_whole: false,
        errors: prepared.errors,
        warnings: Vec::new(),
    };
    let mut refused_lines: std::collections::BTreeSet<u64> = report
        .errors
        .iter()
        .filter(|e| e.line > 1)
        .map(|e| e.line)
        .collect();
    let (user, access) = state.db.read_blocking(importer)?;
    let actor = write::actor_for(&state.actor, &user);

    // Match every row with what the server holds, and check its edit.
    let mut planned: Vec<Planned> = Vec::new();
    let mut to_write: Vec<Planned> = Vec::new();
    state.db.read_blocking(|conn| {
        let mut seen_ids: HashMap<String, u64> = HashMap::new();
        let mut seen_names: HashMap<String, u64> = HashMap::new();
        for row in prepared.rows {
            let line = row.line;
            let mut issues = Vec::new();
            if let Some(ext) = &row.external_id
                && let Some(first) = seen_ids.insert(ext.clone(), line)
            {
                issues.push(Issue {
                    field: Some(import::EXTERNAL_ID.to_owned()),
                    ..Issue::row(
                        line,
                        format!("the external id \"{ext}\" is also on line {first}"),
                    )
                });
            }
            let existing = match &row.external_id {
                Some(ext) => import_keys::get(conn, kind, ext)?,
                None => None,
            };
            let existing = match existing {
                Some(id) if exists(conn, &id)? => Some(id),
                _ => None,
            };
            let account = match &row.account {
                Some(text) => match resolve_account(conn, text)? {
                    Ok(id) => Some(id),
                    Err(message) => {
                        issues.push(Issue {
                            column: row.account_column.clone(),
                            field: Some(import::ACCOUNT.to_owned()),
                            ..Issue::row(line, message)
                        });
                        None
                    }
                },
                None => None,
            };
            if existing.is_none() {
                issues.extend(row.on_create.iter().cloned());
            }
            if !issues.is_empty() {
                refused_lines.insert(line);
                report.errors.extend(issues);
                continue;
            }
            let creating = existing.is_none();
            if creating {
                report.warnings.extend(duplicates(conn, kind, &row)?);
                if let Some(name) = name_of(kind, &row) {
                    if let Some(first) = seen_names.get(&name) {
                        report.warnings.push(Issue {
                            field: None,
                            ..Issue::row(line, format!("has the same name as line {first}"))
                        });
                    } else {
                        seen_names.insert(name, line);
                    }
                }
            }
            planned.push(Planned {
                id: existing.unwrap_or_else(|| RecordId::new_random(kind)),
                creating,
                account,
                row,
            });
        }
        // The edits, checked now so that nothing is written when one fails.
        for p in planned.drain(..) {
            match edit(conn, state, &access, &actor, &p)? {
                Err(issue) => {
                    refused_lines.insert(p.row.line);
                    report.errors.push(issue);
                }
                Ok(changes) if changes.is_empty() => report.unchanged += 1,
                Ok(_) => {
                    if p.creating {
                        report.created += 1;
                    } else {
                        report.updated += 1;
                    }
                    to_write.push(p);
                }
            }
        }
        Ok(())
    })?;
    report.errors.sort_by_key(|e| e.line);
    report.warnings.sort_by_key(|e| e.line);
    report.refused = refused_lines.len();
    if header_refused || (!report.errors.is_empty() && !options.skip_invalid) {
        report.refused_whole = true;
        report.created = 0;
        report.updated = 0;
        report.unchanged = 0;
        return Ok(report);
    }
    if options.dry_run {
        return Ok(report);
    }
    let total = to_write.len();
    let mut done = 0usize;
    for batch in to_write.chunks(BATCH) {
        write_batch(state, kind, &user, &access, &actor, batch)?;
        let before = done;
        done += batch.len();
        if done / PROGRESS_EVERY > before / PROGRESS_EVERY {
            progress(done, total);
        }
    }
    Ok(report)
}

/// Writes one batch: the keys of its new rows, then its edits pushed in
/// one transaction (all or nothing).
fn write_batch(
    state: &AppState,
    kind: RecordKind,
    user: &User,
    access: &Access,
    actor: &ActorId,
    batch: &[Planned],
) -> Result<()> {
    let at = jiff::Timestamp::from_millisecond(state.now_ms())
        .map_err(|e| ServerError::Internal(e.to_string()))?
        .to_string();
    state.db.write_blocking(|w| {
        let mut incoming = Vec::new();
        for p in batch {
            match edit(&w.conn, state, access, actor, p)? {
                Ok(changes) => incoming.extend(changes),
                Err(issue) => {
                    return Err(ServerError::Invalid(format!(
                        "{issue} (it passed the checks a moment ago: was the record changed meanwhile?)"
                    )));
                }
            }
        }
        let tx = w.conn.transaction()?;
        for p in batch.iter().filter(|p| p.creating) {
            if let Some(ext) = &p.row.external_id {
                import_keys::put(&tx, kind, ext, &p.id, &at)?;
            }
        }
        tx.commit()?;
        let ctx = PushCtx {
            user,
            access,
            device: None,
            now_ms: state.now_ms(),
            all_or_nothing: true,
        };
        let outcome = push::apply_measured(w, &state.hub, &state.actor, ctx, incoming)?;
        if let Some(r) = outcome.refused.into_iter().next() {
            return Err(ServerError::Invalid(format!(
                "the server refused a change of {}: {} ({})",
                r.doc, r.message, r.code
            )));
        }
        // Tell a running server (another process) that documents changed:
        // it drops its cached copies and its live connections look again.
        crate::db::bump_admin_version(&w.conn)
    })
}
