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
//! - **Narrow reads for the activity reports.** Activities and visits, the
//!   two reports that read every activity, read only the index entries of
//!   their covering indexes (migration 008, kept by SQLite in the same
//!   transaction as the row), never the wide table rows.

use jiff::Timestamp;
use rusqlite::types::Value;
use rusqlite::{Connection, params};

use super::{Store, index, write};
use crate::error::{CoreError, Result};
use crate::ids::{RecordId, RecordKind};
use crate::report::activities::ActivityView;
use crate::report::facts::{Position, decode_stages};
use crate::report::{self, ActivitiesTally, Facts, ReportName, ReportQuery, ReportResult};

/// What a report reads beyond the columns every report reads (id, owner,
/// assignee, territory, status, type, due and completion times).
#[derive(Clone, Copy)]
struct Needs {
    title: bool,
    account: bool,
    stages: bool,
    visit: bool,
    /// Stage, amount, currency, close and creation times: read by every
    /// report but the two over activities only.
    deal: bool,
}

impl Needs {
    /// Everything, or what report `name` reads.
    fn of(name: Option<&ReportName>) -> Needs {
        let all = Needs {
            title: true,
            account: true,
            stages: true,
            visit: true,
            deal: true,
        };
        let none = Needs {
            title: false,
            account: false,
            stages: false,
            visit: false,
            deal: true,
        };
        match name {
            None | Some(ReportName::Timeline(_)) => all,
            Some(ReportName::Visits) => Needs {
                stages: false,
                deal: false,
                ..all
            },
            Some(ReportName::WinRate | ReportName::Cycle | ReportName::Funnel) => Needs {
                stages: true,
                ..none
            },
            Some(ReportName::Activities) => Needs {
                deal: false,
                ..none
            },
            Some(ReportName::Pipeline) => none,
            Some(ReportName::Targets) => Needs {
                visit: true,
                ..none
            },
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
            pick(self.deal, "stage"),
            pick(self.stages, "stage_log"),
            pick(self.deal, "amount"),
            pick(self.deal, "currency"),
            pick(self.deal, "closed_at"),
            "status, type, due_at, completed_at",
            pick(self.visit, "check_in_at"),
            pick(self.visit, "check_out_at"),
            pick(self.visit, "check_in_lat"),
            pick(self.visit, "check_in_lon"),
            pick(self.visit, "check_out_lat"),
            pick(self.visit, "check_out_lon"),
            pick(self.deal, "created_at"),
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
    let id = record_id_at(r, 0)?;
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

/// The record id in column `i` of `r`, parsed from the borrowed text (one
/// allocation, the key, not two).
fn record_id_at(r: &rusqlite::Row<'_>, i: usize) -> Result<RecordId> {
    let id = r
        .get_ref(i)?
        .as_str()
        .map_err(|_| CoreError::Corrupt("index holds an id that is not text".into()))?;
    id.parse()
        .map_err(|_| CoreError::Corrupt(format!("index holds a malformed id `{id}`")))
}

/// Text of column `i` of `r`, borrowed.
fn text_at<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> Result<Option<&'r str>> {
    let v = r.get_ref(i)?;
    match v {
        rusqlite::types::ValueRef::Null => Ok(None),
        other => other
            .as_str()
            .map(Some)
            .map_err(|_| CoreError::Corrupt(format!("index column {i} is not text"))),
    }
}

/// What the activities tally selects, in [`activity_view`]'s order: only
/// what it counts by (the person already resolved), none of the wide
/// columns other reports read. The territory is read only when `q` filters by one (the
/// SQL filters by it too; without a filter nothing reads it).
fn activity_columns(q: &ReportQuery) -> String {
    let territory = if q.territory.is_some() {
        "territory"
    } else {
        "NULL"
    };
    format!("COALESCE(assignee, owner), {territory}, status, type, due_at, completed_at")
}

/// The activity of row `r` (selected as [`activity_columns`]), borrowed
/// from the row.
fn activity_view<'r>(r: &'r rusqlite::Row<'_>) -> Result<ActivityView<'r>> {
    Ok(ActivityView {
        responsible: text_at(r, 0)?,
        territory: text_at(r, 1)?,
        status: text_at(r, 2)?,
        activity_type: text_at(r, 3)?,
        due: ts(r.get(4)?),
        completed_at: ts(r.get(5)?),
    })
}

/// The SQL condition "the record is the work of one of `targets`'
/// people or territories" (a person is the assignee, else the owner).
fn whose_condition(targets: &[report::Target], args: &mut Vec<Value>) -> String {
    use crate::report::targets::Whose;
    let mut people = std::collections::BTreeSet::new();
    let mut territories = std::collections::BTreeSet::new();
    for t in targets {
        match &t.whose {
            Whose::User(u) => people.insert(u.clone()),
            Whose::Territory(name) => territories.insert(name.clone()),
        };
    }
    let mut marks = |names: std::collections::BTreeSet<String>| -> String {
        let marks: Vec<String> = names.into_iter().map(|n| bind(args, n)).collect();
        marks.join(", ")
    };
    format!(
        "(COALESCE(assignee, owner) IN ({}) OR territory IN ({}))",
        marks(people),
        marks(territories)
    )
}

/// The instant a target counts a done activity at (a visit at its
/// check-in, else completion, else due time; any other at completion, else
/// due time: `report::targets`), exactly as migration 009 indexes it
/// (`records_done_activities`): SQLite seeks an expression index only for
/// the same expression.
const COUNTED_AT: &str = "(CASE WHEN type = 'visit' THEN COALESCE(check_in_at, completed_at, due_at) \
     ELSE COALESCE(completed_at, due_at) END)";

/// The targets report's query: two branches, each a range seek on an
/// index that holds every column it selects (in [`facts_of_row`]'s
/// positions; what a branch's records cannot count is NULL): won deals
/// closed in the window; done activities counted in it
/// (`records_done_activities`, by [`COUNTED_AT`]). Each narrowed to the
/// targets' people and territories and to `q`'s owner and territory.
fn target_sql(
    q: &ReportQuery,
    targets: &[report::Target],
    window: (Timestamp, Timestamp),
) -> (String, Vec<Value>) {
    let mut args = Vec::new();
    let from = bind(&mut args, window.0.as_second());
    // Index times are whole seconds: one more keeps every instant.
    let to = bind(&mut args, window.1.as_second().saturating_add(1));
    let within = |c: &str| format!("({c} >= {from} AND {c} < {to})");
    let mut whose = whose_condition(targets, &mut args);
    if let Some(owner) = &q.owner {
        whose.push_str(&format!(
            " AND COALESCE(assignee, owner) = {}",
            bind(&mut args, owner.clone())
        ));
    }
    if let Some(territory) = &q.territory {
        whose.push_str(&format!(
            " AND territory = {}",
            bind(&mut args, territory.clone())
        ));
    }
    let n = "NULL";
    let deals = format!(
        "SELECT record_id, {n}, owner, assignee, territory, {n}, stage, {n}, amount, currency, \
         closed_at, {n}, {n}, {n}, {n}, {n}, {n}, {n}, {n}, {n}, {n}, {n} \
         FROM records WHERE kind = 'deal' AND archived = 0 AND stage = 'won' AND {} AND {whose}",
        within("closed_at")
    );
    let done = format!(
        "SELECT record_id, {n}, owner, assignee, territory, {n}, {n}, {n}, {n}, {n}, {n}, \
         'done', type, due_at, completed_at, check_in_at, {n}, {n}, {n}, {n}, {n}, {n} \
         FROM records INDEXED BY records_done_activities \
         WHERE kind = 'activity' AND status = 'done' AND archived = 0 AND {} AND {whose}",
        within(COUNTED_AT)
    );
    (format!("{deals} UNION ALL {done}"), args)
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
    // two branches so that both range-scan their covering index (kind,
    // archived, due_at, completed_at, ...).
    let branches = match name {
        ReportName::Activities => vec![
            format!("archived = 0{base} AND {}", range("due_at")),
            format!(
                "archived = 0{base} AND due_at IS NULL AND {}",
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

/// Where report `name` reads its rows: the two reports over every activity
/// read their covering index (migration 008), which holds every column
/// they select, so no table row is decoded; the others read the table.
fn source(name: &ReportName) -> &'static str {
    match name {
        ReportName::Activities => "records INDEXED BY records_activity_facts",
        ReportName::Visits => "records INDEXED BY records_visit_facts",
        _ => "records",
    }
}

/// Reads the facts of the rows of `source` matching any of `conditions`;
/// with `presize`, counts them first (worth it only when the count can
/// seek to those rows rather than test every row again).
fn load(
    conn: &Connection,
    needs: Needs,
    source: &str,
    conditions: &[String],
    args: Vec<Value>,
    presize: bool,
) -> Result<Vec<Facts>> {
    let columns = needs.columns();
    let sql = conditions
        .iter()
        .map(|c| format!("SELECT {columns} FROM {source} WHERE {c}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    // Counted first so that the facts (a few hundred bytes each, up to
    // hundreds of thousands of them) are written once into one allocation
    // rather than copied as a growing vector doubles.
    let expected: i64 = if presize {
        let count = conditions
            .iter()
            .map(|c| format!("(SELECT count(*) FROM {source} WHERE {c})"))
            .collect::<Vec<_>>()
            .join(" + ");
        conn.prepare_cached(&format!("SELECT {count}"))?
            .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?
    } else {
        0
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut out = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    while let Some(r) = rows.next()? {
        out.push(facts_of_row(r)?);
    }
    Ok(out)
}

/// Streams the activities report's rows into an [`ActivitiesTally`]: the
/// same rows as [`Store::report_facts`] reads for it (only activities: the
/// SQL selects that kind), with only the columns the tally counts by
/// ([`activity_columns`]), each handed over as a view borrowed from the
/// row, without building any [`Facts`].
fn tally_activities(conn: &Connection, q: &ReportQuery) -> Result<ReportResult> {
    let name = ReportName::Activities;
    let (conditions, args) = prefilter(&name, q);
    let columns = activity_columns(q);
    let source = source(&name);
    let sql = conditions
        .iter()
        .map(|c| format!("SELECT {columns} FROM {source} WHERE {c}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let mut tally = ActivitiesTally::new(q)?;
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    while let Some(r) = rows.next()? {
        tally.add_view(&activity_view(r)?);
    }
    Ok(ReportResult::Activities(tally.finish()))
}

/// The visits report, listed as the visits index is read: each row handed
/// over as a [`report::VisitView`] borrowed from SQLite's row (no
/// [`Facts`] built; strings copied only for the visits listed).
fn list_visits(conn: &Connection, q: &ReportQuery) -> Result<ReportResult> {
    let name = ReportName::Visits;
    let (conditions, args) = prefilter(&name, q);
    let columns = Needs::of(Some(&name)).columns();
    let source = source(&name);
    let sql = conditions
        .iter()
        .map(|c| format!("SELECT {columns} FROM {source} WHERE {c}"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let mut list = report::VisitList::new(q);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    while let Some(r) = rows.next()? {
        let id = record_id_at(r, 0)?;
        let account = text_at(r, 5)?.and_then(|a| a.parse::<RecordId>().ok());
        list.add(&report::VisitView {
            id: &id,
            title: text_at(r, 1)?.unwrap_or_default(),
            responsible: text_at(r, 3)?.or(text_at(r, 2)?),
            territory: text_at(r, 4)?,
            account: account.as_ref(),
            status: text_at(r, 11)?,
            activity_type: text_at(r, 12)?,
            due: ts(r.get(13)?),
            check_in_at: ts(r.get(15)?),
            check_out_at: ts(r.get(16)?),
            check_in: position(r.get(17)?, r.get(18)?),
            check_out: position(r.get(19)?, r.get(20)?),
        });
    }
    Ok(ReportResult::Visits(list.finish()))
}

impl Store {
    /// A report query at this store's "now" (its clock), over everything,
    /// in UTC, with the stage weights and the deal stages of the synced
    /// policy ([`crate::report::StageWeights::of_probabilities`],
    /// [`crate::policy::Policy::deal_stages`]).
    pub fn report_query(&self) -> ReportQuery {
        ReportQuery {
            weights: crate::report::StageWeights::of_probabilities(
                self.policy.stage_probabilities(),
            ),
            deal_stages: self
                .policy
                .deal_stages()
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            ..ReportQuery::new(self.clock.now())
        }
    }

    /// The facts report `name` reads under `q`'s filters: every readable,
    /// unarchived record it needs (possibly more; the report filters
    /// again), from the index without opening documents. Only the fields
    /// that report reads are filled: a display title only for visits and
    /// timelines, the account link only for those, the stage log only for
    /// win rate, cycle, funnel and timeline, check-in/out only for visits
    /// and timelines, and for activities and visits (which read neither)
    /// no stage, amount, currency, close or creation time; the others are
    /// left empty. For targets, only done activities and won deals of the
    /// targets' people and territories dated in the periods shown.
    /// [`Store::all_report_facts`]
    /// fills every field.
    pub fn report_facts(&mut self, name: &ReportName, q: &ReportQuery) -> Result<Vec<Facts>> {
        self.fill_report_columns()?;
        if *name == ReportName::Targets {
            return Ok(self.targets_and_facts(q)?.1);
        }
        let (conditions, args) = prefilter(name, q);
        // Worth counting first only when the count reads no more than the
        // rows it counts: not under owner or territory filters (tested row
        // by row), nor a period the index cannot seek (only the activities'
        // index leads with the date it filters on).
        let unbounded = q.from.is_none() && q.to.is_none();
        let presize = q.owner.is_none()
            && q.territory.is_none()
            && (unbounded || *name == ReportName::Activities);
        load(
            &self.conn,
            Needs::of(Some(name)),
            source(name),
            &conditions,
            args,
            presize,
        )
    }

    /// The complete facts of every readable, unarchived record on this
    /// device (any report can be computed from them).
    pub fn all_report_facts(&mut self) -> Result<Vec<Facts>> {
        self.fill_report_columns()?;
        load(
            &self.conn,
            Needs::of(None),
            "records",
            &["archived = 0".to_owned()],
            Vec::new(),
            true,
        )
    }

    /// The targets this device holds, read once, and the facts they can
    /// count under `q` ([`Store::target_facts`]).
    fn targets_and_facts(&mut self, q: &ReportQuery) -> Result<(Vec<report::Target>, Vec<Facts>)> {
        let targets = self.targets()?;
        let facts = match report::targets::window(&targets, q)? {
            Some(window) => self.target_facts(q, &targets, window)?,
            None => Vec::new(),
        };
        Ok((targets, facts))
    }

    /// The facts a targets report reads: done activities and won deals
    /// (nothing else counts) of the targets' people and territories, dated
    /// (by any time a target counts them at) inside `window`, the span of
    /// the periods shown (`report::targets::window`), under `q`'s owner and
    /// territory filters ([`target_sql`]).
    fn target_facts(
        &mut self,
        q: &ReportQuery,
        targets: &[report::Target],
        window: (Timestamp, Timestamp),
    ) -> Result<Vec<Facts>> {
        let (sql, args) = target_sql(q, targets, window);
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(facts_of_row(r)?);
        }
        Ok(out)
    }

    /// Computes report `name` over this device's records.
    pub fn report(&mut self, name: &ReportName, q: &ReportQuery) -> Result<ReportResult> {
        if *name == ReportName::Activities {
            // The one report over every activity that keeps no row: counted
            // as the index is read (see `docs/benchmarks.md`, reports).
            self.fill_report_columns()?;
            return tally_activities(&self.conn, q);
        }
        if *name == ReportName::Visits {
            // The one report that lists every row it reads: listed as the
            // index is read, like activities are counted.
            self.fill_report_columns()?;
            return list_visits(&self.conn, q);
        }
        if *name == ReportName::Targets {
            self.fill_report_columns()?;
            let (targets, facts) = self.targets_and_facts(q)?;
            return report::run(name, &facts, &targets, q);
        }
        let facts = self.report_facts(name, q)?;
        report::run(name, &facts, &[], q)
    }

    /// Fills the report columns of rows indexed before they existed.
    pub(super) fn fill_report_columns(&mut self) -> Result<()> {
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

    /// A fresh store in a temporary directory (kept while the store is).
    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(FixedClock("2026-11-24T09:00:00Z".parse().expect("instant")));
        let s = Store::open(&dir.path().join("d.db"), clock).expect("open");
        (dir, s)
    }
    use crate::{FieldWrite, Store};

    #[test]
    fn rows_indexed_before_the_report_columns_are_filled_on_first_report() {
        let (_dir, mut s) = store();
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

    /// A visit stored before the report columns existed is filled on the
    /// first report and then read from the covering index like any other.
    #[test]
    fn an_old_visit_is_read_from_the_covering_index_once_filled() {
        let (_dir, mut s) = store();
        let visit = s
            .create(
                RecordKind::Activity,
                vec![
                    FieldWrite::set("type", "visit"),
                    FieldWrite::set("subject", "Visita"),
                    FieldWrite::set("status", "done"),
                    FieldWrite::set("check_in_at", "2026-11-20T09:00:00Z"),
                    FieldWrite::set("check_out_at", "2026-11-20T09:40:00Z"),
                ],
            )
            .expect("create");
        s.conn
            .execute(
                "UPDATE records SET check_in_at = NULL, check_out_at = NULL, report_version = 0",
                [],
            )
            .expect("age");
        let mut q = s.report_query();
        q.from = Some("2026-11-20T00:00:00Z".parse().expect("from"));
        let facts = s.report_facts(&ReportName::Visits, &q).expect("facts");
        assert_eq!(facts.len(), 1);
        assert_eq!(facts[0].id, visit);
        assert_eq!(
            facts[0].check_in_at,
            Some("2026-11-20T09:00:00Z".parse().expect("t"))
        );
        let v = crate::report::visits::visits(&facts, &q);
        assert_eq!(v.visits[0].duration_minutes, Some(40));
        let plan: String = s
            .conn
            .query_row(
                &format!(
                    "EXPLAIN QUERY PLAN SELECT record_id FROM {} WHERE archived = 0 AND type = 'visit'",
                    source(&ReportName::Visits)
                ),
                [],
                |r| r.get(3),
            )
            .expect("plan");
        assert!(
            plan.contains("COVERING INDEX records_visit_facts"),
            "{plan}"
        );
    }

    /// The targets report seeks the done activities of its window through
    /// `records_done_activities` (the expression in [`COUNTED_AT`] is the
    /// index's), never reading the store's other activities.
    #[test]
    fn targets_seek_done_activities_by_the_instant_they_count_at() {
        use crate::report::targets::{Metric, Period, Target, Whose};
        let (_dir, s) = store();
        let target = Target {
            id: RecordId::new_random(RecordKind::Target),
            name: "Visits".into(),
            metric: Metric::Visits,
            period: Period::Week,
            goal: 5,
            currency: None,
            whose: Whose::User("ana".into()),
            starts_on: None,
            ends_on: None,
        };
        let window = (
            "2026-11-23T00:00:00Z".parse().expect("from"),
            "2026-11-29T23:59:59Z".parse().expect("to"),
        );
        let (sql, args) = target_sql(&s.report_query(), &[target], window);
        let mut stmt = s
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("a plan: the index serves the query");
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(args), |r| r.get(3))
            .expect("plan")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        assert!(
            plan.iter().any(|p| p.starts_with(
                "SEARCH records USING COVERING INDEX records_done_activities (archived=? AND"
            )),
            "{plan:?}"
        );
    }

    /// A target row without its column (stored before it existed) is
    /// filled before the targets are read; one this build cannot read is
    /// read from its documents.
    #[test]
    fn targets_are_read_from_their_rows_even_when_stale_or_unreadable() {
        let (_dir, mut s) = store();
        let id = s
            .create(
                RecordKind::Target,
                vec![
                    FieldWrite::set("metric", "visits"),
                    FieldWrite::set("period", "week"),
                    FieldWrite::set("goal", 5),
                    FieldWrite::set("assignee", "ana"),
                ],
            )
            .expect("target");
        let expected = s.targets().expect("targets");
        assert_eq!(expected.len(), 1);
        assert_eq!(expected[0].id, id);
        for damage in [
            "UPDATE records SET target_spec = NULL, report_version = 0",
            "UPDATE records SET target_spec = '{\"id\": 1}'",
        ] {
            s.conn.execute(damage, []).expect("damage");
            assert_eq!(s.targets().expect("targets"), expected, "{damage}");
        }
    }
}
