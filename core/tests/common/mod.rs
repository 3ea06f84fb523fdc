//! Helpers shared by the core's integration tests.
#![allow(dead_code, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use fieldwork_core::clock::FixedClock;
use fieldwork_core::store::{RemoteDoc, RemotePayload};
use fieldwork_core::{FieldWrite, RecordId, RecordKind, Store};

/// A store in `dir` with a clock frozen at `at`.
pub fn store_at(dir: &Path, name: &str, at: &str) -> Store {
    let clock = Arc::new(FixedClock(at.parse().expect("instant")));
    Store::open(&dir.join(name), clock).expect("open store")
}

/// A store in `dir` with a clock frozen at 2026-11-24T09:00:00Z.
pub fn store(dir: &Path, name: &str) -> Store {
    store_at(dir, name, "2026-11-24T09:00:00Z")
}

pub fn set(field: &str, value: &str) -> FieldWrite {
    FieldWrite::set(field, value)
}

pub fn account(store: &mut Store, name: &str, extra: Vec<FieldWrite>) -> RecordId {
    let mut writes = vec![set("name", name)];
    writes.extend(extra);
    store
        .create(RecordKind::Account, writes)
        .expect("create account")
}

/// Sends every document of `from` to `to` as whole saved documents, the way
/// a server would on a fresh sync. Merging is idempotent.
pub fn merge_into(from: &mut Store, to: &mut Store) {
    let mut batch = Vec::new();
    for doc in from.doc_ids().expect("ids") {
        let bytes = from.export_doc(&doc).expect("export").expect("stored");
        batch.push(RemoteDoc {
            doc,
            payload: RemotePayload::Document(bytes),
        });
    }
    to.apply_remote(batch, None).expect("apply");
}

/// The name libtest knows test `name` of module `module` by, for running
/// it alone (`--exact`) in a child process of this test binary: the module
/// path (`module_path!()`) without the binary's own name, then the test.
pub fn test_name(module: &str, name: &str) -> String {
    match module.split_once("::") {
        Some((_, inner)) => format!("{inner}::{name}"),
        None => name.to_owned(),
    }
}

/// Signs `name` in with `role`, in territory `north`, under the shipped
/// default policy, as a login would (no server involved).
pub fn sign_in(s: &mut Store, name: &str, role: &str) {
    s.set_sign_in(&fieldwork_core::store::SignIn {
        server: "http://127.0.0.1:1".into(),
        transport: Default::default(),
        user: fieldwork_core::UserContext {
            name: name.into(),
            role: role.into(),
            territories: vec!["north".into()],
            team: vec![],
        },
        policy: fieldwork_core::Policy::shipped_default()
            .source()
            .to_owned(),
        policy_revision: 1,
    })
    .expect("sign in");
}
