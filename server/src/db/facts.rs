//! The facts that decide visibility and write rights: per record, its
//! owner, assignee, territory, parent account and whether it is a process's
//! task, kept from its base-class document.
//!
//! Guarantees: [`facts`] resolves a child's territory from its account by
//! the same rule ([`rules::territory_of`]) the device uses.

use std::collections::HashMap;

use fieldwork_core::policy::RecordFacts;
use fieldwork_core::rules;
use fieldwork_core::{Record, RecordId};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Result, ServerError};

/// Updates the visibility facts of a record from its base-class document.
/// Returns whether they changed.
pub fn update_facts(conn: &Connection, record: &Record) -> Result<bool> {
    let text = |f: &str| record.text(f).map(str::to_owned);
    // The row holds what the record decides itself: its parent account and,
    // for an account, its territory (no parent territory is known here:
    // children's are resolved at read time by [`facts`], same rule).
    let account = record.account().map(|a| a.to_string());
    let territory = rules::territory_of(record.kind(), record.text("territory"), None);
    let process_task = record.facts(None).process_task;
    let before = facts_row(conn, &record.id.to_string())?;
    let after = (
        text("owner"),
        text("assignee"),
        territory,
        account,
        process_task,
    );
    if before.as_ref() == Some(&after) {
        return Ok(false);
    }
    conn.prepare_cached(
        "INSERT INTO records(record_id, kind, owner, assignee, territory, account_id, process_task)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(record_id) DO UPDATE
            SET owner = ?3, assignee = ?4, territory = ?5, account_id = ?6, process_task = ?7",
    )?
    .execute(params![
        record.id.to_string(),
        record.kind().as_str(),
        after.0,
        after.1,
        after.2,
        after.3,
        after.4
    ])?;
    Ok(true)
}

type FactsRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    bool,
);

fn facts_row(conn: &Connection, record: &str) -> Result<Option<FactsRow>> {
    Ok(conn
        .query_row(
            "SELECT owner, assignee, territory, account_id, process_task FROM records WHERE record_id = ?1",
            [record],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?)
}

/// The visibility facts of records (children inherit their account's
/// territory, by [`rules::territory_of`]). Records without facts yet, and
/// malformed record ids, are absent from the map.
pub fn facts(conn: &Connection, records: &[String]) -> Result<HashMap<String, RecordFacts>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.owner, r.assignee, r.territory, a.territory, r.process_task
           FROM records r LEFT JOIN records a ON a.record_id = r.account_id
          WHERE r.record_id = ?1",
    )?;
    let mut out = HashMap::new();
    for record in records {
        if out.contains_key(record) {
            continue;
        }
        let Ok(kind) = record.parse::<RecordId>().map(|id| id.kind()) else {
            continue;
        };
        let row = stmt
            .query_row([record], |r| {
                let own: Option<String> = r.get(2)?;
                let inherited: Option<String> = r.get(3)?;
                Ok(RecordFacts {
                    owner: r.get(0)?,
                    assignee: r.get(1)?,
                    territory: rules::territory_of(kind, own.as_deref(), inherited.as_deref()),
                    process_task: r.get(4)?,
                })
            })
            .optional()?;
        if let Some(f) = row {
            out.insert(record.clone(), f);
        }
    }
    Ok(out)
}

/// Every activity a process step created (a `process_instance` set), from
/// the index: what monitoring reads instead of every activity.
pub fn process_tasks(conn: &Connection) -> Result<Vec<RecordId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT record_id FROM records WHERE kind = 'activity' AND process_task = 1 ORDER BY record_id",
    )?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    ids.iter().map(|id| record_id(id)).collect()
}

/// The records whose parent account is `account`.
pub fn children_of(conn: &Connection, account: &str) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT record_id FROM records WHERE account_id = ?1")?;
    let rows = stmt.query_map([account], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every record id with facts.
pub fn all_records(conn: &Connection) -> Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT record_id FROM records ORDER BY record_id")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Parses a stored record id.
pub fn record_id(text: &str) -> Result<RecordId> {
    text.parse()
        .map_err(|_| ServerError::Internal(format!("stored record id `{text}` is malformed")))
}
