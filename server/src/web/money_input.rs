//! Money typed into a form as people write it: `1250,50` or `1250.50` in
//! the record's currency, never minor units.
//!
//! A card shows an amount in its currency's major units with the
//! language's decimal mark and posts, beside it, the currency it was shown
//! in (`c.FIELD`). On save the amount is read back in the currency the
//! user typed into the record's currency field on the same form, else in
//! that shown currency, by [`fieldwork_core::value::money_to_minor`] (the
//! one reader of typed money for every writer).
//!
//! Guarantees: an amount is never written without knowing its currency
//! (the form then says to type the currency); more decimals than the
//! currency has, or text that is not an amount, is refused next to the
//! field with the core's sentence; nothing is written in that case.

use std::collections::BTreeMap;

use fieldwork_core::RecordKind;
use fieldwork_core::schema::{self, FieldType};
use fieldwork_core::value::money_to_minor;

use super::i18n;

/// Whether `field` of a `kind` record is an amount of money.
pub fn is_money(kind: RecordKind, field: &str) -> bool {
    schema::field(kind, field).is_some_and(|d| d.ty == FieldType::Money)
}

/// The currency an amount typed into money field `field` is in: the one
/// typed into the record's currency field on the same form, else the one
/// the form showed the amount in (`shown`, the `c.FIELD` inputs).
pub fn currency_for(
    kind: RecordKind,
    field: &str,
    inputs: &BTreeMap<String, String>,
    shown: &BTreeMap<String, String>,
) -> Option<String> {
    let typed = schema::currency_field(kind, field)
        .and_then(|c| inputs.get(c))
        .map(|c| c.trim())
        .filter(|c| !c.is_empty());
    typed
        .or_else(|| shown.get(field).map(|c| c.trim()).filter(|c| !c.is_empty()))
        .map(str::to_uppercase)
}

/// `typed`, an amount in major units of `currency` (either decimal mark),
/// as the minor units the API stores; `Err` a sentence for the field.
pub fn to_minor(typed: &str, currency: Option<&str>) -> Result<String, String> {
    let Some(currency) = currency else {
        return Err(i18n::text("Type the currency too: an amount needs its currency.").to_owned());
    };
    money_to_minor(typed, currency)
        .map(|minor| minor.to_string())
        .map_err(|e| e.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_in_the_currency_typed_else_shown() {
        let deal = RecordKind::Deal;
        let inputs = BTreeMap::from([("currency".to_owned(), "huf ".to_owned())]);
        let shown = BTreeMap::from([("amount".to_owned(), "EUR".to_owned())]);
        assert_eq!(
            currency_for(deal, "amount", &inputs, &shown).as_deref(),
            Some("HUF")
        );
        assert_eq!(
            currency_for(deal, "amount", &BTreeMap::new(), &shown).as_deref(),
            Some("EUR")
        );
        assert_eq!(
            currency_for(deal, "amount", &BTreeMap::new(), &BTreeMap::new()),
            None
        );
        assert_eq!(to_minor("1250,50", Some("EUR")).as_deref(), Ok("125050"));
        assert_eq!(to_minor("1250.5", Some("EUR")).as_deref(), Ok("125050"));
        assert!(
            to_minor("12,505", Some("EUR")).is_err(),
            "three decimals in EUR"
        );
        assert!(to_minor("1250", None).is_err(), "no currency");
        assert!(to_minor("lots", Some("EUR")).is_err());
        assert!(is_money(deal, "amount") && !is_money(deal, "name"));
    }
}
