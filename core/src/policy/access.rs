//! Deciding access: who a user is, what a record's routing facts are, and
//! whether the policy lets that user see or change it.

use serde::{Deserialize, Serialize};

use super::{Policy, Role, Scope};
use crate::error::Denial;
use crate::ids::{ClassName, RecordKind};

/// The field of an activity that, on a task a process planned, completes
/// (or reopens) the task: written only with the `complete_tasks` right.
const PROCESS_TASK_STATUS: &str = "status";

/// Stable reason codes for refusals (also listed in `docs/PROTOCOL.md`).
pub mod codes {
    /// The user's role may not read the class.
    pub const CLASS_NOT_READABLE: &str = "class_not_readable";
    /// The user's role may not write the class.
    pub const CLASS_NOT_WRITABLE: &str = "class_not_writable";
    /// The user may not see the record.
    pub const RECORD_NOT_VISIBLE: &str = "record_not_visible";
    /// The user sees the record but may not change it.
    pub const RECORD_NOT_EDITABLE: &str = "record_not_editable";
    /// The field is not in the schema, or not in this document's class.
    pub const UNKNOWN_FIELD: &str = "unknown_field";
    /// The value has the wrong type or shape.
    pub const INVALID_VALUE: &str = "invalid_value";
    /// The field exists but the policy now keeps it in another class.
    pub const FIELD_MOVED: &str = "field_moved";
    /// The field is kept by the system and a user wrote it directly.
    pub const SYSTEM_FIELD: &str = "system_field";
    /// The user's role has no such process right.
    pub const PROCESS_FORBIDDEN: &str = "process_forbidden";
    /// The task belongs to a process instance that is suspended or stopped:
    /// it is held and cannot be completed until the instance is resumed.
    pub const PROCESS_HELD: &str = "process_held";
    /// A task's outcome does not fit the form its process step declares.
    pub const INVALID_OUTCOME: &str = "invalid_outcome";
    /// The user's role may not archive or restore records.
    pub const ARCHIVE_FORBIDDEN: &str = "archive_forbidden";
    /// The user's role may not set or change targets.
    pub const TARGETS_FORBIDDEN: &str = "targets_forbidden";
    /// The user's role is not in the policy.
    pub const UNKNOWN_ROLE: &str = "unknown_role";
    /// The change rewrites what is written once: a published model, an
    /// instance's identity, an event already in an instance's log.
    pub const IMMUTABLE: &str = "immutable";
    /// The change names another user than the one pushing it (an event's
    /// `by`, an instance's or a new record's owner).
    pub const WRONG_USER: &str = "wrong_user";
}

/// Who is acting, as far as the policy is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserContext {
    /// The user's unique name.
    pub name: String,
    /// The user's role (a key of the policy's `[roles]`).
    pub role: String,
    /// Territories assigned to the user.
    #[serde(default)]
    pub territories: Vec<String>,
    /// Names of the users this user manages (directly or indirectly).
    #[serde(default)]
    pub team: Vec<String>,
}

/// The facts about a record that decide who sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFacts {
    /// The record's owner.
    pub owner: Option<String>,
    /// For activities, the assignee (who sees it on their calendar).
    pub assignee: Option<String>,
    /// The record's territory; children of an account inherit the account's.
    pub territory: Option<String>,
    /// For activities, whether a process planned it (it has a
    /// `process_instance`): its `status` is then written only with the
    /// `complete_tasks` process right, since a task done advances the
    /// instance.
    #[serde(default)]
    pub process_task: bool,
}

/// The access regime a store or a session runs under.
#[derive(Debug, Clone)]
pub enum Access {
    /// A device that has never logged in: a private, single-user CRM; the
    /// schema still applies, the policy does not.
    Local,
    /// A signed-in user under an organisation's policy.
    User {
        /// The user.
        user: UserContext,
        /// The policy in force.
        policy: Policy,
    },
}

impl Access {
    /// Whether the user may read `class` of a record.
    pub fn can_read_class(&self, class: &ClassName) -> bool {
        match self {
            Access::Local => true,
            Access::User { user, policy } => policy
                .role(&user.role)
                .is_some_and(|r| r.read.contains(class)),
        }
    }

    /// Whether the user sees a record with these facts.
    pub fn sees(&self, facts: &RecordFacts) -> bool {
        match self {
            Access::Local => true,
            Access::User { user, policy } => policy
                .role(&user.role)
                .is_some_and(|r| in_scopes(&r.sees, user, facts)),
        }
    }

    /// Checks that the user may write `field` of a `kind` record with `facts`
    /// (`None` for a record being created). Returns the refusal otherwise.
    pub fn check_write(
        &self,
        kind: RecordKind,
        field: &str,
        facts: Option<&RecordFacts>,
        doc: Option<&str>,
    ) -> Result<(), Denial> {
        let Access::User { user, policy } = self else {
            return Ok(());
        };
        let role = role_of(policy, user, doc)?;
        let Some(class) = policy.class_of(kind, field) else {
            return Err(denial(
                codes::UNKNOWN_FIELD,
                doc,
                Some(field),
                "schema",
                format!("{kind} has no field `{field}`"),
            ));
        };
        if !role.write.contains(class) {
            return Err(denial(
                codes::CLASS_NOT_WRITABLE,
                doc,
                Some(field),
                &format!("roles.{}.write", user.role),
                format!(
                    "role `{}` may not write `{field}` (class `{class}`)",
                    user.role
                ),
            ));
        }
        // A merge archives its loser: marking a record merged takes the
        // same right as archiving it.
        if (field == crate::schema::ARCHIVED || field == crate::schema::MERGED_INTO)
            && !role.archive
        {
            return Err(denial(
                codes::ARCHIVE_FORBIDDEN,
                doc,
                Some(field),
                &format!("roles.{}.archive", user.role),
                format!("role `{}` may not archive or restore records", user.role),
            ));
        }
        if kind == RecordKind::Target && !role.targets {
            return Err(denial(
                codes::TARGETS_FORBIDDEN,
                doc,
                Some(field),
                &format!("roles.{}.targets", user.role),
                format!("role `{}` may not set or change targets", user.role),
            ));
        }
        if kind == RecordKind::Activity
            && field == PROCESS_TASK_STATUS
            && facts.is_some_and(|f| f.process_task)
            && !role.process.complete_tasks
        {
            return Err(denial(
                codes::PROCESS_FORBIDDEN,
                doc,
                Some(field),
                &format!("roles.{}.process.complete_tasks", user.role),
                format!(
                    "role `{}` may not complete process tasks (a task's status moves its process)",
                    user.role
                ),
            ));
        }
        if let Some(facts) = facts
            && !in_scopes(&role.edits, user, facts)
        {
            let (code, what) = if in_scopes(&role.sees, user, facts) {
                (codes::RECORD_NOT_EDITABLE, "may not change")
            } else {
                (codes::RECORD_NOT_VISIBLE, "does not see")
            };
            return Err(denial(
                code,
                doc,
                Some(field),
                &format!("roles.{}.edits", user.role),
                format!("user `{}` {what} this {kind}", user.name),
            ));
        }
        Ok(())
    }

    /// Checks a process right (`start`, `stop`, ...) for the user.
    pub fn check_process(
        &self,
        right: &str,
        allowed: impl Fn(&super::ProcessRights) -> bool,
    ) -> Result<(), Denial> {
        let Access::User { user, policy } = self else {
            return Ok(());
        };
        let role = role_of(policy, user, None)?;
        if allowed(&role.process) {
            Ok(())
        } else {
            Err(denial(
                codes::PROCESS_FORBIDDEN,
                None,
                None,
                &format!("roles.{}.process.{right}", user.role),
                format!(
                    "role `{}` may not {} process instances",
                    user.role,
                    right.replace('_', " ")
                ),
            ))
        }
    }

    /// The user, when signed in.
    pub fn user(&self) -> Option<&UserContext> {
        match self {
            Access::Local => None,
            Access::User { user, .. } => Some(user),
        }
    }

    /// The policy, when signed in.
    pub fn policy(&self) -> Option<&Policy> {
        match self {
            Access::Local => None,
            Access::User { policy, .. } => Some(policy),
        }
    }

    /// The definition of `field` of `kind` for this access: under the
    /// policy in force ([`Policy::field`], custom fields included), or the
    /// built-in schema for a device that never signed in.
    pub fn field(&self, kind: RecordKind, field: &str) -> Option<&'static crate::schema::FieldDef> {
        match self {
            Access::Local => crate::schema::field(kind, field),
            Access::User { policy, .. } => policy.field(kind, field),
        }
    }
}

fn role_of<'p>(
    policy: &'p Policy,
    user: &UserContext,
    doc: Option<&str>,
) -> Result<&'p Role, Denial> {
    policy.role(&user.role).ok_or_else(|| {
        denial(
            codes::UNKNOWN_ROLE,
            doc,
            None,
            "roles",
            format!("role `{}` is not in the policy", user.role),
        )
    })
}

fn in_scopes(
    scopes: &std::collections::BTreeSet<Scope>,
    user: &UserContext,
    facts: &RecordFacts,
) -> bool {
    scopes.iter().any(|scope| match scope {
        Scope::All => true,
        Scope::Own => {
            facts.owner.as_deref() == Some(&user.name)
                || facts.assignee.as_deref() == Some(&user.name)
        }
        Scope::Territory => facts
            .territory
            .as_ref()
            .is_some_and(|t| user.territories.contains(t)),
        Scope::Team => [&facts.owner, &facts.assignee]
            .into_iter()
            .flatten()
            .any(|who| user.team.contains(who)),
    })
}

/// Builds a refusal.
pub(crate) fn denial(
    code: &str,
    doc: Option<&str>,
    field: Option<&str>,
    rule: &str,
    message: String,
) -> Denial {
    Denial {
        code: code.to_owned(),
        doc: doc.map(str::to_owned),
        field: field.map(str::to_owned),
        rule: rule.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, role: &str, territories: &[&str], team: &[&str]) -> Access {
        Access::User {
            user: UserContext {
                name: name.into(),
                role: role.into(),
                territories: territories.iter().map(|s| s.to_string()).collect(),
                team: team.iter().map(|s| s.to_string()).collect(),
            },
            policy: Policy::shipped_default(),
        }
    }

    fn facts(owner: &str, territory: &str) -> RecordFacts {
        RecordFacts {
            owner: Some(owner.into()),
            assignee: None,
            territory: Some(territory.into()),
            process_task: false,
        }
    }

    #[test]
    fn reps_see_own_and_territory_records_only() {
        let ana = user("ana", "rep", &["madrid"], &[]);
        assert!(ana.sees(&facts("ana", "sevilla")));
        assert!(ana.sees(&facts("luis", "madrid")));
        assert!(!ana.sees(&facts("luis", "sevilla")));
        let boss = user("marta", "manager", &[], &["luis"]);
        assert!(boss.sees(&facts("luis", "sevilla")));
        assert!(!boss.sees(&facts("pedro", "sevilla")));
        assert!(user("root", "admin", &[], &[]).sees(&facts("x", "y")));
    }

    #[test]
    fn write_checks_name_the_rule() {
        let ana = user("ana", "rep", &["madrid"], &[]);
        let f = facts("luis", "madrid");
        assert!(
            ana.check_write(RecordKind::Account, "name", Some(&f), None)
                .is_ok()
        );
        let denied = ana
            .check_write(
                RecordKind::Account,
                "credit_limit",
                Some(&f),
                Some("account:X/financial"),
            )
            .expect_err("reps may not write credit limits");
        assert_eq!(denied.code, codes::CLASS_NOT_WRITABLE);
        assert_eq!(denied.rule, "roles.rep.write");
        assert_eq!(denied.field.as_deref(), Some("credit_limit"));
        let other = facts("luis", "sevilla");
        let denied = ana
            .check_write(RecordKind::Account, "name", Some(&other), None)
            .expect_err("not her territory");
        assert_eq!(denied.code, codes::RECORD_NOT_VISIBLE);
        let auditor = user("audrey", "auditor", &[], &[]);
        let denied = auditor
            .check_write(RecordKind::Account, "name", Some(&f), None)
            .expect_err("auditors only read");
        assert_eq!(denied.code, codes::CLASS_NOT_WRITABLE);
        assert!(
            Access::Local
                .check_write(RecordKind::Account, "tax_id", None, None)
                .is_ok()
        );
    }

    #[test]
    fn archiving_needs_the_archive_right_and_an_editable_record() {
        let f = facts("ana", "madrid");
        let ana = user("ana", "rep", &["madrid"], &[]);
        let denied = ana
            .check_write(RecordKind::Account, crate::schema::ARCHIVED, Some(&f), None)
            .expect_err("reps may not archive");
        assert_eq!(denied.code, codes::ARCHIVE_FORBIDDEN);
        assert_eq!(denied.rule, "roles.rep.archive");
        let marta = user("marta", "manager", &["madrid"], &[]);
        assert!(
            marta
                .check_write(RecordKind::Account, crate::schema::ARCHIVED, Some(&f), None)
                .is_ok()
        );
        let elsewhere = facts("pedro", "sevilla");
        let denied = marta
            .check_write(
                RecordKind::Account,
                crate::schema::ARCHIVED,
                Some(&elsewhere),
                None,
            )
            .expect_err("not a record she edits");
        assert_eq!(denied.code, codes::RECORD_NOT_VISIBLE);
    }

    #[test]
    fn process_rights_follow_the_role() {
        let ana = user("ana", "rep", &[], &[]);
        assert!(ana.check_process("start", |p| p.start).is_ok());
        let denied = ana
            .check_process("stop", |p| p.stop)
            .expect_err("reps may not stop");
        assert_eq!(denied.rule, "roles.rep.process.stop");
    }

    #[test]
    fn a_process_tasks_status_needs_the_complete_tasks_right() {
        let mut policy = Policy::shipped_default();
        if let Some(rep) = policy.roles.get_mut("rep") {
            rep.process.complete_tasks = false;
        }
        let ana = Access::User {
            user: UserContext {
                name: "ana".into(),
                role: "rep".into(),
                territories: vec!["madrid".into()],
                team: Vec::new(),
            },
            policy,
        };
        let task = RecordFacts {
            process_task: true,
            ..facts("ana", "madrid")
        };
        let denied = ana
            .check_write(RecordKind::Activity, "status", Some(&task), None)
            .expect_err("completing moves the process");
        assert_eq!(denied.code, codes::PROCESS_FORBIDDEN);
        assert_eq!(denied.rule, "roles.rep.process.complete_tasks");
        assert_eq!(denied.field.as_deref(), Some("status"));
        // Her other fields of the task, and the status of her own
        // activities, stay hers to write.
        let activity = RecordKind::Activity;
        assert!(
            ana.check_write(activity, "outcome", Some(&task), None)
                .is_ok()
        );
        let own = facts("ana", "madrid");
        assert!(
            ana.check_write(activity, "status", Some(&own), None)
                .is_ok()
        );
        // The shipped rep holds the right.
        let shipped = user("ana", "rep", &["madrid"], &[]);
        assert!(
            shipped
                .check_write(activity, "status", Some(&task), None)
                .is_ok()
        );
    }
}
