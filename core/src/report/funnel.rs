//! The customer lifecycle funnel over accounts.
//!
//! Guarantees:
//! - Over accounts whose first contact (first stage-log entry, else their
//!   creation time) lies in the period (every account without a period),
//!   matching the owner and territory filters.
//! - `current` counts accounts by their stage now; an account whose stage
//!   is unreadable is counted in `unknown_stage`.
//! - Conversion and time in stage follow [`super::flow`] over the stages
//!   lead → prospect → customer → loyal → churned.
//! - Cohorts group accounts by the local month (query time zone) of their
//!   first contact; accounts with no known first contact are in
//!   `without_first_contact`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::facts::Facts;
use super::flow::{StageFlow, stage_flow};
use super::query::{ReportQuery, month};
use super::table::{Table, Tabular, days, percent};
use crate::error::Result;
use crate::ids::RecordKind;
use crate::schema::ACCOUNT_STAGES;

/// One cohort: the accounts first contacted in one month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cohort {
    /// `YYYY-MM`, local to the query's time zone.
    pub month: String,
    /// Accounts in it.
    pub accounts: u64,
    /// How many of them ever entered each stage.
    pub reached: BTreeMap<String, u64>,
}

/// The funnel report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Funnel {
    /// Accounts considered.
    pub accounts: u64,
    /// Accounts per current stage, in lifecycle order (every stage listed).
    pub current: Vec<(String, u64)>,
    /// Accounts whose stage is unreadable or not a lifecycle stage.
    pub unknown_stage: u64,
    /// Flow through the lifecycle stages.
    pub stages: Vec<StageFlow>,
    /// Cohorts by month of first contact, oldest first.
    pub cohorts: Vec<Cohort>,
    /// Accounts with no known first contact (not in any cohort).
    pub without_first_contact: u64,
}

/// Computes the funnel over `facts`; fails only on an unknown time zone.
pub fn funnel<'a>(facts: impl IntoIterator<Item = &'a Facts>, q: &ReportQuery) -> Result<Funnel> {
    let tz = q.zone()?;
    let accounts: Vec<&Facts> = facts
        .into_iter()
        .filter(|f| f.kind() == RecordKind::Account && q.matches(f) && q.in_period(f.first_seen()))
        .collect();
    let mut current: Vec<(String, u64)> = ACCOUNT_STAGES
        .iter()
        .map(|s| ((*s).to_owned(), 0))
        .collect();
    let mut unknown_stage = 0;
    let mut cohorts: BTreeMap<String, Cohort> = BTreeMap::new();
    let mut without_first_contact = 0;
    for f in &accounts {
        match current
            .iter_mut()
            .find(|(s, _)| Some(s.as_str()) == f.stage.as_deref())
        {
            Some(slot) => slot.1 += 1,
            None => unknown_stage += 1,
        }
        let Some(first) = f.first_seen() else {
            without_first_contact += 1;
            continue;
        };
        let key = month(first, &tz);
        let cohort = cohorts.entry(key.clone()).or_insert_with(|| Cohort {
            month: key,
            accounts: 0,
            reached: ACCOUNT_STAGES
                .iter()
                .map(|s| ((*s).to_owned(), 0))
                .collect(),
        });
        cohort.accounts += 1;
        for stage in ACCOUNT_STAGES {
            if f.stages.iter().any(|s| s.stage == *stage) {
                *cohort.reached.entry((*stage).to_owned()).or_insert(0) += 1;
            }
        }
    }
    Ok(Funnel {
        accounts: accounts.len() as u64,
        current,
        unknown_stage,
        stages: stage_flow(accounts.iter().copied(), ACCOUNT_STAGES),
        cohorts: cohorts.into_values().collect(),
        without_first_contact,
    })
}

impl Tabular for Funnel {
    fn table(&self) -> Table {
        let mut t = Table::new(&[
            "section",
            "key",
            "count",
            "entered",
            "next",
            "conversion",
            "average_days",
            "open_stays",
        ]);
        for (flow, (_, count)) in self.stages.iter().zip(&self.current) {
            t.push(vec![
                "stage".into(),
                flow.stage.clone(),
                count.to_string(),
                flow.entered.to_string(),
                flow.next.clone().unwrap_or_default(),
                percent(flow.conversion),
                days(flow.average_seconds),
                flow.open_stays.to_string(),
            ]);
        }
        for c in &self.cohorts {
            let mut row = vec!["cohort".into(), c.month.clone(), c.accounts.to_string()];
            let reached: Vec<String> = ACCOUNT_STAGES
                .iter()
                .map(|s| format!("{s}:{}", c.reached.get(*s).copied().unwrap_or(0)))
                .collect();
            row.push(reached.join(" "));
            t.push(row);
        }
        t
    }
}
