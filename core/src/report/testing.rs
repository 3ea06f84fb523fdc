//! Fact builders for the report modules' unit tests.

use super::facts::{Facts, StageStep};
use crate::ids::{RecordId, RecordKind};

fn t(s: &str) -> jiff::Timestamp {
    s.parse().expect("instant")
}

fn blank(kind: RecordKind, key: &str, owner: &str) -> Facts {
    Facts {
        id: RecordId::derived(kind, &[key]),
        title: key.to_owned(),
        owner: Some(owner.to_owned()),
        assignee: None,
        territory: None,
        account: None,
        stage: None,
        stages: Vec::new(),
        amount: None,
        currency: None,
        closed_at: None,
        status: None,
        activity_type: None,
        due: None,
        completed_at: None,
        check_in_at: None,
        check_out_at: None,
        check_in: None,
        check_out: None,
        created_at: None,
    }
}

/// A deal in `stage` with an optional (amount, currency).
pub fn deal(key: &str, owner: &str, stage: &str, money: Option<(i64, &str)>) -> Facts {
    let mut f = blank(RecordKind::Deal, key, owner);
    f.stage = Some(stage.to_owned());
    f.amount = money.map(|m| m.0);
    f.currency = money.map(|m| m.1.to_owned());
    f
}

/// `f` created (first stage entry) at `created` and closed at `closed`.
pub fn closed(mut f: Facts, created: &str, closed: &str) -> Facts {
    f.stages = vec![StageStep {
        stage: "qualification".into(),
        at: t(created),
    }];
    f.closed_at = Some(t(closed));
    f
}

/// `f` with this stage log.
pub fn with_stages(mut f: Facts, log: &[(&str, &str)]) -> Facts {
    f.stages = log
        .iter()
        .map(|(s, at)| StageStep {
            stage: (*s).to_owned(),
            at: t(at),
        })
        .collect();
    f
}

/// An activity.
pub fn activity(
    key: &str,
    owner: &str,
    kind: &str,
    status: &str,
    due: Option<&str>,
    completed: Option<&str>,
) -> Facts {
    let mut f = blank(RecordKind::Activity, key, owner);
    f.activity_type = Some(kind.to_owned());
    f.status = Some(status.to_owned());
    f.due = due.map(t);
    f.completed_at = completed.map(t);
    f
}

/// `f` checked in and out at these times.
pub fn checked(mut f: Facts, check_in: Option<&str>, check_out: Option<&str>) -> Facts {
    f.check_in_at = check_in.map(t);
    f.check_out_at = check_out.map(t);
    f
}
