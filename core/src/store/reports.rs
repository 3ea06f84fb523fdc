//! Reports on the device: the report columns of the index, and
//! [`Store::report`], which loads [`Facts`] from them and runs the pure
//! report engine ([`crate::report`]).
//!
//! Guarantees:
//! - **In step with the documents.** The report columns of a record's index
//!   row are written by `index::refresh_report_columns`, part of the index
//!   refresh, in the same transaction as every change to its documents, local or
//!   remote; a removed record loses its row and its columns together.
//! - **No document opened to report.** Facts are read from index columns
//!   only; the territory is the index's (inherited territories kept current
//!   by the index), `created_at` is when the record was first stored here.
//! - **Readable, not archived.** The device holds only what its user may
//!   read; archived records (`archived = 1`) are left out.
//! - **Old rows filled once.** Rows indexed before the columns existed
//!   (`report_version = 0`) are filled from their documents, in one write
//!   transaction, before the first report reads them.
//! - SQL pre-filters (kind, owner, territory, period) only narrow what is
//!   read; the report re-applies the same filters, so they cannot change a
//!   result.

use jiff::Timestamp;
use rusqlite::types::Value;
use rusqlite::{Connection, params};

use super::{Store, index, write};
use crate::error::{CoreError, Result};
use crate::ids::{RecordId, RecordKind};
use crate::report::facts::{Position, decode_stages};
use crate::report::{self, Facts, ReportName, ReportQuery, ReportResult};

/// What a report reads beyond the columns every report reads (id, owner,
/// assignee, territory, stage, amount, currency, status, type and times).
#[derive(Clone, Copy)]
struct Needs {
    title: bool,
    account: bool,
    stages: bool,
    visit: bool,
}

impl Needs {
    /// Everything, or what report `name` reads.
    fn of(name: Option<&ReportName>) -> Needs {
        let all = Needs {
            title: true,
            account: true,
            stages: true,
            visit: true,
        };
        let none = Needs {
            title: false,
            account: false,
            stages: false,
            visit: false,
        };
        match name {
            None | Some(ReportName::Timeline(_)) => all,
            Some(ReportName::Visits) => Needs {
                stages: false,
                ..all
            },
            Some(ReportName::WinRate | ReportName::Cycle | ReportName::Funnel) => Needs {
                stages: true,
                ..none
            },
            Some(ReportName::Pipeline | ReportName::Activities) => none,
        }
    }

    /// The SELECT list: unneeded columns read as NULL (positions unchanged).
    fn columns(self) -> String {
        let pick = |need: bool, column: &'static str| if need { column } else { "NULL" };
        [
            "record_id",
            pick(self.title, "title"),
            "owner, assignee, territory",
            pick(self.account, "account_id"),
            "stage",
            pick(self.stages, "stage_log"),
            "amount, currency, closed_at, status, type, due_at, completed_at",
            pick(self.visit, "check_in_at"),
            pick(self.visit, "check_out_at"),
            pick(self.visit, "check_in_lat"),
            pick(self.visit, "check_in_lon"),
            pick(self.visit, "check_out_lat"),
            pick(self.visit, "check_out_lon"),
            "created_at",
        ]
        .join(", ")
    }
}

fn ts(v: Option<i64>) -> Option<Timestamp> {
    v.and_then(|s| Timestamp::from_second(s).ok())
}

fn position(lat: Option<f64>, lon: Option<f64>) -> Option<Position> {
    Some(Position {
        lat: lat?,
        lon: lon?,
    })
}

/// One index row as [`Facts`].
fn facts_of_row(r: &rusqlite::Row<'_>) -> Result<Facts> {
    let id: String = r.get(0)?;
    let id: RecordId = id
        .parse()
        .map_err(|_| CoreError::Corrupt(format!("index holds a malformed id `{id}`")))?;
    let account: Option<String> = r.get(5)?;
    let is_activity = id.kind() == RecordKind::Activity;
    let stages: Option<String> = r.get(7)?;
    Ok(Facts {
        title: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
        owner: r.get(2)?,
        assignee: r.get(3)?,
        territory: r.get(4)?,
        account: account.and_then(|a| a.parse().ok()),
        stage: r.get(6)?,
        stages: stages.as_deref().map(decode_stages).unwrap_or_default(),
        amount: r.get(8)?,
        currency: r.get(9)?,
        closed_at: ts(r.get(10)?),
        status: r.get(11)?,
        activity_type: if is_activity { r.get(12)? } else { None },
        due: ts(r.get(13)?),
        completed_at: ts(r.get(14)?),
        check_in_at: ts(r.get(15)?),
        check_out_at: ts(r.get(16)?),
        check_in: position(r.get(17)?, r.get(18)?),
        check_out: position(r.get(19)?, r.get(20)?),
        created_at: ts(r.get(21)?),
        id,
    })
}

/// Binds `value` as the next numbered parameter; its placeholder.
fn bind(args: &mut Vec<Value>, value: impl Into<Value>) -> String {
    args.push(value.into());
    format!("?{}", args.len())
}

/// The SQL conditions narrowing the rows `name` reads (their rows are
/// concatenated: the branches never overlap) and the arguments they share.
fn prefilter(name: &ReportName, q: &ReportQuery) -> (Vec<String>, Vec<Value>) {
    let mut args: Vec<Value> = Vec::new();
    if let ReportName::Timeline(account) = name {
        let id = bind(&mut args, account.to_string());
        return (
            vec![format!(
                "archived = 0 AND (record_id = {id} OR account_id = {id})"
            )],
            args,
        );
    }
    let mut base = String::new();
    if let Some(kinds) = name.kinds() {
        let marks: Vec<String> = kinds
            .iter()
            .map(|k| bind(&mut args, k.as_str().to_owned()))
            .collect();
        base.push_str(&format!(" AND kind IN ({})", marks.join(", ")));
    }
    if let Some(owner) = &q.owner {
        base.push_str(&format!(
            " AND COALESCE(assignee, owner) = {}",
            bind(&mut args, owner.clone())
        ));
    }
    if let Some(territory) = &q.territory {
        base.push_str(&format!(
            " AND territory = {}",
            bind(&mut args, territory.clone())
        ));
    }
    if *name == ReportName::Visits {
        base.push_str(" AND type = 'visit'");
    }
    let dated = matches!(
        name,
        ReportName::Activities | ReportName::Visits | ReportName::WinRate | ReportName::Pipeline
    );
    if !dated || (q.from.is_none() && q.to.is_none()) {
        return (vec![format!("archived = 0{base}")], args);
    }
    let from = bind(&mut args, q.from.map_or(i64::MIN, Timestamp::as_second));
    let to = bind(&mut args, q.to.map_or(i64::MAX, Timestamp::as_second));
    let range = |column: &str| format!("{column} >= {from} AND {column} < {to}");
    // The date each report files a record under. Activities are split in
    // two branches so that both range-scan `records_by_due` (kind, due_at)
    // (`+archived` keeps SQLite off `records_by_kind` there).
    let branches = match name {
        ReportName::Activities => vec![
            format!("archived = 0{base} AND {}", range("due_at")),
            format!(
                "+archived = 0{base} AND due_at IS NULL AND {}",
                range("completed_at")
            ),
        ],
        ReportName::Visits => vec![format!(
            "archived = 0{base} AND (({}) OR (check_in_at IS NULL AND {}))",
            range("check_in_at"),
            range("due_at")
        )],
        ReportName::WinRate => vec![format!("archived = 0{base} AND {}", range("closed_at"))],
        // The pipeline: expected close.
        _ => vec![format!("archived = 0{base} AND {}", range("due_at"))],
    };
    (branches, args)
}

/// Reads the facts of the rows matching any of `conditions`.
fn load(
    conn: &Connection,
    needs: Needs,
    conditions: &[String],
    args: Vec<Value>,
) -> Result<Vec<Facts>> {
    let columns = needs.columns();
    let sql = conditions
        .iter()
        .map(|c| format!("SELECT {columns} FROM records WHERE {c}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(facts_of_row(r)?);
    }
    Ok(out)
}

impl Store {
    /// A report query at this store's "now" (its clock), over everything,
    /// in UTC, with the default stage weights.
    pub fn report_query(&self) -> ReportQuery {
        ReportQuery::new(self.clock.now())
    }

    /// The facts report `name` reads under `q`'s filters: every readable,
    /// unarchived record it needs (possibly more; the report filters
    /// again), from the index without opening documents. Only the fields
    /// that report reads are filled: a display title only for visits and
    /// timelines, the account link only for those, the stage log only for
    /// win rate, cycle, funnel and timeline, check-in/out only for visits
    /// and timelines; the others are left empty. [`Store::all_report_facts`]
    /// fills every field.
    pub fn report_facts(&mut self, name: &ReportName, q: &ReportQuery) -> Result<Vec<Facts>> {
        self.fill_report_columns()?;
        let (conditions, args) = prefilter(name, q);
        load(&self.conn, Needs::of(Some(name)), &conditions, args)
    }

    /// The complete facts of every readable, unarchived record on this
    /// device (any report can be computed from them).
    pub fn all_report_facts(&mut self) -> Result<Vec<Facts>> {
        self.fill_report_columns()?;
        load(
            &self.conn,
            Needs::of(None),
            &["archived = 0".to_owned()],
            Vec::new(),
        )
    }

    /// Computes report `name` over this device's records.
    pub fn report(&mut self, name: &ReportName, q: &ReportQuery) -> Result<ReportResult> {
        let facts = self.report_facts(name, q)?;
        report::run(name, &facts, q)
    }

    /// Fills the report columns of rows indexed before they existed.
    fn fill_report_columns(&mut self) -> Result<()> {
        let stale: Vec<(i64, String)> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT rid, record_id FROM records WHERE report_version = 0")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        if stale.is_empty() {
            return Ok(());
        }
        self.in_write_tx(|ctx| {
            for (rid, id) in &stale {
                let record = id
                    .parse::<RecordId>()
                    .ok()
                    .map(|id| write::read_record(ctx, &id));
                match record {
                    Some(Ok(record)) => index::refresh_report_columns(ctx.conn, *rid, &record)?,
                    Some(Err(CoreError::NotFound(_))) | None => {
                        ctx.conn.execute(
                            "UPDATE records SET report_version = ?2 WHERE rid = ?1",
                            params![rid, index::REPORT_VERSION],
                        )?;
                    }
                    Some(Err(e)) => return Err(e),
                }
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::FixedClock;
    use crate::{FieldWrite, Store};

    #[test]
    fn rows_indexed_before_the_report_columns_are_filled_on_first_report() {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(FixedClock("2026-11-24T09:00:00Z".parse().expect("instant")));
        let mut s = Store::open(&dir.path().join("d.db"), clock).expect("open");
        let acc = s
            .create(
                RecordKind::Account,
                vec![
                    FieldWrite::set("name", "A"),
                    FieldWrite::set("stage", "lead"),
                ],
            )
            .expect("create");
        // As a store migrated from version 6 would have it.
        s.conn
            .execute(
                "UPDATE records SET stage_log = NULL, report_version = 0",
                [],
            )
            .expect("age");
        let q = s.report_query();
        let facts = s.report_facts(&ReportName::Funnel, &q).expect("facts");
        assert_eq!(facts.len(), 1);
        assert_eq!(facts[0].id, acc);
        assert_eq!(facts[0].stages.len(), 1);
        assert_eq!(facts[0].stages[0].stage, "lead");
        let stale: i64 = s
            .conn
            .query_row(
                "SELECT count(*) FROM records WHERE report_version = 0",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(stale, 0);
    }
}
