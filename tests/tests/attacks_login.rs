//! Login: the door resists guessing. Every attack is made with a
//! raw HTTP client from its own loopback address (`127.0.0.n`), while a
//! real user signs in and pushes from another address with the SDK; each
//! attack must be refused with its stable code *and* the real user must get
//! through within [`BYSTANDER_BOUND`].

use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use fieldwork_server::auth::{PasswordParams, log_name};
use fieldwork_tests::runtime;
use fieldwork_tests::server::{PASSWORD, TestServer};
use fieldwork_tests::slow::{
    BYSTANDER_BOUND, login_from, loopback, request_from, sign_in_and_push,
};

/// A server in a fresh directory with `tune` applied.
fn server(
    tune: impl FnOnce(&mut fieldwork_server::ServerConfig),
) -> (TestServer, tempfile::TempDir) {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = TestServer::start_in(tmp.path(), tune);
    (server, tmp)
}

#[test]
fn concurrent_guesses_are_counted_before_argon2_and_the_real_user_gets_in_elsewhere() {
    let (server, _tmp) = server(|_| {});
    server.add_user("ana", "admin", &[], None);
    let rt = runtime();
    let url = server.url.clone();
    let attacker = loopback(2);
    // 40 wrong guesses at once, then more for as long as the real user is
    // busy signing in and pushing.
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for i in 0..40 {
        let (url, stop) = (url.clone(), stop.clone());
        workers.push(rt.spawn(async move {
            let mut answers = Vec::new();
            loop {
                let a = login_from(attacker, &url, "ana", &format!("guess number {i}"), &[])
                    .await
                    .expect("the server answers every guess");
                answers.push(a);
                if stop.load(Ordering::Relaxed) {
                    return answers;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }));
    }
    let took = sign_in_and_push(&rt, &url, "ana");
    stop.store(true, Ordering::Relaxed);
    let answers: Vec<_> = rt.block_on(async {
        let mut all = Vec::new();
        for w in workers {
            all.extend(w.await.expect("worker"));
        }
        all
    });
    assert!(
        took < BYSTANDER_BOUND,
        "the real user at another address signed in and pushed in {took:?}"
    );
    let evaluated = answers.iter().filter(|a| a.status == 401).count();
    let limited: Vec<_> = answers.iter().filter(|a| a.status == 429).collect();
    eprintln!(
        "{} guesses: {evaluated} evaluated, {} refused; the real user took {took:?}",
        answers.len(),
        limited.len()
    );
    assert_eq!(
        evaluated + limited.len(),
        answers.len(),
        "only 401 or 429: {:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    // Five free failures, then 1 s, 2 s… of backoff: while the real user
    // needed (well) under 2 s, at most two more guesses were evaluated.
    assert!(
        (1..=7).contains(&evaluated),
        "{evaluated} of {} guesses reached Argon2",
        answers.len()
    );
    assert!(limited.len() >= 33, "{} refused", limited.len());
    for a in &limited {
        assert_eq!(a.code().as_deref(), Some("rate_limited"), "{a:?}");
        assert!(a.retry_after().is_some_and(|s| s >= 1), "{a:?}");
    }
    for a in answers.iter().filter(|a| a.status == 401) {
        assert_eq!(a.code().as_deref(), Some("invalid_credentials"), "{a:?}");
    }
    // While the attacker's address backs off, even the right password from
    // there is not evaluated.
    let a = rt
        .block_on(login_from(attacker, &url, "ana", PASSWORD, &[]))
        .expect("answer");
    assert_eq!((a.status, a.code().as_deref()), (429, Some("rate_limited")));
}

#[test]
fn backoff_doubles_per_address_and_another_address_is_never_delayed() {
    let (server, _tmp) = server(|_| {});
    server.add_user("ana", "admin", &[], None);
    server.add_user("luis", "admin", &[], None);
    let rt = runtime();
    let url = server.url.clone();
    rt.block_on(async {
        let (attacker, office) = (loopback(3), loopback(4));
        for i in 0..5 {
            let a = login_from(attacker, &url, "ana", &format!("wrong {i}"), &[])
                .await
                .expect("answer");
            assert_eq!(
                (a.status, a.code().as_deref()),
                (401, Some("invalid_credentials"))
            );
        }
        let a = login_from(attacker, &url, "ana", "wrong 5", &[])
            .await
            .expect("answer");
        assert_eq!((a.status, a.retry_after()), (429, Some(1)), "{a:?}");
        // Anyone at that address waits too…
        let a = login_from(attacker, &url, "luis", PASSWORD, &[])
            .await
            .expect("answer");
        assert_eq!(a.status, 429, "{a:?}");
        // …but not ana at her office.
        let a = login_from(office, &url, "ana", PASSWORD, &[])
            .await
            .expect("answer");
        assert_eq!(a.status, 200, "{a:?}");
        assert!(a.body.contains("\"token\""));
        // After the announced delay, one more attempt; then twice as long.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let a = login_from(attacker, &url, "ana", "wrong 6", &[])
            .await
            .expect("answer");
        assert_eq!(a.status, 401, "{a:?}");
        let a = login_from(attacker, &url, "ana", "wrong 7", &[])
            .await
            .expect("answer");
        assert_eq!((a.status, a.retry_after()), (429, Some(2)), "{a:?}");
    });
}

#[test]
fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let proxy = loopback(5);
    let (server, _tmp) = server(|c| c.trusted_proxies = vec![proxy]);
    server.add_user("ana", "admin", &[], None);
    let rt = runtime();
    let url = server.url.clone();
    rt.block_on(async {
        // Through the proxy: the client is the right-most forwarded hop.
        for i in 0..5 {
            let a = login_from(
                proxy,
                &url,
                "ana",
                &format!("wrong {i}"),
                &[("x-forwarded-for", "198.51.100.1")],
            )
            .await
            .expect("answer");
            assert_eq!(a.status, 401, "{a:?}");
        }
        let a = login_from(
            proxy,
            &url,
            "ana",
            "wrong",
            &[("x-forwarded-for", "198.51.100.1")],
        )
        .await
        .expect("answer");
        assert_eq!(
            a.status, 429,
            "the client behind the proxy backs off: {a:?}"
        );
        // A forged left-most entry does not change who the client is.
        let a = login_from(
            proxy,
            &url,
            "ana",
            "wrong",
            &[("x-forwarded-for", "203.0.113.50, 198.51.100.1")],
        )
        .await
        .expect("answer");
        assert_eq!(a.status, 429, "{a:?}");
        // Another client behind the same proxy is not affected.
        let a = login_from(
            proxy,
            &url,
            "ana",
            PASSWORD,
            &[("x-forwarded-for", "198.51.100.2")],
        )
        .await
        .expect("answer");
        assert_eq!(a.status, 200, "{a:?}");

        // From a peer that is not a trusted proxy the header is ignored:
        // rotating it does not buy fresh attempts.
        let direct = loopback(6);
        for i in 0..5 {
            let forged = format!("10.9.8.{i}");
            let a = login_from(
                direct,
                &url,
                "ana",
                "wrong",
                &[("x-forwarded-for", &forged)],
            )
            .await
            .expect("answer");
            assert_eq!(a.status, 401, "{a:?}");
        }
        let a = login_from(
            direct,
            &url,
            "ana",
            "wrong",
            &[("x-forwarded-for", "10.9.8.200")],
        )
        .await
        .expect("answer");
        assert_eq!(a.status, 429, "{a:?}");
    });
}

#[test]
fn a_flood_from_many_addresses_is_bounded_by_the_verification_queue() {
    let (server, _tmp) = server(|c| {
        // Costly enough that verifications overlap, like production's.
        c.password = PasswordParams {
            memory_kib: 32 * 1024,
            iterations: 3,
            parallelism: 1,
        };
        c.login_concurrency = 2;
        c.login_queue = 2;
    });
    server.add_user("ana", "admin", &[], None);
    let rt = runtime();
    let url = server.url.clone();
    let answers = rt.block_on(async {
        let mut flood = Vec::new();
        for n in 1..=48u8 {
            let url = url.clone();
            // Each guess from its own address: the per-address backoff has
            // nothing to say, only the verification queue bounds the work.
            let from = IpAddr::from([127, 0, 1, n]);
            flood.push(tokio::spawn(async move {
                login_from(from, &url, "ana", "a distributed guess", &[]).await
            }));
        }
        // Health still answers at once during the flood.
        let start = Instant::now();
        let health = request_from(loopback(9), &url, "GET", "/v1/health", &[], b"")
            .await
            .expect("health");
        assert_eq!(health.status, 200);
        assert!(start.elapsed() < BYSTANDER_BOUND, "{:?}", start.elapsed());
        let mut answers = Vec::new();
        for f in flood {
            answers.push(f.await.expect("task").expect("answer"));
        }
        answers
    });
    let evaluated = answers.iter().filter(|a| a.status == 401).count();
    let queued_out: Vec<_> = answers.iter().filter(|a| a.status == 429).collect();
    eprintln!(
        "48 guesses: {evaluated} evaluated, {} refused",
        queued_out.len()
    );
    assert_eq!(evaluated + queued_out.len(), 48, "only 401 or 429");
    assert!(evaluated >= 2, "{evaluated} evaluated");
    assert!(
        queued_out.len() >= 20,
        "{} refused instead of piling up",
        queued_out.len()
    );
    for a in &queued_out {
        assert_eq!(
            (a.code().as_deref(), a.retry_after()),
            (Some("rate_limited"), Some(1)),
            "{a:?}"
        );
    }
    // Once the flood is over, the real user signs in and pushes as usual.
    let took = sign_in_and_push(&rt, &url, "ana");
    assert!(took < BYSTANDER_BOUND, "{took:?}");
}

/// Everything the server logs in this test binary (once per process).
fn captured_log() -> Option<Arc<Mutex<Vec<u8>>>> {
    static LOG: OnceLock<Option<Arc<Mutex<Vec<u8>>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        #[derive(Clone)]
        struct Capture(Arc<Mutex<Vec<u8>>>);
        impl Write for Capture {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if let Ok(mut log) = self.0.lock() {
                    log.extend_from_slice(buf);
                }
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let log = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(log.clone());
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_env_filter(tracing_subscriber::EnvFilter::new("fieldwork_server=info"))
            .with_writer(move || writer.clone())
            .try_init()
            .ok()
            .map(|()| log)
    })
    .clone()
}

#[test]
fn malformed_names_are_bad_requests_and_typed_text_never_reaches_the_log() {
    let log = captured_log();
    let (server, _tmp) = server(|_| {});
    server.add_user("ana", "admin", &[], None);
    let rt = runtime();
    let url = server.url.clone();
    let attacker = loopback(7);
    let forged = "mallory\n2026-01-01T00:00:00Z  INFO fieldwork_server::http: signed in user=admin";
    let typed_password = "Hunter2-Typed-In-The-Name-Field";
    rt.block_on(async {
        for bad in [
            forged,
            "ana\r",
            "ana\u{1b}[31m",
            "ana\u{202E}",
            "",
            &"x".repeat(65),
        ] {
            let a = login_from(attacker, &url, bad, "whatever password", &[])
                .await
                .expect("answer");
            assert_eq!(
                (a.status, a.code().as_deref()),
                (400, Some("bad_request")),
                "{bad:?}: {a:?}"
            );
        }
        // Not JSON, missing fields, a password beyond any real one.
        let json = [("content-type", "application/json")];
        for body in [
            b"user=ana&password=x".to_vec(),
            br#"{"user":"ana"}"#.to_vec(),
            serde_json::json!({"user": "ana", "password": "p".repeat(2000)})
                .to_string()
                .into_bytes(),
        ] {
            let a = request_from(attacker, &url, "POST", "/v1/login", &json, &body)
                .await
                .expect("answer");
            assert_eq!(
                (a.status, a.code().as_deref()),
                (400, Some("bad_request")),
                "{a:?}"
            );
        }
        // A password typed in the name field, and a wrong password for ana.
        let a = login_from(attacker, &url, typed_password, "x", &[])
            .await
            .expect("answer");
        assert_eq!(
            (a.status, a.code().as_deref()),
            (401, Some("invalid_credentials"))
        );
        let a = login_from(attacker, &url, "ana", "not her password", &[])
            .await
            .expect("answer");
        assert_eq!(
            (a.status, a.code().as_deref()),
            (401, Some("invalid_credentials"))
        );
    });
    // The real user, at another address, was never affected.
    let took = sign_in_and_push(&rt, &url, "ana");
    assert!(took < BYSTANDER_BOUND, "{took:?}");

    let Some(log) = log else {
        eprintln!("another log subscriber is installed (FW_TEST_LOG?): log checks skipped");
        return;
    };
    // Log lines are written synchronously by the server's threads.
    std::thread::sleep(Duration::from_millis(100));
    let text = String::from_utf8_lossy(&log.lock().expect("log")).into_owned();
    assert!(
        text.contains("failed login") && text.contains("user=ana"),
        "the capture works: {text}"
    );
    assert!(
        text.contains(&log_name(typed_password)),
        "the unknown name is logged as its fingerprint: {text}"
    );
    assert!(
        !text.contains(typed_password),
        "typed text in the log: {text}"
    );
    assert!(
        !text.contains("mallory"),
        "a malformed name in the log: {text}"
    );
    assert!(
        !text.lines().any(|l| l.contains("signed in user=admin")),
        "a forged log line: {text}"
    );
}
