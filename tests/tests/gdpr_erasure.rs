//! The right to erasure (issue 17, GDPR), end to end: an administrator
//! erases a contact on the admin listener; its personal values leave
//! every byte of the server's data directory and, once they sync, every
//! byte of each device's store (scanned decrypted, key in hand), while the
//! activity keeps referring to it; the erasure is logged without values,
//! a second erasure changes nothing, and an edit typed offline to an
//! erased field is refused `erased` and kept in that device's quarantine.

use fieldwork_core::{FieldValue, RecordId, RecordKind};
use fieldwork_server::db::audit::{self, AuditEntry};
use fieldwork_server::db::{erasures, import_keys};
use fieldwork_tests::api::ApiClient;
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::frames::occurrences_in_dir;
use fieldwork_tests::raw::token;
use fieldwork_tests::runtime;
use fieldwork_tests::server::{TestServer, binary};
use serde_json::json;

/// The distinctive values of one contact, each unique to this run.
struct Person {
    first: String,
    last: String,
    email: String,
    old_email: String,
    phone_digits: String,
    position: String,
    birthday: String,
    card_marker: String,
    card_name: String,
}

impl Person {
    fn new() -> Person {
        let tag = format!("{:012X}", rand::random::<u64>() & 0xFFFF_FFFF_FFFF);
        let digits = format!("6{:08}", rand::random::<u32>() % 100_000_000);
        Person {
            first: format!("Ýrsa{tag}"),
            last: format!("Öberg{tag}"),
            email: format!("yrsa.{}@erase.example", tag.to_lowercase()),
            old_email: format!("old.{}@erase.example", tag.to_lowercase()),
            phone_digits: digits,
            position: format!("Jefa{tag}"),
            birthday: "1931-07-29".to_owned(),
            card_marker: format!("CARDBYTES{tag}"),
            card_name: format!("card-{tag}.jpg"),
        }
    }

    /// Every value the erasure must remove, as typed and folded as the
    /// search indexes store it.
    fn needles(&self) -> Vec<String> {
        let typed = [
            &self.first,
            &self.last,
            &self.email,
            &self.old_email,
            &self.phone_digits,
            &self.position,
            &self.birthday,
            &self.card_marker,
            &self.card_name,
        ];
        let mut all: Vec<String> = typed.iter().map(|s| s.to_string()).collect();
        for s in [&self.first, &self.last, &self.position] {
            all.push(fieldwork_core::fold::fold(s));
        }
        all
    }

    /// Photo-like bytes carrying the card marker many times.
    fn card(&self) -> Vec<u8> {
        let mut bytes = b"\xff\xd8\xff\xe0".to_vec();
        while bytes.len() < 40_000 {
            bytes.extend_from_slice(self.card_marker.as_bytes());
            bytes.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        }
        bytes
    }
}

/// Where each needle occurs: (needle, server, manager, rep) counts.
fn scan(
    server: &TestServer,
    devices: &[&TestDevice],
    needles: &[String],
) -> Vec<(String, Vec<usize>)> {
    needles
        .iter()
        .map(|n| {
            let mut counts = vec![occurrences_in_dir(server.dir(), n.as_bytes())];
            counts.extend(devices.iter().map(|d| d.readable_occurrences(n.as_bytes())));
            (n.clone(), counts)
        })
        .collect()
}

#[test]
fn an_erased_contact_leaves_no_byte_on_the_server_or_any_synced_device() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
    let (marta, ana) = (TestDevice::new(&rt), TestDevice::new(&rt));
    marta.login(&server.url, "marta");
    ana.login(&server.url, "ana");
    let p = Person::new();
    let admin_token = rt.block_on(token(&server.url, "admin"));
    let admin = ApiClient::with_bearer(&rt, &server.admin_url, &admin_token);
    // A webhook whose receiver is down: its outbox keeps the payloads.
    server.add_user("crm-sync", "auditor", &[], None);
    let hook = admin.post(
        "/v1/admin/webhooks",
        json!({"url": "http://127.0.0.1:9/down", "user": "crm-sync",
               "events": ["record.created", "record.changed"], "kinds": ["contact"]}),
    );
    assert_eq!(hook.status, 201, "{}", hook.text);

    // Ana makes the account, the contact (with a business card) and a call.
    let account = ana.create(
        RecordKind::Account,
        &[("name", "Ferretería Borrable"), ("territory", "madrid")],
    );
    let contact = ana.create(
        RecordKind::Contact,
        &[
            ("first_name", &p.first),
            ("last_name", &p.last),
            ("account", &account.to_string()),
            ("email", &p.old_email),
            ("phone", &format!("+34 {}", p.phone_digits)),
            ("position", &p.position),
        ],
    );
    ana.set(&contact, &[("email", &p.email)]);
    ana.store(|s| {
        s.attach(
            &contact,
            "business_card",
            &p.card(),
            "image/jpeg",
            &p.card_name,
            None,
        )
    });
    let call = ana.create(
        RecordKind::Activity,
        &[
            ("type", "call"),
            ("subject", "Follow-up call"),
            ("account", &account.to_string()),
            ("contact", &contact.to_string()),
        ],
    );
    assert_eq!(ana.sync().files.uploaded, 1);
    marta.sync();
    marta.set(&contact, &[("birthday", &p.birthday)]);
    marta.sync();
    ana.sync();

    // Positive control: every value is on the server and on each device
    // that may read it (the rep cannot read the birthday's class).
    let before = scan(&server, &[&marta, &ana], &p.needles());
    for (needle, counts) in &before {
        assert!(counts[0] > 0, "server lacks {needle} before: {counts:?}");
        assert!(counts[1] > 0, "manager lacks {needle} before: {counts:?}");
        if *needle != p.birthday {
            assert!(counts[2] > 0, "rep lacks {needle} before: {counts:?}");
        }
    }

    // Rows elsewhere that hold a value: a refusal quoting what was typed
    // (as `invalid_value` messages do), an import keyed by the e-mail; and
    // an unrelated refusal that must stay as it is.
    seed_rows_elsewhere(&server, &contact, &call, &p);

    // Offline, Ana types a new e-mail the server has never seen.
    let typed_offline = "typed.offline@erase.example";
    ana.set(&contact, &[("email", typed_offline)]);

    // Only an administrator may erase.
    let marta_token = rt.block_on(token(&server.url, "marta"));
    let manager = ApiClient::with_bearer(&rt, &server.admin_url, &marta_token);
    let route = format!("/v1/admin/gdpr/contact/{contact}/erase");
    assert_eq!(manager.post(&route, json!({})).status, 403);
    assert_eq!(
        admin
            .post(
                &format!("/v1/admin/gdpr/contact/{account}/erase"),
                json!({})
            )
            .status,
        404,
        "an account is not a contact"
    );

    let erased = admin.post(&route, json!({}));
    assert_eq!(erased.status, 200, "{}", erased.text);
    assert_eq!(erased.json["already_erased"], false, "{}", erased.text);
    assert_eq!(erased.json["documents_rewritten"], 3, "{}", erased.text);
    assert!(
        erased.json["changes_deleted"].as_u64().unwrap_or(0) >= 4,
        "{}",
        erased.text
    );
    assert_eq!(erased.json["purged"]["blobs"], 1, "{}", erased.text);
    assert_eq!(erased.json["purged"]["import_keys"], 1, "{}", erased.text);
    assert_eq!(erased.json["purged"]["audit_entries"], 1, "{}", erased.text);
    let entries = server
        .state
        .db
        .read_blocking(|c| audit::recent(c, 50))
        .expect("audit");
    assert!(
        entries.iter().any(|e| e.message == "unrelated refusal"),
        "an unrelated entry keeps its message"
    );
    assert!(
        erased.json["purged"]["webhook_deliveries"]
            .as_u64()
            .unwrap_or(0)
            >= 3,
        "{}",
        erased.text
    );
    assert_eq!(erased.json["wal_truncated"], true, "{}", erased.text);

    // Devices sync: the manager's copy is replaced; Ana's offline e-mail
    // is refused `erased` and kept in her quarantine.
    marta.sync();
    ana.sync();
    ana.sync();
    let quarantined = ana.store(|s| s.quarantine());
    let refused = quarantined
        .iter()
        .find(|q| q.record == contact && q.field == "email")
        .unwrap_or_else(|| panic!("no quarantined e-mail: {quarantined:?}"));
    assert_eq!(refused.code, "erased", "{refused:?}");
    assert_eq!(refused.value, json!(typed_offline));
    assert_eq!(ana.store(|s| s.outbox_len()), 0);

    // What is left: the placeholder, archived, the references.
    for device in [&marta, &ana] {
        let left = device.get(&contact);
        assert_eq!(
            left.get("last_name"),
            Some(&FieldValue::Text("Erased contact".into()))
        );
        assert_eq!(left.get("archived"), Some(&FieldValue::Bool(true)));
        assert_eq!(
            left.get("account"),
            Some(&FieldValue::Text(account.to_string()))
        );
        for gone in [
            "first_name",
            "email",
            "phone",
            "position",
            "business_card",
            "birthday",
        ] {
            assert_eq!(left.get(gone), None, "{gone} survived");
        }
        assert_eq!(
            device.get(&call).get("contact"),
            Some(&FieldValue::Text(contact.to_string())),
            "the activity still refers to the contact"
        );
    }

    // Not one byte left, as typed or folded, anywhere.
    let after = scan(&server, &[&marta, &ana], &p.needles());
    let left: Vec<_> = after
        .iter()
        .filter(|(_, counts)| counts.iter().any(|c| *c > 0))
        .collect();
    assert!(
        left.is_empty(),
        "erased values still on disk (server, manager, rep): {left:?}"
    );

    // The office API refuses to write the personal data back.
    let marta_api = ApiClient::with_bearer(&rt, &server.url, &marta_token);
    let text = contact.to_string();
    let (_, bare) = text.split_once(':').expect("kind:id");
    let back = marta_api.patch(
        &format!("/v1/records/contact/{bare}"),
        json!({"fields": {"first_name": "Again"}}),
    );
    assert_ne!(back.status, 200, "{}", back.text);
    assert!(back.text.contains("erased"), "{}", back.text);

    erasure_is_logged_without_values_and_idempotent(&server, &admin, &contact, &p);
}

/// An audit entry quoting the e-mail, an import key holding it, and an
/// unrelated audit entry about the call.
fn seed_rows_elsewhere(server: &TestServer, contact: &RecordId, call: &RecordId, p: &Person) {
    let entry = |doc: String, message: String| AuditEntry {
        at: 1,
        user: "ana".into(),
        device: None,
        doc: Some(doc),
        hash: None,
        code: "invalid_value".into(),
        field: Some("email".into()),
        rule: Some("schema".into()),
        message,
    };
    let quoting = entry(
        format!("{contact}/contact_details"),
        format!("`{}` is not a valid e-mail address", p.email),
    );
    let unrelated = entry(format!("{call}/general"), "unrelated refusal".into());
    server
        .state
        .db
        .write_blocking(|w| {
            audit::record(&w.conn, &quoting)?;
            audit::record(&w.conn, &unrelated)?;
            import_keys::put(
                &w.conn,
                RecordKind::Contact,
                &p.email,
                contact,
                "2026-01-01T00:00:00Z",
            )
        })
        .expect("seed rows");
}

/// The erasure log and the audit log say it happened, not what it held;
/// a second erasure finds nothing left.
fn erasure_is_logged_without_values_and_idempotent(
    server: &TestServer,
    admin: &ApiClient,
    contact: &RecordId,
    p: &Person,
) {
    let id = contact.clone();
    let log = server
        .state
        .db
        .read_blocking(|c| erasures::of_contact(c, &id))
        .expect("erasure log");
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].by, "admin");
    assert_eq!(log[0].documents_rewritten, 3);
    assert!(log[0].rows_purged > 0, "{log:?}");
    let audit = admin.get("/v1/admin/audit?limit=20");
    assert!(
        audit
            .json
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| e["code"] == "admin_gdpr_erase"),
        "{}",
        audit.text
    );
    for needle in p.needles() {
        assert!(!audit.text.contains(&needle), "audit shows {needle}");
    }

    let again = admin.post(
        &format!("/v1/admin/gdpr/contact/{contact}/erase"),
        json!({}),
    );
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json["already_erased"], true, "{}", again.text);
    assert_eq!(again.json["documents_rewritten"], 0, "{}", again.text);
    assert_eq!(again.json["changes_deleted"], 0, "{}", again.text);
    let purged = &again.json["purged"];
    for key in [
        "index_rows",
        "webhook_deliveries",
        "audit_entries",
        "import_keys",
        "blobs",
    ] {
        assert_eq!(purged[key], 0, "{key}: {}", again.text);
    }
    let id = contact.clone();
    let log = server
        .state
        .db
        .read_blocking(|c| erasures::of_contact(c, &id))
        .expect("erasure log");
    assert_eq!(log.len(), 2, "each request is logged: {log:?}");
}

#[test]
fn the_cli_erases_a_contact_once_and_refuses_what_is_not_a_contact() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in(dir.path(), |_| {});
    server.add_user("marta", "manager", &[], None);
    let marta = ApiClient::signed_in(&rt, &server.url, "marta");
    let made = marta.post(
        "/v1/records/contact",
        json!({"fields": {"last_name": "Clióerase", "email": "cli.erase@erase.example"}}),
    );
    assert_eq!(made.status, 201, "{}", made.text);
    let contact = made.json["id"].as_str().expect("id").to_owned();
    server.stop();
    assert!(
        occurrences_in_dir(dir.path(), b"cli.erase@erase.example") > 0,
        "positive control"
    );

    let run = |args: &[&str]| {
        std::process::Command::new(binary("fieldwork-server"))
            .arg("--data")
            .arg(dir.path())
            .args(args)
            .output()
            .expect("run fieldwork-server")
    };
    let first = run(&["--json", "gdpr", "erase", &contact]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&first.stdout).expect("json");
    assert_eq!(answer["already_erased"], false, "{answer}");
    assert!(
        answer["documents_rewritten"].as_u64().unwrap_or(0) >= 2,
        "{answer}"
    );
    assert_eq!(
        occurrences_in_dir(dir.path(), b"cli.erase@erase.example"),
        0,
        "the e-mail left the data directory"
    );

    let second = run(&["--json", "gdpr", "erase", &contact]);
    assert!(second.status.success());
    let answer: serde_json::Value = serde_json::from_slice(&second.stdout).expect("json");
    assert_eq!(answer["already_erased"], true, "{answer}");

    let account = run(&["gdpr", "erase", "account:01JD0000000000000000000000"]);
    assert!(!account.status.success());
    assert!(String::from_utf8_lossy(&account.stderr).contains("not a contact id"));
    let missing = run(&["gdpr", "erase", "01JD0000000000000000000000"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no contact"));
}
