//! What a user asks to write: one field set or cleared, parsed from the
//! text they typed; and the typed form kept beside a change.

use serde::{Deserialize, Serialize};

use super::field_def;
use crate::error::{CoreError, Result, ValidationError};
use crate::ids::RecordKind;
use crate::value::{self, FieldValue};

/// One field as typed, kept beside a change (the device's outbox) so that a
/// refused change can be explained and its permitted parts replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypedWrite {
    /// The field written.
    pub field: String,
    /// The value as typed (`null` when the field was cleared).
    pub value: serde_json::Value,
}

/// One field to set (`Some`) or clear (`None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldWrite {
    /// The field's name.
    pub field: String,
    /// The new value, or `None` to clear the field.
    pub value: Option<FieldValue>,
}

impl FieldWrite {
    /// Sets `field` to `value`.
    pub fn set(field: &str, value: impl Into<FieldValue>) -> Self {
        FieldWrite {
            field: field.to_owned(),
            value: Some(value.into()),
        }
    }

    /// Clears `field`.
    pub fn clear(field: &str) -> Self {
        FieldWrite {
            field: field.to_owned(),
            value: None,
        }
    }

    /// Parses `FIELD=VALUE` text (the CLI form) against `kind`'s schema. An
    /// empty value clears the field.
    pub fn parse(kind: RecordKind, assignment: &str) -> Result<Self> {
        let (field, raw) = assignment.split_once('=').ok_or_else(|| {
            CoreError::Invalid(ValidationError::record(format!(
                "`{assignment}` is not FIELD=VALUE"
            )))
        })?;
        FieldWrite::text(kind, field.trim(), Some(raw).filter(|r| !r.is_empty()))
    }

    /// Parses text typed into a form field against `kind`'s schema: `None`
    /// clears the field. This is how apps send what users typed; values
    /// come back in the same form in a record card.
    pub fn text(kind: RecordKind, field: &str, raw: Option<&str>) -> Result<Self> {
        let def = field_def(kind, field)?;
        Ok(match raw {
            None => FieldWrite::clear(def.name),
            Some(raw) => FieldWrite {
                field: def.name.to_owned(),
                value: Some(value::parse(def, raw)?),
            },
        })
    }
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> Self {
        FieldValue::Text(s.to_owned())
    }
}

impl From<String> for FieldValue {
    fn from(s: String) -> Self {
        FieldValue::Text(s)
    }
}

impl From<i64> for FieldValue {
    fn from(i: i64) -> Self {
        FieldValue::Int(i)
    }
}

impl From<f64> for FieldValue {
    fn from(f: f64) -> Self {
        FieldValue::Float(f)
    }
}

impl From<bool> for FieldValue {
    fn from(b: bool) -> Self {
        FieldValue::Bool(b)
    }
}
