//! What a user asks to write: one field set or cleared, parsed from the
//! text they typed; and the typed form kept beside a change.

use serde::{Deserialize, Serialize};

use super::field_def;
use crate::error::{CoreError, Result, ValidationError};
use crate::ids::RecordKind;
use crate::locale::Locale;
use crate::policy::Policy;
use crate::schema;
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

/// One field as a person typed it into a form, parsed by the edit only
/// once the policy allowed the field (see [`crate::edit::Editor::write_text`]).
///
/// Money is typed as people write it when `currency` is given: `text` is
/// then a decimal amount in that currency (`1234.50` EUR, `1234,5` EUR,
/// `1234` JPY), read with the currency's own number of decimals, and the
/// record's currency field (`credit_currency`, `currency`) is set to it.
/// Without `currency`, money text is whole minor units (`123450`), as
/// [`FieldWrite::text`] reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextWrite {
    /// The field's name.
    pub field: String,
    /// The text typed; `None` clears the field.
    pub text: Option<String>,
    /// For a money field: the ISO 4217 currency the amount is typed in.
    #[serde(default)]
    pub currency: Option<String>,
}

impl TextWrite {
    /// `field` set to the text `text`.
    pub fn set(field: &str, text: &str) -> Self {
        TextWrite {
            field: field.to_owned(),
            text: Some(text.to_owned()),
            currency: None,
        }
    }

    /// Money field `field` set to `amount` as typed (`1234.50`) in
    /// `currency` (`EUR`).
    pub fn money(field: &str, amount: &str, currency: &str) -> Self {
        TextWrite {
            currency: Some(currency.to_owned()),
            ..TextWrite::set(field, amount)
        }
    }
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
    ///
    /// A custom field (`x_…`) is typed by the policy, which this function
    /// does not see: its text is kept as text, and the edit parses and
    /// checks it with the policy's definition ([`crate::edit::Editor::write`]).
    /// So is a deal's `stage`, whose list the policy may replace.
    pub fn text(kind: RecordKind, field: &str, raw: Option<&str>) -> Result<Self> {
        if schema::field(kind, field).is_none() && schema::custom::is_custom(field) {
            return Ok(FieldWrite {
                field: field.to_owned(),
                value: raw.map(FieldValue::from),
            });
        }
        let def = field_def(kind, field)?;
        Ok(match raw {
            None => FieldWrite::clear(def.name),
            // The deal stages are the policy's (`Policy::deal_stages`),
            // which this function does not see either: the stage is kept
            // as trimmed text and the edit checks it against them.
            Some(raw) if (kind, def.name) == (RecordKind::Deal, "stage") => FieldWrite {
                field: def.name.to_owned(),
                value: Some(FieldValue::Text(raw.trim().to_owned())),
            },
            Some(raw) => FieldWrite {
                field: def.name.to_owned(),
                value: Some(value::parse(def, raw)?),
            },
        })
    }
}

fn is_date(policy: &Policy, kind: RecordKind, field: &str) -> bool {
    policy
        .field(kind, field)
        .is_some_and(|d| d.ty == schema::FieldType::Date)
}

/// The currency field of money field `field` of `kind`; a currency given
/// with any other field is refused.
pub(super) fn money_currency_field(kind: RecordKind, field: &str) -> Result<&'static str> {
    let def = field_def(kind, field)?;
    schema::currency_field(kind, def.name).ok_or_else(|| {
        CoreError::Invalid(ValidationError::field(
            def.name,
            "is not an amount of money: a currency goes only with one",
        ))
    })
}

/// Parses what was typed (see [`TextWrite`]): money typed with its currency
/// becomes minor units plus the record's currency, every other text is read
/// by [`FieldWrite::text`]. A currency field also typed must agree with the
/// currency the amount was typed in. A date is read as `locale` writes
/// it ([`Locale::parse_date`]: `2/12/2026` in Spanish) before the schema
/// checks it.
pub(super) fn from_texts(
    policy: &Policy,
    kind: RecordKind,
    texts: &[TextWrite],
    locale: Locale,
) -> Result<Vec<FieldWrite>> {
    let mut writes = Vec::with_capacity(texts.len() + 1);
    let mut currencies: Vec<(&'static str, String)> = Vec::new();
    for t in texts {
        match (&t.currency, &t.text) {
            (Some(currency), Some(amount)) => {
                let currency_field = money_currency_field(kind, &t.field)?;
                let minor = value::money_to_minor(amount, currency)
                    .map_err(|e| ValidationError::field(&t.field, e.message))?;
                writes.push(FieldWrite::set(&t.field, minor));
                currencies.push((currency_field, currency.trim().to_ascii_uppercase()));
            }
            (_, Some(text)) if is_date(policy, kind, &t.field) => {
                let iso = locale.parse_date(text).map(|d| d.to_string());
                let typed = iso.as_deref().unwrap_or(text);
                writes.push(FieldWrite::text(kind, &t.field, Some(typed))?);
            }
            (_, text) => writes.push(FieldWrite::text(kind, &t.field, text.as_deref())?),
        }
    }
    for (field, code) in currencies {
        match writes.iter().find(|w| w.field == field) {
            Some(w) if w.value.as_ref().and_then(FieldValue::as_text) != Some(code.as_str()) => {
                return Err(CoreError::Invalid(ValidationError::field(
                    field,
                    format!("differs from `{code}`, the currency the amount was typed in"),
                )));
            }
            Some(_) => {}
            None => writes.push(FieldWrite::set(field, code)),
        }
    }
    Ok(writes)
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
