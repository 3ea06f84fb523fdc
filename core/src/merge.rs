//! Merging duplicate records (issue 17): what a merge of a *loser* into a
//! *survivor* writes, what its undo writes, and which later edits of the
//! loser are forwarded to the survivor.
//!
//! Pure functions over records' fields: the server reads the records,
//! turns these plans into edits ([`crate::edit`]) and pushes them like any
//! other change, so a merge is synced, checked and conflict-safe like an
//! edit made on a phone.
//!
//! Guarantees:
//! - [`check_pair`] refuses a merge of a record with itself
//!   (`merge_self`), across kinds (`merge_kind_mismatch`), of a kind that
//!   cannot be merged (`merge_not_mergeable`), and of a record already
//!   merged into another, on either side (`already_merged`).
//! - [`fills`] never overwrites a survivor's value unless the caller named
//!   the field in `take`: by default it fills exactly the carried fields
//!   ([`carried`]) that are empty on the survivor and set on the loser.
//!   Each fill remembers the survivor's previous value, so [`undo_fills`]
//!   restores it — only where the survivor still holds the merged value, so
//!   an edit made since the merge is never undone.
//! - [`repoints`] names every field of a referring record that holds the
//!   loser and that a merge may change ([`referring_fields`]), except a
//!   relationship's end that would then point at its other end (the rule
//!   book refuses a relationship to itself); [`undo_repoints`] moves back
//!   only references that still point at the survivor.
//! - [`instance_fields`] names the fields of a process instance a merge
//!   re-points (never through a user's edit: see its docs).
//! - [`forwarded`] is the redirect rule: the carried fields an edit of a
//!   merged loser changed, as writes for the survivor (set or clear);
//!   system fields, `archived` and `merged_into` are never forwarded.
//! - Nothing here panics on any input.

use serde::{Deserialize, Serialize};

use crate::edit::FieldWrite;
use crate::ids::{RecordId, RecordKind};
use crate::policy::Policy;
use crate::rules::Fields;
use crate::schema::{self, FieldDef, FieldType};
use crate::value::FieldValue;

/// How long a merge can be undone, in days (`merge_undo_expired` after).
pub const UNDO_DAYS: i64 = 30;

/// [`UNDO_DAYS`] in milliseconds.
pub const UNDO_PERIOD_MS: i64 = UNDO_DAYS * 24 * 60 * 60 * 1000;

/// Why a merge cannot be made, with a stable code ([`MergeError::code`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeError {
    /// The survivor and the loser are one record.
    SelfMerge,
    /// The two records are of different kinds.
    KindMismatch,
    /// Records of this kind cannot be merged.
    NotMergeable(RecordKind),
    /// This record is already merged into another.
    AlreadyMerged(RecordId),
    /// `take` names a field that is not carried by a merge.
    NotCarried(String),
}

impl MergeError {
    /// The stable code the office API answers with.
    pub fn code(&self) -> &'static str {
        match self {
            MergeError::SelfMerge => "merge_self",
            MergeError::KindMismatch => "merge_kind_mismatch",
            MergeError::NotMergeable(_) => "merge_not_mergeable",
            MergeError::AlreadyMerged(_) => "already_merged",
            MergeError::NotCarried(_) => "merge_field_not_carried",
        }
    }
}

impl std::fmt::Display for MergeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MergeError::SelfMerge => write!(f, "a record cannot be merged into itself"),
            MergeError::KindMismatch => write!(f, "only two records of one kind can be merged"),
            MergeError::NotMergeable(kind) => write!(f, "{kind} records cannot be merged"),
            MergeError::AlreadyMerged(id) => {
                write!(f, "{id} is already merged into another record")
            }
            MergeError::NotCarried(field) => {
                write!(
                    f,
                    "`{field}` is not a field a merge can take from the loser"
                )
            }
        }
    }
}

/// One survivor field a merge filled: the loser's value, and what the
/// survivor held before (`None`: it was empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fill {
    /// The field.
    pub field: String,
    /// The value taken from the loser.
    pub value: FieldValue,
    /// The survivor's value before the merge.
    pub previous: Option<FieldValue>,
}

/// One reference a merge moved from the loser to the survivor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repoint {
    /// The referring record.
    pub record: RecordId,
    /// Its field that held the loser.
    pub field: String,
}

/// Whether records of `kind` can be merged (they have [`schema::MERGED_INTO`]).
pub fn mergeable(kind: RecordKind) -> bool {
    schema::field(kind, schema::MERGED_INTO).is_some()
}

/// Whether a merge carries `def` from loser to survivor, and a redirect
/// forwards it: every field a user sets, except `archived` and
/// `merged_into` (the loser's own state).
pub fn carried(def: &FieldDef) -> bool {
    !def.system
        && !matches!(def.ty, FieldType::StageLog | FieldType::Entries)
        && def.name != schema::ARCHIVED
        && def.name != schema::MERGED_INTO
}

/// The record a merged record was merged into, if any.
pub fn merged_into(fields: &Fields) -> Option<RecordId> {
    fields
        .get(schema::MERGED_INTO)
        .and_then(FieldValue::as_text)
        .and_then(|t| t.parse().ok())
}

/// Checks that `loser` may be merged into `survivor` (ids and fields).
pub fn check_pair(
    survivor: (&RecordId, &Fields),
    loser: (&RecordId, &Fields),
) -> Result<(), MergeError> {
    if survivor.0 == loser.0 {
        return Err(MergeError::SelfMerge);
    }
    if survivor.0.kind() != loser.0.kind() {
        return Err(MergeError::KindMismatch);
    }
    if !mergeable(loser.0.kind()) {
        return Err(MergeError::NotMergeable(loser.0.kind()));
    }
    for (id, fields) in [loser, survivor] {
        if merged_into(fields).is_some() {
            return Err(MergeError::AlreadyMerged(id.clone()));
        }
    }
    Ok(())
}

/// The survivor fields a merge fills: every carried field of `kind` under
/// `policy` (built-in and custom) empty on the survivor and set on the loser, plus each field named in `take` that the
/// loser holds (its value then replaces the survivor's).
pub fn fills(
    policy: &Policy,
    kind: RecordKind,
    survivor: &Fields,
    loser: &Fields,
    take: &[String],
) -> Result<Vec<Fill>, MergeError> {
    for name in take {
        if !policy.field(kind, name).is_some_and(carried) {
            return Err(MergeError::NotCarried(name.clone()));
        }
    }
    let mut out = Vec::new();
    for def in policy.fields(kind).filter(|d| carried(d)) {
        let Some(value) = loser.get(def.name) else {
            continue;
        };
        let previous = survivor.get(def.name);
        let taken = take.iter().any(|t| t == def.name);
        if previous == Some(value) || (previous.is_some() && !taken) {
            continue;
        }
        out.push(Fill {
            field: def.name.to_owned(),
            value: value.clone(),
            previous: previous.cloned(),
        });
    }
    Ok(out)
}

/// The survivor writes of `fills`.
pub fn fill_writes(fills: &[Fill]) -> Vec<FieldWrite> {
    fills
        .iter()
        .map(|f| FieldWrite::set(&f.field, f.value.clone()))
        .collect()
}

/// The writes that mark the loser merged into `survivor` (and archived).
pub fn loser_writes(survivor: &RecordId) -> Vec<FieldWrite> {
    vec![
        FieldWrite::set(schema::MERGED_INTO, survivor.to_string()),
        FieldWrite::set(schema::ARCHIVED, true),
    ]
}

/// The writes that give the loser back its own life (the undo).
pub fn loser_undo_writes() -> Vec<FieldWrite> {
    vec![
        FieldWrite::clear(schema::MERGED_INTO),
        FieldWrite::set(schema::ARCHIVED, false),
    ]
}

/// Every `(kind, field)` that may refer to a record of `kind` and that a
/// merge moves as the caller's edit: reference fields of every kind under
/// `policy` (custom references too), except
/// process instances (whose identity fields no user may change, see
/// [`instance_fields`]) and
/// `merged_into` (a record merged earlier stays merged into the record it
/// named; the redirect follows the chain).
pub fn referring_fields(policy: &Policy, kind: RecordKind) -> Vec<(RecordKind, &'static str)> {
    let mut out = Vec::new();
    for other in RecordKind::ALL {
        if other == RecordKind::ProcessInstance {
            continue;
        }
        for def in policy.fields(other) {
            if let FieldType::Ref(kinds) = def.ty
                && kinds.contains(&kind)
                && def.name != schema::MERGED_INTO
            {
                out.push((other, def.name));
            }
        }
    }
    out
}

/// The fields of a process instance that may refer to a record of `kind`
/// (`record`, and `account` for an account). A merge moves them too, but
/// not as the caller's edit: the process guard lets no user change an
/// instance's identity, so the server re-points them itself, in the
/// merge's transaction, and logs each as a [`Repoint`] of the instance.
pub fn instance_fields(kind: RecordKind) -> Vec<&'static str> {
    schema::fields(RecordKind::ProcessInstance)
        .iter()
        .filter(|d| matches!(d.ty, FieldType::Ref(kinds) if kinds.contains(&kind)))
        .map(|d| d.name)
        .collect()
}

/// The references to re-point from `loser` to `survivor` among
/// `referring` records (each with its fields).
pub fn repoints(
    policy: &Policy,
    loser: &RecordId,
    survivor: &RecordId,
    referring: &[(RecordId, Fields)],
) -> Vec<Repoint> {
    let fields = referring_fields(policy, loser.kind());
    let (loser_text, survivor_text) = (loser.to_string(), survivor.to_string());
    let mut out = Vec::new();
    for (record, values) in referring {
        for (kind, field) in &fields {
            if *kind != record.kind() || text(values, field) != Some(&loser_text) {
                continue;
            }
            if let Some(other) = other_end(field)
                && text(values, other) == Some(&survivor_text)
            {
                continue;
            }
            out.push(Repoint {
                record: record.clone(),
                field: (*field).to_owned(),
            });
        }
    }
    out
}

/// The other end of a relationship's `from` or `to`.
fn other_end(field: &str) -> Option<&'static str> {
    match field {
        "from" => Some("to"),
        "to" => Some("from"),
        _ => None,
    }
}

fn text<'a>(fields: &'a Fields, field: &str) -> Option<&'a str> {
    fields.get(field).and_then(FieldValue::as_text)
}

/// The survivor writes an undo makes: each filled field that still holds
/// the merged value goes back to what it held before.
pub fn undo_fills(survivor: &Fields, fills: &[Fill]) -> Vec<FieldWrite> {
    fills
        .iter()
        .filter(|f| survivor.get(&f.field) == Some(&f.value))
        .map(|f| match &f.previous {
            Some(v) => FieldWrite::set(&f.field, v.clone()),
            None => FieldWrite::clear(&f.field),
        })
        .collect()
}

/// Whether the re-pointed `field` of a referring record (its `fields`)
/// still points at `survivor`, so that an undo moves it back.
pub fn still_repointed(fields: &Fields, field: &str, survivor: &RecordId) -> bool {
    text(fields, field) == Some(survivor.to_string().as_str())
}

/// The write that moves a re-pointed reference back to `loser`.
pub fn undo_repoint(repoint: &Repoint, loser: &RecordId) -> FieldWrite {
    FieldWrite::set(&repoint.field, loser.to_string())
}

/// Whether a merge made at `merged_ms` can still be undone at `now_ms`.
pub fn undo_open(merged_ms: i64, now_ms: i64) -> bool {
    now_ms.saturating_sub(merged_ms) <= UNDO_PERIOD_MS
}

/// The redirect rule: the writes that carry an edit of a merged loser of
/// `kind` (its fields `before` and `after` the edit) over to the survivor;
/// custom fields of `policy` are carried like built-in ones.
pub fn forwarded(
    policy: &Policy,
    kind: RecordKind,
    before: &Fields,
    after: &Fields,
) -> Vec<FieldWrite> {
    policy
        .fields(kind)
        .filter(|d| carried(d) && before.get(d.name) != after.get(d.name))
        .map(|d| FieldWrite {
            field: d.name.to_owned(),
            value: after.get(d.name).cloned(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
