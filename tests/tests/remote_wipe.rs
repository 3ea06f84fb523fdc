//! Remote wipe and the device list (docs/PROTOCOL.md, "Remote wipe"): an
//! administrator sees what each device reported at its last contact, marks
//! a lost device (or disables its user); the device's next contact deletes
//! its store and keys, and the server records request, delivery and
//! confirmation. Real server, real encrypted stores, real sockets.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use fieldwork_core::RecordKind;
use fieldwork_core::sync::protocol::{ClientMessage, Hello, PROTOCOL_VERSION, ServerMessage};
use fieldwork_sdk::secrets::names;
use fieldwork_sdk::{SdkError, SyncStatus};
use fieldwork_server::db::audit;
use fieldwork_server::db::devices::{self, DeviceInfo, WipeState};
use fieldwork_server::db::users;
use fieldwork_server::wipe;
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::raw::RawClient;
use fieldwork_tests::runtime;
use fieldwork_tests::server::{PASSWORD, TestServer, binary};
use fieldwork_tests::wait_until;

const APP: &str = "crm-test/1.2.3";

fn device_info(server: &TestServer, id: &str) -> DeviceInfo {
    server
        .state
        .db
        .read_blocking(|c| devices::info(c, id))
        .expect("read")
        .unwrap_or_else(|| panic!("device {id} is not known to the server"))
}

fn device_id(d: &TestDevice) -> String {
    d.store(|s| Ok(s.device_id().to_owned()))
}

/// The audit codes about `device`, oldest first.
fn audit_codes(server: &TestServer, device: &str) -> Vec<String> {
    let mut codes: Vec<String> = server
        .state
        .db
        .read_blocking(|c| audit::recent(c, 10_000))
        .expect("audit")
        .into_iter()
        .filter(|e| e.device.as_deref() == Some(device) && e.code.starts_with("device_wipe"))
        .map(|e| e.code)
        .collect();
    codes.reverse();
    codes
}

/// The files a wipe must delete: the store and its SQLite companions.
fn store_files(dir: &Path) -> Vec<std::path::PathBuf> {
    [
        "device.db",
        "device.db-wal",
        "device.db-shm",
        "device.db-journal",
    ]
    .iter()
    .map(|f| dir.join(f))
    .collect()
}

/// Says hello on the sync connection as `device` would, reporting
/// `pending` unsent changes, reads the catch-up, and hangs up before
/// pushing anything: a contact whose push never happened (a dropped link).
fn contact_without_push(
    rt: &tokio::runtime::Runtime,
    server: &str,
    token: &str,
    device: &str,
    pending: u64,
) {
    rt.block_on(async {
        let mut c = RawClient::connect(server, token).await.expect("connect");
        c.send(&ClientMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            device_id: device.to_owned(),
            cursor: None,
            resync: false,
            client: "fieldwork-core/test".into(),
            app_version: Some(APP.into()),
            pending_changes: Some(pending),
        }))
        .await;
        loop {
            match c.recv().await {
                Some(ServerMessage::UpToDate(_)) => break,
                Some(ServerMessage::Error(e)) => panic!("refused: {e:?}"),
                Some(_) => {}
                None => panic!("the server hung up"),
            }
        }
    });
}

#[test]
fn a_disabled_reps_device_is_wiped_at_its_next_contact_and_a_new_store_signs_in_fresh() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
    let dir = tempfile::tempdir().expect("tempdir");
    let rep = TestDevice::open(&rt, dir.path());
    rep.device.set_app_version(APP);
    rep.login(&server.url, "ana");
    let account = rep.create(
        RecordKind::Account,
        &[("name", "Acme Ibérica"), ("territory", "madrid")],
    );
    let note = rep.create(
        RecordKind::Note,
        &[("title", "Visita"), ("account", &account.to_string())],
    );
    rep.sync();
    let id = device_id(&rep);

    // What the device reported: it had sent everything by the end of its
    // last contact.
    let seen = device_info(&server, &id);
    assert_eq!(seen.user, "ana");
    assert_eq!(seen.app_version.as_deref(), Some(APP));
    assert_eq!(seen.pending_changes, Some(0), "{seen:?}");
    assert!(seen.last_seen.is_some());
    assert_eq!(seen.last_address.as_deref(), Some("127.0.0.1"));
    assert_eq!(seen.wipe, WipeState::None);

    // Offline: three edits the server has not heard of.
    for title in ["Visita 2", "Visita 3", "Visita 4"] {
        rep.set(&note, &[("title", title)]);
    }
    let unsent = rep.store(|s| s.outbox_len()) as u64;
    assert!(unsent >= 3, "{unsent}");
    assert_eq!(
        device_info(&server, &id).pending_changes,
        Some(0),
        "the server knows only what the device reported at its last contact"
    );

    // A contact that reports them but pushes nothing (the link drops after
    // the catch-up): now the server knows the count, and only that.
    let token = rep.device.token().expect("token").expect("signed in");
    contact_without_push(&rt, &server.url, &token, &id, unsent);
    assert_eq!(device_info(&server, &id).pending_changes, Some(unsent));

    // The administrator disables the rep (what `user disable` runs): every
    // device of hers is marked, with the count she is about to lose.
    let (user, marked) = wipe::disable_user(&server.state, "ana", "admin").expect("disable");
    assert!(user.disabled);
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0].device_id, id);
    assert_eq!(marked[0].wipe, WipeState::Requested);
    let lost = wipe::what_is_lost(&marked[0]);
    assert!(
        lost.contains(&format!("{unsent} unsent local change(s)")),
        "{lost}"
    );
    assert!(lost.contains("by design"), "{lost}");
    assert_eq!(audit_codes(&server, &id), ["device_wipe_requested"]);
    // Before: the store, its write-ahead log and its key are on disk.
    assert!(store_files(dir.path())[0].exists());
    assert!(store_files(dir.path())[1].exists(), "WAL mode");
    assert!(dir.path().join("keys").join(names::STORE_KEY).exists());
    assert!(dir.path().join("keys").join(names::SESSION_TOKEN).exists());

    // Back online: the sync connection is answered with the wipe order.
    let wiped = rep.try_sync();
    assert!(matches!(wiped, Err(SdkError::Wiped)), "{wiped:?}");
    assert_eq!(rep.device.status(), SyncStatus::Wiped);
    assert!(rep.device.is_wiped());
    for f in store_files(dir.path()) {
        assert!(!f.exists(), "{} survived the wipe", f.display());
    }
    for name in names::ALL {
        assert!(
            !dir.path().join("keys").join(name).exists(),
            "the secret {name} survived the wipe"
        );
    }
    // Every call on the handle now fails with Wiped.
    assert!(matches!(
        rep.device.with_store(|s| s.count(RecordKind::Account)),
        Err(SdkError::Wiped)
    ));
    assert!(matches!(
        rep.device.create(RecordKind::Account, Vec::new()),
        Err(SdkError::Wiped)
    ));
    assert!(matches!(rep.device.token(), Err(SdkError::Wiped)));
    assert!(matches!(rep.try_sync(), Err(SdkError::Wiped)));
    assert_eq!(rep.device.status(), SyncStatus::Wiped);

    // The server recorded all three steps, and the old token is dead.
    assert_eq!(
        audit_codes(&server, &id),
        [
            "device_wipe_requested",
            "device_wipe_delivered",
            "device_wipe_confirmed"
        ]
    );
    let after = device_info(&server, &id);
    assert_eq!(after.wipe, WipeState::Confirmed);
    assert!(after.wipe_requested_at.is_some() && after.wipe_delivered_at.is_some());
    assert_eq!(after.wipe_requested_by.as_deref(), Some("admin"));
    let status = rt.block_on(async {
        reqwest::Client::new()
            .get(format!("{}/v1/sync", server.url))
            .bearer_auth(&token)
            .send()
            .await
            .expect("request")
            .status()
            .as_u16()
    });
    assert_eq!(status, 401, "a confirmed wipe forgets the device's tokens");

    // Re-enabled, the rep signs in on a new store at the same path: a new
    // device, which gets what the server has (not the unsent edits).
    server
        .state
        .db
        .write_blocking(|w| users::set_disabled(&w.conn, "ana", false))
        .expect("enable");
    drop(rep);
    let fresh = TestDevice::open(&rt, dir.path());
    let new_id = device_id(&fresh);
    assert_ne!(new_id, id, "a new store is a new device");
    fresh.login(&server.url, "ana");
    fresh.sync();
    assert_eq!(
        fresh.get(&note).text("title"),
        Some("Visita"),
        "the unsent edits were lost, by design"
    );
    assert_eq!(device_info(&server, &new_id).wipe, WipeState::None);
    assert_eq!(device_info(&server, &id).wipe, WipeState::Confirmed);
}

#[test]
fn wiping_one_lost_device_leaves_the_users_other_device_syncing() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
    let (lost, phone) = (TestDevice::new(&rt), TestDevice::new(&rt));
    lost.login(&server.url, "ana");
    phone.login(&server.url, "ana");
    lost.sync();
    phone.sync();
    let (lost_id, phone_id) = (device_id(&lost), device_id(&phone));

    // The lost device is connected when the administrator wipes it: the
    // order reaches it on the open connection.
    let handle = lost.go_live();
    let marked = wipe::wipe_device(&server.state, &lost_id, "admin").expect("wipe");
    assert_eq!(marked.wipe, WipeState::Requested);
    wait_until(
        "the lost device to be wiped",
        Duration::from_secs(10),
        || lost.device.status() == SyncStatus::Wiped,
    );
    wait_until("the confirmation", Duration::from_secs(10), || {
        device_info(&server, &lost_id).wipe == WipeState::Confirmed
    });
    rt.block_on(handle.stop());
    assert!(!lost.dir().join("device.db").exists());
    assert!(matches!(lost.try_sync(), Err(SdkError::Wiped)));

    // The user's other device is untouched and keeps syncing.
    let account = phone.create(
        RecordKind::Account,
        &[("name", "Otra"), ("territory", "madrid")],
    );
    let report = phone.sync();
    assert!(report.pushed > 0);
    assert!(phone.get(&account).text("name").is_some());
    let other = device_info(&server, &phone_id);
    assert_eq!(other.wipe, WipeState::None);
    assert_eq!(other.pending_changes, Some(0));
    assert!(audit_codes(&server, &phone_id).is_empty());
    assert_eq!(
        audit_codes(&server, &lost_id),
        [
            "device_wipe_requested",
            "device_wipe_delivered",
            "device_wipe_confirmed"
        ]
    );
}

#[test]
fn wipe_answers_and_confirmations_tell_strangers_nothing() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
    server.add_user("luis", "rep", &["madrid"], Some("marta"));
    let (kept, lost) = (TestDevice::new(&rt), TestDevice::new(&rt));
    kept.login(&server.url, "ana");
    lost.login(&server.url, "ana");
    kept.sync();
    lost.sync();
    let (kept_id, lost_id) = (device_id(&kept), device_id(&lost));
    let kept_token = kept.device.token().expect("token").expect("signed in");
    wipe::wipe_device(&server.state, &lost_id, "admin").expect("wipe");
    let http = reqwest::Client::new();
    let answer = |req: reqwest::RequestBuilder| {
        rt.block_on(async {
            let r = req.send().await.expect("request");
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap_or(serde_json::Value::Null);
            (status, body)
        })
    };
    let confirm = |token: &str| {
        answer(
            http.post(format!("{}/v1/devices/wiped", server.url))
                .bearer_auth(token),
        )
    };

    // A token that matches nothing: the usual 401, nothing about devices.
    let random = "x".repeat(43);
    let (status, body) = confirm(&random);
    assert_eq!(status, 401);
    assert_eq!(body["code"], "unauthorized");
    let (status, body) = answer(
        http.get(format!("{}/v1/sync", server.url))
            .bearer_auth(&random),
    );
    assert_eq!(status, 401);
    assert!(!body.to_string().contains("wipe"), "{body}");
    let (status, _) = confirm("");
    assert_eq!(status, 401);

    // A valid token of a device that is not marked: refused, not recorded.
    let (status, body) = confirm(&kept_token);
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "not_marked_for_wipe");
    assert!(audit_codes(&server, &kept_id).is_empty());
    assert_eq!(device_info(&server, &kept_id).wipe, WipeState::None);
    assert!(kept.try_sync().is_ok(), "the device is untouched");

    // A hello naming the marked device on another device's connection
    // (a forged client): refused with the order, never welcomed.
    let refused = rt.block_on(async {
        let mut c = RawClient::connect(&server.url, &kept_token)
            .await
            .expect("connect");
        c.send(&ClientMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            device_id: lost_id.clone(),
            cursor: None,
            resync: false,
            client: "forged".into(),
            app_version: None,
            pending_changes: None,
        }))
        .await;
        c.recv().await
    });
    match refused {
        Some(ServerMessage::Error(e)) => assert_eq!(e.code, "device_wiped"),
        other => panic!("expected error{{device_wiped}}, got {other:?}"),
    }
    assert_eq!(
        audit_codes(&server, &lost_id),
        ["device_wipe_requested", "device_wipe_delivered"]
    );

    // A login naming the marked device: wrong password, the usual 401;
    // another user's right password, an ordinary login (nothing revealed).
    let login =
        |user: &str, password: &str, device: &str| {
            answer(http.post(format!("{}/v1/login", server.url)).json(
                &serde_json::json!({ "user": user, "password": password, "device_id": device }),
            ))
        };
    let (status, body) = login("ana", "wrong password!", &lost_id);
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "invalid_credentials");
    let (status, body) = login("luis", PASSWORD, &lost_id);
    assert_eq!(status, 200, "{body}");
    assert!(body["token"].is_string());
    assert_eq!(
        audit_codes(&server, &lost_id),
        ["device_wipe_requested", "device_wipe_delivered"]
    );

    // Its owner's right password: the wipe order, with a token that can
    // only confirm it.
    let (status, body) = login("ana", PASSWORD, &lost_id);
    assert_eq!(status, 410, "{body}");
    assert_eq!(body["code"], "device_wiped");
    let confirm_token = body["confirm_token"]
        .as_str()
        .expect("confirm token")
        .to_owned();
    let (status, _) = answer(
        http.get(format!("{}/v1/sync", server.url))
            .bearer_auth(&confirm_token),
    );
    assert_eq!(status, 410, "the confirm token carries the order only");
    let (status, _) = answer(
        http.get(format!("{}/v1/admin/devices", server.admin_url))
            .bearer_auth(&confirm_token),
    );
    assert_eq!(status, 401, "it authenticates nothing");
    let (status, _) = confirm(&confirm_token);
    assert_eq!(status, 204);
    assert_eq!(
        audit_codes(&server, &lost_id),
        [
            "device_wipe_requested",
            "device_wipe_delivered",
            "device_wipe_delivered",
            "device_wipe_delivered",
            "device_wipe_confirmed"
        ]
    );
    // Confirmed once: the same token is then worth nothing.
    let (status, _) = confirm(&confirm_token);
    assert_eq!(status, 401);
    // The lost device's own old token no longer gets anything either.
    let lost_token = lost.device.token().expect("token").expect("signed in");
    let (status, _) = answer(
        http.get(format!("{}/v1/sync", server.url))
            .bearer_auth(&lost_token),
    );
    assert_eq!(status, 401);
}

#[test]
fn a_login_as_a_marked_device_wipes_it_through_the_sdk() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
    let rep = TestDevice::new(&rt);
    rep.login(&server.url, "ana");
    rep.sync();
    let id = device_id(&rep);
    // Signed out (no token left to present), then disabled.
    rt.block_on(fieldwork_sdk::login::logout(&rep.device))
        .expect("logout");
    wipe::disable_user(&server.state, "ana", "admin").expect("disable");
    let signed_in = rep.try_login(&server.url, "ana", Default::default());
    assert!(matches!(signed_in, Err(SdkError::Wiped)), "{signed_in:?}");
    assert!(!rep.dir().join("device.db").exists());
    assert_eq!(device_info(&server, &id).wipe, WipeState::Confirmed);
    assert_eq!(
        audit_codes(&server, &id),
        [
            "device_wipe_requested",
            "device_wipe_delivered",
            "device_wipe_confirmed"
        ]
    );
}

#[test]
fn the_admin_api_lists_and_wipes_devices() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("root", "admin", &[], None);
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
    let rep = TestDevice::new(&rt);
    rep.device.set_app_version(APP);
    rep.login(&server.url, "ana");
    rep.sync();
    let id = device_id(&rep);
    let rep_token = rep.device.token().expect("token").expect("signed in");
    let http = reqwest::Client::new();
    let admin_token = rt.block_on(fieldwork_tests::raw::token(&server.url, "root"));
    let (status, list) = rt.block_on(async {
        let r = http
            .get(format!("{}/v1/admin/devices?user=ana", server.admin_url))
            .bearer_auth(&admin_token)
            .send()
            .await
            .expect("list");
        (
            r.status().as_u16(),
            r.json::<Vec<DeviceInfo>>().await.expect("json"),
        )
    });
    assert_eq!(status, 200);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].device_id, id);
    assert_eq!(list[0].app_version.as_deref(), Some(APP));
    let status = rt.block_on(async {
        http.get(format!("{}/v1/admin/devices", server.admin_url))
            .bearer_auth(&rep_token)
            .send()
            .await
            .expect("list")
            .status()
            .as_u16()
    });
    assert_eq!(status, 403, "a rep may not list devices");
    let (status, body) = rt.block_on(async {
        let r = http
            .post(format!("{}/v1/admin/devices/{id}/wipe", server.admin_url))
            .bearer_auth(&admin_token)
            .send()
            .await
            .expect("wipe");
        (
            r.status().as_u16(),
            r.json::<serde_json::Value>().await.expect("json"),
        )
    });
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["device"]["wipe"], "requested");
    assert!(
        body["lost"].as_str().expect("lost").contains("0 unsent"),
        "{body}"
    );
    let entries = server
        .state
        .db
        .read_blocking(|c| audit::recent(c, 100))
        .expect("audit");
    let request = entries
        .iter()
        .find(|e| e.code == "device_wipe_requested")
        .expect("request audited");
    assert_eq!(request.user, "root", "who");
    assert_eq!(request.device.as_deref(), Some(id.as_str()), "what");
    assert!(request.at > 0, "when");
    assert!(matches!(rep.try_sync(), Err(SdkError::Wiped)));
}

#[test]
fn the_cli_lists_devices_and_does_not_wipe_without_yes() {
    let rt = runtime();
    let data = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in(data.path(), |_| {});
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
    let rep = TestDevice::new(&rt);
    rep.device.set_app_version(APP);
    rep.login(&server.url, "ana");
    rep.sync();
    let id = device_id(&rep);
    let cli = |args: &[&str]| {
        Command::new(binary("fieldwork-server"))
            .arg("--data")
            .arg(data.path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run fieldwork-server")
    };

    let out = cli(&["device", "list", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let list: Vec<DeviceInfo> = serde_json::from_slice(&out.stdout).expect("json list");
    let d = list.iter().find(|d| d.device_id == id).expect("listed");
    assert_eq!(d.user, "ana");
    assert_eq!(d.app_version.as_deref(), Some(APP));
    assert_eq!(d.pending_changes, Some(0));
    assert_eq!(d.wipe, WipeState::None);
    let out = cli(&["device", "list", "--user", "marta", "--json"]);
    let list: Vec<DeviceInfo> = serde_json::from_slice(&out.stdout).expect("json list");
    assert!(list.is_empty(), "{list:?}");
    let out = cli(&["device", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&id) && text.contains(APP), "{text}");

    // Without --yes (and no one to answer y): refused, nothing marked.
    let out = cli(&["device", "wipe", &id]);
    assert!(!out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("0 unsent local change(s)"), "{said}");
    assert!(said.contains("by design"), "{said}");
    assert!(said.contains("--yes"), "{said}");
    assert_eq!(device_info(&server, &id).wipe, WipeState::None);
    assert!(audit_codes(&server, &id).is_empty());
    assert!(rep.try_sync().is_ok(), "still syncing");

    let out = cli(&["device", "wipe", &id, "--yes"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(device_info(&server, &id).wipe, WipeState::Requested);
    assert_eq!(audit_codes(&server, &id), ["device_wipe_requested"]);

    // `user disable` prints each device's count too.
    let other = TestDevice::new(&rt);
    other.login(&server.url, "ana");
    other.sync();
    let out = cli(&["user", "disable", "ana"]);
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("marked for wipe"), "{said}");
    assert!(said.contains(&device_id(&other)), "{said}");

    // The server notices the CLI's marks and delivers them.
    assert!(matches!(rep.try_sync(), Err(SdkError::Wiped)));
    assert!(matches!(other.try_sync(), Err(SdkError::Wiped)));
}
