//! Sort keys of field values and folding of text, for the record index.
//!
//! Guarantees:
//! - comparing two keys of the same field bytewise (SQLite's `BINARY`)
//!   orders their values: text case- and accent-insensitively (`José`,
//!   `jose` and `JOSE` have one key; text is folded by
//!   [`fieldwork_core::fold::fold`], the function the search text and the
//!   device's index use: `Ő` → `o`, `Ł` → `l`, `ß` → `ss`), whole numbers
//!   and money numerically, coordinates numerically, instants by the
//!   instant (in UTC), dates as ISO text;
//! - a filter value typed by a person is turned into a key by the same
//!   functions, or refused with the reason (never a panic).

use fieldwork_core::FieldValue;
pub use fieldwork_core::fold::fold;
use fieldwork_core::schema::FieldType;
use jiff::Timestamp;

/// Longest text key, in characters: longer text is compared on its first
/// `KEY_CHARS` folded characters.
pub const KEY_CHARS: usize = 256;

/// [`fold`], cut to [`KEY_CHARS`] characters.
pub fn text_key(text: &str) -> String {
    fold(text).chars().take(KEY_CHARS).collect()
}

/// An order-preserving key of a whole number (16 hex digits).
pub fn int_key(i: i64) -> String {
    format!("{:016x}", (i as u64) ^ (1 << 63))
}

/// An order-preserving key of a finite number (16 hex digits).
pub fn float_key(f: f64) -> String {
    let bits = if f == 0.0 { 0.0f64 } else { f }.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    format!("{ordered:016x}")
}

/// An instant as fixed-width ISO text in UTC (nanoseconds always written,
/// so text order is time order).
pub fn instant_key(ts: Timestamp) -> String {
    let dt = jiff::tz::TimeZone::UTC.to_datetime(ts);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.subsec_nanosecond()
    )
}

/// The sort key of a stored value of a field of type `ty`; `None` for
/// values that do not sort (stage logs, entries).
pub fn sort_key(ty: FieldType, value: &FieldValue) -> Option<String> {
    match (ty, value) {
        (FieldType::StageLog | FieldType::Entries, _) => None,
        (FieldType::Int { .. } | FieldType::Money, FieldValue::Int(i)) => Some(int_key(*i)),
        (FieldType::Latitude | FieldType::Longitude, v) => {
            v.as_float().filter(|f| f.is_finite()).map(float_key)
        }
        (FieldType::Bool, FieldValue::Bool(b)) => Some(if *b { "1" } else { "0" }.into()),
        (FieldType::DateTime, FieldValue::Text(s)) => Some(
            s.parse::<Timestamp>()
                .map(instant_key)
                .unwrap_or_else(|_| text_key(s)),
        ),
        (FieldType::Date | FieldType::Ref(_), FieldValue::Text(s)) => {
            Some(s.chars().take(KEY_CHARS).collect())
        }
        (_, FieldValue::Text(s)) => Some(text_key(s)),
        (_, other) => Some(text_key(&other.display())),
    }
}

/// Whether a field of type `ty` can be compared by text prefix or
/// substring.
pub fn is_textual(ty: FieldType) -> bool {
    !matches!(
        ty,
        FieldType::Int { .. }
            | FieldType::Money
            | FieldType::Latitude
            | FieldType::Longitude
            | FieldType::Bool
            | FieldType::StageLog
            | FieldType::Entries
    )
}

/// Whether values of type `ty` have a sort key at all.
pub fn is_sortable(ty: FieldType) -> bool {
    !matches!(ty, FieldType::StageLog | FieldType::Entries)
}

/// The key a typed filter value is compared with: for `textual` operations
/// (prefix, substring) the folded text; otherwise the value read as the
/// field's type. Refuses with a sentence for people.
pub fn filter_key(ty: FieldType, raw: &str, textual: bool) -> Result<String, String> {
    let raw_t = raw.trim();
    if textual {
        if !is_textual(ty) {
            return Err(format!("cannot be matched as text ({})", ty.describe()));
        }
        return Ok(match ty {
            FieldType::Date | FieldType::DateTime | FieldType::Ref(_) => {
                raw_t.chars().take(KEY_CHARS).collect()
            }
            _ => text_key(raw),
        });
    }
    let not = || format!("`{raw_t}` is not {}", ty.describe());
    match ty {
        FieldType::StageLog | FieldType::Entries => {
            Err(format!("cannot be compared ({})", ty.describe()))
        }
        FieldType::Int { .. } | FieldType::Money => {
            raw_t.parse::<i64>().map(int_key).map_err(|_| not())
        }
        FieldType::Latitude | FieldType::Longitude => match raw_t.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(float_key(f)),
            _ => Err(not()),
        },
        FieldType::Bool => match raw_t.to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok("1".into()),
            "false" | "no" | "0" => Ok("0".into()),
            _ => Err(not()),
        },
        FieldType::DateTime => {
            if let Ok(ts) = raw_t.parse::<Timestamp>() {
                return Ok(instant_key(ts));
            }
            // A date alone is the start of that day in UTC.
            let date: jiff::civil::Date = raw_t.parse().map_err(|_| not())?;
            date.to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .map(|z| instant_key(z.timestamp()))
                .map_err(|_| not())
        }
        FieldType::Date => {
            if raw_t.len() == 10 && raw_t.parse::<jiff::civil::Date>().is_ok() {
                Ok(raw_t.to_owned())
            } else {
                Err(not())
            }
        }
        FieldType::Ref(_) => Ok(raw_t.chars().take(KEY_CHARS).collect()),
        _ => Ok(text_key(raw)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keys_ignore_case_accents_and_special_letters() {
        assert_eq!(text_key("SZŐKE Ünnep"), "szoke unnep");
        assert_eq!(text_key("Ñandú Łódź Øre Straße"), "nandu lodz ore strasse");
        assert_eq!(
            filter_key(FieldType::Text { max: 80 }, "Østergaard", true).as_deref(),
            Ok("ostergaard")
        );
    }

    #[test]
    fn number_keys_sort_numerically() {
        let ints = [i64::MIN, -1_000, -1, 0, 1, 9, 10, 1_000_000, i64::MAX];
        let keys: Vec<String> = ints.iter().map(|i| int_key(*i)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        let floats = [-180.0, -1.5, -0.0, 0.0, 1e-9, 1.5, 90.0];
        let keys: Vec<String> = floats.iter().map(|f| float_key(*f)).collect();
        assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");
        assert_eq!(float_key(-0.0), float_key(0.0));
    }

    #[test]
    fn instants_sort_by_time_whatever_their_offset() {
        let k = |s: &str| sort_key(FieldType::DateTime, &FieldValue::Text(s.into()));
        assert!(k("2027-01-08T09:00:00+01:00") < k("2027-01-08T08:30:00Z"));
        assert!(k("2027-01-08T08:00:00.5Z") > k("2027-01-08T08:00:00Z"));
        assert_eq!(
            filter_key(FieldType::DateTime, "2027-01-08", false).as_deref(),
            Ok("2027-01-08T00:00:00.000000000Z")
        );
    }

    #[test]
    fn filter_values_are_read_as_the_field_type() {
        let money = FieldType::Money;
        assert_eq!(filter_key(money, " 1500 ", false), Ok(int_key(1500)));
        assert!(filter_key(money, "15.00", false).is_err());
        assert!(
            filter_key(money, "15", true).is_err(),
            "no prefix on numbers"
        );
        assert!(filter_key(FieldType::Date, "2027-13-01", false).is_err());
        assert!(filter_key(FieldType::Entries, "x", false).is_err());
        assert_eq!(
            filter_key(FieldType::Text { max: 80 }, "JOSÉ", false).as_deref(),
            Ok("jose")
        );
        assert_eq!(
            filter_key(FieldType::Bool, "Yes", false).as_deref(),
            Ok("1")
        );
    }
}
