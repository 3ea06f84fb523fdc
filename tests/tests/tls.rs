//! Transport security: HTTPS and WSS with rustls, certificates made at run
//! time (rcgen), trust by CA or by pin, the URL policy, reloading the
//! certificate on SIGHUP, the self-signed first try, and the admin API on
//! its own listener.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use fieldwork_core::RecordKind;
use fieldwork_core::store::Transport;
use fieldwork_sdk::{SdkError, SyncStatus};
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::raw::token;
use fieldwork_tests::runtime;
use fieldwork_tests::server::{ServerProcess, TestCa, TestServer, add_user_offline, binary};
use fieldwork_tests::wait_until;

fn with_ca(ca: &TestCa) -> Transport {
    Transport {
        ca_pem: Some(ca.pem()),
        ..Transport::default()
    }
}

fn with_pin(pin: &str) -> Transport {
    Transport {
        pin_sha256: Some(pin.to_owned()),
        ..Transport::default()
    }
}

fn tls_sentence(e: SdkError) -> String {
    match e {
        SdkError::Tls(sentence) => sentence,
        other => panic!("expected SdkError::Tls, got {other:?}"),
    }
}

#[test]
fn two_devices_sync_live_over_wss_trusting_a_private_ca() {
    let rt = runtime();
    let ca = TestCa::new("Fieldwork test CA");
    let (tls, _) = ca.server_tls();
    let server = TestServer::start_tls(tls);
    assert!(server.url.starts_with("https://"), "{}", server.url);
    server.add_user("ana", "admin", &[], None);
    server.add_user("marta", "admin", &[], None);
    let (rep, office) = (TestDevice::new(&rt), TestDevice::new(&rt));
    rep.try_login(&server.url, "ana", with_ca(&ca))
        .expect("ana over https");
    // The name form of the address works too (the leaf is for both).
    let by_name = server.url.replace("127.0.0.1", "localhost");
    office
        .try_login(&by_name, "marta", with_ca(&ca))
        .expect("marta over https");
    let sign_in = office.store(|s| s.sign_in()).expect("signed in");
    assert_eq!(sign_in.transport.ca_pem, Some(ca.pem()), "kept for sync");
    let handle = office.go_live();
    let id = rep.create(RecordKind::Account, &[("name", "Cifrado de punta a punta")]);
    rep.sync();
    wait_until("the live change over wss", Duration::from_secs(10), || {
        office.try_get(&id).is_some()
    });
    assert_eq!(
        office.get(&id).text("name"),
        Some("Cifrado de punta a punta")
    );
    rt.block_on(handle.stop());
}

#[test]
fn an_untrusted_a_mismatching_or_a_misnamed_certificate_is_refused_in_words() {
    let rt = runtime();
    let ca = TestCa::new("Fieldwork test CA");
    let (tls, fingerprint) = ca.server_tls();
    let server = TestServer::start_tls(tls);
    server.add_user("ana", "admin", &[], None);
    let device = TestDevice::new(&rt);
    // No CA, no pin: the public roots do not know this CA.
    let e = device
        .try_login(&server.url, "ana", Transport::default())
        .expect_err("untrusted");
    let sentence = tls_sentence(e);
    assert!(
        sentence.contains("is not signed by a trusted authority")
            && sentence.contains("--ca")
            && sentence.contains("--pin"),
        "{sentence}"
    );
    // A pin of another certificate.
    let wrong = "00".repeat(32);
    let sentence = tls_sentence(
        device
            .try_login(&server.url, "ana", with_pin(&wrong))
            .expect_err("wrong pin"),
    );
    assert!(
        sentence.contains("does not match the pinned fingerprint")
            && sentence.contains(&wrong)
            && sentence.contains(&fingerprint),
        "{sentence}"
    );
    // A malformed pin is refused before connecting.
    let sentence = tls_sentence(
        device
            .try_login(&server.url, "ana", with_pin("12:34"))
            .expect_err("malformed pin"),
    );
    assert!(sentence.contains("64 hex digits"), "{sentence}");
    // A certificate for another name, from a trusted CA.
    let (cert, key, _) = ca.leaf(&["crm.example.com"]);
    let other = TestServer::start_tls(
        fieldwork_server::tls::Tls::from_pem(cert.as_bytes(), key.as_bytes()).expect("tls"),
    );
    other.add_user("ana", "admin", &[], None);
    let sentence = tls_sentence(
        TestDevice::new(&rt)
            .try_login(&other.url, "ana", with_ca(&ca))
            .expect_err("name mismatch"),
    );
    assert!(
        sentence.contains("not valid for the name 127.0.0.1"),
        "{sentence}"
    );
    // The right pin (with colons, upper case), no CA: signs in and syncs
    // over wss.
    let colons = fingerprint
        .to_ascii_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).expect("hex"))
        .collect::<Vec<_>>()
        .join(":");
    device
        .try_login(&server.url, "ana", with_pin(&colons))
        .expect("pinned login");
    let sign_in = device.store(|s| s.sign_in()).expect("signed in");
    assert_eq!(
        sign_in.transport.pin_sha256.as_deref(),
        Some(fingerprint.as_str())
    );
    device.create(RecordKind::Account, &[("name", "Anclado")]);
    device.sync();
    assert_eq!(device.store(|s| s.outbox_len()), 0);
}

#[test]
fn plain_http_to_another_machine_is_refused_before_any_connection() {
    let rt = runtime();
    let device = TestDevice::new(&rt);
    let start = Instant::now();
    let e = device
        .try_login("http://10.255.255.1:9", "ana", Transport::default())
        .expect_err("refused");
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "no network wait"
    );
    match e {
        SdkError::InsecureHttp(sentence) => {
            assert!(sentence.contains("--insecure-http"), "{sentence}")
        }
        other => panic!("expected InsecureHttp, got {other:?}"),
    }
    // Allowed explicitly, it is attempted: a network error, still trying
    // when the test stops waiting, or (where an HTTP proxy is configured
    // in the environment) the proxy's answer; never InsecureHttp.
    let insecure = Transport {
        insecure_http: true,
        ..Transport::default()
    };
    let attempt = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(2),
            fieldwork_sdk::login::login(
                &device.device,
                "http://10.255.255.1:9",
                "ana",
                "pw",
                insecure,
            ),
        )
        .await
    });
    match attempt {
        Err(_elapsed) => {}
        Ok(Err(SdkError::Network(_) | SdkError::Server { .. })) => {}
        Ok(other) => panic!("expected a network attempt, got {other:?}"),
    }
    // Loopback plain HTTP stays allowed.
    let server = TestServer::start();
    server.add_user("ana", "admin", &[], None);
    device.login(&server.url, "ana");
}

fn write_pair(dir: &Path, cert: &str, key: &str) {
    // Key first, then certificate: each file is replaced whole.
    std::fs::write(dir.join("server.key.new"), key).expect("write key");
    std::fs::rename(dir.join("server.key.new"), dir.join("server.key")).expect("rename");
    std::fs::write(dir.join("server.crt.new"), cert).expect("write cert");
    std::fs::rename(dir.join("server.crt.new"), dir.join("server.crt")).expect("rename");
}

#[test]
fn sighup_reloads_the_certificate_and_keeps_open_sessions() {
    let rt = runtime();
    let data = tempfile::tempdir().expect("tmp");
    let certs = tempfile::tempdir().expect("tmp");
    add_user_offline(data.path(), "ana", "admin", &[]);
    add_user_offline(data.path(), "marta", "admin", &[]);
    let (old_ca, new_ca) = (TestCa::new("Old CA"), TestCa::new("New CA"));
    let (cert, key, _) = old_ca.leaf(&["localhost", "127.0.0.1"]);
    write_pair(certs.path(), &cert, &key);
    let cert_path = certs.path().join("server.crt");
    let key_path = certs.path().join("server.key");
    let server = ServerProcess::start_with(
        data.path(),
        &[
            "--tls-cert",
            cert_path.to_str().expect("utf-8"),
            "--tls-key",
            key_path.to_str().expect("utf-8"),
            "--admin-listen",
            "127.0.0.1:0",
        ],
    );
    assert!(server.url.starts_with("https://"), "{:?}", server.banner);
    // A live session over the old certificate.
    let office = TestDevice::new(&rt);
    office
        .try_login(&server.url, "marta", with_ca(&old_ca))
        .expect("login with the old CA");
    let handle = office.go_live();
    // A reload that fails (a key that is not PEM) keeps the old certificate.
    std::fs::write(&key_path, "not a key").expect("write");
    server.sighup();
    std::thread::sleep(Duration::from_millis(300));
    TestDevice::new(&rt)
        .try_login(&server.url, "ana", with_ca(&old_ca))
        .expect("the old certificate is still in force");
    // The certificate of another CA, then SIGHUP.
    let (cert, key, _) = new_ca.leaf(&["localhost", "127.0.0.1"]);
    write_pair(certs.path(), &cert, &key);
    server.sighup();
    let rep = TestDevice::new(&rt);
    let start = Instant::now();
    loop {
        match rep.try_login(&server.url, "ana", with_ca(&new_ca)) {
            Ok(()) => break,
            Err(SdkError::Tls(_)) if start.elapsed() < Duration::from_secs(10) => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("login with the new CA after SIGHUP: {e}"),
        }
    }
    // New handshakes no longer show the old certificate.
    let sentence = tls_sentence(
        TestDevice::new(&rt)
            .try_login(&server.url, "ana", with_ca(&old_ca))
            .expect_err("old CA only"),
    );
    assert!(
        sentence.contains("not signed by a trusted authority"),
        "{sentence}"
    );
    // The session opened before the reload still carries changes.
    let id = rep.create(RecordKind::Account, &[("name", "Tras la recarga")]);
    rep.sync();
    wait_until(
        "the change on the old session",
        Duration::from_secs(10),
        || office.try_get(&id).is_some(),
    );
    assert_eq!(office.device.status(), SyncStatus::UpToDate);
    rt.block_on(handle.stop());
}

fn banner_value<'a>(banner: &'a [String], prefix: &str) -> &'a str {
    banner
        .iter()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` line in {banner:?}"))
}

#[test]
fn the_self_signed_fingerprint_is_printed_stable_and_pins_a_login() {
    let rt = runtime();
    let data = tempfile::tempdir().expect("tmp");
    add_user_offline(data.path(), "ana", "admin", &[]);
    let args = ["--tls-self-signed", "--admin-listen", "none"];
    let server = ServerProcess::start_with(data.path(), &args);
    let fingerprint =
        banner_value(&server.banner, "TLS certificate SHA-256 fingerprint: ").to_owned();
    assert_eq!(fingerprint.len(), 64, "{fingerprint}");
    let line = banner_value(&server.banner, "sign in with: ");
    assert!(
        line.starts_with("fieldwork login --server https://127.0.0.1:")
            && line.contains(&format!("--pin {fingerprint}")),
        "{line}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = data.path().join("tls/self-signed.key");
        let mode = std::fs::metadata(&key)
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let device = TestDevice::new(&rt);
    device
        .try_login(&server.url, "ana", with_pin(&fingerprint))
        .expect("pinned login");
    device.sync();
    // Restarted, the server keeps its certificate: the pin still holds.
    server.kill_9();
    let again = ServerProcess::start_with(data.path(), &args);
    assert_eq!(
        banner_value(&again.banner, "TLS certificate SHA-256 fingerprint: "),
        fingerprint
    );
    device.set_server(&again.url);
    device.sync();
}

#[test]
fn the_admin_api_answers_only_on_its_own_listener_and_is_audited() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("ana", "admin", &[], None);
    rt.block_on(async {
        let t = token(&server.url, "ana").await;
        let http = reqwest::Client::new();
        // The public listener does not serve it.
        let public = http
            .get(format!("{}/v1/admin/users", server.url))
            .bearer_auth(&t)
            .send()
            .await
            .expect("public answer");
        assert_eq!(public.status().as_u16(), 404);
        let body: serde_json::Value = public.json().await.expect("json");
        assert_eq!(body["code"], "not_found", "{body}");
        // The admin listener does, with the same token.
        let listed = http
            .get(format!("{}/v1/admin/users", server.admin_url))
            .bearer_auth(&t)
            .send()
            .await
            .expect("admin answer");
        assert_eq!(listed.status().as_u16(), 200);
        // Login and sync are not on the admin listener.
        let login = http
            .post(format!("{}/v1/login", server.admin_url))
            .json(&serde_json::json!({ "user": "ana", "password": "x" }))
            .send()
            .await
            .expect("answer");
        assert_eq!(login.status().as_u16(), 404);
        // Every change made through it is audited: who, what, when.
        let before = jiff::Timestamp::now().as_millisecond();
        let added = http
            .post(format!("{}/v1/admin/users", server.admin_url))
            .bearer_auth(&t)
            .json(&serde_json::json!({
                "name": "bob", "role": "admin", "password": "a long enough password"
            }))
            .send()
            .await
            .expect("add user");
        assert_eq!(added.status().as_u16(), 201);
        let disabled = http
            .post(format!("{}/v1/admin/users/bob/disable", server.admin_url))
            .bearer_auth(&t)
            .send()
            .await
            .expect("disable");
        assert_eq!(disabled.status().as_u16(), 200);
        let policy: serde_json::Value = http
            .get(format!("{}/v1/admin/policy", server.admin_url))
            .bearer_auth(&t)
            .send()
            .await
            .expect("policy")
            .json()
            .await
            .expect("json");
        let set = http
            .put(format!("{}/v1/admin/policy", server.admin_url))
            .bearer_auth(&t)
            .body(policy["source"].as_str().expect("source").to_owned())
            .send()
            .await
            .expect("set policy");
        assert_eq!(set.status().as_u16(), 200);
        let audit: Vec<serde_json::Value> = http
            .get(format!("{}/v1/admin/audit", server.admin_url))
            .bearer_auth(&t)
            .send()
            .await
            .expect("audit")
            .json()
            .await
            .expect("json");
        let codes: Vec<&str> = audit.iter().filter_map(|e| e["code"].as_str()).collect();
        for code in ["admin_add_user", "admin_disable_user", "admin_set_policy"] {
            let entry = audit
                .iter()
                .find(|e| e["code"] == code)
                .unwrap_or_else(|| panic!("no {code} in {codes:?}"));
            assert_eq!(entry["user"], "ana", "{entry}");
            assert!(entry["at"].as_i64().expect("at") >= before, "{entry}");
        }
        let added = audit
            .iter()
            .find(|e| e["code"] == "admin_add_user")
            .expect("entry");
        assert!(
            added["message"].as_str().expect("message").contains("bob"),
            "{added}"
        );
    });
}

#[test]
fn the_admin_listener_speaks_tls_when_the_server_does() {
    let rt = runtime();
    let ca = TestCa::new("Fieldwork test CA");
    let (tls, _) = ca.server_tls();
    let server = TestServer::start_tls(tls);
    server.add_user("ana", "admin", &[], None);
    assert!(server.admin_url.starts_with("https://"));
    let device = TestDevice::new(&rt);
    device
        .try_login(&server.url, "ana", with_ca(&ca))
        .expect("login");
    let token = device.device.token().expect("keystore").expect("token");
    rt.block_on(async {
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).expect("ca"))
            .build()
            .expect("client");
        let users = http
            .get(format!("{}/v1/admin/users", server.admin_url))
            .bearer_auth(&token)
            .send()
            .await
            .expect("admin over https");
        assert_eq!(users.status().as_u16(), 200);
    });
}

fn serve_refused(args: &[&str]) -> String {
    let data = tempfile::tempdir().expect("tmp");
    let out = Command::new(binary("fieldwork-server"))
        .arg("--data")
        .arg(data.path())
        .arg("serve")
        .args(args)
        .output()
        .expect("run fieldwork-server");
    assert!(!out.status.success(), "{args:?} should be refused");
    assert!(out.stdout.is_empty(), "nothing was served");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn plain_http_off_loopback_is_refused_at_start() {
    let stderr = serve_refused(&["--listen", "0.0.0.0:0", "--admin-listen", "none"]);
    assert!(
        stderr.contains("refusing to serve plain HTTP") && stderr.contains("--insecure-http"),
        "{stderr}"
    );
    let stderr = serve_refused(&["--listen", "127.0.0.1:0", "--admin-listen", "0.0.0.0:0"]);
    assert!(stderr.contains("requires TLS"), "{stderr}");
    // Behind a TLS-terminating proxy, explicitly: it starts.
    let data = tempfile::tempdir().expect("tmp");
    let server = ServerProcess::start_with(
        data.path(),
        &[
            "--listen",
            "0.0.0.0:0",
            "--insecure-http",
            "--admin-listen",
            "none",
        ],
    );
    assert!(server.url.starts_with("http://0.0.0.0:"), "{}", server.url);
}
