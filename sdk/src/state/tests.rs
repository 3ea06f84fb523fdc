//! The sync status's causes and sentences.

use std::sync::Arc;

use fieldwork_core::automerge::AutomergeError;
use fieldwork_core::error::{Denial, ValidationError};
use fieldwork_core::{CoreError, Store, SystemClock};

use super::sentences::{Language, message, sentence};
use super::{DeviceState, SyncErrorCause as C, SyncStatus, cause};
use crate::error::SdkError;
use crate::secrets::{MemorySecrets, SecretError, names};

/// Every [`SdkError`] variant (and every [`CoreError`] variant inside
/// `Core`) with the cause it must map to.
fn table() -> Vec<(SdkError, C)> {
    let denial = Denial {
        code: "class_not_writable".into(),
        doc: None,
        field: None,
        rule: "roles.rep.write".into(),
        message: "no".into(),
    };
    let core = |e: CoreError| SdkError::Core(e);
    vec![
        (core(CoreError::InvalidId("x".into())), C::Protocol),
        (
            core(CoreError::Invalid(ValidationError::record("bad"))),
            C::Other,
        ),
        (core(CoreError::NotFound("x".into())), C::Other),
        (core(CoreError::Denied(denial)), C::Other),
        (core(CoreError::Policy(vec!["bad".into()])), C::Protocol),
        (
            core(CoreError::Storage(rusqlite::Error::InvalidQuery)),
            C::Storage,
        ),
        (core(CoreError::Corrupt("x".into())), C::Storage),
        (
            core(CoreError::Automerge(AutomergeError::Fail)),
            C::Protocol,
        ),
        (core(CoreError::Protocol("bad frame".into())), C::Protocol),
        (core(CoreError::WrongKey), C::Storage),
        (core(CoreError::KeyRequired), C::Storage),
        (SdkError::NotLoggedIn, C::SignedOut),
        (SdkError::InvalidCredentials, C::SignedOut),
        (SdkError::SessionExpired, C::SignedOut),
        (SdkError::RateLimited, C::ServerRefused),
        (SdkError::Network("refused".into()), C::Network),
        (
            SdkError::Server {
                code: "unsupported_protocol".into(),
                message: "update the app".into(),
            },
            C::ServerRefused,
        ),
        (SdkError::BadUrl("ftp://x".into()), C::BadServerUrl),
        (SdkError::Secrets(SecretError("locked".into())), C::Storage),
        (SdkError::Tls("pin mismatch".into()), C::Tls),
        (SdkError::InsecureHttp("http://x".into()), C::Tls),
        (SdkError::Timeout(30), C::Timeout),
        (SdkError::Wiped, C::Other),
        (
            SdkError::StoreInUse {
                path: "d.db".into(),
            },
            C::Storage,
        ),
        (SdkError::Closed, C::Other),
        (SdkError::Io("gone".into()), C::Storage),
        (SdkError::internal("task_failed", "panicked"), C::Other),
    ]
}

#[test]
fn every_error_maps_to_its_cause() {
    for (error, expected) in table() {
        assert_eq!(cause(&error), expected, "{error:?}");
    }
}

#[test]
fn every_cause_has_a_sentence_in_every_language() {
    for language in Language::ALL {
        let mut seen = std::collections::HashSet::new();
        for c in C::ALL {
            let s = sentence(language, c);
            assert!(!s.trim().is_empty(), "{language:?} {c:?}");
            assert!(
                seen.insert(s),
                "{language:?} {c:?}: the same sentence twice"
            );
        }
    }
    for c in C::ALL {
        let en = sentence(Language::En, c);
        assert_ne!(en, sentence(Language::Es, c), "{c:?} is not translated");
        assert_ne!(en, sentence(Language::Hu, c), "{c:?} is not translated");
    }
}

#[test]
fn the_language_is_the_first_subtag_of_the_locale() {
    assert_eq!(Language::of("es"), Language::Es);
    assert_eq!(Language::of("es-MX"), Language::Es);
    assert_eq!(Language::of("HU_hu"), Language::Hu);
    assert_eq!(Language::of("en-GB"), Language::En);
    assert_eq!(Language::of("de"), Language::En);
    assert_eq!(Language::of(""), Language::En);
}

#[test]
fn only_english_carries_the_technical_detail() {
    let e = SdkError::Network("127.0.0.1:9: connection refused".into());
    let en = message(Language::En, C::Network, &e);
    assert!(
        en.contains(": cannot reach the server: 127.0.0.1:9"),
        "{en}"
    );
    let es = message(Language::Es, C::Network, &e);
    assert_eq!(
        es,
        "No se pudo conectar con el servidor; comprueba la conexión."
    );
}

fn state(locale: &str) -> (tempfile::TempDir, DeviceState) {
    let dir = tempfile::tempdir().expect("dir");
    let mut store = Store::open(&dir.path().join("d.db"), Arc::new(SystemClock)).expect("open");
    store.set_locale(locale).expect("locale");
    let state = DeviceState::new(store, Arc::new(MemorySecrets::new()), None);
    (dir, state)
}

#[test]
fn a_failed_sync_reports_its_cause_in_the_store_locale() {
    let (_dir, state) = state("es-ES");
    state.sync_failed(&SdkError::Timeout(5));
    assert_eq!(
        state.status(),
        SyncStatus::Error {
            cause: C::Timeout,
            message: "El servidor tardó demasiado en responder.".into(),
        }
    );
}

#[test]
fn a_refused_session_needs_login_and_forgets_the_token() {
    let (_dir, state) = state("hu");
    state.set_token("t").expect("token");
    state.sync_failed(&SdkError::SessionExpired);
    assert_eq!(
        state.status(),
        SyncStatus::NeedsLogin {
            message: "Kérjük, jelentkezzen be újra.".into(),
        }
    );
    assert_eq!(
        state.secrets().get(names::SESSION_TOKEN).expect("get"),
        None
    );
}
