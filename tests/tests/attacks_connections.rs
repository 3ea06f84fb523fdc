//! Connections: sockets cannot starve the server. Each attack is
//! made with raw sockets from its own loopback address (`127.0.0.n`) while a
//! real user signs in and pushes from `127.0.0.1` with the SDK; the attack
//! must be refused or cut, and the real user must get through within
//! [`BYSTANDER_BOUND`].

use std::time::{Duration, Instant};

use fieldwork_core::sync::protocol::ServerMessage;
use fieldwork_tests::raw::{RawClient, token};
use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;
use fieldwork_tests::slow::{
    BYSTANDER_BOUND, connect_from, loopback, parse, read_answer, request_from, sign_in_and_push,
    trickle, wait_for_close,
};
use tokio::io::AsyncWriteExt;

fn server(
    tune: impl FnOnce(&mut fieldwork_server::ServerConfig),
) -> (TestServer, tempfile::TempDir) {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = TestServer::start_in(tmp.path(), tune);
    (server, tmp)
}

fn error_code(m: Option<ServerMessage>) -> String {
    match m {
        Some(ServerMessage::Error(e)) => e.code,
        other => panic!("expected an error message, got {other:?}"),
    }
}

#[test]
fn idle_sockets_cannot_starve_health_or_login() {
    let (server, _tmp) = server(|c| {
        c.max_connections_per_address = 100;
        c.header_read_timeout = Duration::from_secs(3);
    });
    server.add_user("ana", "admin", &[], None);
    let rt = runtime();
    let url = server.url.clone();
    let attacker = loopback(2);
    // 500 sockets that never say anything.
    let opened = Instant::now();
    let idle = rt.block_on(async {
        let mut idle = Vec::new();
        for _ in 0..500 {
            idle.push(connect_from(attacker, &url).await.expect("connect"));
        }
        idle
    });
    let start = Instant::now();
    // Everyone else is served at once.
    let health = rt
        .block_on(request_from(
            loopback(3),
            &url,
            "GET",
            "/v1/health",
            &[],
            b"",
        ))
        .expect("health");
    assert_eq!(health.status, 200, "{health:?}");
    let took = sign_in_and_push(&rt, &url, "ana");
    assert!(took < BYSTANDER_BOUND, "{took:?}");
    assert!(start.elapsed() < BYSTANDER_BOUND, "{:?}", start.elapsed());
    // Of the 500, the per-address cap let 100 in; the others were told 503
    // at once; the 100 were cut by the header timeout.
    let deadline = start + Duration::from_secs(7);
    let endings = rt.block_on(async {
        let waits: Vec<_> = idle
            .into_iter()
            .map(|tcp| tokio::spawn(wait_for_close(tcp, opened, deadline)))
            .collect();
        let mut endings = Vec::new();
        for w in waits {
            endings.push(w.await.expect("task"));
        }
        endings
    });
    let refused: Vec<_> = endings
        .iter()
        .filter(|e| e.received.starts_with(b"HTTP/1.1 503"))
        .collect();
    assert_eq!(refused.len(), 400, "refused beyond the per-address cap");
    for e in &refused {
        let answer = parse(&e.received).expect("an HTTP answer");
        assert_eq!(answer.code().as_deref(), Some("too_many_connections"));
        assert_eq!(answer.retry_after(), Some(1));
    }
    let admitted: Vec<_> = endings
        .iter()
        .filter(|e| !e.received.starts_with(b"HTTP/1.1 503"))
        .collect();
    for e in &admitted {
        let closed = e
            .closed_after
            .expect("an idle socket is closed by the server");
        assert!(
            closed >= Duration::from_secs(2),
            "held until the header timeout, not before: {closed:?}"
        );
        assert!(e.received.is_empty(), "nothing was answered to silence");
    }
    // The slots came back: the attacker's address may connect again.
    let again = rt
        .block_on(request_from(attacker, &url, "GET", "/v1/health", &[], b""))
        .expect("health");
    assert_eq!(again.status, 200);
}

#[test]
fn the_total_connection_cap_refuses_at_once_and_recovers() {
    let (server, _tmp) = server(|c| {
        c.max_tcp_connections = 30;
    });
    let rt = runtime();
    let url = server.url.clone();
    rt.block_on(async {
        let mut held = Vec::new();
        for _ in 0..30 {
            held.push(connect_from(loopback(2), &url).await.expect("connect"));
        }
        // Let the server accept them all before the 31st.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let start = Instant::now();
        let a = request_from(loopback(3), &url, "GET", "/v1/health", &[], b"")
            .await
            .expect("an answer");
        assert_eq!(
            (a.status, a.code().as_deref()),
            (503, Some("too_many_connections"))
        );
        assert!(start.elapsed() < Duration::from_secs(1), "refused at once");
        drop(held);
        // Closed sockets give their slots back.
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let a = request_from(loopback(3), &url, "GET", "/v1/health", &[], b"")
                .await
                .expect("an answer");
            if a.status == 200 {
                break;
            }
            assert!(Instant::now() < deadline, "slots never came back: {a:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

#[test]
fn a_trickling_header_is_cut_after_the_timeout() {
    let (server, _tmp) = server(|c| c.header_read_timeout = Duration::from_secs(1));
    server.add_user("ana", "admin", &[], None);
    let rt = runtime();
    let url = server.url.clone();
    let trickler = rt.spawn({
        let url = url.clone();
        async move {
            let mut tcp = connect_from(loopback(2), &url).await.expect("connect");
            // A header that would take 8 s at one byte per 50 ms.
            let mut header = b"GET /v1/health HTTP/1.1\r\nhost: fieldwork\r\n".to_vec();
            header.extend_from_slice(format!("x-slow: {}\r\n\r\n", "a".repeat(120)).as_bytes());
            trickle(&mut tcp, &header, 1, Duration::from_millis(50)).await
        }
    });
    let took = sign_in_and_push(&rt, &url, "ana");
    assert!(took < BYSTANDER_BOUND, "{took:?}");
    let (lasted, finished) = rt.block_on(trickler).expect("trickler");
    assert!(!finished, "the server let a trickled header finish");
    assert!(
        lasted >= Duration::from_millis(900) && lasted < Duration::from_secs(3),
        "cut after the 1 s header timeout, was {lasted:?}"
    );
}

#[test]
fn slow_or_oversized_login_bodies_are_refused() {
    let (server, _tmp) = server(|c| c.body_timeout = Duration::from_secs(1));
    server.add_user("ana", "admin", &[], None);
    let rt = runtime();
    let url = server.url.clone();
    let attack = rt.spawn({
        let url = url.clone();
        async move {
            // A body that trickles: cut with 408 after the body timeout.
            let tcp = connect_from(loopback(2), &url).await.expect("connect");
            let (mut reader, mut writer) = tcp.into_split();
            let head = b"POST /v1/login HTTP/1.1\r\nhost: fieldwork\r\ncontent-type: application/json\r\ncontent-length: 200\r\nconnection: close\r\n\r\n{\"user\":";
            writer.write_all(head).await.expect("write");
            let dripping = tokio::spawn(async move {
                for _ in 0..100 {
                    if writer.write_all(b" ").await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            });
            let start = Instant::now();
            let mut raw = Vec::new();
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut raw),
            )
            .await;
            dripping.abort();
            let slow = parse(&raw).expect("an answer to the slow body");
            let slow_after = start.elapsed();
            // A body announced larger than the limit: 413 at once.
            let start = Instant::now();
            let mut tcp = connect_from(loopback(2), &url).await.expect("connect");
            let head = b"POST /v1/login HTTP/1.1\r\nhost: fieldwork\r\ncontent-type: application/json\r\ncontent-length: 10485760\r\nconnection: close\r\n\r\n";
            tcp.write_all(head).await.expect("write");
            let huge = read_answer(&mut tcp, Duration::from_secs(5)).await.expect("answer");
            let huge_after = start.elapsed();
            // A chunked body (no length announced) that grows past the limit.
            let mut tcp = connect_from(loopback(2), &url).await.expect("connect");
            let mut bytes = b"POST /v1/login HTTP/1.1\r\nhost: fieldwork\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n".to_vec();
            for _ in 0..4 {
                bytes.extend_from_slice(format!("1000\r\n{}\r\n", "x".repeat(4096)).as_bytes());
            }
            bytes.extend_from_slice(b"0\r\n\r\n");
            let _ = tcp.write_all(&bytes).await;
            let chunked = read_answer(&mut tcp, Duration::from_secs(5)).await.expect("answer");
            (slow, slow_after, huge, huge_after, chunked)
        }
    });
    let took = sign_in_and_push(&rt, &url, "ana");
    assert!(took < BYSTANDER_BOUND, "{took:?}");
    let (slow, slow_after, huge, huge_after, chunked) = rt.block_on(attack).expect("attack");
    assert_eq!(
        (slow.status, slow.code().as_deref()),
        (408, Some("request_timeout")),
        "{slow:?}"
    );
    assert!(
        slow_after >= Duration::from_millis(900) && slow_after < Duration::from_secs(3),
        "{slow_after:?}"
    );
    assert_eq!(
        (huge.status, huge.code().as_deref()),
        (413, Some("payload_too_large")),
        "{huge:?}"
    );
    assert!(huge_after < Duration::from_secs(1), "{huge_after:?}");
    assert_eq!(
        (chunked.status, chunked.code().as_deref()),
        (413, Some("payload_too_large")),
        "{chunked:?}"
    );
}

#[test]
fn a_silent_websocket_is_closed_after_the_hello_timeout() {
    let (server, _tmp) = server(|c| c.hello_timeout = Duration::from_secs(1));
    server.add_user("ana", "admin", &[], None);
    server.add_user("eva", "admin", &[], None);
    let rt = runtime();
    let url = server.url.clone();
    let silent = rt.spawn({
        let url = url.clone();
        async move {
            let t = token(&url, "eva").await;
            let mut c = RawClient::connect(&url, &t).await.expect("connect");
            let start = Instant::now();
            let code = error_code(c.recv().await);
            let after = start.elapsed();
            (code, after, c.closed().await)
        }
    });
    let took = sign_in_and_push(&rt, &url, "ana");
    assert!(took < BYSTANDER_BOUND, "{took:?}");
    let (code, after, closed) = rt.block_on(silent).expect("silent client");
    assert_eq!(code, "unexpected_message");
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_secs(3),
        "{after:?}"
    );
    assert!(closed);
}

#[test]
fn an_oversized_frame_gets_message_too_large_before_the_close() {
    // Default limits: frames up to 16 MiB.
    let (server, _tmp) = server(|_| {});
    server.add_user("ana", "admin", &[], None);
    server.add_user("eva", "admin", &[], None);
    let rt = runtime();
    let url = server.url.clone();
    let attack = rt.spawn({
        let url = url.clone();
        async move {
            let t = token(&url, "eva").await;
            let mut c = RawClient::connect(&url, &t).await.expect("connect");
            c.hello("big-frame-device").await;
            c.send_frame(vec![0u8; 17 * 1024 * 1024]).await;
            // The bystander's changes may be relayed live before the error.
            let code = loop {
                match c.recv().await {
                    Some(ServerMessage::Batch(_)) => continue,
                    other => break error_code(other),
                }
            };
            (code, c.closed().await)
        }
    });
    let took = sign_in_and_push(&rt, &url, "ana");
    assert!(took < 2 * BYSTANDER_BOUND, "{took:?}");
    let (code, closed) = rt.block_on(attack).expect("attack");
    assert_eq!(code, "message_too_large");
    assert!(closed, "and then the connection closes");
}

#[test]
fn a_frame_beyond_the_websocket_limit_also_gets_message_too_large() {
    let (server, _tmp) = server(|c| {
        c.limits.max_frame = 64 * 1024;
        c.limits.max_message = 256 * 1024;
    });
    server.add_user("eva", "admin", &[], None);
    let rt = runtime();
    let url = server.url.clone();
    rt.block_on(async {
        let t = token(&url, "eva").await;
        let mut c = RawClient::connect(&url, &t).await.expect("connect");
        c.hello("bigger-frame-device").await;
        // Twice the 96 KiB the WebSocket layer reads: refused from the
        // frame header, before the payload is read.
        c.send_frame(vec![0u8; 192 * 1024]).await;
        assert_eq!(error_code(c.recv().await), "message_too_large");
        assert!(c.closed().await);
    });
}

#[test]
fn admin_bodies_are_bounded_too() {
    let (server, _tmp) = server(|c| c.max_admin_body = 64 * 1024);
    server.add_user("ana", "admin", &[], None);
    let rt = runtime();
    let url = server.url.clone();
    // The admin API is on its own listener; the token comes from the public login.
    let admin = server.admin_url.clone();
    rt.block_on(async {
        let t = token(&url, "ana").await;
        let bearer = format!("Bearer {t}");
        let big = vec![b'#'; 100 * 1024];
        // A policy larger than the limit: 413, and the old policy stays.
        let a = request_from(
            loopback(2),
            &admin,
            "PUT",
            "/v1/admin/policy",
            &[("authorization", &bearer)],
            &big,
        )
        .await
        .expect("answer");
        assert_eq!(
            (a.status, a.code().as_deref()),
            (413, Some("payload_too_large")),
            "{a:?}"
        );
        // A user creation that is not JSON: 400 bad_request.
        let a = request_from(
            loopback(2),
            &admin,
            "POST",
            "/v1/admin/users",
            &[
                ("authorization", &bearer),
                ("content-type", "application/json"),
            ],
            b"{\"name\": ",
        )
        .await
        .expect("answer");
        assert_eq!(
            (a.status, a.code().as_deref()),
            (400, Some("bad_request")),
            "{a:?}"
        );
        // Without a token the body is never read: 401.
        let a = request_from(loopback(2), &admin, "PUT", "/v1/admin/policy", &[], &big)
            .await
            .expect("answer");
        assert_eq!(a.status, 401, "{a:?}");
        // Within the limits the endpoints work as before.
        let a = request_from(
            loopback(2),
            &admin,
            "GET",
            "/v1/admin/policy",
            &[("authorization", &bearer)],
            b"",
        )
        .await
        .expect("answer");
        assert_eq!(a.status, 200, "{a:?}");
    });
}
