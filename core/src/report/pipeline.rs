//! The pipeline: open deals by stage.
//!
//! Guarantees:
//! - Counts deals that are open now: they have a stage and it is not `won`
//!   or `lost`. Rows follow the query's stage order
//!   ([`ReportQuery::deal_stages`], the organisation's); a stage outside it
//!   (removed from the list since) is counted under its own name, after
//!   the listed ones. With a period, only deals whose `expected_close` lies in it
//!   (a deal without one is then left out).
//! - Amounts are summed per currency; a deal without a readable `amount` or
//!   `currency` counts in `count` and in `without_amount`, never as zero.
//! - Weighted amounts use [`StageWeights`](super::StageWeights), applied to
//!   each stage's per-currency sum.

use std::collections::BTreeMap;

use serde::Serialize;

use super::facts::Facts;
use super::money::{Amounts, Converted};
use super::query::ReportQuery;
use super::table::{Table, Tabular};
use crate::ids::RecordKind;

/// One stage of one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PipelineRow {
    /// The group (owner, territory, or `all`).
    pub group: String,
    /// The deal stage.
    pub stage: String,
    /// Open deals in it.
    pub count: u64,
    /// Of those, deals without a readable amount or currency.
    pub without_amount: u64,
    /// Sum of amounts per currency.
    pub amount: Amounts,
    /// The stage's weight in percent.
    pub weight_percent: u8,
    /// `amount` times the weight, per currency.
    pub weighted: Amounts,
    /// `amount` converted with the query's rates, if given.
    pub converted: Option<Converted>,
    /// `weighted` converted with the query's rates, if given.
    pub weighted_converted: Option<Converted>,
}

/// The pipeline report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pipeline {
    /// One row per (group, open stage) with at least one deal, stages in
    /// pipeline order.
    pub rows: Vec<PipelineRow>,
}

/// Whether a deal stage is open.
pub fn is_open(stage: &str) -> bool {
    stage != "won" && stage != "lost"
}

/// Computes the pipeline over `facts`.
pub fn pipeline<'a>(facts: impl IntoIterator<Item = &'a Facts>, q: &ReportQuery) -> Pipeline {
    // Keyed by group, the stage's place in `q.deal_stages` (a stage not in
    // it after them) and its name.
    let mut groups: BTreeMap<(String, usize, String), (u64, u64, Amounts)> = BTreeMap::new();
    let period = q.from.is_some() || q.to.is_some();
    for f in facts {
        if f.kind() != RecordKind::Deal || !q.matches(f) || (period && !q.in_period(f.due)) {
            continue;
        }
        let Some(stage) = f.stage.as_deref().filter(|s| is_open(s)) else {
            continue;
        };
        let rank = q
            .deal_stages
            .iter()
            .position(|s| s == stage)
            .unwrap_or(usize::MAX);
        let entry = groups
            .entry((q.group_of(f), rank, stage.to_owned()))
            .or_default();
        entry.0 += 1;
        match (f.amount, f.currency.as_deref()) {
            (Some(a), Some(c)) => entry.2.add(c, a),
            _ => entry.1 += 1,
        }
    }
    let rows = groups
        .into_iter()
        .map(|((group, _, stage), (count, without_amount, amount))| {
            let weight_percent = q.weights.percent(&stage);
            let weighted = amount.weighted(weight_percent);
            PipelineRow {
                converted: Converted::of(&amount, q.rates.as_ref()),
                weighted_converted: Converted::of(&weighted, q.rates.as_ref()),
                group,
                stage,
                count,
                without_amount,
                amount,
                weight_percent,
                weighted,
            }
        })
        .collect();
    Pipeline { rows }
}

impl Tabular for Pipeline {
    fn table(&self) -> Table {
        let mut t = Table::new(&[
            "group",
            "stage",
            "count",
            "without_amount",
            "amount",
            "weight",
            "weighted",
            "converted",
        ]);
        for r in &self.rows {
            t.push(vec![
                r.group.clone(),
                r.stage.clone(),
                r.count.to_string(),
                r.without_amount.to_string(),
                r.amount.display(),
                format!("{}%", r.weight_percent),
                r.weighted.display(),
                r.converted
                    .as_ref()
                    .map(|c| {
                        format!(
                            "{} (converted)",
                            crate::value::format_money(c.amount, &c.currency)
                        )
                    })
                    .unwrap_or_default(),
            ]);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::deal;

    #[test]
    fn no_data_gives_no_rows() {
        let q = ReportQuery::new("2026-11-24T00:00:00Z".parse().expect("t"));
        assert!(pipeline(&[], &q).rows.is_empty());
    }

    #[test]
    fn missing_amounts_count_but_are_not_summed_and_currencies_stay_apart() {
        let q = ReportQuery::new("2026-11-24T00:00:00Z".parse().expect("t"));
        let facts = [
            deal("a", "ann", "proposal", Some((1_000, "EUR"))),
            deal("b", "ann", "proposal", Some((2_000, "HUF"))),
            deal("c", "ann", "proposal", None),
            deal("d", "ann", "won", Some((9_999, "EUR"))),
        ];
        let p = pipeline(&facts, &q);
        assert_eq!(p.rows.len(), 1);
        let r = &p.rows[0];
        assert_eq!((r.count, r.without_amount), (3, 1));
        assert_eq!(r.amount.0.get("EUR"), Some(&1_000));
        assert_eq!(r.amount.0.get("HUF"), Some(&2_000));
        // proposal weighs 30 %: 300 EUR cents, 600 HUF fillér.
        assert_eq!(r.weighted.0.get("EUR"), Some(&300));
        assert_eq!(r.weighted.0.get("HUF"), Some(&600));
        assert!(r.converted.is_none());
    }

    #[test]
    fn rows_follow_the_querys_stages_and_a_removed_stage_keeps_its_name() {
        let mut q = ReportQuery::new("2026-11-24T00:00:00Z".parse().expect("t"));
        q.deal_stages = ["demo", "qualification", "won", "lost"]
            .map(String::from)
            .to_vec();
        q.weights.0.insert("demo".into(), 15);
        let facts = [
            deal("a", "ann", "qualification", None),
            deal("b", "ann", "negotiation", Some((1_000, "EUR"))),
            deal("c", "ann", "demo", Some((2_000, "EUR"))),
            deal("d", "ann", "lost", None),
        ];
        let p = pipeline(&facts, &q);
        let stages: Vec<(&str, u8)> = p
            .rows
            .iter()
            .map(|r| (r.stage.as_str(), r.weight_percent))
            .collect();
        assert_eq!(
            stages,
            [("demo", 15), ("qualification", 10), ("negotiation", 60)]
        );
        assert_eq!(p.rows[0].weighted.0.get("EUR"), Some(&300));
    }
}
