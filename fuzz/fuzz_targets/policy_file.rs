//! The policy file parser (`fieldwork_core::Policy::from_toml`, in
//! `core/src/policy/file.rs`), which the server runs on every policy an
//! administrator installs and every device runs on the policy it receives.
//!
//! Checks: parsing never panics; a refusal lists at least one problem; an
//! accepted policy answers every question the rest of the system asks of it
//! (classes of each kind, each field's class, each role's rights) without
//! panicking, puts every field of the schema in a class of its kind, and
//! parses again from its own source text.
#![no_main]

use fieldwork_core::policy::RecordFacts;
use fieldwork_core::{Access, CoreError, Policy, RecordKind, UserContext, schema};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let policy = match Policy::from_toml(text) {
        Ok(p) => p,
        Err(CoreError::Policy(problems)) => {
            assert!(!problems.is_empty(), "a refused policy says why");
            return;
        }
        Err(other) => panic!("a policy is refused with CoreError::Policy, got {other:?}"),
    };
    let _ = policy.base_class();
    for kind in RecordKind::ALL {
        let classes = policy.classes_of_kind(kind);
        for def in schema::fields(kind) {
            if let Some(class) = policy.class_of(kind, def.name) {
                assert!(
                    classes.contains(class),
                    "{kind}.{} is in `{class}`, which {kind} records do not have",
                    def.name
                );
            }
        }
        for class in &classes {
            let _ = policy.fields_in(kind, class).count();
        }
    }
    let facts = Some(RecordFacts {
        owner: Some("luis".into()),
        assignee: None,
        territory: Some("madrid".into()),
        process_task: false,
    });
    for role in policy.roles().keys() {
        let access = Access::User {
            user: UserContext {
                name: "ana".into(),
                role: role.clone(),
                territories: vec!["madrid".into()],
                team: vec![],
            },
            policy: policy.clone(),
        };
        for kind in RecordKind::ALL {
            for def in schema::fields(kind) {
                let _ = access.check_write(kind, def.name, facts.as_ref(), None);
            }
        }
    }
    assert!(
        Policy::from_toml(policy.source()).is_ok(),
        "an accepted policy's own source is accepted again"
    );
});
