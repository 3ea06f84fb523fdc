//! The one place that decides which documents a user receives.
//!
//! A user receives a class document when (1) their role may read the class
//! and (2) they see the record: it is theirs, in one of their territories,
//! owned by someone they manage, or their role sees all. Records without
//! visibility facts yet are seen only by roles that see all. Every path that
//! sends a document to a device goes through [`doc_visible`], and every path
//! that asks it of stored documents through [`visible_among`].

use std::collections::HashSet;

use fieldwork_core::policy::RecordFacts;
use fieldwork_core::rules;
use fieldwork_core::{Access, DocId};

/// Whether `access` may receive document `doc` of a record with `facts`.
pub fn doc_visible(access: &Access, doc: &DocId, facts: Option<&RecordFacts>) -> bool {
    if !access.can_read_class(doc.class()) {
        return false;
    }
    if doc.record().kind() == fieldwork_core::RecordKind::ProcessModel {
        return true;
    }
    let facts = facts.cloned().unwrap_or_default();
    access.sees(&facts)
}

/// Those of `docs` (document ids as stored) that `access` may receive, with
/// the visibility facts of their records read once. A malformed id is never
/// visible.
pub fn visible_among(
    conn: &rusqlite::Connection,
    access: &Access,
    docs: &[String],
) -> crate::error::Result<HashSet<String>> {
    let ids: Vec<(&String, DocId)> = docs
        .iter()
        .filter_map(|d| d.parse::<DocId>().ok().map(|id| (d, id)))
        .collect();
    let records: Vec<String> = ids.iter().map(|(_, id)| id.record().to_string()).collect();
    let facts = crate::db::facts::facts(conn, &records)?;
    Ok(ids
        .into_iter()
        .filter(|(_, id)| doc_visible(access, id, facts.get(&id.record().to_string())))
        .map(|(d, _)| d.clone())
        .collect())
}

/// How many documents `access` may receive (for download progress).
pub fn count_visible(conn: &rusqlite::Connection, access: &Access) -> crate::error::Result<u64> {
    let mut stmt = conn.prepare(
        "SELECT d.doc_id, r.owner, r.assignee, r.territory, a.territory
           FROM documents d
           LEFT JOIN records r ON r.record_id = d.record_id
           LEFT JOIN records a ON a.record_id = r.account_id",
    )?;
    let mut rows = stmt.query([])?;
    let mut n = 0;
    while let Some(row) = rows.next()? {
        let doc: String = row.get(0)?;
        let Ok(id) = doc.parse::<DocId>() else {
            continue;
        };
        let own: Option<String> = row.get(3)?;
        let inherited: Option<String> = row.get(4)?;
        let facts = RecordFacts {
            owner: row.get(1)?,
            assignee: row.get(2)?,
            territory: rules::territory_of(
                id.record().kind(),
                own.as_deref(),
                inherited.as_deref(),
            ),
        };
        if doc_visible(access, &id, Some(&facts)) {
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldwork_core::{Policy, RecordId, RecordKind, UserContext};

    fn rep() -> Access {
        Access::User {
            user: UserContext {
                name: "ana".into(),
                role: "rep".into(),
                territories: vec!["madrid".into()],
                team: vec![],
            },
            policy: Policy::shipped_default(),
        }
    }

    #[test]
    fn reps_get_readable_classes_of_visible_records_only() {
        let id = RecordId::new_random(RecordKind::Account);
        let general = id.doc(&"general".parse().expect("class"));
        let financial = id.doc(&"financial".parse().expect("class"));
        let mine = RecordFacts {
            owner: None,
            assignee: None,
            territory: Some("madrid".into()),
        };
        let theirs = RecordFacts {
            owner: Some("luis".into()),
            assignee: None,
            territory: Some("sevilla".into()),
        };
        assert!(doc_visible(&rep(), &general, Some(&mine)));
        assert!(
            !doc_visible(&rep(), &financial, Some(&mine)),
            "financial is not readable by reps"
        );
        assert!(!doc_visible(&rep(), &general, Some(&theirs)));
        assert!(
            !doc_visible(&rep(), &general, None),
            "no facts: only see-all roles"
        );
    }
}
