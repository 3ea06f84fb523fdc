//! Bad input on the wire and at the door: malformed frames, oversized
//! messages, wrong protocol versions, wrong passwords. Each gets a clear
//! error, ends only the offending connection, and harms nobody else.

use fieldwork_core::RecordKind;
use fieldwork_core::sync::codec;
use fieldwork_core::sync::protocol::{ClientMessage, Hello, ServerMessage};
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::raw::{RawClient, token};
use fieldwork_tests::runtime;
use fieldwork_tests::server::{PASSWORD, TestServer};

fn error_code(m: Option<ServerMessage>) -> String {
    match m {
        Some(ServerMessage::Error(e)) => e.code,
        other => panic!("expected an error message, got {other:?}"),
    }
}

#[test]
fn malformed_frames_close_that_connection_only() {
    let rt = runtime();
    let tmp = tempfile::tempdir().expect("tmp");
    let server = TestServer::start_in(tmp.path(), |c| {
        c.limits.max_frame = 256 * 1024;
        c.limits.max_message = 1024 * 1024;
    });
    server.add_user("ana", "admin", &[], None);
    server.add_user("luis", "admin", &[], None);
    let bystander = TestDevice::new(&rt);
    bystander.login(&server.url, "luis");
    bystander.create(RecordKind::Account, &[("name", "Antes")]);
    bystander.sync();

    rt.block_on(async {
        let t = token(&server.url, "ana").await;
        // Garbage instead of a hello.
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        c.send_frame(vec![0, 0xff, 0x13, 0x37]).await;
        assert_eq!(error_code(c.recv().await), "malformed_message");
        assert!(c.closed().await);
        // A frame flag nobody defined.
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        c.send_frame(vec![9, 1, 2, 3]).await;
        assert_eq!(error_code(c.recv().await), "malformed_message");
        // A push before hello.
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        c.send(&ClientMessage::Push(fieldwork_core::sync::protocol::Push {
            batch: 1,
            changes: vec![],
        }))
        .await;
        assert_eq!(error_code(c.recv().await), "unexpected_message");
        // A protocol version from the future.
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        c.send(&ClientMessage::Hello(Hello {
            protocol: 99,
            device_id: "d".into(),
            cursor: None,
            resync: false,
            client: "future".into(),
            app_version: None,
            pending_changes: None,
        }))
        .await;
        assert_eq!(error_code(c.recv().await), "unsupported_protocol");
        // A small frame that inflates past the message limit.
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        c.hello("bomb-device").await;
        let huge = ClientMessage::Push(fieldwork_core::sync::protocol::Push {
            batch: 1,
            changes: vec![fieldwork_core::sync::protocol::PushedChange {
                doc: "account:X/general".into(),
                bytes: serde_bytes::ByteBuf::from(vec![0u8; 4 * 1024 * 1024]),
            }],
        });
        let frame = codec::encode(&huge);
        assert!(
            frame.len() < 256 * 1024,
            "zeros compress well: {} bytes",
            frame.len()
        );
        c.send_frame(frame).await;
        assert_eq!(error_code(c.recv().await), "message_too_large");
        // A frame above the wire limit is cut by the WebSocket layer.
        let mut c = RawClient::connect(&server.url, &t).await.expect("connect");
        c.hello("big-device").await;
        c.send_frame(vec![0u8; 512 * 1024]).await;
        assert!(c.closed().await, "an oversized frame closes the connection");
    });

    // Everyone else is fine.
    let other = bystander.create(RecordKind::Account, &[("name", "Después")]);
    bystander.sync();
    let fresh = TestDevice::new(&rt);
    fresh.login(&server.url, "ana");
    fresh.sync();
    assert_eq!(fresh.get(&other).text("name"), Some("Después"));
}

#[test]
fn wrong_credentials_get_one_answer_and_repeated_failures_are_rate_limited() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("ana", "rep", &["madrid"], None);
    rt.block_on(async {
        let client = reqwest::Client::new();
        let attempt = |user: &'static str, password: &'static str| {
            let client = client.clone();
            let url = format!("{}/v1/login", server.url);
            async move {
                let r = client
                    .post(url)
                    .json(&serde_json::json!({ "user": user, "password": password }))
                    .send()
                    .await
                    .expect("request");
                (r.status().as_u16(), r.text().await.expect("body"))
            }
        };
        let wrong_password = attempt("ana", "not her password").await;
        let unknown_user = attempt("nadie", "not her password").await;
        assert_eq!(wrong_password.0, 401);
        assert_eq!(
            wrong_password, unknown_user,
            "the same answer whether the user exists or not"
        );
        // Three more failures for ana: five in all, then she is locked out,
        // even with the right password, while other users are not.
        for _ in 0..3 {
            assert_eq!(attempt("ana", "still wrong").await.0, 401);
        }
        let locked = attempt("ana", PASSWORD).await;
        assert_eq!(locked.0, 429, "{}", locked.1);
        assert!(locked.1.contains("rate_limited"));
        // A bad token cannot open the sync socket.
        assert!(
            RawClient::connect(&server.url, "forged-token")
                .await
                .is_err()
        );
    });
}

#[test]
fn an_expired_or_revoked_session_asks_the_user_to_sign_in_again() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("ana", "rep", &["madrid"], None);
    let d = TestDevice::new(&rt);
    d.login(&server.url, "ana");
    d.sync();
    rt.block_on(fieldwork_sdk::login::logout(&d.device))
        .expect("logout");
    let err = d.try_sync().expect_err("signed out");
    assert!(matches!(err, fieldwork_sdk::SdkError::NotLoggedIn), "{err}");
    d.login(&server.url, "ana");
    d.sync();
    // Disabling the user ends their session on the server.
    server
        .state
        .db
        .write_blocking(|w| fieldwork_server::db::users::set_disabled(&w.conn, "ana", true))
        .expect("disable");
    let err = d.try_sync().expect_err("disabled");
    assert!(
        matches!(err, fieldwork_sdk::SdkError::SessionExpired),
        "{err}"
    );
}

#[test]
fn a_session_revoked_during_live_sync_signs_the_device_out_with_a_typed_status() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("ana", "rep", &["madrid"], None);
    let d = TestDevice::new(&rt);
    d.login(&server.url, "ana");
    let handle = d.go_live();
    assert!(d.device.signed_in().expect("token"));
    // The administrator disables her: her sessions end while she is live.
    server
        .state
        .db
        .write_blocking(|w| fieldwork_server::db::users::set_disabled(&w.conn, "ana", true))
        .expect("disable");
    fieldwork_tests::wait_until(
        "the device to hear that it must sign in again",
        std::time::Duration::from_secs(20),
        || {
            matches!(
                d.device.status(),
                fieldwork_sdk::SyncStatus::NeedsLogin { .. }
            )
        },
    );
    assert!(!d.device.signed_in().expect("token"), "the token is gone");
    fieldwork_tests::wait_until(
        "the background sync to stop",
        std::time::Duration::from_secs(5),
        || handle.is_finished(),
    );
    // Local work goes on and is pushed after the next sign-in.
    let id = d.store(|s| {
        s.create(
            RecordKind::Account,
            vec![
                fieldwork_core::FieldWrite::set("name", "Tras el Cierre SL"),
                fieldwork_core::FieldWrite::set("territory", "madrid"),
            ],
        )
    });
    server
        .state
        .db
        .write_blocking(|w| fieldwork_server::db::users::set_disabled(&w.conn, "ana", false))
        .expect("enable");
    d.login(&server.url, "ana");
    let report = d.sync();
    assert!(report.pushed >= 1 && report.refused == 0, "{report:?}");
    assert!(d.store(|s| s.get(&id)).text("name").is_some());
    assert_eq!(d.store(|s| s.outbox_len()), 0);
}
