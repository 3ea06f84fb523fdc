//! Retrying a quarantined edit (issue 16: "only dismiss" before): once the
//! right that was missing is back, the edit the rep typed is made again and
//! reaches the server; while it is still missing, the retry is refused with
//! the reason and the entry stays.

use fieldwork_core::{CoreError, RecordKind};
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;

/// The default policy with contact details read-only for reps.
fn read_only_contact_details() -> String {
    fieldwork_core::policy::DEFAULT_POLICY_TOML.replacen(
        "read = [\"general\", \"contact_details\"]\nwrite = [\"general\", \"contact_details\"]",
        "read = [\"general\", \"contact_details\"]\nwrite = [\"general\"]",
        1,
    )
}

#[test]
fn a_quarantined_edit_is_retried_once_the_right_is_back() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
    let (manager, rep) = (TestDevice::new(&rt), TestDevice::new(&rt));
    manager.login(&server.url, "marta");
    rep.login(&server.url, "ana");
    let account = manager.create(
        RecordKind::Account,
        &[("name", "Reintento SA"), ("territory", "madrid")],
    );
    manager.sync();
    rep.sync();

    // Offline, she types an e-mail; meanwhile contact details become
    // read-only for reps, so the server refuses it.
    rep.set(&account, &[("email", "compras@reintento.es")]);
    let policy = read_only_contact_details();
    assert_ne!(
        policy,
        fieldwork_core::policy::DEFAULT_POLICY_TOML,
        "the policy changed"
    );
    server.set_policy(&policy).expect("tightened");
    rep.sync();
    rep.sync();
    let quarantine = rep.store(|s| s.quarantine());
    assert_eq!(quarantine.len(), 1, "{quarantine:?}");
    let id = quarantine[0].id;

    // Still read-only: the retry is refused with the reason, the entry stays.
    let refused = rep.store(|s| Ok(s.retry_quarantined(id)));
    assert!(
        matches!(&refused, Err(CoreError::Denied(d)) if d.field.as_deref() == Some("email")),
        "{refused:?}"
    );
    assert_eq!(rep.store(|s| s.quarantine()).len(), 1);

    // The right is back: the retry writes it and the manager receives it.
    server
        .set_policy(fieldwork_core::policy::DEFAULT_POLICY_TOML)
        .expect("restored");
    rep.sync();
    let record = rep.store(|s| s.retry_quarantined(id));
    assert_eq!(record, account);
    assert!(rep.store(|s| s.quarantine()).is_empty());
    assert_eq!(rep.sync().refused, 0);
    manager.sync();
    assert_eq!(
        manager.get(&account).text("email"),
        Some("compras@reintento.es")
    );
    // An unknown id is NotFound.
    let missing = rep.store(|s| Ok(s.retry_quarantined(id)));
    assert!(
        matches!(missing, Err(CoreError::NotFound(_))),
        "{missing:?}"
    );
}
