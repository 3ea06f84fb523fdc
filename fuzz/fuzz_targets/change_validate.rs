//! The server's per-change checks: `Change::from_bytes` (Automerge's change
//! decoder) then `fieldwork_core::validate::check_change`, against small
//! documents under the shipped default policy (see `fieldwork_fuzz::SCENARIOS`).
//!
//! Input: one byte choosing the scenario, then the change's bytes.
//!
//! Before Automerge parses anything the server reads the raw chunk with
//! `fieldwork_core::change_limits` (`chunk_hash`, `measure`); the target
//! does the same, and checks that a change `measure` lets through decodes
//! to the number of operations it counted.
//!
//! Automerge 0.12's own decoder panics on some malformed changes (an
//! actor index past `u32` in the key column, found by this target; kept in
//! `core/tests/fuzz_regressions/change_validate/`). The server contains
//! that with `catch_unwind` around each change (`server/src/sync/push.rs`);
//! the target does the same around `Change::from_bytes`, `Change::decode`
//! and `apply_changes` only, so it keeps fuzzing our code behind them.
//!
//! Checks: nothing of ours panics; a refusal carries a code and a message; a
//! change is never accepted where the pusher may not write (a rep on the
//! financial class, a rep on another territory's record); and an accepted
//! change, once applied, leaves only fields that the schema has and the
//! policy puts in this document's class.
#![no_main]

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::sync::Once;

use fieldwork_core::automerge::Change;
use fieldwork_core::change_limits;
use fieldwork_core::validate::check_change;
use fieldwork_core::{Policy, schema};
use fieldwork_fuzz::{access, base_doc, facts, scenario};
use libfuzzer_sys::fuzz_target;

thread_local! {
    /// Set while Automerge decodes: a panic then is contained, not a crash.
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, turning a panic into `Err` like the server's `catch_unwind`.
/// libFuzzer's panic hook aborts on any panic, so the first call wraps it
/// in a hook that stays quiet while `CONTAINED` is set.
fn contained<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CONTAINED.with(Cell::get) {
                fuzzer_hook(info)
            }
        }));
    });
    CONTAINED.with(|c| c.set(true));
    let out = std::panic::catch_unwind(AssertUnwindSafe(f));
    CONTAINED.with(|c| c.set(false));
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let _ = change_limits::chunk_hash(bytes);
    let shape = change_limits::measure(bytes);
    let decoded = contained(|| Change::from_bytes(bytes.to_vec()));
    let Ok(Ok(change)) = decoded else {
        return;
    };
    // `Change::decode` (which `check_change` calls first) panics on some
    // changes `from_bytes` accepted (an operation id naming an actor the
    // change does not list, found by this target); on the server that is
    // inside the same `catch_unwind`.
    if contained(|| change.decode()).is_err() {
        return;
    }
    if let Ok(shape) = &shape {
        let ops = change.decode().operations.len() as u64;
        assert_eq!(
            shape.ops, ops,
            "change_limits::measure counted {} operations, Automerge decodes {ops}",
            shape.ops
        );
    }
    // What the server reads of every change before validating it.
    let _ = (
        change.hash(),
        change.deps(),
        change.actor_id(),
        change.seq(),
        change.message(),
    );
    let s = scenario(selector);
    let mut doc = base_doc(&s);
    let verdict = check_change(&access(&s), &mut doc, &change, &facts(&s));
    match verdict {
        Err(denial) => {
            assert!(
                !denial.code.is_empty() && !denial.message.is_empty(),
                "{denial:?}"
            );
        }
        Ok(()) => {
            let ops = change.decode().operations.len();
            assert!(
                s.writable || ops == 0,
                "{s:?}: a change of {ops} operation(s) was accepted where the role may not write"
            );
            // Accepted: apply it as the server would and look at the result.
            // Automerge 0.12 panics applying some changes it decoded and we
            // accepted (found by this target); the server applies inside
            // `catch_unwind` and refuses them, so the target contains it too.
            if let Ok(true) = contained(|| doc.apply_changes(vec![change]).is_ok()) {
                let policy = Policy::shipped_default();
                let class = doc.id().class().clone();
                for field in doc.field_names() {
                    assert!(
                        schema::field(s.kind, &field).is_some(),
                        "{s:?}: accepted change left unknown field `{field}`"
                    );
                    assert_eq!(
                        policy.class_of(s.kind, &field),
                        Some(&class),
                        "{s:?}: accepted change left `{field}` in the wrong class"
                    );
                    let _ = doc.get(&field);
                    let _ = doc.get_all(&field);
                }
            }
        }
    }
});
