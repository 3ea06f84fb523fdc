//! Stage flow: how records move through an ordered list of stages, from
//! their stage logs. Shared by the deal [`cycle`](super::cycle) and the
//! account [`funnel`](super::funnel).
//!
//! Guarantees:
//! - `entered` counts each record once per stage it ever entered.
//! - Conversion from a stage to the next in the list counts records that
//!   entered the next stage at or after first entering this one.
//! - Time in a stage is measured over completed stays only (an entry
//!   followed by another entry); a record still in a stage is counted in
//!   `open_stays`, never as a zero-length or guessed stay.
//! - Log entries are taken in time order.

use serde::Serialize;

use super::facts::{Facts, StageStep};
use super::query::seconds_between;

/// How records passed through one stage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageFlow {
    /// The stage.
    pub stage: String,
    /// Records that ever entered it.
    pub entered: u64,
    /// The next stage in the list, if any.
    pub next: Option<String>,
    /// Of `entered`, records that later entered `next`.
    pub converted: u64,
    /// converted / entered; absent when nothing entered or there is no next.
    pub conversion: Option<f64>,
    /// Average completed stay, in seconds.
    pub average_seconds: Option<f64>,
    /// Completed stays measured.
    pub completed_stays: u64,
    /// Stays still going on (the record's last entry).
    pub open_stays: u64,
}

#[derive(Default)]
struct Acc {
    entered: u64,
    converted: u64,
    total: i128,
    stays: u64,
    open: u64,
}

/// The flow of `records` through `stages`.
pub fn stage_flow<'a>(
    records: impl IntoIterator<Item = &'a Facts>,
    stages: &[&str],
) -> Vec<StageFlow> {
    let mut acc: Vec<Acc> = stages.iter().map(|_| Acc::default()).collect();
    let rank = |s: &str| stages.iter().position(|x| *x == s);
    for f in records {
        let mut log: Vec<&StageStep> = f.stages.iter().collect();
        log.sort_by_key(|s| s.at);
        let first_entry = |i: usize| log.iter().find(|s| rank(&s.stage) == Some(i)).map(|s| s.at);
        for (i, a) in acc.iter_mut().enumerate() {
            let Some(at) = first_entry(i) else { continue };
            a.entered += 1;
            let next_reached = log
                .iter()
                .any(|s| rank(&s.stage) == Some(i + 1) && s.at >= at);
            if next_reached {
                a.converted += 1;
            }
        }
        for (k, step) in log.iter().enumerate() {
            let Some(i) = rank(&step.stage) else { continue };
            match log.get(k + 1) {
                Some(next) => {
                    acc[i].total += i128::from(seconds_between(step.at, next.at));
                    acc[i].stays += 1;
                }
                None => acc[i].open += 1,
            }
        }
    }
    acc.into_iter()
        .enumerate()
        .map(|(i, a)| {
            let next = stages.get(i + 1).map(|s| (*s).to_owned());
            StageFlow {
                stage: stages[i].to_owned(),
                entered: a.entered,
                conversion: (a.entered > 0 && next.is_some())
                    .then(|| a.converted as f64 / a.entered as f64),
                next,
                converted: a.converted,
                average_seconds: (a.stays > 0).then(|| a.total as f64 / a.stays as f64),
                completed_stays: a.stays,
                open_stays: a.open,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::{deal, with_stages};

    #[test]
    fn a_reopened_deal_counts_each_stay_and_enters_each_stage_once() {
        // negotiation 1 day, won 2 days, reopened into negotiation (open).
        let f = with_stages(
            deal("a", "ann", "negotiation", None),
            &[
                ("negotiation", "2026-01-01T00:00:00Z"),
                ("won", "2026-01-02T00:00:00Z"),
                ("negotiation", "2026-01-04T00:00:00Z"),
            ],
        );
        let flow = stage_flow([&f], &["negotiation", "won"]);
        assert_eq!((flow[0].entered, flow[0].converted), (1, 1));
        assert_eq!(flow[0].conversion, Some(1.0));
        assert_eq!((flow[0].completed_stays, flow[0].open_stays), (1, 1));
        assert_eq!(flow[0].average_seconds, Some(86_400.0));
        assert_eq!(flow[1].average_seconds, Some(2.0 * 86_400.0));
        assert_eq!(flow[1].conversion, None);
    }

    #[test]
    fn no_records_no_conversion() {
        let flow = stage_flow([], &["lead", "prospect"]);
        assert_eq!(flow[0].entered, 0);
        assert_eq!(flow[0].conversion, None);
        assert_eq!(flow[0].average_seconds, None);
    }
}
