//! API keys end to end: an administrator makes a key for a service user on
//! the admin listener; the key signs requests on the public API until it is
//! revoked; its secret is shown once; every key has its own rate limit.

use std::time::Duration;

use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;
use fieldwork_tests::wait_until;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn send(rt: &tokio::runtime::Runtime, req: reqwest::RequestBuilder) -> Answer {
    rt.block_on(async {
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.text().await.expect("body");
        Answer {
            status,
            headers,
            body,
        }
    })
}

/// A server and its data directory (dropped in this order).
struct World {
    server: TestServer,
    _dir: tempfile::TempDir,
}

fn start(default_rate: u32) -> World {
    let dir = tempfile::tempdir().expect("tmp");
    let server = TestServer::start_in(dir.path(), |c| c.api_rate_per_minute = default_rate);
    server.add_user("root", "admin", &[], None);
    server.add_user("erp", "auditor", &[], None);
    server.add_user("bot", "auditor", &[], None);
    server.add_user("ana", "rep", &["madrid"], None);
    World { server, _dir: dir }
}

#[test]
fn an_admin_s_key_signs_api_requests_until_revoked_and_its_secret_is_shown_once() {
    let rt = runtime();
    let w = start(600);
    let server = &w.server;
    let http = reqwest::Client::new();
    let root = rt.block_on(fieldwork_tests::raw::token(&server.url, "root"));
    let ana = rt.block_on(fieldwork_tests::raw::token(&server.url, "ana"));
    let keys = format!("{}/v1/admin/api-keys", server.admin_url);
    let new_key = json!({
        "name": "ERP export",
        "user": "erp",
        "read_only": true,
        "kinds": ["account", "deal"],
    });

    // Only administrators make keys.
    let refused = send(&rt, http.post(&keys).bearer_auth(&ana).json(&new_key));
    assert_eq!(refused.status, 403, "{}", refused.body);
    let created = send(&rt, http.post(&keys).bearer_auth(&root).json(&new_key));
    assert_eq!(created.status, 201, "{}", created.body);
    let created = created.json();
    let id = created["id"].as_i64().expect("id");
    let key = created["key"].as_str().expect("key").to_owned();
    assert!(key.starts_with(&format!("fwk_{id}_")), "{key}");
    let secret = key.rsplit('_').next().expect("secret").to_owned();
    assert_eq!(secret.len(), 64);
    assert_eq!(created["user"], "erp");
    assert_eq!(created["read_only"], true);
    assert_eq!(created["kinds"], json!(["account", "deal"]));

    // Bad requests are problems, with their reason.
    for (bad, why) in [
        (
            json!({"name": "x", "user": "nobody", "read_only": true}),
            "unknown user",
        ),
        (
            json!({"name": "x", "user": "erp", "read_only": true, "kinds": ["spaceship"]}),
            "unknown kind",
        ),
        (
            json!({"name": "", "user": "erp", "read_only": true}),
            "empty name",
        ),
        (json!({"name": "x", "user": "erp"}), "read_only missing"),
    ] {
        let a = send(&rt, http.post(&keys).bearer_auth(&root).json(&bad));
        assert_eq!(a.status, 400, "{why}: {}", a.body);
        assert_eq!(
            a.headers["content-type"], "application/problem+json",
            "{why}"
        );
    }

    // The key signs requests on the public API as its service user.
    let me = format!("{}/v1/me", server.url);
    let a = send(&rt, http.get(&me).bearer_auth(&key));
    assert_eq!(a.status, 200, "{}", a.body);
    let body = a.json();
    assert_eq!(body["user"], "erp");
    assert_eq!(body["role"], "auditor");
    assert_eq!(body["key"]["id"], id);
    assert_eq!(body["key"]["read_only"], true);
    assert_eq!(body["key"]["kinds"], json!(["account", "deal"]));
    // A session token is a caller too, without a key.
    let a = send(&rt, http.get(&me).bearer_auth(&ana));
    assert_eq!((a.status, a.json()["key"].clone()), (200, Value::Null));

    // The key does not open the admin listener.
    let a = send(&rt, http.get(&keys).bearer_auth(&key));
    assert_eq!(a.status, 401, "{}", a.body);

    // The list shows the key, its last use, and never its secret.
    wait_until(
        "the key's last use to be recorded",
        Duration::from_secs(10),
        || {
            let list = send(&rt, http.get(&keys).bearer_auth(&root));
            list.json()[0]["last_used_at"].as_i64().is_some()
        },
    );
    let list = send(&rt, http.get(&keys).bearer_auth(&root));
    assert_eq!(list.status, 200);
    assert!(!list.body.contains(&secret), "the secret is never listed");
    let listed = list.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["name"], "ERP export");
    assert_eq!(listed[0]["created_by"], "root");
    assert_eq!(listed[0]["revoked_at"], Value::Null);
    assert!(listed[0].get("key").is_none(), "{listed}");

    // Tampered and unknown keys are refused like any bad credential.
    let tampered = format!(
        "{}{}",
        &key[..key.len() - 1],
        if key.ends_with('0') { '1' } else { '0' }
    );
    for wrong in [tampered.as_str(), "fwk_999_0000", "fwk_nonsense"] {
        let a = send(&rt, http.get(&me).bearer_auth(wrong));
        assert_eq!(a.status, 401, "{wrong}: {}", a.body);
        assert_eq!(a.json()["code"], "unauthorized");
    }

    // Revoked: refused at once.
    let a = send(&rt, http.delete(format!("{keys}/{id}")).bearer_auth(&root));
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.json()["revoked_at"].as_i64().is_some());
    let a = send(&rt, http.get(&me).bearer_auth(&key));
    assert_eq!(a.status, 401, "a revoked key: {}", a.body);
    assert_eq!(a.headers["content-type"], "application/problem+json");
    let a = send(&rt, http.delete(format!("{keys}/4242")).bearer_auth(&root));
    assert_eq!(a.status, 404, "{}", a.body);

    // The audit log says who made and revoked the key, without the secret.
    let audit = send(
        &rt,
        http.get(format!("{}/v1/admin/audit", server.admin_url))
            .bearer_auth(&root),
    );
    assert!(!audit.body.contains(&secret));
    let codes: Vec<String> = audit
        .json()
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["user"] == "root")
        .filter_map(|e| e["code"].as_str().map(str::to_owned))
        .collect();
    assert!(
        codes.contains(&"admin_create_api_key".to_owned()),
        "{codes:?}"
    );
    assert!(
        codes.contains(&"admin_revoke_api_key".to_owned()),
        "{codes:?}"
    );
}

#[test]
fn a_disabled_service_user_s_key_is_refused() {
    let rt = runtime();
    let w = start(600);
    let server = &w.server;
    let http = reqwest::Client::new();
    let root = rt.block_on(fieldwork_tests::raw::token(&server.url, "root"));
    let created = send(
        &rt,
        http.post(format!("{}/v1/admin/api-keys", server.admin_url))
            .bearer_auth(&root)
            .json(&json!({"name": "bot", "user": "bot", "read_only": false})),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let key = created.json()["key"].as_str().expect("key").to_owned();
    let me = format!("{}/v1/me", server.url);
    assert_eq!(send(&rt, http.get(&me).bearer_auth(&key)).status, 200);
    let a = send(
        &rt,
        http.post(format!("{}/v1/admin/users/bot/disable", server.admin_url))
            .bearer_auth(&root),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(send(&rt, http.get(&me).bearer_auth(&key)).status, 401);
}

#[test]
fn each_caller_has_its_rate_and_is_told_when_to_come_back() {
    let rt = runtime();
    let w = start(5);
    let server = &w.server;
    let http = reqwest::Client::new();
    let root = rt.block_on(fieldwork_tests::raw::token(&server.url, "root"));
    let ana = rt.block_on(fieldwork_tests::raw::token(&server.url, "ana"));
    let keys = format!("{}/v1/admin/api-keys", server.admin_url);
    let make = |body: Value| {
        let a = send(&rt, http.post(&keys).bearer_auth(&root).json(&body));
        assert_eq!(a.status, 201, "{}", a.body);
        a.json()["key"].as_str().expect("key").to_owned()
    };
    let slow =
        make(json!({"name": "slow", "user": "erp", "read_only": true, "rate_per_minute": 2}));
    let plain = make(json!({"name": "plain", "user": "erp", "read_only": true}));
    let me = format!("{}/v1/me", server.url);
    let count_ok = |token: &str| {
        let mut ok = 0;
        loop {
            let a = send(&rt, http.get(&me).bearer_auth(token));
            if a.status != 200 {
                assert_eq!(a.status, 429, "{}", a.body);
                let retry: u64 = a.headers["retry-after"]
                    .to_str()
                    .expect("ascii")
                    .parse()
                    .expect("seconds");
                assert!((1..=60).contains(&retry), "Retry-After: {retry}");
                let body = a.json();
                assert_eq!(body["code"], "rate_limited");
                assert_eq!(body["retry_after"], retry);
                return ok;
            }
            ok += 1;
            assert!(ok <= 20, "never limited");
        }
    };
    assert_eq!(count_ok(&slow), 2, "the key's own rate");
    assert_eq!(count_ok(&plain), 5, "the server's default rate, per key");
    assert_eq!(count_ok(&ana), 5, "a session's own bucket");
}

/// Runs `fieldwork-server --data DIR ARGS…` and returns its standard output.
fn cli(dir: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(fieldwork_tests::server::binary("fieldwork-server"))
        .arg("--data")
        .arg(dir)
        .args(args)
        .output()
        .expect("run fieldwork-server");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn the_admin_cli_makes_and_revokes_keys_that_a_running_server_honours() {
    let rt = runtime();
    let dir = tempfile::tempdir().expect("tmp");
    fieldwork_tests::server::add_user_offline(dir.path(), "erp", "auditor", &[]);
    let printed = cli(
        dir.path(),
        &[
            "api-key", "create", "--name", "ERP", "--user", "erp", "--kind", "account",
        ],
    );
    let key = printed
        .lines()
        .find_map(|l| l.strip_prefix("key (shown only now): "))
        .unwrap_or_else(|| panic!("no key printed: {printed}"))
        .to_owned();
    let id = key.split('_').nth(1).expect("id").to_owned();
    let server = TestServer::start_in(dir.path(), |_| {});
    let http = reqwest::Client::new();
    let me = format!("{}/v1/me", server.url);
    let a = send(&rt, http.get(&me).bearer_auth(&key));
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["key"]["kinds"], json!(["account"]));
    assert_eq!(a.json()["key"]["read_only"], true);
    let listed = cli(dir.path(), &["api-key", "list"]);
    assert!(listed.contains("ERP") && !listed.contains(&key), "{listed}");
    cli(dir.path(), &["api-key", "revoke", &id]);
    let a = send(&rt, http.get(&me).bearer_auth(&key));
    assert_eq!(a.status, 401, "revoked from another process: {}", a.body);
}
