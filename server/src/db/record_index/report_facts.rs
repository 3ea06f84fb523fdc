//! Report inputs from the index: the [`Facts`] of the records an API caller
//! sees, built from `record_fields` rows without opening a document, for
//! the core's report engine ([`fieldwork_core::report`]).
//!
//! Guarantees:
//! - **Only what the caller reads.** A record is read only when the caller
//!   sees it ([`sql_visible`]), only through the classes the caller may
//!   read ([`readable_classes`]), and only when it is not archived
//!   ([`archived::condition`]). A child inherits its account's territory
//!   only when the caller sees that account (as on a device, which holds
//!   only the accounts its user sees); `created_at` is the first time the
//!   server stored a change of one of the record's readable documents.
//! - **The device's facts.** Each record goes through the same
//!   [`Facts::of`] as on a device, then is brought to the precision of
//!   the device's index: times in whole seconds, stage logs as the index
//!   encodes them ([`encode_stages`]/[`decode_stages`]).
//! - **Pre-filters only narrow.** The owner, territory, period and
//!   activity type conditions ([`FactsScope`]) keep every record the
//!   report's own filters keep (the report applies them again), so they
//!   change the work, never a result.
//! - **Bounded.** At most [`MAX_FACT_ROWS`] field rows are read for one
//!   report; beyond that the answer is [`Loaded::TooMany`], never a
//!   partial result.
//! - User text (owner, territory, account id) reaches SQL only as
//!   parameters.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use fieldwork_core::report::Facts;
use fieldwork_core::report::facts::{decode_stages, encode_stages};
use fieldwork_core::schema;
use fieldwork_core::{Access, FieldValue, Record, RecordId, RecordKind};
use jiff::Timestamp;
use rusqlite::Connection;
use rusqlite::types::Value;

use super::{Archived, archived, readable_classes, sql_visible};
use crate::error::{Result, ServerError};

/// Most `record_fields` rows read for one report.
pub const MAX_FACT_ROWS: usize = 500_000;

/// The fields [`Facts::of`] reads (besides each kind's title field): only
/// these rows are loaded.
const FACT_FIELDS: &[&str] = &[
    "owner",
    "assignee",
    "territory",
    "account",
    "from",
    "stage",
    "stage_history",
    "amount",
    "currency",
    "closed_at",
    "status",
    "type",
    "due_at",
    "starts_at",
    "expected_close",
    "completed_at",
    "check_in_at",
    "check_out_at",
    "check_in_lat",
    "check_in_lon",
    "check_out_lat",
    "check_out_lon",
    "first_name",
    "last_name",
];

/// Which records a report reads.
#[derive(Debug, Clone, Default)]
pub struct FactsScope {
    /// The kinds of record (none: nothing is read).
    pub kinds: Vec<RecordKind>,
    /// Only records this user is responsible for (assignee, else owner).
    pub owner: Option<String>,
    /// Only records whose own (accounts) or account's territory is this.
    pub territory: Option<String>,
    /// Only this account and the records whose parent account it is.
    pub account: Option<RecordId>,
    /// Only records dated in this period.
    pub period: Option<PeriodScope>,
    /// Only activities of this type (as readable by the caller).
    pub activity_type: Option<String>,
    /// Whether `created_at` is wanted (it costs a look at the feed).
    pub created_at: bool,
}

/// A period a report filters on: only records having one of `fields`
/// (readable by the caller) on a UTC day from `from`'s through `to`'s. A
/// superset of the records whose report time lies in `[from, to)`, for
/// fields holding instants or dates.
#[derive(Debug, Clone, Default)]
pub struct PeriodScope {
    /// The fields one of which dates the record for the report.
    pub fields: Vec<&'static str>,
    /// Start of the period (unbounded when `None`).
    pub from: Option<Timestamp>,
    /// End of the period (unbounded when `None`).
    pub to: Option<Timestamp>,
}

/// What [`report_facts`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded {
    /// The facts, one per record, by record id.
    Facts(Vec<Facts>),
    /// More than [`MAX_FACT_ROWS`] field rows would be read.
    TooMany,
}

/// The facts of the unarchived records of `scope` that `access` sees,
/// through the classes it may read (see the module guarantees). The owner,
/// territory and activity type conditions only narrow what is read: they
/// keep every record the report's own filters would keep.
pub fn report_facts(conn: &Connection, access: &Access, scope: &FactsScope) -> Result<Loaded> {
    bounded(conn, access, scope, MAX_FACT_ROWS)
}

/// [`report_facts`] reading at most `max` field rows.
fn bounded(conn: &Connection, access: &Access, scope: &FactsScope, max: usize) -> Result<Loaded> {
    if scope.kinds.is_empty() {
        return Ok(Loaded::Facts(Vec::new()));
    }
    let (sql, args) = facts_sql(access, scope, max);
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut building = Building::default();
    let mut n = 0usize;
    while let Some(row) = rows.next()? {
        n += 1;
        if n > max {
            return Ok(Loaded::TooMany);
        }
        building.add(FieldRow {
            record: row.get(0)?,
            inherited: row.get(1)?,
            created_ms: row.get(2)?,
            field: row.get(3)?,
            value_json: row.get(4)?,
        })?;
    }
    Ok(Loaded::Facts(building.finish()))
}

/// Whether `access` sees account `id` (archived or not).
pub fn sees_account(conn: &Connection, access: &Access, id: &RecordId) -> Result<bool> {
    if id.kind() != RecordKind::Account {
        return Ok(false);
    }
    let (vis, vis_args) = sql_visible(access, "r");
    let sql =
        format!("SELECT count(*) FROM records r WHERE r.record_id = ? AND r.kind = ? AND {vis}");
    let mut args = vec![
        Value::Text(id.to_string()),
        Value::Text(RecordKind::Account.as_str().to_owned()),
    ];
    args.extend(vis_args);
    let n: i64 = conn.query_row(&sql, rusqlite::params_from_iter(args), |r| r.get(0))?;
    Ok(n > 0)
}

/// The query of [`report_facts`]; anonymous parameters, in text order.
fn facts_sql(access: &Access, scope: &FactsScope, max: usize) -> (String, Vec<Value>) {
    let mut args: Vec<Value> = Vec::new();
    let (vis_a, a_args) = sql_visible(access, "a");
    args.extend(a_args);
    let created = if scope.created_at {
        let (classes, class_args) = readable_classes(access, "cd.class");
        args.extend(class_args);
        format!(
            "(SELECT min(c.received_at) FROM record_docs cd JOIN changes c ON c.doc_id = cd.doc_id
               WHERE cd.record_id = r.record_id AND {classes})"
        )
    } else {
        "NULL".to_owned()
    };
    let kinds = vec!["?"; scope.kinds.len()].join(", ");
    args.extend(
        scope
            .kinds
            .iter()
            .map(|k| Value::Text(k.as_str().to_owned())),
    );
    let (vis_r, r_args) = sql_visible(access, "r");
    args.extend(r_args);
    let mut picked = format!(
        "SELECT r.record_id AS id, CASE WHEN {vis_a} THEN a.territory END AS inherited,
                {created} AS created_ms
           FROM records r LEFT JOIN records a ON a.record_id = r.account_id
          WHERE r.kind IN ({kinds}) AND {vis_r}{}",
        archived::condition(Archived::Exclude, "r.record_id")
    );
    narrow(access, &mut picked, &mut args, scope);
    let (classes, class_args) = readable_classes(access, "f.class");
    args.extend(class_args);
    let mut fields: Vec<&str> = FACT_FIELDS.to_vec();
    for kind in &scope.kinds {
        let title = schema::title_field(*kind);
        if !fields.contains(&title) {
            fields.push(title);
        }
    }
    let marks = vec!["?"; fields.len()].join(", ");
    args.extend(fields.iter().map(|f| Value::Text((*f).to_owned())));
    args.push(Value::Integer(
        i64::try_from(max).unwrap_or(i64::MAX).saturating_add(1),
    ));
    let sql = format!(
        "WITH picked AS MATERIALIZED ({picked})
         SELECT p.id, p.inherited, p.created_ms, f.field, f.value_json
           FROM picked p LEFT JOIN record_fields f
                ON f.record_id = p.id AND {classes} AND f.field IN ({marks})
          LIMIT ?"
    );
    (sql, args)
}

/// Adds the owner, territory, account and activity type conditions of
/// `scope`.
fn narrow(access: &Access, sql: &mut String, args: &mut Vec<Value>, scope: &FactsScope) {
    if let Some(owner) = &scope.owner {
        sql.push_str(" AND COALESCE(r.assignee, r.owner) = ?");
        args.push(Value::Text(owner.clone()));
    }
    if let Some(territory) = &scope.territory {
        sql.push_str(&format!(
            " AND (CASE WHEN r.kind = '{}' THEN r.territory ELSE a.territory END) = ?",
            RecordKind::Account.as_str()
        ));
        args.push(Value::Text(territory.clone()));
    }
    if let Some(account) = &scope.account {
        sql.push_str(" AND (r.record_id = ? OR r.account_id = ?)");
        args.push(Value::Text(account.to_string()));
        args.push(Value::Text(account.to_string()));
    }
    if let Some(kind) = &scope.activity_type {
        // Exactly the records whose readable `type` is this text.
        let (classes, class_args) = readable_classes(access, "tv.class");
        sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM record_fields tv WHERE tv.record_id = r.record_id
                  AND tv.field = 'type' AND tv.value_json = ? AND {classes})"
        ));
        args.push(Value::Text(
            serde_json::Value::from(kind.as_str()).to_string(),
        ));
        args.extend(class_args);
    }
    if let Some(period) = &scope.period {
        in_period(access, sql, args, period);
    }
}

/// Adds the condition of `period` (see [`PeriodScope`]): sort keys of
/// instants (`2026-11-02T09:00:00.000000000Z`) and dates (`2026-11-02`)
/// both start with their UTC day.
fn in_period(access: &Access, sql: &mut String, args: &mut Vec<Value>, period: &PeriodScope) {
    let marks = vec!["?"; period.fields.len()].join(", ");
    let (classes, class_args) = readable_classes(access, "pf.class");
    sql.push_str(&format!(
        " AND EXISTS (SELECT 1 FROM record_fields pf WHERE pf.record_id = r.record_id
              AND pf.field IN ({marks}) AND {classes}"
    ));
    args.extend(period.fields.iter().map(|f| Value::Text((*f).to_owned())));
    args.extend(class_args);
    if let Some(day) = period.from.and_then(utc_day) {
        sql.push_str(" AND substr(pf.sort_key, 1, 10) >= ?");
        args.push(Value::Text(day));
    }
    if let Some(day) = period.to.and_then(utc_day) {
        sql.push_str(" AND substr(pf.sort_key, 1, 10) <= ?");
        args.push(Value::Text(day));
    }
    sql.push(')');
}

/// The UTC day of `at` as `YYYY-MM-DD`, for years 0 to 9999 (outside,
/// keys do not sort as text and the bound is dropped: a superset).
fn utc_day(at: Timestamp) -> Option<String> {
    let d = jiff::tz::TimeZone::UTC.to_datetime(at).date();
    (0..=9999)
        .contains(&d.year())
        .then(|| format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
}

/// One selected field row.
struct FieldRow {
    record: String,
    inherited: Option<String>,
    created_ms: Option<i64>,
    field: Option<String>,
    value_json: Option<String>,
}

/// A record being assembled.
struct Current {
    record: Record,
    inherited: Option<String>,
    created: Option<Timestamp>,
}

/// Groups field rows into records (by id, whatever order they come in)
/// and their facts.
#[derive(Default)]
struct Building {
    records: BTreeMap<String, Current>,
}

impl Building {
    fn add(&mut self, row: FieldRow) -> Result<()> {
        let current = match self.records.entry(row.record) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                let id: RecordId = e.key().parse().map_err(|_| {
                    ServerError::Internal(format!("the index holds a bad record id `{}`", e.key()))
                })?;
                e.insert(Current {
                    record: fieldwork_core::edit::empty_record(&id),
                    inherited: row.inherited,
                    created: row
                        .created_ms
                        .and_then(|ms| Timestamp::from_second(ms.div_euclid(1000)).ok()),
                })
            }
        };
        // A record without any readable fact field still counts (LEFT JOIN).
        let (Some(field), Some(json)) = (row.field, row.value_json) else {
            return Ok(());
        };
        let value: FieldValue = serde_json::from_str(&json).map_err(|e| {
            ServerError::Internal(format!("{}: {field}: stored value: {e}", current.record.id))
        })?;
        current.record.fields.insert(field, value);
        Ok(())
    }

    /// The facts, by record id.
    fn finish(self) -> Vec<Facts> {
        self.records
            .into_values()
            .map(|c| as_indexed(Facts::of(&c.record, c.inherited, c.created)))
            .collect()
    }
}

/// `f` at the precision of the device's index: whole seconds, stage logs
/// through the index encoding.
fn as_indexed(mut f: Facts) -> Facts {
    let secs = |t: Option<Timestamp>| t.and_then(|t| Timestamp::from_second(t.as_second()).ok());
    f.stages = decode_stages(&encode_stages(&f.stages));
    f.closed_at = secs(f.closed_at);
    f.due = secs(f.due);
    f.completed_at = secs(f.completed_at);
    f.check_in_at = secs(f.check_in_at);
    f.check_out_at = secs(f.check_out_at);
    f.created_at = secs(f.created_at);
    f
}

#[cfg(test)]
mod tests {
    use fieldwork_core::{Policy, UserContext};

    use super::*;
    use crate::db::Db;

    fn user(name: &str, role: &str, territories: &[&str]) -> Access {
        Access::User {
            user: UserContext {
                name: name.into(),
                role: role.into(),
                territories: territories.iter().map(|t| (*t).to_owned()).collect(),
                team: vec![],
            },
            policy: Policy::shipped_default(),
        }
    }

    /// Index rows as the push path writes them: facts, one document per
    /// class, its fields and one change received at `ms`.
    struct Rows<'a>(&'a Connection);

    impl Rows<'_> {
        fn record(
            &self,
            id: &RecordId,
            owner: &str,
            territory: Option<&str>,
            account: Option<&RecordId>,
        ) {
            self.0
                .execute(
                    "INSERT INTO records(record_id, kind, owner, territory, account_id) VALUES (?1, ?2, ?3, ?4, ?5)",
                    rusqlite::params![id.to_string(), id.kind().as_str(), owner, territory, account.map(|a| a.to_string())],
                )
                .expect("facts");
        }

        fn field(&self, id: &RecordId, class: &str, field: &str, json: &str, ms: i64) {
            let doc = format!("{id}/{class}");
            self.0
                .execute(
                    "INSERT INTO record_fields(doc_id, record_id, kind, class, field, value_json, sort_key)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    rusqlite::params![doc, id.to_string(), id.kind().as_str(), class, field, json, key(id, field, json)],
                )
                .expect("field");
            self.0
                .execute(
                    "INSERT OR IGNORE INTO record_docs(doc_id, record_id, kind, class) VALUES (?1, ?2, ?3, ?4)",
                    rusqlite::params![doc, id.to_string(), id.kind().as_str(), class],
                )
                .expect("doc");
            self.0
                .execute(
                    "INSERT INTO changes(doc_id, hash, bytes, received_at) VALUES (?1, randomblob(32), x'00', ?2)",
                    rusqlite::params![doc, ms],
                )
                .expect("change");
        }
    }

    /// The sort key the index writes for `json` in `field`.
    fn key(id: &RecordId, field: &str, json: &str) -> Option<String> {
        let value: FieldValue = serde_json::from_str(json).expect("json");
        let def = schema::field(id.kind(), field)?;
        super::super::keys::sort_key(def.ty, &value)
    }

    fn deals(db: &Db, access: &Access, max: usize) -> Loaded {
        let scope = FactsScope {
            kinds: vec![RecordKind::Deal],
            created_at: true,
            ..FactsScope::default()
        };
        db.read_blocking(|c| bounded(c, access, &scope, max))
            .expect("facts")
    }

    fn facts(loaded: Loaded) -> Vec<Facts> {
        match loaded {
            Loaded::Facts(f) => f,
            Loaded::TooMany => panic!("too many"),
        }
    }

    #[test]
    fn only_seen_readable_unarchived_records_feed_a_report() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Db::open(dir.path()).expect("open");
        let madrid = RecordId::new_random(RecordKind::Account);
        let sevilla = RecordId::new_random(RecordKind::Account);
        let (mine, theirs, gone, far) = (
            RecordId::new_random(RecordKind::Deal),
            RecordId::new_random(RecordKind::Deal),
            RecordId::new_random(RecordKind::Deal),
            RecordId::new_random(RecordKind::Deal),
        );
        db.write_blocking(|w| {
            let rows = Rows(&w.conn);
            rows.record(&madrid, "maria", Some("madrid"), None);
            rows.record(&sevilla, "maria", Some("sevilla"), None);
            rows.field(&madrid, "general", "territory", "\"madrid\"", 1_000);
            rows.field(&sevilla, "general", "territory", "\"sevilla\"", 1_000);
            for (deal, acc, owner) in [
                (&mine, &madrid, "maria"),
                (&theirs, &sevilla, "maria"),
                (&gone, &madrid, "maria"),
                (&far, &sevilla, "ana"),
            ] {
                rows.record(deal, owner, None, Some(acc));
                rows.field(deal, "general", "owner", &format!("\"{owner}\""), 5_999);
                rows.field(deal, "general", "account", &format!("\"{acc}\""), 7_000);
                rows.field(deal, "general", "stage", "\"proposal\"", 7_000);
                rows.field(
                    deal,
                    "general",
                    "closed_at",
                    "\"2026-11-02T09:00:00.750Z\"",
                    7_000,
                );
                // Not where the shipped policy puts amounts: a class a rep
                // may not read.
                rows.field(deal, "financial", "amount", "1500", 4_000);
            }
            rows.field(&gone, "general", "archived", "true", 7_000);
            Ok(())
        })
        .expect("rows");
        let rep = facts(deals(&db, &user("ana", "rep", &["madrid"]), usize::MAX));
        let ids: Vec<&RecordId> = rep.iter().map(|f| &f.id).collect();
        let mut want = vec![&mine, &far];
        want.sort_by_key(|id| id.to_string());
        assert_eq!(ids, want, "seen, not archived, by id");
        let of =
            |fs: &[Facts], id: &RecordId| fs.iter().find(|f| &f.id == id).cloned().expect("fact");
        let m = of(&rep, &mine);
        assert_eq!(m.amount, None, "a financial field stays unknown to a rep");
        assert_eq!(m.territory.as_deref(), Some("madrid"));
        assert_eq!(
            m.closed_at,
            "2026-11-02T09:00:00Z".parse().ok(),
            "whole seconds"
        );
        assert_eq!(
            m.created_at,
            Timestamp::from_second(5).ok(),
            "first readable change"
        );
        assert_eq!(
            of(&rep, &far).territory,
            None,
            "her own deal under an account she does not see inherits nothing"
        );
        let manager = facts(deals(
            &db,
            &user("maria", "manager", &["madrid", "sevilla"]),
            usize::MAX,
        ));
        assert_eq!(manager.len(), 3);
        let m = of(&manager, &mine);
        assert_eq!(
            (m.amount, m.created_at),
            (Some(1500), Timestamp::from_second(4).ok())
        );
        assert_eq!(of(&manager, &far).territory.as_deref(), Some("sevilla"));
        // Bounded: the manager's three deals have 15 fact rows.
        let access = user("maria", "manager", &["madrid", "sevilla"]);
        assert_eq!(deals(&db, &access, 14), Loaded::TooMany);
        assert!(matches!(deals(&db, &access, 15), Loaded::Facts(f) if f.len() == 3));
        // A period keeps records dated on its UTC days (the report filters
        // exactly); an instant's key and a date's key both qualify.
        let in_period = |field: &'static str, from: &str, to: &str| {
            let scope = FactsScope {
                kinds: vec![RecordKind::Deal],
                period: Some(PeriodScope {
                    fields: vec![field],
                    from: from.parse().ok(),
                    to: to.parse().ok(),
                }),
                ..FactsScope::default()
            };
            match db
                .read_blocking(|c| report_facts(c, &access, &scope))
                .expect("facts")
            {
                Loaded::Facts(f) => f.len(),
                Loaded::TooMany => usize::MAX,
            }
        };
        assert_eq!(
            in_period("closed_at", "2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z"),
            3
        );
        assert_eq!(
            in_period("closed_at", "2026-11-02T10:00:00Z", "2026-11-02T11:00:00Z"),
            3
        );
        assert_eq!(
            in_period("closed_at", "2026-11-03T00:00:00Z", "2026-12-01T00:00:00Z"),
            0
        );
        assert_eq!(
            in_period("closed_at", "2026-10-01T00:00:00Z", "2026-11-01T23:00:00Z"),
            0
        );
        assert_eq!(
            in_period("stage", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            0
        );
        let seen = |id: &RecordId| {
            db.read_blocking(|c| sees_account(c, &user("ana", "rep", &["madrid"]), id))
                .expect("sees")
        };
        assert!(seen(&madrid));
        assert!(!seen(&sevilla));
        assert!(!seen(&mine), "not an account");
    }
}
