//! Webhooks end to end: a real server, a device that syncs, and a receiver
//! written here (a tiny HTTP server on a std `TcpListener`) that fails
//! before it accepts. Checks the outbox's retries and log, the documented
//! signature (verified with an HMAC written here from SHA-256), the
//! filtering of payloads by the service user's rights, and redelivery.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fieldwork_core::{FieldWrite, RecordKind};
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::raw::token;
use fieldwork_tests::server::TestServer;
use fieldwork_tests::{runtime, wait_until};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
    answered: u16,
}

/// A receiver: answers `500` to the first `failures` requests on each
/// path, then `200`; records every request.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(failures: HashMap<&'static str, usize>) -> Receiver {
        Receiver::start_with(failures, None)
    }

    /// A receiver over TLS with `tls` (an `https://` URL).
    fn start_with(
        failures: HashMap<&'static str, usize>,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver");
        let port = listener.local_addr().expect("addr").port();
        let url = match tls {
            Some(_) => format!("https://localhost:{port}"),
            None => format!("http://127.0.0.1:{port}"),
        };
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let log = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                match &tls {
                    None => answer(stream, &log, &failures),
                    Some(config) => {
                        let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                            continue;
                        };
                        answer(rustls::StreamOwned::new(conn, stream), &log, &failures);
                    }
                }
            }
        });
        Receiver { url, got }
    }

    fn on(&self, path: &str) -> Vec<Received> {
        self.got
            .lock()
            .expect("log")
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

type Request = (String, HashMap<String, String>, Vec<u8>);

/// Reads one request from `stream`, logs it and answers `500` while the
/// path has failures left, then `200`.
fn answer<S: Read + Write>(
    mut stream: S,
    log: &Mutex<Vec<Received>>,
    failures: &HashMap<&'static str, usize>,
) {
    let Some((path, headers, body)) = read_request(&mut stream) else {
        return;
    };
    let mut log = log.lock().expect("log");
    let seen = log.iter().filter(|r| r.path == path).count();
    let fail = failures.get(path.as_str()).copied().unwrap_or(0);
    let answered = if seen < fail { 500 } else { 200 };
    log.push(Received {
        path,
        headers,
        body,
        answered,
    });
    drop(log);
    let _ = write!(
        stream,
        "HTTP/1.1 {answered} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
    );
    let _ = stream.flush();
}

fn read_request<S: Read>(stream: &mut S) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
    let len: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some((path, headers, body))
}

/// HMAC-SHA256 (RFC 2104), written here from SHA-256 so that the check
/// does not share code with the server.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// The receiver's check, as documented: `t=<secs>,v1=<hex>` over
/// `"<t>.<body>"`, with `t` within 300 s of now.
fn signature_holds(secret: &str, header: &str, body: &[u8]) -> bool {
    let parts: HashMap<&str, &str> = header
        .split(',')
        .filter_map(|p| p.split_once('='))
        .collect();
    let (Some(t), Some(v1)) = (parts.get("t"), parts.get("v1")) else {
        return false;
    };
    let Ok(t_secs) = t.parse::<i64>() else {
        return false;
    };
    let now = jiff::Timestamp::now().as_second();
    let mut message = format!("{t}.").into_bytes();
    message.extend_from_slice(body);
    (now - t_secs).abs() <= 300 && hex::encode(hmac_sha256(secret.as_bytes(), &message)) == *v1
}

fn body_of(r: &Received) -> Value {
    serde_json::from_slice(&r.body).expect("the body is JSON")
}

#[test]
fn events_are_signed_retried_filtered_by_rights_and_redelivered() {
    let rt = runtime();
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in(tmp.path(), |c| {
        c.webhook_backoff = Duration::from_millis(150);
        c.webhook_poll = Duration::from_millis(40);
    });
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &["madrid"], None);
    // Service users: a rep (no `financial` class) and an auditor (reads it).
    server.add_user("crm-sync", "rep", &["madrid"], None);
    server.add_user("finance-sync", "auditor", &[], None);
    let receiver = Receiver::start(HashMap::from([("/rep", 2)]));

    let http = reqwest::Client::new();
    let admin = rt.block_on(token(&server.url, "admin"));
    let call = |method: reqwest::Method, path: &str, body: Option<Value>| -> (u16, Value) {
        rt.block_on(async {
            let mut req = http
                .request(method, format!("{}{path}", server.admin_url))
                .bearer_auth(&admin);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let res = req.send().await.expect("admin request");
            let status = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        })
    };
    let subscribe = |path: &str, user: &str| {
        let (status, body) = call(
            reqwest::Method::POST,
            "/v1/admin/webhooks",
            Some(json!({
                "url": format!("{}{path}", receiver.url),
                "user": user,
                "events": ["record.created", "record.changed"],
                "kinds": ["account"],
            })),
        );
        assert_eq!(status, 201, "{body}");
        let secret = body["secret"].as_str().expect("secret").to_owned();
        assert_eq!(secret.len(), 64, "32 bytes, hex");
        (body["id"].as_i64().expect("id"), secret)
    };
    let (rep_hook, rep_secret) = subscribe("/rep", "crm-sync");
    let (_, finance_secret) = subscribe("/finance", "finance-sync");

    // Refusals: a bad URL, an unknown event type; a non-admin.
    let (status, body) = call(
        reqwest::Method::POST,
        "/v1/admin/webhooks",
        Some(json!({"url": "ftp://x/", "user": "crm-sync", "events": ["record.created"]})),
    );
    assert_eq!(
        (status, body["field"].as_str()),
        (400, Some("url")),
        "{body}"
    );
    let (status, _) = call(
        reqwest::Method::POST,
        "/v1/admin/webhooks",
        Some(json!({"url": "http://x/", "user": "crm-sync", "events": ["record.exploded"]})),
    );
    assert_eq!(status, 400);
    let (status, list) = call(reqwest::Method::GET, "/v1/admin/webhooks", None);
    assert_eq!(status, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(2));
    assert!(
        !list.to_string().contains(&rep_secret),
        "secrets are shown once only"
    );

    // A manager creates an account with a credit limit and syncs.
    let manager = TestDevice::new(&rt);
    manager.login(&server.url, "marta");
    let account = manager.create(
        RecordKind::Account,
        &[("name", "Hermanos Szőke SL"), ("territory", "madrid")],
    );
    manager
        .device
        .update(
            &account,
            vec![
                FieldWrite::set("credit_currency", "EUR"),
                FieldWrite::set("credit_limit", 9_876_543i64),
            ],
        )
        .expect("the manager writes the credit limit");
    manager.sync();

    // The rep's receiver: two failures, then the event is delivered.
    wait_until(
        "the rep's webhook to be delivered",
        Duration::from_secs(10),
        || receiver.on("/rep").iter().any(|r| r.answered == 200),
    );
    wait_until("the finance webhook", Duration::from_secs(10), || {
        receiver
            .on("/finance")
            .iter()
            .any(|r| body_of(r)["class"] == "financial")
    });
    std::thread::sleep(Duration::from_millis(600)); // nothing more may come
    let rep = receiver.on("/rep");
    assert_eq!(
        rep.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [500, 500, 200],
        "one event, three attempts"
    );
    let event_ids: Vec<&str> = rep
        .iter()
        .map(|r| r.headers["fieldwork-event-id"].as_str())
        .collect();
    assert!(
        event_ids.iter().all(|id| *id == event_ids[0]),
        "{event_ids:?}"
    );
    for r in &rep {
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(r.headers["fieldwork-event-type"], "record.created");
        assert!(
            signature_holds(&rep_secret, &r.headers["fieldwork-signature"], &r.body),
            "signature {} must verify",
            r.headers["fieldwork-signature"]
        );
        assert!(
            !signature_holds(&finance_secret, &r.headers["fieldwork-signature"], &r.body),
            "another subscription's secret must not verify it"
        );
        let text = String::from_utf8_lossy(&r.body);
        assert!(
            !text.contains("credit_limit") && !text.contains("credit_currency"),
            "the rep's service user may not read financial fields: {text}"
        );
    }
    let event = body_of(&rep[2]);
    assert_eq!(event["id"], event_ids[0]);
    assert_eq!(event["type"], "record.created");
    assert_eq!(event["record"]["id"], account.to_string());
    assert_eq!(event["record"]["kind"], "account");
    assert_eq!(event["class"], "general");
    assert_eq!(event["fields"]["name"], "Hermanos Szőke SL");
    assert_eq!(event["actor"], "marta");
    assert!(
        event["occurred_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );

    // The finance service user reads the credit limit, as a change of the
    // account's financial document.
    let finance = receiver.on("/finance");
    let financial: Vec<Value> = finance
        .iter()
        .map(body_of)
        .filter(|b| b["class"] == "financial")
        .collect();
    assert_eq!(financial.len(), 1, "{financial:?}");
    assert_eq!(financial[0]["fields"]["credit_limit"], 9_876_543);
    assert_eq!(financial[0]["fields"]["credit_currency"], "EUR");
    let changed = financial[0]["changed_fields"].to_string();
    assert!(changed.contains("credit_limit"), "{changed}");
    for r in &finance {
        assert!(signature_holds(
            &finance_secret,
            &r.headers["fieldwork-signature"],
            &r.body
        ));
    }

    // The delivery log shows the three attempts.
    let (status, deliveries) = call(
        reqwest::Method::GET,
        &format!("/v1/admin/webhooks/{rep_hook}/deliveries?limit=10"),
        None,
    );
    assert_eq!(status, 200, "{deliveries}");
    let deliveries = deliveries.as_array().expect("a list").clone();
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    let d = &deliveries[0];
    assert_eq!(d["state"], "delivered");
    assert_eq!(d["attempts"], 3);
    assert_eq!(d["last_status"], 200);
    assert_eq!(d["event_id"], event_ids[0]);
    let statuses: Vec<i64> = d["log"]
        .as_array()
        .expect("log")
        .iter()
        .filter_map(|a| a["status"].as_i64())
        .collect();
    assert_eq!(statuses, [500, 500, 200]);

    // Redelivery: the same event arrives once more, signed afresh.
    let delivery = d["id"].as_i64().expect("delivery id");
    let (status, body) = call(
        reqwest::Method::POST,
        &format!("/v1/admin/webhooks/deliveries/{delivery}/redeliver"),
        None,
    );
    assert_eq!(status, 202, "{body}");
    wait_until("the redelivery", Duration::from_secs(5), || {
        receiver.on("/rep").len() == 4
    });
    let again = &receiver.on("/rep")[3];
    assert_eq!(again.answered, 200);
    assert_eq!(again.headers["fieldwork-event-id"], event_ids[0]);
    assert_eq!(again.body, rep[2].body, "the same event");
    assert!(signature_holds(
        &rep_secret,
        &again.headers["fieldwork-signature"],
        &again.body
    ));
    // The receiver saw it before the server heard its answer: wait for the log.
    wait_until(
        "the redelivery to be logged",
        Duration::from_secs(5),
        || {
            let (_, after) = call(
                reqwest::Method::GET,
                &format!("/v1/admin/webhooks/{rep_hook}/deliveries"),
                None,
            );
            after[0]["state"] == "delivered" && after[0]["log"].as_array().map(Vec::len) == Some(4)
        },
    );

    // A deleted subscription receives nothing more; its deletion and the
    // others' changes are audited.
    let (status, _) = call(
        reqwest::Method::DELETE,
        &format!("/v1/admin/webhooks/{rep_hook}"),
        None,
    );
    assert_eq!(status, 204);
    manager.set(&account, &[("industry", "Textil")]);
    manager.sync();
    wait_until(
        "the finance receiver to hear of the change",
        Duration::from_secs(5),
        || {
            receiver.on("/finance").iter().any(|r| {
                body_of(r)["changed_fields"]
                    .to_string()
                    .contains("industry")
            })
        },
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.on("/rep").len(), 4, "deleted: nothing more");
    let (_, audit) = call(reqwest::Method::GET, "/v1/admin/audit", None);
    let codes = audit.to_string();
    for code in [
        "admin_create_webhook",
        "admin_redeliver_webhook",
        "admin_delete_webhook",
    ] {
        assert!(codes.contains(code), "{code} audited: {codes}");
    }
    assert!(!codes.contains(&rep_secret), "no secret in the audit log");
}

/// A server whose clock reads `t0` (process tick 50 ms, outbox poll 40 ms)
/// with an admin, a manager (`mia`), a rep (`ana`, madrid) and the service
/// user `service`, and a receiver subscribed as `service` at `path` to
/// `events`. Returns the server, its clock, the receiver and the
/// subscription's secret.
fn process_hooks(
    rt: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    t0: jiff::Timestamp,
    service: &str,
    path: &str,
    events: &[&str],
) -> (
    TestServer,
    fieldwork_core::clock::ManualClock,
    Receiver,
    String,
) {
    let clock = fieldwork_core::clock::ManualClock::new(t0);
    let server = TestServer::start_clocked(dir, Some(Arc::new(clock.clone())), |c| {
        c.process_tick = Duration::from_millis(50);
        c.webhook_poll = Duration::from_millis(40);
    });
    server.add_user("admin", "admin", &[], None);
    server.add_user("mia", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("mia"));
    server.add_user(service, "auditor", &[], None);
    let receiver = Receiver::start(HashMap::new());
    let admin = rt.block_on(token(&server.url, "admin"));
    let (status, created) = rt.block_on(async {
        let res = reqwest::Client::new()
            .post(format!("{}/v1/admin/webhooks", server.admin_url))
            .bearer_auth(&admin)
            .json(&json!({
                "url": format!("{}{path}", receiver.url),
                "user": service,
                "events": events,
            }))
            .send()
            .await
            .expect("subscribe");
        (
            res.status().as_u16(),
            res.json::<Value>().await.unwrap_or(Value::Null),
        )
    });
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().expect("secret").to_owned();
    (server, clock, receiver, secret)
}

#[test]
fn process_events_follow_an_instance_from_start_to_completion() {
    use fieldwork_core::clock::ManualClock;
    use fieldwork_server::process_admin;

    let rt = runtime();
    let tmp = tempfile::tempdir().expect("tempdir");
    let t0: jiff::Timestamp = "2027-01-01T09:00:00Z".parse().expect("t0");
    let (server, server_clock, receiver, secret) = process_hooks(
        &rt,
        tmp.path(),
        t0,
        "bpm-sync",
        "/bpm",
        &[
            "process.started",
            "process.step_reached",
            "process.completed",
        ],
    );

    let bpmn = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/processes/deal-won-follow-up.bpmn");
    let model = process_admin::read_model(&bpmn).expect("bpmn");
    process_admin::publish(&server.state, model, "admin").expect("publish");
    let ana_dir = tempfile::tempdir().expect("tmp");
    let ana = TestDevice::open_clocked(&rt, ana_dir.path(), Arc::new(ManualClock::new(t0)));
    ana.login(&server.url, "ana");
    ana.sync();
    let account = ana.create(
        RecordKind::Account,
        &[("name", "Szőke Kft"), ("territory", "madrid")],
    );
    let deal = ana.create(
        RecordKind::Deal,
        &[("name", "Fleet renewal"), ("account", &account.to_string())],
    );
    ana.set(&deal, &[("stage", "won")]);
    ana.sync();
    let types = || -> Vec<(String, Value)> {
        receiver
            .on("/bpm")
            .iter()
            .map(|r| {
                assert!(signature_holds(
                    &secret,
                    &r.headers["fieldwork-signature"],
                    &r.body
                ));
                let b = body_of(r);
                (b["type"].as_str().unwrap_or_default().to_owned(), b)
            })
            .collect()
    };
    wait_until("process.started", Duration::from_secs(10), || {
        types().iter().any(|(t, _)| t == "process.started")
    });
    let started = types();
    let (_, first) = &started[0];
    assert_eq!(first["type"], "process.started", "{started:?}");
    assert_eq!(first["record"]["kind"], "process_instance");
    assert_eq!(first["actor"], "ana");
    assert_eq!(first["process"]["on"], deal.to_string());

    // A week later the server's engine runs the timer, the call and the end.
    server_clock.set("2027-01-08T09:30:00Z".parse().expect("week"));
    wait_until("process.completed", Duration::from_secs(10), || {
        types().iter().any(|(t, _)| t == "process.completed")
    });
    let all = types();
    let reached: Vec<&Value> = all
        .iter()
        .filter(|(t, _)| t == "process.step_reached")
        .map(|(_, b)| b)
        .collect();
    assert!(
        reached
            .iter()
            .any(|b| b["process"]["step"] == "call-customer" && b["actor"] == "engine"),
        "{reached:?}"
    );
    let completed: Vec<&Value> = all
        .iter()
        .filter(|(t, _)| t == "process.completed")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(completed.len(), 1, "{all:?}");
    assert_eq!(completed[0]["process"]["step"], "done");
    assert_eq!(completed[0]["record"]["id"], first["record"]["id"]);
    assert!(
        all.iter().all(|(t, _)| t.starts_with("process.")),
        "only the subscribed types: {all:?}"
    );
}

#[test]
fn archiving_a_record_is_a_record_deleted_event_with_the_field_named() {
    let rt = runtime();
    let tmp = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start_in(tmp.path(), |c| {
        c.webhook_poll = Duration::from_millis(40);
    });
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &["madrid"], None);
    server.add_user("crm-sync", "rep", &["madrid"], None);
    let receiver = Receiver::start(HashMap::new());
    let admin = rt.block_on(token(&server.url, "admin"));
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/v1/admin/webhooks", server.admin_url))
            .bearer_auth(&admin)
            .json(&json!({
                "url": format!("{}/crm", receiver.url),
                "user": "crm-sync",
                "events": ["record.deleted", "record.changed"],
                "kinds": ["account"],
            }))
            .send()
            .await
            .expect("subscribe")
            .status()
            .as_u16()
    });
    assert_eq!(status, 201);
    let office = fieldwork_tests::api::ApiClient::signed_in(&rt, &server.url, "marta");
    let created = office.post(
        "/v1/records/account",
        json!({"fields": {"name": "Almacenes Oeste", "territory": "madrid"}}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["id"].as_str().expect("id").to_owned();
    let archived = office.delete(&format!("/v1/records/account/{id}"));
    assert_eq!(archived.status, 200, "{}", archived.text);
    wait_until("the deletion event", Duration::from_secs(10), || {
        receiver
            .on("/crm")
            .iter()
            .any(|r| r.headers["fieldwork-event-type"] == "record.deleted")
    });
    let events: Vec<Value> = receiver.on("/crm").iter().map(body_of).collect();
    let deleted: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "record.deleted")
        .collect();
    assert_eq!(deleted.len(), 1, "{events:?}");
    assert_eq!(deleted[0]["record"]["id"], id.as_str());
    assert_eq!(deleted[0]["fields"]["archived"], true);
    assert!(
        deleted[0]["changed_fields"]
            .to_string()
            .contains("archived"),
        "{}",
        deleted[0]
    );
    assert!(
        !events.iter().any(|e| e["type"] == "record.changed"),
        "archiving is reported once, as a deletion: {events:?}"
    );
}

/// A rustls server configuration for a leaf of `ca` for `localhost`.
fn receiver_tls(ca: &fieldwork_tests::server::TestCa) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (chain, key, _) = ca.leaf(&["localhost"]);
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain.as_bytes())
        .collect::<Result<_, _>>()
        .expect("chain");
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("receiver certificate");
    Arc::new(config)
}

#[test]
fn deliveries_over_https_trust_only_the_ca_bundle_the_server_is_given() {
    use fieldwork_tests::server::{ServerProcess, TestCa, add_user_offline};
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tempdir");
    add_user_offline(dir.path(), "admin", "admin", &[]);
    add_user_offline(dir.path(), "marta", "manager", &["madrid"]);
    add_user_offline(dir.path(), "crm-sync", "rep", &["madrid"]);
    // The receiver's certificate comes from a company CA the server is told
    // about through SSL_CERT_FILE; an impostor's from another CA.
    let company = TestCa::new("Company CA");
    let bundle = dir.path().join("company-ca.pem");
    std::fs::write(&bundle, company.pem()).expect("write the bundle");
    let trusted = Receiver::start_with(HashMap::new(), Some(receiver_tls(&company)));
    let impostor = Receiver::start_with(
        HashMap::new(),
        Some(receiver_tls(&TestCa::new("Impostor CA"))),
    );
    let server = ServerProcess::start_with_env(
        dir.path(),
        &["--admin-listen", "127.0.0.1:0"],
        &[("SSL_CERT_FILE", bundle.to_str().expect("utf-8 path"))],
    );
    let admin_url = server.admin_url().expect("an admin listener");
    let admin = rt.block_on(token(&server.url, "admin"));
    let subscribe = |url: String| -> i64 {
        rt.block_on(async {
            let res = reqwest::Client::new()
                .post(format!("{admin_url}/v1/admin/webhooks"))
                .bearer_auth(&admin)
                .json(&json!({"url": url, "user": "crm-sync", "events": ["record.created"]}))
                .send()
                .await
                .expect("subscribe");
            assert_eq!(res.status().as_u16(), 201);
            res.json::<Value>().await.expect("json")["id"]
                .as_i64()
                .expect("id")
        })
    };
    subscribe(format!("{}/hook", trusted.url));
    let impostor_hook = subscribe(format!("{}/hook", impostor.url));
    let office = fieldwork_tests::api::ApiClient::signed_in(&rt, &server.url, "marta");
    let created = office.post(
        "/v1/records/account",
        json!({"fields": {"name": "Distribuciones Este", "territory": "madrid"}}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    wait_until("delivery over https", Duration::from_secs(20), || {
        !trusted.on("/hook").is_empty()
    });
    let event = body_of(&trusted.on("/hook")[0]);
    assert_eq!(event["type"], "record.created");
    assert_eq!(event["fields"]["name"], "Distribuciones Este");
    // The impostor never receives a byte of the event: the handshake fails
    // and the delivery log says why.
    let deliveries = |hook: i64| -> Value {
        rt.block_on(async {
            reqwest::Client::new()
                .get(format!("{admin_url}/v1/admin/webhooks/{hook}/deliveries"))
                .bearer_auth(&admin)
                .send()
                .await
                .expect("deliveries")
                .json::<Value>()
                .await
                .expect("json")
        })
    };
    wait_until(
        "the impostor's failed attempt",
        Duration::from_secs(20),
        || {
            deliveries(impostor_hook)
                .to_string()
                .contains("TLS handshake failed")
        },
    );
    assert!(
        impostor.on("/hook").is_empty(),
        "nothing reached the impostor"
    );
}

#[test]
fn a_notify_step_is_delivered_once_whichever_replicas_run_it() {
    use fieldwork_core::clock::ManualClock;
    use fieldwork_core::process::engine::activity_id;
    use fieldwork_server::process_admin;

    let rt = runtime();
    let tmp = tempfile::tempdir().expect("tempdir");
    let t0: jiff::Timestamp = "2027-01-01T09:00:00Z".parse().expect("t0");
    let (server, _clock, receiver, _secret) = process_hooks(
        &rt,
        tmp.path(),
        t0,
        "erp-sync",
        "/erp",
        &["process.notified"],
    );
    // Qualifying a new account tells the ERP to open a customer file.
    let model = fieldwork_core::process::Model::from_toml(
        r#"
key = "open-customer-file"
name = "Open the customer's file in the ERP"
trigger = { kind = "record_created", record = "account" }
[[steps]]
id = "qualify"
kind = "task"
assignee = "owner"
subject = "Qualify {name}"
next = "tell-erp"
[[steps]]
id = "tell-erp"
kind = "notify"
notify = "customer-qualified"
next = "done"
[[steps]]
id = "done"
kind = "end"
"#,
    )
    .expect("model")
    .file;
    process_admin::publish(&server.state, model, "admin").expect("publish");
    let (ana_dir, mia_dir) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let ana = TestDevice::open_clocked(&rt, ana_dir.path(), Arc::new(ManualClock::new(t0)));
    let mia = TestDevice::open_clocked(&rt, mia_dir.path(), Arc::new(ManualClock::new(t0)));
    ana.login(&server.url, "ana");
    mia.login(&server.url, "mia");
    ana.sync();
    let account = ana.create(
        RecordKind::Account,
        &[("name", "Nube SL"), ("territory", "madrid")],
    );
    ana.sync();
    mia.sync();
    let instance: fieldwork_core::RecordId = mia.store(|s| s.process_instances())[0]
        .id
        .parse()
        .expect("instance");
    // Ana completes the task offline and her phone runs the notify step;
    // the server's engine and mia's phone run the instance again after
    // each sync. The step's event has one key wherever it is written, so
    // the server sees it new once.
    let task = activity_id(&instance, "qualify", 0);
    ana.store(|s| s.complete_task_with(&task, None));
    ana.sync();
    mia.sync();
    mia.store(|s| s.run_processes());
    mia.sync();
    ana.sync();
    wait_until("process.notified", Duration::from_secs(10), || {
        !receiver.on("/erp").is_empty()
    });
    std::thread::sleep(Duration::from_millis(500)); // a second one, if any, would be here
    let got = receiver.on("/erp");
    assert_eq!(got.len(), 1, "delivered once: {got:?}");
    let body = body_of(&got[0]);
    assert_eq!(body["type"], "process.notified");
    assert_eq!(body["process"]["notice"], "customer-qualified");
    assert_eq!(body["process"]["on"], account.to_string());
    assert_eq!(body["process"]["from"], "tell-erp");
}
