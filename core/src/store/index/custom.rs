//! The index's custom fields: the `custom` column (a JSON object of the
//! values of the custom fields the policy in force defines) that lists
//! filter and sort on, and the search text they add.
//!
//! Guarantees:
//! - only fields the policy defines are indexed: a field a later policy
//!   removed leaves lists and search at the next refresh (the store
//!   refreshes every row when the policy's fields change);
//! - a filter or sort names a custom field by its `x_…` name and is
//!   refused as `Invalid` otherwise, so no caller text reaches SQL except
//!   as a bound parameter;
//! - in the column text is kept as text, numbers as numbers and booleans
//!   as `"true"`/`"false"`, so a filter compares the value as typed
//!   (`12`, `true`, `smb`).

use rusqlite::types::Value;
use serde_json::{Map, Value as Json};

use crate::error::{CoreError, Result, ValidationError};
use crate::policy::Policy;
use crate::record::Record;
use crate::schema::{FieldType, custom};
use crate::value::FieldValue;

/// The `custom` column of `record`: `None` when it holds no custom field.
pub(super) fn column(policy: &Policy, record: &Record) -> Option<String> {
    let mut map = Map::new();
    for def in policy
        .fields(record.kind())
        .filter(|d| custom::is_custom(d.name))
    {
        let json = match record.get(def.name) {
            Some(FieldValue::Text(s)) => Json::from(s.as_str()),
            Some(FieldValue::Int(i)) => Json::from(*i),
            Some(FieldValue::Float(f)) => Json::from(*f),
            Some(FieldValue::Bool(b)) => Json::from(b.to_string()),
            _ => continue,
        };
        map.insert(def.name.to_owned(), json);
    }
    (!map.is_empty()).then(|| Json::Object(map).to_string())
}

/// The words the record's custom text and choice fields add to its search
/// name column.
pub(super) fn search_words(policy: &Policy, record: &Record) -> Vec<String> {
    policy
        .fields(record.kind())
        .filter(|d| custom::is_custom(d.name))
        .filter(|d| {
            matches!(
                d.ty,
                FieldType::Text { .. } | FieldType::Enum(_) | FieldType::MultiEnum(_)
            )
        })
        .filter_map(|d| record.text(d.name).map(str::to_owned))
        .collect()
}

/// The JSON path of custom field `field` (checked to be a custom field's
/// name, so it needs no quoting beyond the one given).
pub(super) fn path(field: &str) -> Result<String> {
    let valid = custom::is_custom(field)
        && field.len() <= 42
        && field
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        return Err(CoreError::Invalid(ValidationError::field(
            field,
            "is not a custom field (custom fields are named x_…)",
        )));
    }
    Ok(format!("$.\"{field}\""))
}

/// Appends `AND` clauses keeping the rows whose custom fields have the
/// given values (as text).
pub(super) fn filter<'q>(
    fields: impl IntoIterator<Item = (&'q String, &'q String)>,
    sql: &mut String,
    args: &mut Vec<Value>,
) -> Result<()> {
    for (field, value) in fields {
        sql.push_str(" AND CAST(json_extract(custom, ?) AS TEXT) = ?");
        args.push(path(field)?.into());
        args.push(value.clone().into());
    }
    Ok(())
}

/// The `ORDER BY` terms of a list sorted by custom field `field`: rows
/// without a value last, then by value, then by name and id.
pub(super) fn order(field: &str, descending: bool, args: &mut Vec<Value>) -> Result<String> {
    let p = path(field)?;
    args.push(p.clone().into());
    args.push(p.into());
    let dir = if descending { "DESC" } else { "ASC" };
    Ok(format!(
        "json_extract(custom, ?) IS NULL, json_extract(custom, ?) {dir}, title_key {dir}, record_id"
    ))
}
