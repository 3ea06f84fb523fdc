//! Whether a model's assignees exist: the roles in the policy, the users in
//! the organisation's directory. Only a publisher that knows the directory
//! (the server) can tell; a device publishing offline cannot, so this check
//! is separate from [`super::Model::check`].
//!
//! Guarantees: every `role:NAME` assignee whose role the policy does not
//! define, and every `user:NAME` assignee who is not an active user, is one
//! problem naming the step (and the reminder, for a reminder's assignee);
//! nothing else is judged here.

use super::{Assignee, ModelFile};
use crate::policy::Policy;
use crate::wire::DirectoryEntry;

/// The problems of `file`'s assignees against `users` (the active users)
/// and `policy`; empty when every one is known.
pub fn check_people(file: &ModelFile, users: &[DirectoryEntry], policy: &Policy) -> Vec<String> {
    let mut problems = Vec::new();
    for s in &file.steps {
        let reminders = s.reminders.iter().enumerate().filter_map(|(i, r)| {
            let key = format!("steps.{}.reminders[{i}].assignee", s.id);
            r.assignee.as_deref().map(|a| (key, a))
        });
        let own = s
            .assignee
            .as_deref()
            .map(|a| (format!("steps.{}.assignee", s.id), a));
        for (key, text) in own.into_iter().chain(reminders) {
            match Assignee::parse(text) {
                Some(Assignee::Role(r)) if policy.role(&r).is_none() => {
                    problems.push(format!("{key}: the policy defines no role `{r}`"));
                }
                Some(Assignee::User(u)) if !users.iter().any(|e| e.name == u) => {
                    problems.push(format!("{key}: no active user is called `{u}`"));
                }
                _ => {}
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::model::Model;

    #[test]
    fn unknown_roles_and_users_are_problems_known_ones_are_not() {
        let toml = r#"
key = "k"
name = "n"
trigger = { kind = "manual", record = "account" }
[[steps]]
id = "a"
kind = "task"
assignee = "role:wizard"
subject = "Look"
next = "b"
[[steps]]
id = "b"
kind = "task"
assignee = "user:nobody"
subject = "Look"
next = "c"
[[steps]]
id = "c"
kind = "task"
assignee = "user:ana"
subject = "Look"
next = "d"
[[steps]]
id = "d"
kind = "task"
assignee = "role:manager"
subject = "Look"
next = "e"
[[steps]]
id = "e"
kind = "end"
"#;
        let file = Model::from_toml(toml)
            .expect("valid without a directory")
            .file;
        let ana = DirectoryEntry {
            name: "ana".into(),
            role: "rep".into(),
            manager: None,
            time_zone: None,
        };
        let problems = check_people(&file, &[ana], &Policy::shipped_default());
        assert_eq!(
            problems,
            vec![
                "steps.a.assignee: the policy defines no role `wizard`".to_owned(),
                "steps.b.assignee: no active user is called `nobody`".to_owned(),
            ]
        );
    }
}
