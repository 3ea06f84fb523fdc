//! The one rule book for record content: what a write implies, which
//! combinations of values a record may hold, and which territory decides
//! who sees it.
//!
//! Every host that writes or accepts records asks this module: the device
//! store's write path ([`crate::store`]), the server's process host and the
//! server's push checks. The functions are pure (no I/O, no clock, no
//! policy), so the same inputs give the same answer on every replica.
//!
//! Guarantees:
//! - [`system_writes`] is the only definition of the system fields a write
//!   implies: a stage history entry is appended only when the stage really
//!   changes; a deal moved to `won` or `lost` gets `closed_at`, a reopened
//!   deal loses it; an activity marked `done` gets `completed_at`, one moved
//!   away from `done` loses it. A write that changes nothing implies nothing.
//! - [`violations`] is the only list of content rules: required fields, and
//!   the cross-field rules (an amount needs a currency, a credit limit needs
//!   its currency, a lost deal needs a reason, check-out and due times are
//!   not before check-in and start times, coordinates come in pairs, a
//!   relationship does not point at itself, a target is for someone and a
//!   revenue target has a currency). [`check_record`] refuses a
//!   record that breaks any of them; [`check_transition`] refuses a change
//!   that makes one of them newly fail, so a record already broken by
//!   concurrent edits can still be edited (and repaired).
//! - [`parent_account`] and [`territory_of`] are the only definition of
//!   territory inheritance: an account carries its own territory, every other
//!   record inherits its parent account's (a relationship's parent is its
//!   `account`, else its `from` when that is an account).
//! - Nothing here panics on any input: malformed values simply do not match
//!   a rule's conditions.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::error::ValidationError;
use crate::ids::{RecordId, RecordKind};
use crate::schema;
use crate::value::FieldValue;

/// A record's fields by name, as merged from its class documents.
pub type Fields = BTreeMap<String, FieldValue>;

/// A system write implied by a user's (or the engine's) write.
#[derive(Debug, Clone, PartialEq)]
pub enum SystemWrite {
    /// Set (`Some`) or clear (`None`) a system field.
    Set {
        /// The field.
        field: &'static str,
        /// Its new value.
        value: Option<FieldValue>,
    },
    /// Append `{stage, at: now}` to a stage log.
    AppendStage {
        /// The stage log field.
        field: &'static str,
        /// The stage entered.
        stage: String,
    },
}

impl SystemWrite {
    /// The field this write touches.
    pub fn field(&self) -> &'static str {
        match self {
            SystemWrite::Set { field, .. } | SystemWrite::AppendStage { field, .. } => field,
        }
    }
}

/// The system writes implied by changing a record of `kind` from `before`
/// to `after` at `now` (fields missing from a map are unset).
///
/// Only fields that really change count: writing a stage equal to the
/// current one appends no history entry.
pub fn system_writes(
    kind: RecordKind,
    before: &Fields,
    after: &Fields,
    now: Timestamp,
) -> Vec<SystemWrite> {
    let mut out = Vec::new();
    let changed = |f: &str| before.get(f) != after.get(f);
    let text = |f: &str| after.get(f).and_then(FieldValue::as_text);
    let stamp = || Some(FieldValue::Text(now.to_string()));
    if matches!(kind, RecordKind::Account | RecordKind::Deal)
        && changed("stage")
        && let Some(stage) = text("stage")
    {
        out.push(SystemWrite::AppendStage {
            field: "stage_history",
            stage: stage.to_owned(),
        });
        if kind == RecordKind::Deal {
            let closed = stage == "won" || stage == "lost";
            let was_closed = before.contains_key("closed_at");
            if closed && !was_closed {
                out.push(SystemWrite::Set {
                    field: "closed_at",
                    value: stamp(),
                });
            } else if !closed && was_closed {
                out.push(SystemWrite::Set {
                    field: "closed_at",
                    value: None,
                });
            }
        }
    }
    if kind == RecordKind::Activity && changed("status") {
        let done = text("status") == Some("done");
        let was_done = before.contains_key("completed_at");
        if done && !was_done {
            out.push(SystemWrite::Set {
                field: "completed_at",
                value: stamp(),
            });
        } else if !done && was_done {
            out.push(SystemWrite::Set {
                field: "completed_at",
                value: None,
            });
        }
    }
    out
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule's stable name, e.g. `deal.currency_with_amount` or
    /// `required`.
    pub rule: &'static str,
    /// The field to fix.
    pub field: String,
    /// What is wrong, in words a user understands.
    pub message: String,
}

impl From<Violation> for ValidationError {
    fn from(v: Violation) -> Self {
        ValidationError::field(&v.field, v.message)
    }
}

/// The rule name of a missing required field.
pub const REQUIRED: &str = "required";

fn violation(rule: &'static str, field: &str, message: impl Into<String>) -> Violation {
    Violation {
        rule,
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Every rule a record of `kind` with `fields` breaks, in a fixed order.
pub fn violations(kind: RecordKind, fields: &Fields) -> Vec<Violation> {
    let mut out = Vec::new();
    let has = |f: &str| fields.contains_key(f);
    let text = |f: &str| fields.get(f).and_then(FieldValue::as_text);
    let time = |f: &str| text(f).and_then(|t| t.parse::<Timestamp>().ok());
    for def in schema::fields(kind).iter().filter(|d| d.required) {
        if !has(def.name) {
            out.push(violation(REQUIRED, def.name, "is required"));
        }
    }
    match kind {
        RecordKind::Deal => {
            if has("amount") && !has("currency") {
                out.push(violation(
                    "deal.currency_with_amount",
                    "currency",
                    "is required when an amount is set",
                ));
            }
            if text("stage") == Some("lost") && !has("close_reason") {
                out.push(violation(
                    "deal.close_reason_when_lost",
                    "close_reason",
                    "is required when a deal is lost",
                ));
            }
        }
        RecordKind::Account if has("credit_limit") && !has("credit_currency") => {
            out.push(violation(
                "account.credit_currency_with_limit",
                "credit_currency",
                "is required when a credit limit is set",
            ));
        }
        RecordKind::Activity => {
            for (rule, a, b) in [
                (
                    "activity.check_out_after_check_in",
                    "check_in_at",
                    "check_out_at",
                ),
                ("activity.due_after_start", "starts_at", "due_at"),
            ] {
                if let (Some(x), Some(y)) = (time(a), time(b))
                    && y < x
                {
                    out.push(violation(rule, b, format!("is before `{a}`")));
                }
            }
            for (rule, lat, lon) in [
                ("activity.check_in_position", "check_in_lat", "check_in_lon"),
                (
                    "activity.check_out_position",
                    "check_out_lat",
                    "check_out_lon",
                ),
            ] {
                if has(lat) != has(lon) {
                    out.push(violation(
                        rule,
                        lat,
                        format!("`{lat}` and `{lon}` go together"),
                    ));
                }
            }
        }
        RecordKind::Target => {
            if text("metric") == Some("revenue_won") && !has("currency") {
                out.push(violation(
                    "target.currency_for_revenue",
                    "currency",
                    "is required for a revenue target",
                ));
            }
            if !has("assignee") && !has("territory") {
                out.push(violation(
                    "target.whose",
                    "assignee",
                    "a target is for a person (`assignee`) or a territory (`territory`)",
                ));
            }
        }
        RecordKind::Relationship if text("from").is_some() && text("from") == text("to") => {
            out.push(violation(
                "relationship.not_to_itself",
                "to",
                "a record cannot be related to itself",
            ));
        }
        _ => {}
    }
    out
}

/// Checks a whole record (a new one, or one a host is about to create): the
/// first broken rule, if any.
pub fn check_record(kind: RecordKind, fields: &Fields) -> Result<(), ValidationError> {
    match violations(kind, fields).into_iter().next() {
        Some(v) => Err(v.into()),
        None => Ok(()),
    }
}

/// Checks a change of a record from `before` to `after`: refuses it when it
/// makes a rule fail that did not fail before. A rule already broken before
/// (two people's concurrent edits merged into a combination neither wrote)
/// does not block unrelated edits.
///
/// `creating(field)` says whether `field` is being created by this change
/// (its class document is new), so that a missing required field of that
/// document counts as newly missing: a document must be created with its
/// required fields.
pub fn check_transition(
    kind: RecordKind,
    before: &Fields,
    after: &Fields,
    creating: impl Fn(&str) -> bool,
) -> Result<(), Violation> {
    let old = violations(kind, before);
    for v in violations(kind, after) {
        let new_required = v.rule == REQUIRED && creating(&v.field);
        if new_required || !old.contains(&v) {
            return Err(v);
        }
    }
    Ok(())
}

/// The account whose territory a record of `kind` with `fields` inherits:
/// none for accounts; a relationship's `account`, else its `from` when that
/// names an account; every other record's `account`.
pub fn parent_account(kind: RecordKind, fields: &Fields) -> Option<RecordId> {
    let account = |f: &str| {
        fields
            .get(f)
            .and_then(FieldValue::as_text)
            .and_then(|t| t.parse::<RecordId>().ok())
            .filter(|id| id.kind() == RecordKind::Account)
    };
    match kind {
        RecordKind::Account => None,
        RecordKind::Relationship => account("account").or_else(|| account("from")),
        _ => account("account"),
    }
}

/// The territory that decides who sees a record of `kind`: an account's own
/// `territory`, otherwise the territory of its parent account
/// (`account_territory`, `None` when it has no parent or the parent has no
/// territory). A target carries its own territory too (a team target, seen
/// by everyone in it). Another kind's own `territory` value, if any, is
/// ignored.
pub fn territory_of(
    kind: RecordKind,
    own: Option<&str>,
    account_territory: Option<&str>,
) -> Option<String> {
    match kind {
        RecordKind::Account | RecordKind::Target => own.map(str::to_owned),
        _ => account_territory.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, FieldValue)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn t(s: &str) -> FieldValue {
        FieldValue::Text(s.to_owned())
    }

    fn now() -> Timestamp {
        "2026-11-30T12:00:00Z".parse().expect("time")
    }

    fn account_id() -> String {
        RecordId::new_random(RecordKind::Account).to_string()
    }

    fn deal(extra: &[(&str, FieldValue)]) -> Fields {
        let mut f = fields(&[
            ("name", t("Boilers")),
            ("account", t(&account_id())),
            ("stage", t("qualification")),
        ]);
        f.extend(fields(extra));
        f
    }

    fn activity(extra: &[(&str, FieldValue)]) -> Fields {
        let mut f = fields(&[
            ("type", t("call")),
            ("subject", t("Call Ana")),
            ("status", t("planned")),
        ]);
        f.extend(fields(extra));
        f
    }

    fn rules_of(kind: RecordKind, f: &Fields) -> Vec<&'static str> {
        violations(kind, f).into_iter().map(|v| v.rule).collect()
    }

    #[test]
    fn stage_history_only_when_the_stage_changes() {
        let before = deal(&[]);
        let same = system_writes(RecordKind::Deal, &before, &before.clone(), now());
        assert!(same.is_empty(), "same stage: nothing implied, got {same:?}");
        let after = deal(&[("stage", t("proposal"))]);
        assert_eq!(
            system_writes(RecordKind::Deal, &before, &after, now()),
            vec![SystemWrite::AppendStage {
                field: "stage_history",
                stage: "proposal".into()
            }]
        );
        let acc_before = fields(&[("name", t("Szőke")), ("stage", t("lead"))]);
        let acc_after = fields(&[("name", t("Szőke")), ("stage", t("customer"))]);
        assert_eq!(
            system_writes(RecordKind::Account, &acc_before, &acc_after, now()),
            vec![SystemWrite::AppendStage {
                field: "stage_history",
                stage: "customer".into()
            }]
        );
        // Contacts have no stage log.
        let c = fields(&[("stage", t("x"))]);
        assert!(system_writes(RecordKind::Contact, &Fields::new(), &c, now()).is_empty());
    }

    #[test]
    fn deals_won_lost_and_reopened_set_and_clear_closed_at() {
        let open = deal(&[]);
        let won = deal(&[("stage", t("won"))]);
        let w = system_writes(RecordKind::Deal, &open, &won, now());
        assert_eq!(
            w[1],
            SystemWrite::Set {
                field: "closed_at",
                value: Some(t(&now().to_string()))
            }
        );
        // won -> lost: already closed, closed_at kept as it is.
        let mut won_closed = won.clone();
        won_closed.insert("closed_at".into(), t("2026-01-01T00:00:00Z"));
        let mut lost = won_closed.clone();
        lost.insert("stage".into(), t("lost"));
        let l = system_writes(RecordKind::Deal, &won_closed, &lost, now());
        assert_eq!(l.len(), 1, "only the stage log: {l:?}");
        assert_eq!(l[0].field(), "stage_history");
        // lost -> negotiation: reopened, closed_at cleared.
        let mut reopened = lost.clone();
        reopened.insert("stage".into(), t("negotiation"));
        let r = system_writes(RecordKind::Deal, &lost, &reopened, now());
        assert_eq!(
            r[1],
            SystemWrite::Set {
                field: "closed_at",
                value: None
            }
        );
    }

    #[test]
    fn activities_done_and_reopened_set_and_clear_completed_at() {
        let planned = activity(&[]);
        let done = activity(&[("status", t("done"))]);
        assert_eq!(
            system_writes(RecordKind::Activity, &planned, &done, now()),
            vec![SystemWrite::Set {
                field: "completed_at",
                value: Some(t(&now().to_string()))
            }]
        );
        let mut done_at = done.clone();
        done_at.insert("completed_at".into(), t("2026-01-01T00:00:00Z"));
        let mut reopened = done_at.clone();
        reopened.insert("status".into(), t("planned"));
        assert_eq!(
            system_writes(RecordKind::Activity, &done_at, &reopened, now()),
            vec![SystemWrite::Set {
                field: "completed_at",
                value: None
            }]
        );
        // Writing `done` again to a done activity implies nothing.
        assert!(system_writes(RecordKind::Activity, &done_at, &done_at.clone(), now()).is_empty());
    }

    #[test]
    fn required_fields() {
        assert!(check_record(RecordKind::Deal, &deal(&[])).is_ok());
        let mut no_name = deal(&[]);
        no_name.remove("name");
        let e = check_record(RecordKind::Deal, &no_name).expect_err("name is required");
        assert_eq!(e.field.as_deref(), Some("name"));
        assert_eq!(rules_of(RecordKind::Deal, &no_name), vec![REQUIRED]);
    }

    #[test]
    fn an_amount_needs_a_currency() {
        let bad = deal(&[("amount", FieldValue::Int(100))]);
        assert_eq!(
            rules_of(RecordKind::Deal, &bad),
            vec!["deal.currency_with_amount"]
        );
        let e = check_record(RecordKind::Deal, &bad).expect_err("refused");
        assert_eq!(e.field.as_deref(), Some("currency"));
        let good = deal(&[("amount", FieldValue::Int(100)), ("currency", t("EUR"))]);
        assert!(check_record(RecordKind::Deal, &good).is_ok());
        assert!(check_record(RecordKind::Deal, &deal(&[("currency", t("EUR"))])).is_ok());
    }

    #[test]
    fn a_lost_deal_needs_a_reason() {
        let bad = deal(&[("stage", t("lost"))]);
        assert_eq!(
            rules_of(RecordKind::Deal, &bad),
            vec!["deal.close_reason_when_lost"]
        );
        let good = deal(&[("stage", t("lost")), ("close_reason", t("price"))]);
        assert!(check_record(RecordKind::Deal, &good).is_ok());
    }

    #[test]
    fn a_target_is_for_someone_and_a_revenue_target_has_a_currency() {
        let base = fields(&[
            ("metric", t("revenue_won")),
            ("period", t("month")),
            ("goal", FieldValue::Int(500_000)),
        ]);
        assert_eq!(
            rules_of(RecordKind::Target, &base),
            vec!["target.currency_for_revenue", "target.whose"]
        );
        let mut good = base.clone();
        good.insert("currency".into(), t("EUR"));
        good.insert("territory".into(), t("north"));
        assert!(check_record(RecordKind::Target, &good).is_ok());
        let mut visits = good.clone();
        visits.insert("metric".into(), t("visits"));
        visits.remove("currency");
        assert!(check_record(RecordKind::Target, &visits).is_ok());
    }

    #[test]
    fn a_credit_limit_needs_its_currency() {
        let base = fields(&[("name", t("Szőke")), ("stage", t("lead"))]);
        let mut bad = base.clone();
        bad.insert("credit_limit".into(), FieldValue::Int(5000));
        assert_eq!(
            rules_of(RecordKind::Account, &bad),
            vec!["account.credit_currency_with_limit"]
        );
        let mut good = bad.clone();
        good.insert("credit_currency".into(), t("HUF"));
        assert!(check_record(RecordKind::Account, &good).is_ok());
    }

    #[test]
    fn times_are_ordered() {
        let ok = activity(&[
            ("check_in_at", t("2026-11-30T09:00:00Z")),
            ("check_out_at", t("2026-11-30T10:00:00Z")),
            ("starts_at", t("2026-11-30T09:00:00Z")),
            ("due_at", t("2026-11-30T09:00:00Z")),
        ]);
        assert!(check_record(RecordKind::Activity, &ok).is_ok());
        let out_before_in = activity(&[
            ("check_in_at", t("2026-11-30T10:00:00Z")),
            ("check_out_at", t("2026-11-30T09:00:00Z")),
        ]);
        assert_eq!(
            rules_of(RecordKind::Activity, &out_before_in),
            vec!["activity.check_out_after_check_in"]
        );
        let due_before_start = activity(&[
            ("starts_at", t("2026-11-30T10:00:00Z")),
            ("due_at", t("2026-11-30T09:00:00Z")),
        ]);
        let e = check_record(RecordKind::Activity, &due_before_start).expect_err("refused");
        assert_eq!(e.field.as_deref(), Some("due_at"));
        // Unparseable times match no rule (the schema refuses them elsewhere).
        let garbage = activity(&[("starts_at", t("soon")), ("due_at", t("later"))]);
        assert!(check_record(RecordKind::Activity, &garbage).is_ok());
    }

    #[test]
    fn coordinates_come_in_pairs() {
        let half = activity(&[("check_in_lat", FieldValue::Float(47.5))]);
        assert_eq!(
            rules_of(RecordKind::Activity, &half),
            vec!["activity.check_in_position"]
        );
        let other_half = activity(&[("check_out_lon", FieldValue::Float(19.0))]);
        assert_eq!(
            rules_of(RecordKind::Activity, &other_half),
            vec!["activity.check_out_position"]
        );
        let both = activity(&[
            ("check_in_lat", FieldValue::Float(47.5)),
            ("check_in_lon", FieldValue::Float(19.0)),
        ]);
        assert!(check_record(RecordKind::Activity, &both).is_ok());
    }

    #[test]
    fn a_relationship_does_not_point_at_itself() {
        let a = account_id();
        let selfish = fields(&[("type", t("partner")), ("from", t(&a)), ("to", t(&a))]);
        assert_eq!(
            rules_of(RecordKind::Relationship, &selfish),
            vec!["relationship.not_to_itself"]
        );
        let fine = fields(&[
            ("type", t("partner")),
            ("from", t(&a)),
            ("to", t(&account_id())),
        ]);
        assert!(check_record(RecordKind::Relationship, &fine).is_ok());
    }

    #[test]
    fn transitions_refuse_only_newly_broken_rules() {
        let before = deal(&[]);
        let after = deal(&[("amount", FieldValue::Int(5))]);
        let v = check_transition(RecordKind::Deal, &before, &after, |_| false)
            .expect_err("newly broken");
        assert_eq!(v.rule, "deal.currency_with_amount");
        // Already broken (concurrent edits): an unrelated edit passes, and so
        // does the repair.
        let mut renamed = after.clone();
        renamed.insert("name".into(), t("Boilers 2"));
        assert!(check_transition(RecordKind::Deal, &after, &renamed, |_| false).is_ok());
        let mut repaired = after.clone();
        repaired.insert("currency".into(), t("EUR"));
        assert!(check_transition(RecordKind::Deal, &after, &repaired, |_| false).is_ok());
        // A missing required field is refused only when it is being created
        // (or newly cleared).
        let partial = fields(&[("amount", FieldValue::Int(5)), ("currency", t("EUR"))]);
        assert!(check_transition(RecordKind::Deal, &Fields::new(), &partial, |_| false).is_ok());
        let v = check_transition(RecordKind::Deal, &Fields::new(), &partial, |f| f == "name")
            .expect_err("created without its name");
        assert_eq!((v.rule, v.field.as_str()), (REQUIRED, "name"));
        let mut cleared = before.clone();
        cleared.remove("name");
        assert!(check_transition(RecordKind::Deal, &before, &cleared, |_| false).is_err());
    }

    #[test]
    fn territory_inheritance() {
        let acc = account_id();
        let contact = RecordId::new_random(RecordKind::Contact).to_string();
        // Accounts carry their own territory and have no parent.
        let a = fields(&[("territory", t("madrid")), ("account", t(&acc))]);
        assert_eq!(parent_account(RecordKind::Account, &a), None);
        assert_eq!(
            territory_of(RecordKind::Account, Some("madrid"), Some("sevilla")),
            Some("madrid".into())
        );
        // Children inherit their account's, whatever they hold themselves.
        for kind in [
            RecordKind::Contact,
            RecordKind::Deal,
            RecordKind::Activity,
            RecordKind::Note,
            RecordKind::ProcessInstance,
        ] {
            let f = fields(&[("account", t(&acc))]);
            assert_eq!(
                parent_account(kind, &f).map(|r| r.to_string()),
                Some(acc.clone())
            );
            assert_eq!(
                territory_of(kind, Some("elsewhere"), Some("madrid")),
                Some("madrid".into())
            );
            assert_eq!(territory_of(kind, Some("elsewhere"), None), None);
        }
        // A relationship: its account, else its `from` when that is an account.
        let from_account = fields(&[("from", t(&acc)), ("to", t(&contact))]);
        assert_eq!(
            parent_account(RecordKind::Relationship, &from_account).map(|r| r.to_string()),
            Some(acc.clone())
        );
        let other = account_id();
        let both = fields(&[("account", t(&other)), ("from", t(&acc))]);
        assert_eq!(
            parent_account(RecordKind::Relationship, &both).map(|r| r.to_string()),
            Some(other)
        );
        let from_contact = fields(&[("from", t(&contact)), ("to", t(&acc))]);
        assert_eq!(
            parent_account(RecordKind::Relationship, &from_contact),
            None
        );
        // Not an account id, or not an id at all: no parent.
        let bad = fields(&[("account", t(&contact))]);
        assert_eq!(parent_account(RecordKind::Deal, &bad), None);
        let junk = fields(&[("account", t("not an id")), ("from", FieldValue::Int(3))]);
        assert_eq!(parent_account(RecordKind::Relationship, &junk), None);
    }
}
