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
            // Seeing a record does not depend on it.
            process_task: false,
        };
        if doc_visible(access, &id, Some(&facts)) {
            n += 1;
        }
    }
    Ok(n)
}

/// An SQL boolean expression over the `records` table row aliased `alias`
/// (columns `kind`, `owner`, `assignee`, `territory`, `account_id`) that is
/// 1 exactly when [`doc_visible`] says `access` sees the record, leaving
/// out the class part (callers filter classes themselves), and 0 otherwise
/// (never NULL, so it may be negated); with its parameters, for anonymous
/// `?` placeholders in order. See
/// [`crate::db::record_index::sql_visible`], where it is written next to
/// the queries that use it (so that the database layer does not depend on
/// this module); the test below holds it to [`doc_visible`].
pub fn sql_filter(access: &Access, alias: &str) -> (String, Vec<rusqlite::types::Value>) {
    crate::db::record_index::sql_visible(access, alias)
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
            process_task: false,
        };
        let theirs = RecordFacts {
            owner: Some("luis".into()),
            assignee: None,
            territory: Some("sevilla".into()),
            process_task: false,
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

    fn user(name: &str, role: &str, territories: &[&str], team: &[&str]) -> Access {
        Access::User {
            user: UserContext {
                name: name.into(),
                role: role.into(),
                territories: territories.iter().map(|t| (*t).to_owned()).collect(),
                team: team.iter().map(|t| (*t).to_owned()).collect(),
            },
            policy: Policy::shipped_default(),
        }
    }

    /// `sql_filter` answers as `doc_visible` (class aside) for every role
    /// scope and every shape of facts, accounts and children alike.
    #[test]
    fn sql_filter_agrees_with_sees_for_every_scope_and_fact() {
        let conn = rusqlite::Connection::open_in_memory().expect("db");
        conn.execute_batch(
            "CREATE TABLE records (record_id TEXT PRIMARY KEY, kind TEXT NOT NULL, owner TEXT,
                                   assignee TEXT, territory TEXT, account_id TEXT);",
        )
        .expect("schema");
        let people = [
            None,
            Some("ana"),
            Some("luis"),
            Some("carla"),
            Some("maria"),
        ];
        let territories = [None, Some("madrid"), Some("sevilla")];
        // One account per territory, parents of the children below.
        let mut parents = Vec::new();
        for t in territories {
            let id = RecordId::new_random(RecordKind::Account).to_string();
            conn.execute(
                "INSERT INTO records(record_id, kind, owner, territory) VALUES (?1, 'account', 'nobody', ?2)",
                rusqlite::params![id, t],
            )
            .expect("parent");
            parents.push((id, t));
        }
        let mut cases: Vec<(String, RecordKind, RecordFacts)> = Vec::new();
        for owner in people {
            for assignee in people {
                for (parent, t) in &parents {
                    for kind in [
                        RecordKind::Account,
                        RecordKind::Activity,
                        RecordKind::Contact,
                    ] {
                        let id = RecordId::new_random(kind).to_string();
                        let (own_t, account) = match kind {
                            RecordKind::Account => (*t, None),
                            // Children ignore a territory of their own.
                            _ => (Some("madrid"), Some(parent.as_str())),
                        };
                        conn.execute(
                            "INSERT INTO records(record_id, kind, owner, assignee, territory, account_id)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                            rusqlite::params![id, kind.as_str(), owner, assignee, own_t, account],
                        )
                        .expect("insert");
                        let facts = RecordFacts {
                            owner: owner.map(str::to_owned),
                            assignee: assignee.map(str::to_owned),
                            territory: t.map(str::to_owned),
                            process_task: false,
                        };
                        cases.push((id, kind, facts));
                    }
                }
            }
        }
        // A process model is seen by everyone, even without facts.
        let model = RecordId::new_random(RecordKind::ProcessModel).to_string();
        conn.execute(
            "INSERT INTO records(record_id, kind) VALUES (?1, 'process_model')",
            [&model],
        )
        .expect("model");
        let accesses = [
            user("ana", "rep", &["madrid"], &[]),
            user("ana", "rep", &[], &[]),
            user("maria", "manager", &["sevilla"], &["luis", "carla"]),
            user("maria", "manager", &[], &[]),
            user("root", "admin", &[], &[]),
            user("audrey", "auditor", &[], &[]),
            user("ghost", "no_such_role", &["madrid"], &["ana"]),
            Access::Local,
        ];
        let general: fieldwork_core::ids::ClassName = "general".parse().expect("class");
        for access in &accesses {
            let (expr, params) = sql_filter(access, "r");
            let sql = format!("SELECT {expr} FROM records r WHERE r.record_id = ?");
            let mut seen_any = (false, false);
            for (id, kind, facts) in &cases {
                let mut args = params.clone();
                args.push(rusqlite::types::Value::Text(id.clone()));
                let got: i64 = conn
                    .query_row(&sql, rusqlite::params_from_iter(args), |r| r.get(0))
                    .expect("query");
                let want = access.sees(facts);
                let doc = id.parse::<RecordId>().expect("id").doc(&general);
                assert_eq!(want, doc_visible(access, &doc, Some(facts)));
                assert_eq!(got == 1, want, "{access:?} {kind} {facts:?}");
                assert!(got == 0 || got == 1, "a boolean, never NULL");
                if want {
                    seen_any.0 = true;
                } else {
                    seen_any.1 = true;
                }
            }
            let mut args = params.clone();
            args.push(rusqlite::types::Value::Text(model.clone()));
            let got: i64 = conn
                .query_row(&sql, rusqlite::params_from_iter(args), |r| r.get(0))
                .expect("model query");
            assert_eq!(got, 1, "process models are seen by all: {access:?}");
            let known_role = access
                .policy()
                .is_none_or(|p| access.user().is_some_and(|u| p.role(&u.role).is_some()));
            // The cases exercise both answers for every scoped role.
            assert_eq!(seen_any.0, known_role, "{access:?}");
        }
    }
}
