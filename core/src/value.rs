//! Field values: parsing from text, checking against the schema.
//!
//! A [`FieldValue`] is what a field holds once read out of its document. The
//! same checks run for a value typed on the device ([`parse`], [`check`]) and
//! for a value found in a change arriving at the server, so the two can never
//! disagree about what is valid.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::ValidationError;
use crate::ids::RecordId;
use crate::schema::{FieldDef, FieldType};

/// The value of one field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// A boolean.
    Bool(bool),
    /// A whole number (also money in minor units).
    Int(i64),
    /// A floating-point number (coordinates).
    Float(f64),
    /// Any textual value: names, codes, dates, ids, long text.
    Text(String),
    /// The stage-transition log.
    Stages(Vec<StageTransition>),
    /// A map of JSON objects (process events and parameters).
    Entries(BTreeMap<String, serde_json::Value>),
}

impl FieldValue {
    /// The value as text, if it is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            FieldValue::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The value as a whole number, if it is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            FieldValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The value as a float (whole numbers are widened).
    pub fn as_float(&self) -> Option<f64> {
        match self {
            FieldValue::Float(f) => Some(*f),
            FieldValue::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// A compact single-line rendering for tables and history.
    pub fn display(&self) -> String {
        match self {
            FieldValue::Bool(b) => b.to_string(),
            FieldValue::Int(i) => i.to_string(),
            FieldValue::Float(f) => f.to_string(),
            FieldValue::Text(s) => s.clone(),
            FieldValue::Stages(log) => log
                .iter()
                .map(|t| format!("{}@{}", t.stage, t.at))
                .collect::<Vec<_>>()
                .join(" → "),
            FieldValue::Entries(map) => format!("{} entries", map.len()),
        }
    }
}

/// One entry of a lifecycle log: the stage entered and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageTransition {
    /// The stage entered.
    pub stage: String,
    /// When, as an RFC 3339 instant in UTC.
    pub at: String,
}

/// Parses text typed by a user (CLI `FIELD=VALUE`, a form field) into a value
/// of `def`'s type, normalising where the type has a canonical form
/// (upper-case currency and country codes, trimmed e-mails).
pub fn parse(def: &FieldDef, raw: &str) -> Result<FieldValue, ValidationError> {
    let raw_trimmed = raw.trim();
    let value = match def.ty {
        FieldType::Int { .. } | FieldType::Money => {
            FieldValue::Int(raw_trimmed.parse::<i64>().map_err(|_| {
                ValidationError::field(
                    def.name,
                    format!("`{raw_trimmed}` is not a {}", def.ty.describe()),
                )
            })?)
        }
        FieldType::Latitude | FieldType::Longitude => {
            FieldValue::Float(raw_trimmed.parse::<f64>().map_err(|_| {
                ValidationError::field(def.name, format!("`{raw_trimmed}` is not a number"))
            })?)
        }
        FieldType::Bool => match raw_trimmed.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => FieldValue::Bool(true),
            "false" | "no" | "0" => FieldValue::Bool(false),
            _ => {
                return Err(ValidationError::field(
                    def.name,
                    format!("`{raw_trimmed}` is not true or false"),
                ));
            }
        },
        FieldType::Currency | FieldType::Country => {
            FieldValue::Text(raw_trimmed.to_ascii_uppercase())
        }
        FieldType::LongText => FieldValue::Text(raw.to_owned()),
        FieldType::MultiEnum(values) => FieldValue::Text(
            canonical_choices(values, raw_trimmed)
                .map_err(|m| ValidationError::field(def.name, m))?,
        ),
        FieldType::StageLog | FieldType::Entries => {
            return Err(ValidationError::field(
                def.name,
                "is kept by the system and cannot be set directly",
            ));
        }
        _ => FieldValue::Text(raw_trimmed.to_owned()),
    };
    check(def, &value)?;
    Ok(value)
}

/// Checks that `value` has the type and shape `def` requires.
pub fn check(def: &FieldDef, value: &FieldValue) -> Result<(), ValidationError> {
    let bad = |msg: String| Err(ValidationError::field(def.name, msg));
    let want = || def.ty.describe();
    match (def.ty, value) {
        (FieldType::Text { max }, FieldValue::Text(s)) => {
            if s.chars().count() > max {
                return bad(format!("is longer than {max} characters"));
            }
            if s.contains(['\n', '\r']) && max <= 200 {
                return bad("must be a single line".into());
            }
            if def.required && s.trim().is_empty() {
                return bad("must not be empty".into());
            }
            Ok(())
        }
        (FieldType::LongText, FieldValue::Text(s)) => {
            if s.len() > 1_000_000 {
                return bad("is longer than 1,000,000 bytes".into());
            }
            Ok(())
        }
        (FieldType::Email, FieldValue::Text(s)) => {
            if email_address::EmailAddress::is_valid(s) && s.contains('.') && !s.contains(' ') {
                Ok(())
            } else {
                bad(format!("`{s}` is not a valid e-mail address"))
            }
        }
        (FieldType::Phone, FieldValue::Text(s)) => check_phone(s).or_else(&bad),
        (FieldType::Url, FieldValue::Text(s)) => match url::Url::parse(s) {
            Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host().is_some() => {
                Ok(())
            }
            _ => bad(format!("`{s}` is not an http(s) URL")),
        },
        (FieldType::Enum(values), FieldValue::Text(s)) => {
            if values.contains(&s.as_str()) {
                Ok(())
            } else {
                bad(format!("`{s}` is not {}", want()))
            }
        }
        (FieldType::MultiEnum(values), FieldValue::Text(s)) => match canonical_choices(values, s) {
            Ok(canonical) if canonical == *s => Ok(()),
            Ok(canonical) => bad(format!("`{s}` is not in its canonical form `{canonical}`")),
            Err(message) => bad(message),
        },
        (FieldType::Date, FieldValue::Text(s)) => {
            if s.len() == 10 && s.parse::<jiff::civil::Date>().is_ok() {
                Ok(())
            } else {
                bad(format!("`{s}` is not a date (YYYY-MM-DD)"))
            }
        }
        (FieldType::DateTime, FieldValue::Text(s)) => match s.parse::<Timestamp>() {
            Ok(_) => Ok(()),
            Err(_) => bad(format!(
                "`{s}` is not an RFC 3339 date-time with an offset (e.g. 2027-01-08T09:00:00+01:00)"
            )),
        },
        (FieldType::TimeZone, FieldValue::Text(s)) => match jiff::tz::TimeZone::get(s) {
            Ok(_) => Ok(()),
            Err(_) => bad(format!("`{s}` is not a known IANA time zone")),
        },
        (FieldType::Int { min, max }, FieldValue::Int(i)) => {
            if (min..=max).contains(i) {
                Ok(())
            } else {
                bad(format!("{i} is not {}", want()))
            }
        }
        (FieldType::Money, FieldValue::Int(i)) => {
            // Keep a margin so that sums in reports cannot overflow.
            if i.unsigned_abs() <= 1_000_000_000_000_000 {
                Ok(())
            } else {
                bad("amount is out of range".into())
            }
        }
        (FieldType::Currency, FieldValue::Text(s)) => {
            if iso_currency::Currency::from_code(s).is_some() {
                Ok(())
            } else {
                bad(format!("`{s}` is not an ISO 4217 currency code"))
            }
        }
        (FieldType::Country, FieldValue::Text(s)) => {
            if s.len() == 2 && s.bytes().all(|b| b.is_ascii_uppercase()) {
                Ok(())
            } else {
                bad(format!("`{s}` is not an ISO 3166-1 alpha-2 country code"))
            }
        }
        (FieldType::Bool, FieldValue::Bool(_)) => Ok(()),
        (FieldType::Latitude, v) => check_range(def, v, 90.0),
        (FieldType::Longitude, v) => check_range(def, v, 180.0),
        (FieldType::Ref(kinds), FieldValue::Text(s)) => match s.parse::<RecordId>() {
            Ok(id) if kinds.contains(&id.kind()) => Ok(()),
            _ => bad(format!("`{s}` is not the {}", want())),
        },
        (FieldType::User, FieldValue::Text(s)) => {
            let ok = (1..=64).contains(&s.len())
                && s.chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
            if ok {
                Ok(())
            } else {
                bad(format!("`{s}` is not a user name"))
            }
        }
        (FieldType::StageLog, FieldValue::Stages(log)) => {
            for t in log {
                if t.at.parse::<Timestamp>().is_err() {
                    return bad(format!("`{}` is not a date-time", t.at));
                }
            }
            Ok(())
        }
        (FieldType::Entries, FieldValue::Entries(map)) => {
            for (key, value) in map {
                if key.is_empty() || key.len() > 200 || !value.is_object() {
                    return bad(format!("entry `{key}` is not a JSON object"));
                }
            }
            Ok(())
        }
        (FieldType::File, FieldValue::Text(s)) => crate::attachment::AttachmentRef::parse(s)
            .map(|_| ())
            .or_else(bad),
        _ => bad(format!("expected {}", want())),
    }
}

/// The canonical text of a multiple choice typed as `raw` (values
/// separated by commas): each value once, in the order of `values`, joined
/// by `, `; an error naming the first value that is not a choice. Text
/// longer than twice the longest canonical one is refused unread, so the
/// work is bounded by the choices' total length times their number.
fn canonical_choices(values: &[&str], raw: &str) -> Result<String, String> {
    // Twice the longest canonical text: anything longer repeats values,
    // and is refused before it is split (bounded work per byte).
    let longest: usize = values.iter().map(|v| v.len() + 2).sum();
    if raw.len() > 2 * longest {
        return Err(format!(
            "is longer than any choice of {} can be",
            values.join(", ")
        ));
    }
    let mut chosen = vec![false; values.len()];
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match values.iter().position(|v| *v == part) {
            Some(i) => chosen[i] = true,
            None => {
                return Err(format!("`{part}` is not one of {}", values.join(", ")));
            }
        }
    }
    let picked: Vec<&str> = values
        .iter()
        .zip(chosen)
        .filter_map(|(v, c)| c.then_some(*v))
        .collect();
    Ok(picked.join(", "))
}

fn check_range(def: &FieldDef, value: &FieldValue, limit: f64) -> Result<(), ValidationError> {
    match value.as_float() {
        Some(f) if f.is_finite() && (-limit..=limit).contains(&f) => Ok(()),
        _ => Err(ValidationError::field(
            def.name,
            format!("expected {}", def.ty.describe()),
        )),
    }
}

fn check_phone(s: &str) -> Result<(), String> {
    let digits = s.chars().filter(char::is_ascii_digit).count();
    let allowed = s
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_digit() || " .-()/".contains(c) || (c == '+' && i == 0));
    if allowed && (5..=20).contains(&digits) {
        Ok(())
    } else {
        Err(format!("`{s}` is not a phone number"))
    }
}

/// The digits of a phone number, for search (`+36 (1) 234-5678` → `3612345678`).
pub fn phone_digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Converts a decimal amount typed by a person (`1250.50`, `1250,50`) into
/// minor units of `currency` (`125050` for EUR, `1250` for JPY). Refuses more
/// decimals than the currency has.
pub fn money_to_minor(amount: &str, currency: &str) -> Result<i64, ValidationError> {
    let code = currency.trim().to_ascii_uppercase();
    let exponent = iso_currency::Currency::from_code(&code)
        .and_then(|c| c.exponent())
        .ok_or_else(|| {
            ValidationError::field(
                "currency",
                format!("`{currency}` is not an ISO 4217 currency code"),
            )
        })?;
    let bad = || ValidationError::field("amount", format!("`{amount}` is not an amount in {code}"));
    let text = amount.trim().replace(',', ".");
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest.to_owned()),
        None => (false, text),
    };
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    if frac.len() > usize::from(exponent) {
        return Err(ValidationError::field(
            "amount",
            format!("{code} has {exponent} decimal places; `{amount}` has more"),
        ));
    }
    let scale = 10i64.pow(u32::from(exponent));
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac_value: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<width$}", width = usize::from(exponent))
            .parse()
            .map_err(|_| bad())?
    };
    let minor = whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac_value))
        .ok_or_else(bad)?;
    Ok(if negative { -minor } else { minor })
}

/// Formats minor units of `currency` for people: `125050 EUR` → `1250.50 EUR`.
pub fn format_money(minor: i64, currency: &str) -> String {
    format!("{} {currency}", format_amount(minor, currency))
}

/// Minor units of `currency` as the decimal amount a person types:
/// `125050` EUR → `1250.50`, `1250` JPY → `1250`. [`money_to_minor`] reads
/// it back to the same minor units.
pub fn format_amount(minor: i64, currency: &str) -> String {
    let exponent = iso_currency::Currency::from_code(currency)
        .and_then(|c| c.exponent())
        .unwrap_or(2);
    if exponent == 0 {
        return minor.to_string();
    }
    let scale = 10u64.pow(u32::from(exponent));
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = usize::from(exponent)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RecordKind;
    use crate::schema;

    fn def(kind: RecordKind, name: &str) -> &'static FieldDef {
        schema::field(kind, name).expect("field exists")
    }

    #[test]
    fn parses_and_normalises_typed_values() {
        let acc = RecordKind::Account;
        assert_eq!(
            parse(def(acc, "credit_currency"), " eur ").expect("valid"),
            FieldValue::Text("EUR".into())
        );
        assert_eq!(
            parse(def(acc, "credit_limit"), "1250000").expect("valid"),
            FieldValue::Int(1_250_000)
        );
        assert_eq!(
            parse(def(acc, "email"), " jose@example.es ").expect("valid"),
            FieldValue::Text("jose@example.es".into())
        );
        assert!(parse(def(acc, "phone"), "+36 (1) 234-5678").is_ok());
        assert!(parse(def(acc, "website"), "https://szoke.hu").is_ok());
        assert!(parse(def(acc, "country"), "hu").is_ok());
    }

    #[test]
    fn refuses_malformed_values_with_the_field_named() {
        let acc = RecordKind::Account;
        let cases = [
            ("email", "not-an-email"),
            ("email", "a@b"),
            ("phone", "call me"),
            ("website", "ftp://x.example"),
            ("stage", "dreaming"),
            ("credit_currency", "EURO"),
            ("credit_limit", "12.5"),
            ("country", "Hungary"),
            ("name", "   "),
        ];
        for (field, raw) in cases {
            let err = parse(def(acc, field), raw).expect_err(raw);
            assert_eq!(err.field.as_deref(), Some(field), "{raw}");
        }
        let act = RecordKind::Activity;
        assert!(parse(def(act, "due_at"), "2027-01-08T09:00:00+01:00").is_ok());
        assert!(parse(def(act, "due_at"), "2027-01-08 09:00").is_err());
        assert!(parse(def(act, "time_zone"), "Europe/Budapest").is_ok());
        assert!(parse(def(act, "time_zone"), "Mars/Olympus").is_err());
        assert!(parse(def(act, "check_in_lat"), "91").is_err());
        assert!(parse(def(act, "account"), "deal:01ABC").is_err());
        assert!(parse(def(acc, "stage_history"), "x").is_err());
    }

    #[test]
    fn money_is_converted_with_the_currency_exponent() {
        assert_eq!(money_to_minor("1250.50", "eur"), Ok(125_050));
        assert_eq!(money_to_minor("1250,5", "EUR"), Ok(125_050));
        assert_eq!(money_to_minor("1250", "JPY"), Ok(1_250));
        assert_eq!(money_to_minor("-3.5", "EUR"), Ok(-350));
        assert!(money_to_minor("12.345", "EUR").is_err());
        assert!(money_to_minor("1.5", "JPY").is_err());
        assert!(money_to_minor("12 EUR", "EUR").is_err());
        assert!(money_to_minor("12", "EURO").is_err());
        assert_eq!(format_money(125_050, "EUR"), "1250.50 EUR");
        assert_eq!(format_money(-5, "EUR"), "-0.05 EUR");
        assert_eq!(format_money(1_250, "JPY"), "1250 JPY");
    }

    #[test]
    fn phone_digits_strip_punctuation() {
        assert_eq!(phone_digits("+36 (1) 234-5678"), "3612345678");
    }
}
