//! Win rate, average deal size and sales-cycle length per owner.
//!
//! Guarantees:
//! - Counts deals closed in the period: stage `won` or `lost` with a
//!   `closed_at` in `[from, to)` (without a period, every closed deal,
//!   including one whose `closed_at` is unreadable). A reopened deal has
//!   lost its `closed_at` and an open stage, so it is not counted.
//! - `win_rate` = won / (won + lost), absent when nothing closed.
//! - Average deal size is per currency over won deals with a readable
//!   amount; `won_without_amount` says how many had none.
//! - Sales cycle = `closed_at` minus the first stage-log entry, averaged
//!   over won deals where both are known (`cycle_samples`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::facts::Facts;
use super::money::Amounts;
use super::query::{NONE, ReportQuery, seconds_between};
use super::table::{Table, Tabular, days, percent};
use crate::ids::RecordKind;

/// The closed deals of one owner (or of everyone, `all`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WinRateRow {
    /// The owner, `(none)` when absent, or `all` for the total row.
    pub owner: String,
    /// Deals won in the period.
    pub won: u64,
    /// Deals lost in the period.
    pub lost: u64,
    /// won / (won + lost).
    pub win_rate: Option<f64>,
    /// Sum of won amounts per currency.
    pub won_amount: Amounts,
    /// Won deals without a readable amount or currency.
    pub won_without_amount: u64,
    /// Average won deal size per currency.
    pub average_deal: Amounts,
    /// Average sales cycle of won deals, in seconds.
    pub average_cycle_seconds: Option<f64>,
    /// Won deals whose cycle is known.
    pub cycle_samples: u64,
    #[serde(skip)]
    counts: BTreeMap<String, u64>,
    #[serde(skip)]
    cycle_total: i128,
}

/// The win-rate report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WinRate {
    /// One row per owner, then the `all` row.
    pub rows: Vec<WinRateRow>,
}

impl WinRateRow {
    fn add(&mut self, f: &Facts, won: bool) {
        if !won {
            self.lost += 1;
            return;
        }
        self.won += 1;
        match (f.amount, f.currency.as_deref()) {
            (Some(a), Some(c)) => {
                self.won_amount.add(c, a);
                *self.counts.entry(c.to_owned()).or_insert(0) += 1;
            }
            _ => self.won_without_amount += 1,
        }
        if let (Some(start), Some(end)) = (f.first_seen(), f.closed_at) {
            self.cycle_total += i128::from(seconds_between(start, end));
            self.cycle_samples += 1;
        }
    }

    fn finish(mut self) -> Self {
        let closed = self.won + self.lost;
        self.win_rate = (closed > 0).then(|| self.won as f64 / closed as f64);
        self.average_deal = self.won_amount.divided(&self.counts);
        self.average_cycle_seconds =
            (self.cycle_samples > 0).then(|| self.cycle_total as f64 / self.cycle_samples as f64);
        self
    }
}

/// Computes win rates over `facts`.
pub fn win_rate<'a>(facts: impl IntoIterator<Item = &'a Facts>, q: &ReportQuery) -> WinRate {
    let mut per_owner: BTreeMap<String, WinRateRow> = BTreeMap::new();
    let mut all = WinRateRow {
        owner: "all".into(),
        ..WinRateRow::default()
    };
    for f in facts {
        let won = match f.stage.as_deref() {
            Some("won") => true,
            Some("lost") => false,
            _ => continue,
        };
        if f.kind() != RecordKind::Deal || !q.matches(f) || !q.in_period(f.closed_at) {
            continue;
        }
        let owner = f.owner.clone().unwrap_or_else(|| NONE.to_owned());
        per_owner
            .entry(owner.clone())
            .or_insert_with(|| WinRateRow {
                owner,
                ..WinRateRow::default()
            })
            .add(f, won);
        all.add(f, won);
    }
    let mut rows: Vec<WinRateRow> = per_owner.into_values().map(WinRateRow::finish).collect();
    rows.push(all.finish());
    WinRate { rows }
}

impl Tabular for WinRate {
    fn table(&self) -> Table {
        let mut t = Table::new(&[
            "owner",
            "won",
            "lost",
            "win_rate",
            "won_amount",
            "average_deal",
            "average_cycle_days",
        ]);
        for r in &self.rows {
            t.push(vec![
                r.owner.clone(),
                r.won.to_string(),
                r.lost.to_string(),
                percent(r.win_rate),
                r.won_amount.display(),
                r.average_deal.display(),
                days(r.average_cycle_seconds),
            ]);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::{closed, deal};

    #[test]
    fn a_reopened_deal_is_not_counted_and_nothing_closed_has_no_rate() {
        let q = ReportQuery::new("2026-11-24T00:00:00Z".parse().expect("t"));
        // Reopened: stage back to negotiation, closed_at cleared.
        let reopened = deal("r", "ann", "negotiation", Some((100, "EUR")));
        let w = win_rate(&[reopened], &q);
        assert_eq!(w.rows.len(), 1);
        assert_eq!(
            (w.rows[0].won, w.rows[0].lost, w.rows[0].win_rate),
            (0, 0, None)
        );
    }

    #[test]
    fn averages_are_per_currency_and_cycles_from_the_first_stage() {
        let q = ReportQuery::new("2026-11-24T00:00:00Z".parse().expect("t"));
        let facts = [
            closed(
                deal("a", "ann", "won", Some((1_000, "EUR"))),
                "2026-01-01T00:00:00Z",
                "2026-01-11T00:00:00Z",
            ),
            closed(
                deal("b", "ann", "won", Some((3_000, "EUR"))),
                "2026-01-01T00:00:00Z",
                "2026-01-21T00:00:00Z",
            ),
            closed(
                deal("c", "ann", "won", Some((500, "HUF"))),
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:00Z",
            ),
            closed(
                deal("d", "ann", "lost", Some((7, "EUR"))),
                "2026-01-01T00:00:00Z",
                "2026-01-02T00:00:00Z",
            ),
        ];
        let w = win_rate(&facts, &q);
        let ann = &w.rows[0];
        assert_eq!((ann.won, ann.lost), (3, 1));
        assert_eq!(ann.win_rate, Some(0.75));
        assert_eq!(ann.average_deal.0.get("EUR"), Some(&2_000));
        assert_eq!(ann.average_deal.0.get("HUF"), Some(&500));
        // cycles 10, 20 and 0 days: average 10 days.
        assert_eq!(ann.average_cycle_seconds, Some(10.0 * 86_400.0));
        assert_eq!(w.rows[1].owner, "all");
    }
}
