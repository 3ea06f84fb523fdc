//! With whose rights a process instance runs, and what it may see.
//!
//! An instance never has more rights than a person:
//!
//! - it **runs as** its owner: the user who started it (by hand, or whose
//!   write fired its trigger), or, for instances a schedule started, the
//!   publisher of the model version. The server refuses an instance whose
//!   owner is not the user pushing it;
//! - its conditions, gateways and timers read only the fields that user's
//!   role may read; its `set` steps write only what that user may write;
//! - a subject or topic rendered into a task shows only fields that **both**
//!   the instance's user and the task's assignee may read, so a task never
//!   carries a value its assignee may not read.
//!
//! Read rights here are per class (a role's `read` list), the same on every
//! replica that knows the policy and the user directory: that is what lets a
//! phone and the server render the same subject byte for byte. Record
//! visibility (territories, teams) is applied where records are loaded.
//!
//! Guarantees:
//! - [`view`] keeps a field only when the policy puts it in a class the role
//!   reads; an unknown role or an unclassified field reads nothing.
//! - Without a policy (a device that never signed in) nothing is hidden:
//!   there is only one user.

use crate::ids::RecordKind;
use crate::policy::Policy;
use crate::record::Record;
use crate::wire::DirectoryEntry;

/// The role of `user` in `directory`, if the user is listed there.
pub fn role_of<'d>(directory: &'d [DirectoryEntry], user: &str) -> Option<&'d str> {
    directory
        .iter()
        .find(|d| d.name == user)
        .map(|d| d.role.as_str())
}

/// Whether `role` may read `field` of a `kind` record under `policy`
/// (`None` policy: a single-user device, which reads everything).
pub fn role_reads(
    policy: Option<&Policy>,
    role: Option<&str>,
    kind: RecordKind,
    field: &str,
) -> bool {
    let Some(policy) = policy else {
        return true;
    };
    let (Some(role), Some(class)) = (
        role.and_then(|r| policy.role(r)),
        policy.class_of(kind, field),
    ) else {
        return false;
    };
    role.read.contains(class)
}

/// `record` with only the fields every one of `roles` may read.
pub fn view(record: &Record, policy: Option<&Policy>, roles: &[Option<&str>]) -> Record {
    let kind = record.kind();
    let keep = |field: &str| {
        roles
            .iter()
            .all(|role| role_reads(policy, *role, kind, field))
    };
    Record {
        id: record.id.clone(),
        fields: record
            .fields
            .iter()
            .filter(|(f, _)| keep(f))
            .map(|(f, v)| (f.clone(), v.clone()))
            .collect(),
        conflicts: record
            .conflicts
            .iter()
            .filter(|(f, _)| keep(f))
            .map(|(f, v)| (f.clone(), v.clone()))
            .collect(),
        classes: record.classes.clone(),
    }
}

/// Whether role `local` reads every class that role `other` reads (so a
/// replica of `local` sees all an instance running as `other` may see, and
/// computes the same steps as the server).
pub fn reads_at_least(policy: Option<&Policy>, local: Option<&str>, other: Option<&str>) -> bool {
    let Some(policy) = policy else {
        return true;
    };
    match (
        local.and_then(|r| policy.role(r)),
        other.and_then(|r| policy.role(r)),
    ) {
        (Some(l), Some(o)) => o.read.is_subset(&l.read),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::RecordId;
    use crate::value::FieldValue;

    fn account() -> Record {
        let mut r = Record {
            id: RecordId::new_random(RecordKind::Account),
            fields: Default::default(),
            conflicts: Default::default(),
            classes: vec![],
        };
        r.fields
            .insert("name".into(), FieldValue::Text("Szőke Kft.".into()));
        r.fields
            .insert("credit_limit".into(), FieldValue::Int(5_000_000));
        r.fields
            .insert("tax_id".into(), FieldValue::Text("B12345678".into()));
        r
    }

    #[test]
    fn a_view_keeps_what_every_role_reads() {
        let policy = Policy::shipped_default();
        let rep = view(&account(), Some(&policy), &[Some("manager"), Some("rep")]);
        assert!(rep.get("name").is_some());
        assert!(rep.get("credit_limit").is_none(), "{rep:?}");
        assert!(rep.get("tax_id").is_none(), "{rep:?}");
        let manager = view(&account(), Some(&policy), &[Some("manager")]);
        assert!(manager.get("credit_limit").is_some());
        let nobody = view(&account(), Some(&policy), &[Some("no such role")]);
        assert!(nobody.fields.is_empty());
        let alone = view(&account(), None, &[None]);
        assert_eq!(alone.fields.len(), 3);
    }

    #[test]
    fn managers_read_at_least_what_reps_read() {
        let policy = Policy::shipped_default();
        assert!(reads_at_least(Some(&policy), Some("manager"), Some("rep")));
        assert!(!reads_at_least(Some(&policy), Some("rep"), Some("manager")));
        assert!(!reads_at_least(Some(&policy), Some("rep"), None));
        assert!(reads_at_least(None, None, None));
    }
}
