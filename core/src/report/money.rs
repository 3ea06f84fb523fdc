//! Money sums kept per currency.
//!
//! Guarantees:
//! - Amounts of different currencies are never added together; a total is
//!   a map from currency to minor units.
//! - Sums saturate at the `i64` bounds instead of overflowing (amounts are
//!   at most 10^15 each, so this needs over 9,000 maximal amounts).
//! - A conversion ([`Converted`]) is computed only from a rates table the
//!   caller passes, and says which currencies it could not convert.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::query::Rates;

/// Minor units per currency code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Amounts(pub BTreeMap<String, i64>);

impl Amounts {
    /// Adds `minor` units of `currency`, saturating.
    pub fn add(&mut self, currency: &str, minor: i64) {
        let slot = self.0.entry(currency.to_owned()).or_insert(0);
        *slot = slot.saturating_add(minor);
    }

    /// Adds every currency of `other`.
    pub fn merge(&mut self, other: &Amounts) {
        for (c, v) in &other.0 {
            self.add(c, *v);
        }
    }

    /// Each currency's amount times `percent` / 100, rounded half away from
    /// zero.
    pub fn weighted(&self, percent: u8) -> Amounts {
        let weigh = |v: i64| {
            let scaled = i128::from(v) * i128::from(percent);
            let rounded = (scaled + 50 * scaled.signum()) / 100;
            i64::try_from(rounded).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
        };
        Amounts(self.0.iter().map(|(c, v)| (c.clone(), weigh(*v))).collect())
    }

    /// Each currency's amount divided by `count` (rounded toward zero), for
    /// averages; empty when `count` is 0.
    pub fn divided(&self, counts: &BTreeMap<String, u64>) -> Amounts {
        Amounts(
            self.0
                .iter()
                .filter_map(|(c, v)| {
                    let n = i64::try_from(*counts.get(c)?).ok().filter(|n| *n > 0)?;
                    Some((c.clone(), v / n))
                })
                .collect(),
        )
    }

    /// Whether no amount was added.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A readable rendering: `1250.50 EUR, 400000.00 HUF`.
    pub fn display(&self) -> String {
        self.0
            .iter()
            .map(|(c, v)| crate::value::format_money(*v, c))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Amounts converted into one currency with a rates table: labelled as
/// converted, never mixed into the per-currency sums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Converted {
    /// The target currency.
    pub currency: String,
    /// The converted total in its minor units.
    pub amount: i64,
    /// Currencies left out for want of a rate.
    pub unconverted: Vec<String>,
}

impl Converted {
    /// Converts `amounts` with `rates`, if rates are given.
    pub fn of(amounts: &Amounts, rates: Option<&Rates>) -> Option<Converted> {
        let rates = rates?;
        let mut out = Converted {
            currency: rates.target.clone(),
            amount: 0,
            unconverted: Vec::new(),
        };
        for (currency, minor) in &amounts.0 {
            match rates.convert(*minor, currency) {
                Some(v) => out.amount = out.amount.saturating_add(v),
                None => out.unconverted.push(currency.clone()),
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_never_summed_together_and_sums_saturate() {
        let mut a = Amounts::default();
        a.add("EUR", 100);
        a.add("HUF", 5_000);
        a.add("EUR", 50);
        assert_eq!(a.0.get("EUR"), Some(&150));
        assert_eq!(a.0.get("HUF"), Some(&5_000));
        a.add("EUR", i64::MAX);
        assert_eq!(a.0.get("EUR"), Some(&i64::MAX));
    }

    #[test]
    fn weighting_rounds_half_away_from_zero() {
        let mut a = Amounts::default();
        a.add("EUR", 15); // 15 * 10 % = 1.5 -> 2
        a.add("HUF", -15);
        let w = a.weighted(10);
        assert_eq!(w.0.get("EUR"), Some(&2));
        assert_eq!(w.0.get("HUF"), Some(&-2));
        let mut big = Amounts::default();
        big.add("EUR", i64::MAX);
        assert_eq!(big.weighted(100).0.get("EUR"), Some(&i64::MAX));
    }
}
