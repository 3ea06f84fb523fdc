//! Stored values as people read them in their language: money with digit
//! groups and the locale's decimal mark, listed values (`won`) as words,
//! dates in the locale's order, instants in the user's time zone.
//!
//! Guarantees: a value that does not parse as its field's type (an old
//! value, a conflict, a field of a newer schema) is shown as it is stored,
//! never dropped; nothing here changes what a form posts back.

use fieldwork_core::RecordKind;
use fieldwork_core::card::CardField;
use fieldwork_core::schema::{self, FieldType};
use jiff::tz::TimeZone;

use super::{current, word};

/// How `raw`, the stored text of field `name` of a `kind` record, reads in
/// the current locale; `currency` is the record's currency for a money
/// field. `None` when the field's type has no localised form (text, names,
/// e-mail...) or `raw` does not parse as its type.
pub fn shown(
    kind: RecordKind,
    name: &str,
    raw: &str,
    currency: Option<&str>,
    zone: &TimeZone,
) -> Option<String> {
    let def = schema::field(kind, name)?;
    let locale = current();
    match def.ty {
        FieldType::Money => Some(locale.money(raw.parse().ok()?, currency?)),
        FieldType::Enum(_) => Some(word(raw)),
        FieldType::Date => Some(locale.date(raw.parse().ok()?)),
        FieldType::DateTime => {
            let at: jiff::Timestamp = raw.parse().ok()?;
            Some(locale.date_time(zone.to_datetime(at)))
        }
        FieldType::Int { .. } => Some(locale.integer(raw.parse().ok()?)),
        FieldType::Bool => match raw {
            "true" => Some(crate::web::i18n::text("yes").to_owned()),
            "false" => Some(crate::web::i18n::text("no").to_owned()),
            _ => None,
        },
        _ => None,
    }
}

/// What a field of type `ty` takes, for the hint under its input.
pub fn hint(ty: FieldType) -> String {
    use crate::web::i18n;
    match ty {
        FieldType::Text { max } => i18n::fill("text, at most {0} characters", &[&max]),
        FieldType::LongText => i18n::text("long text").to_owned(),
        FieldType::Email => i18n::text("e-mail address").to_owned(),
        FieldType::Phone => i18n::text("phone number").to_owned(),
        FieldType::Url => i18n::text("web address (http or https)").to_owned(),
        FieldType::Enum(_) => i18n::text("one of the listed values").to_owned(),
        FieldType::MultiEnum(_) => {
            i18n::text("any of the listed values, separated by commas").to_owned()
        }
        FieldType::Date => i18n::text("date (YYYY-MM-DD)").to_owned(),
        FieldType::DateTime => {
            i18n::text("date and time (e.g. 2027-01-08T09:00:00+01:00)").to_owned()
        }
        FieldType::TimeZone => i18n::text("time zone (e.g. Europe/Madrid)").to_owned(),
        FieldType::Int { min, max } => i18n::fill(
            "whole number from {0} to {1}",
            &[&current().integer(min), &current().integer(max)],
        ),
        FieldType::Money => i18n::text("amount, in the currency typed below").to_owned(),
        FieldType::Currency => i18n::text("currency code (EUR, HUF)").to_owned(),
        FieldType::Country => i18n::text("country code (ES, HU)").to_owned(),
        FieldType::Bool => i18n::text("yes or no").to_owned(),
        FieldType::Latitude => i18n::text("latitude (-90 to 90)").to_owned(),
        FieldType::Longitude => i18n::text("longitude (-180 to 180)").to_owned(),
        FieldType::Ref(_) => i18n::text("a record").to_owned(),
        FieldType::User => i18n::text("user name").to_owned(),
        FieldType::StageLog | FieldType::Entries => i18n::text("kept by the system").to_owned(),
        FieldType::File => i18n::text("photo or file, attached from the app").to_owned(),
    }
}

/// How a card's field reads in the current locale: [`shown`] of its
/// value, else the card's own display text.
pub fn card_field(kind: RecordKind, f: &CardField, zone: &TimeZone) -> String {
    f.value
        .as_deref()
        .and_then(|raw| shown(kind, &f.name, raw, f.currency.as_deref(), zone))
        .or_else(|| f.display.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::super::{Locale, with_locale};
    use super::*;

    #[tokio::test]
    async fn values_read_in_the_locale_and_bad_ones_stay_as_stored() {
        let utc = TimeZone::UTC;
        let deal = RecordKind::Deal;
        with_locale(Locale::Es, async {
            assert_eq!(
                shown(deal, "amount", "1250050", Some("EUR"), &utc).as_deref(),
                Some("12.500,50 EUR")
            );
            assert_eq!(
                shown(deal, "stage", "won", None, &utc).as_deref(),
                Some("Ganada")
            );
            assert_eq!(
                shown(deal, "expected_close", "2026-12-24", None, &utc).as_deref(),
                Some("24/12/2026")
            );
            assert_eq!(shown(deal, "amount", "12,5", Some("EUR"), &utc), None);
            assert_eq!(
                shown(deal, "amount", "100", None, &utc),
                None,
                "no currency"
            );
            assert_eq!(shown(deal, "name", "Ampliación", None, &utc), None);
        })
        .await;
        let budapest = TimeZone::get("Europe/Budapest").expect("a zone");
        with_locale(Locale::Hu, async {
            assert_eq!(
                shown(deal, "closed_at", "2026-12-02T08:30:00Z", None, &budapest).as_deref(),
                Some("2026. 12. 02. 09:30")
            );
        })
        .await;
    }
}
