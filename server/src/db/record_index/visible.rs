//! Visibility as SQL: the condition on a `records` row under which a user
//! sees the record, for queries that select many records at once.
//!
//! Guarantees: [`sql_visible`] is true exactly when
//! [`crate::visibility::doc_visible`] says the record is seen (the class
//! part aside), which `visibility`'s tests check for every scope and every
//! shape of facts; user names and territories are only ever parameters.

use fieldwork_core::Access;

/// An SQL boolean expression over the `records` table row aliased `alias`
/// (columns `kind`, `owner`, `assignee`, `territory`, `account_id`) that
/// is 1 exactly when [`crate::visibility::doc_visible`] says `access` sees
/// the record, leaving out the class part (callers filter classes
/// themselves), and 0 otherwise (never NULL, so it may be negated). A
/// record without a `records` row (NULL columns through a `LEFT JOIN`) is
/// seen only by roles that see all, as for a record without facts;
/// process models are seen by everyone, which needs the row's `kind` (a
/// query joining records that may lack a row checks the kind itself).
///
/// Returns the expression and its parameters, for anonymous `?`
/// placeholders in order. A child's territory is its account's, by the
/// rule of [`fieldwork_core::rules::territory_of`]. User data is only ever
/// a parameter.
pub fn sql_visible(access: &Access, alias: &str) -> (String, Vec<rusqlite::types::Value>) {
    use fieldwork_core::policy::Scope;
    use rusqlite::types::Value;
    let (user, policy) = match access {
        Access::Local => return ("1".into(), Vec::new()),
        Access::User { user, policy } => (user, policy),
    };
    let a = alias;
    let mut terms = vec![format!(
        "{a}.kind = '{}'",
        fieldwork_core::RecordKind::ProcessModel.as_str()
    )];
    let mut params: Vec<Value> = Vec::new();
    let marks = |n: usize| vec!["?"; n].join(", ");
    // A role missing from the policy sees no record (`Access::sees`).
    let scopes = policy
        .role(&user.role)
        .map(|r| &r.sees)
        .into_iter()
        .flatten();
    for scope in scopes {
        match scope {
            Scope::All => return ("1".into(), Vec::new()),
            Scope::Own => {
                terms.push(format!("{a}.owner = ? OR {a}.assignee = ?"));
                params.push(Value::Text(user.name.clone()));
                params.push(Value::Text(user.name.clone()));
            }
            Scope::Territory if !user.territories.is_empty() => {
                terms.push(format!(
                    "(CASE WHEN {a}.kind IN ('{account}', '{target}') THEN {a}.territory
                      ELSE (SELECT vis_acc.territory FROM records vis_acc
                             WHERE vis_acc.record_id = {a}.account_id) END) IN ({})",
                    marks(user.territories.len()),
                    account = fieldwork_core::RecordKind::Account.as_str(),
                    target = fieldwork_core::RecordKind::Target.as_str(),
                ));
                params.extend(user.territories.iter().cloned().map(Value::Text));
            }
            Scope::Team if !user.team.is_empty() => {
                let list = marks(user.team.len());
                terms.push(format!("{a}.owner IN ({list}) OR {a}.assignee IN ({list})"));
                params.extend(user.team.iter().cloned().map(Value::Text));
                params.extend(user.team.iter().cloned().map(Value::Text));
            }
            Scope::Territory | Scope::Team => {}
        }
    }
    let expr = terms
        .iter()
        .map(|t| format!("({t})"))
        .collect::<Vec<_>>()
        .join(" OR ");
    (format!("COALESCE(({expr}), 0)"), params)
}
