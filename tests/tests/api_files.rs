//! Files end to end: `PUT` and `GET /v1/files/{sha256}` against a real
//! server, by an adversarial HTTP client. A file is uploaded in resumable
//! chunks for a record field that refers to it, verified against its hash,
//! stored once, and read back (whole or a range) only by callers who may
//! read that field of that record now; asking through any other record or
//! field tells nothing about whether the bytes exist.

use std::sync::Arc;

use fieldwork_core::attachment::{AttachmentRef, sha256_hex};
use fieldwork_tests::api::ApiClient;
use fieldwork_tests::raw::token;
use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::runtime::Runtime;

fn org(server: &TestServer) {
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &[], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
    server.add_user("pablo", "rep", &["sevilla"], Some("marta"));
}

/// Deterministic bytes that are not text (NULs, every byte value).
fn bytes(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// An answer with its raw bytes and headers.
struct Raw {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Raw {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// A caller speaking raw HTTP to the files endpoints, and JSON to records.
struct Caller {
    rt: Arc<Runtime>,
    base: String,
    token: String,
    http: reqwest::Client,
    api: ApiClient,
}

impl Caller {
    fn new(rt: &Arc<Runtime>, server: &TestServer, user: &str) -> Caller {
        let token = rt.block_on(token(&server.url, user));
        Caller {
            rt: rt.clone(),
            base: server.url.clone(),
            api: ApiClient::with_bearer(rt, &server.url, &token),
            token,
            http: reqwest::Client::new(),
        }
    }

    fn send(&self, request: reqwest::RequestBuilder) -> Raw {
        self.rt.block_on(async {
            let response = request
                .bearer_auth(&self.token)
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.bytes().await.expect("body").to_vec();
            Raw {
                status,
                headers,
                body,
            }
        })
    }

    fn put(&self, sha: &str, record: &str, field: &str, offset: u64, chunk: &[u8]) -> Raw {
        let url = format!(
            "{}/v1/files/{sha}?record={record}&field={field}&offset={offset}",
            self.base
        );
        self.send(
            self.http
                .put(url)
                .header("content-type", "image/jpeg")
                .body(chunk.to_vec()),
        )
    }

    fn get(&self, sha: &str, record: &str, field: &str, range: Option<&str>) -> Raw {
        let url = format!("{}/v1/files/{sha}?record={record}&field={field}", self.base);
        let mut request = self.http.get(url);
        if let Some(range) = range {
            request = request.header("range", range);
        }
        self.send(request)
    }

    fn create(&self, kind: &str, fields: Value) -> String {
        let made = self
            .api
            .post(&format!("/v1/records/{kind}"), json!({ "fields": fields }));
        assert_eq!(made.status, 201, "{}", made.text);
        made.json["id"].as_str().expect("id").to_owned()
    }
}

/// A Madrid account and a visit on it with `photo` referring to `reference`,
/// made by `rep`; answers the visit's id.
fn visit_with_photo(rep: &Caller, account: &str, reference: &AttachmentRef) -> String {
    rep.create(
        "activity",
        json!({"type": "visit", "subject": "Visita", "status": "done",
               "account": account, "photo": reference.to_text()}),
    )
}

#[test]
fn a_rep_uploads_a_visit_photo_in_chunks_resumes_and_reads_it_back() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let ana = Caller::new(&rt, &server, "ana");
    let account = ana.create(
        "account",
        json!({"name": "Ferretería Núñez", "territory": "madrid"}),
    );
    let photo = bytes(300_000, 1);
    let reference =
        AttachmentRef::for_bytes(&photo, "image/jpeg", "escaparate Núñez.jpg").expect("reference");
    let sha = reference.sha256.clone();
    let visit = visit_with_photo(&ana, &account, &reference);

    // Not uploaded yet: the reference is there, the bytes are not.
    let early = ana.get(&sha, &visit, "photo", None);
    assert_eq!(early.status, 404, "{}", early.text());
    assert_eq!(early.json()["code"], "file_not_uploaded");

    let first = ana.put(&sha, &visit, "photo", 0, &photo[..120_000]);
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(
        first.json(),
        json!({"received": 120_000, "complete": false})
    );

    // The second chunk at the wrong offset (as if the first had been lost
    // half-way), and the first again: nothing stored, resume at 120000.
    for (offset, chunk) in [(100_000, &photo[100_000..]), (0, &photo[..120_000])] {
        let wrong = ana.put(&sha, &visit, "photo", offset, chunk);
        assert_eq!(wrong.status, 409, "{}", wrong.text());
        assert_eq!(wrong.header("content-type"), "application/problem+json");
        assert_eq!(wrong.json()["code"], "offset_mismatch");
        assert_eq!(wrong.json()["received"], 120_000);
    }
    // An empty chunk asks where to resume.
    let probe = ana.put(&sha, &visit, "photo", 120_000, &[]);
    assert_eq!(
        probe.json(),
        json!({"received": 120_000, "complete": false})
    );

    let rest = ana.put(&sha, &visit, "photo", 120_000, &photo[120_000..]);
    assert_eq!(rest.status, 200, "{}", rest.text());
    assert_eq!(rest.json(), json!({"received": 300_000, "complete": true}));

    let whole = ana.get(&sha, &visit, "photo", None);
    assert_eq!(whole.status, 200, "{}", whole.text());
    assert!(whole.body == photo, "the same bytes");
    assert_eq!(whole.header("content-type"), "image/jpeg");
    assert_eq!(whole.header("content-length"), "300000");
    assert_eq!(whole.header("etag"), format!("\"{sha}\""));
    assert_eq!(whole.header("cache-control"), "private");
    assert_eq!(whole.header("x-content-type-options"), "nosniff");
    assert_eq!(whole.header("accept-ranges"), "bytes");
    assert_eq!(
        whole.header("content-disposition"),
        "attachment; filename*=UTF-8''escaparate%20N%C3%BA%C3%B1ez.jpg"
    );

    // Resumed downloads.
    let part = ana.get(&sha, &visit, "photo", Some("bytes=1000-1999"));
    assert_eq!(part.status, 206, "{}", part.text());
    assert_eq!(part.header("content-range"), "bytes 1000-1999/300000");
    assert_eq!(part.header("content-length"), "1000");
    assert!(part.body == photo[1000..2000], "the slice asked for");
    let tail = ana.get(&sha, &visit, "photo", Some("bytes=299000-"));
    assert_eq!(tail.status, 206);
    assert_eq!(tail.header("content-range"), "bytes 299000-299999/300000");
    assert!(tail.body == photo[299_000..]);
    let suffix = ana.get(&sha, &visit, "photo", Some("bytes=-10"));
    assert_eq!(suffix.status, 206);
    assert!(suffix.body == photo[299_990..]);
    let outside = ana.get(&sha, &visit, "photo", Some("bytes=300000-"));
    assert_eq!(outside.status, 416, "{}", outside.text());
    assert_eq!(outside.header("content-range"), "bytes */300000");
    assert_eq!(outside.json()["code"], "range_not_satisfiable");

    // Uploading again once complete stores nothing and says so.
    let again = ana.put(&sha, &visit, "photo", 0, &photo[..10]);
    assert_eq!(again.json(), json!({"received": 300_000, "complete": true}));
}

#[test]
fn bytes_that_do_not_match_the_hash_are_refused_and_nothing_is_stored() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let ana = Caller::new(&rt, &server, "ana");
    let account = ana.create("account", json!({"name": "Bodega", "territory": "madrid"}));
    let right = bytes(50_000, 2);
    let reference = AttachmentRef::for_bytes(&right, "image/png", "a.png").expect("reference");
    let visit = visit_with_photo(&ana, &account, &reference);
    let sha = reference.sha256.clone();

    let wrong = bytes(50_000, 3);
    let first = ana.put(&sha, &visit, "photo", 0, &wrong[..20_000]);
    assert_eq!(first.json()["received"], 20_000, "{}", first.text());
    let last = ana.put(&sha, &visit, "photo", 20_000, &wrong[20_000..]);
    assert_eq!(last.status, 422, "{}", last.text());
    assert_eq!(last.json()["code"], "hash_mismatch");

    let read = ana.get(&sha, &visit, "photo", None);
    assert_eq!(read.status, 404, "{}", read.text());
    assert_eq!(read.json()["code"], "file_not_uploaded");
    let stored = server
        .state
        .db
        .read_blocking(|c| {
            Ok((
                fieldwork_server::db::blobs::complete_size(c, &sha)?,
                fieldwork_server::db::blobs::received(c, &sha)?,
            ))
        })
        .expect("read");
    assert_eq!(stored, (None, 0), "neither a blob nor a partial upload");

    // Past the reference's size: refused, nothing stored.
    let over = ana.put(&sha, &visit, "photo", 0, &bytes(50_001, 2));
    assert_eq!(over.status, 413, "{}", over.text());
    assert_eq!(over.json()["code"], "too_large");

    // The upload starts again at 0 and succeeds with the right bytes.
    let again = ana.put(&sha, &visit, "photo", 0, &right);
    assert_eq!(again.json(), json!({"received": 50_000, "complete": true}));
    assert!(ana.get(&sha, &visit, "photo", None).body == right);
}

#[test]
fn only_a_field_that_refers_to_the_hash_opens_it_and_forged_names_are_refused() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let ana = Caller::new(&rt, &server, "ana");
    let account = ana.create("account", json!({"name": "Ópticas", "territory": "madrid"}));
    let photo = bytes(5_000, 4);
    let reference = AttachmentRef::for_bytes(&photo, "image/jpeg", "p.jpg").expect("reference");
    let visit = visit_with_photo(&ana, &account, &reference);
    let sha = reference.sha256.clone();
    assert_eq!(ana.put(&sha, &visit, "photo", 0, &photo).status, 200);

    // A hash the field does not refer to: refused before any blob is
    // looked at, whether the bytes exist (`sha` via `document`) or not.
    let other = sha256_hex(b"other bytes");
    for (hash, field) in [(&other, "photo"), (&sha, "document")] {
        let put = ana.put(hash, &visit, field, 0, b"other bytes");
        assert_eq!(put.status, 409, "{}", put.text());
        assert_eq!(put.json()["code"], "not_referenced");
        let get = ana.get(hash, &visit, field, None);
        assert_eq!(get.status, 409, "{}", get.text());
        assert_eq!(get.json()["code"], "not_referenced");
        assert_eq!(get.json()["field"], field);
    }
    // Not a file field, not a field at all.
    for field in ["subject", "no_such_field"] {
        let get = ana.get(&sha, &visit, field, None);
        assert_eq!(get.status, 422, "{field}: {}", get.text());
        assert_eq!(get.json()["code"], "not_a_file_field");
    }
    // Forged names and parameters: a 4xx problem, never a panic or bytes.
    let upper = sha.to_uppercase();
    let long = format!("{sha}0");
    let forged = [
        format!("/v1/files/{upper}?record={visit}&field=photo"),
        format!("/v1/files/{long}?record={visit}&field=photo"),
        format!("/v1/files/{}?record={visit}&field=photo", "z".repeat(64)),
        format!("/v1/files/..%2F..%2Fetc%2Fpasswd?record={visit}&field=photo"),
        format!("/v1/files/{sha}?field=photo"),
        format!("/v1/files/{sha}?record={visit}"),
        format!("/v1/files/{sha}?record=not-an-id&field=photo"),
        format!("/v1/files/{sha}?record=activity:nope&field=photo"),
        format!("/v1/files/{sha}?record=process_instance:01J00000000000000000000000&field=photo"),
        format!("/v1/files/{sha}?record={visit}&field=photo&offset=-1"),
        format!("/v1/files/{sha}?record={visit}&field=photo&extra=1"),
    ];
    for path in &forged {
        for method in [reqwest::Method::GET, reqwest::Method::PUT] {
            let answer = ana.send(
                ana.http
                    .request(method.clone(), format!("{}{path}", ana.base))
                    .body(photo.clone()),
            );
            assert!(
                (400..500).contains(&answer.status),
                "{method} {path}: {} {}",
                answer.status,
                answer.text()
            );
            assert!(answer.body != photo, "{path}");
            assert!(
                answer.json()["code"].is_string(),
                "{path}: {}",
                answer.text()
            );
        }
    }
    // Without a token: nothing.
    let anonymous = rt.block_on(async {
        reqwest::get(format!(
            "{}/v1/files/{sha}?record={visit}&field=photo",
            server.url
        ))
        .await
        .expect("request")
        .status()
        .as_u16()
    });
    assert_eq!(anonymous, 401);
    // The server still serves the file to its owner.
    assert!(ana.get(&sha, &visit, "photo", None).body == photo);
}

#[test]
fn a_file_is_read_only_by_who_may_read_its_field_of_its_record() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let marta = Caller::new(&rt, &server, "marta");
    let ana = Caller::new(&rt, &server, "ana");
    let pablo = Caller::new(&rt, &server, "pablo");

    // The manager attaches a contract (class financial) to a Madrid account.
    let contract = bytes(40_000, 5);
    let contract_ref =
        AttachmentRef::for_bytes(&contract, "application/pdf", "contrato.pdf").expect("ref");
    let account = marta.create(
        "account",
        json!({"name": "Contratos SA", "territory": "madrid", "contract": contract_ref.to_text()}),
    );
    let csha = contract_ref.sha256.clone();
    let up = marta.put(&csha, &account, "contract", 0, &contract);
    assert_eq!(up.json(), json!({"received": 40_000, "complete": true}));
    assert!(marta.get(&csha, &account, "contract", None).body == contract);

    // The Madrid rep sees the account but may not read `contract`.
    let seen = ana.api.get(&format!("/v1/records/account/{account}"));
    assert_eq!(seen.status, 200, "{}", seen.text);
    assert!(seen.json["fields"].get("contract").is_none());
    let refused = ana.get(&csha, &account, "contract", None);
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(refused.json()["code"], "class_not_readable");
    assert_eq!(refused.json()["field"], "contract");
    assert!(
        !refused
            .body
            .windows(64)
            .any(|w| contract.windows(64).any(|c| c == w)),
        "no bytes of the contract"
    );
    let ranged = ana.get(&csha, &account, "contract", Some("bytes=0-"));
    assert_eq!(ranged.status, 403);
    let upload = ana.put(&csha, &account, "contract", 0, &[]);
    assert_eq!(upload.status, 403, "{}", upload.text());

    // Ana's visit photo, on the same account.
    let photo = bytes(8_000, 6);
    let photo_ref = AttachmentRef::for_bytes(&photo, "image/jpeg", "v.jpg").expect("ref");
    let visit = visit_with_photo(&ana, &account, &photo_ref);
    let psha = photo_ref.sha256.clone();
    assert_eq!(ana.put(&psha, &visit, "photo", 0, &photo).status, 200);
    // The manager of the team reads it.
    assert!(marta.get(&psha, &visit, "photo", None).body == photo);

    // A rep of another territory does not see the visit: the record read's
    // answer, the same as for a record that does not exist.
    let record = pablo.api.get(&format!("/v1/records/activity/{visit}"));
    assert_eq!(record.status, 404);
    let hidden = pablo.get(&psha, &visit, "photo", None);
    assert_eq!(hidden.status, 404, "{}", hidden.text());
    assert_eq!(hidden.json()["code"], record.json["code"]);
    let missing = pablo.get(&psha, "activity:01J00000000000000000000000", "photo", None);
    assert_eq!(
        (missing.status, missing.json()["code"].clone()),
        (hidden.status, hidden.json()["code"].clone()),
        "a hidden record answers like one that does not exist"
    );
    assert_eq!(pablo.put(&psha, &visit, "photo", 0, &[]).status, 404);

    // Asking through records and fields one may read that do not refer to
    // the hash: 409 whether the bytes exist or not (no oracle).
    let pablo_account = pablo.create(
        "account",
        json!({"name": "Sevilla SL", "territory": "sevilla"}),
    );
    let decoy_ref = AttachmentRef::for_bytes(b"decoy", "image/jpeg", "d.jpg").expect("ref");
    let pablo_visit = visit_with_photo(&pablo, &pablo_account, &decoy_ref);
    let never = sha256_hex(b"never uploaded anywhere");
    let answers: Vec<(u16, Value)> = [&psha, &csha, &never]
        .into_iter()
        .map(|hash| {
            let a = pablo.get(hash, &pablo_visit, "photo", None);
            (a.status, a.json()["code"].clone())
        })
        .collect();
    assert!(
        answers.iter().all(|a| *a == (409, json!("not_referenced"))),
        "{answers:?}"
    );
    let via_photo = ana.get(&csha, &visit, "photo", None);
    assert_eq!(via_photo.status, 409, "{}", via_photo.text());
    assert_eq!(via_photo.json()["code"], "not_referenced");
    let via_own = ana.put(&csha, &visit, "document", 0, &[]);
    assert_eq!(via_own.status, 409, "{}", via_own.text());
}

#[test]
fn a_second_reference_to_stored_bytes_needs_no_second_upload() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let ana = Caller::new(&rt, &server, "ana");
    let marta = Caller::new(&rt, &server, "marta");
    let account = ana.create(
        "account",
        json!({"name": "Repetida", "territory": "madrid"}),
    );
    let photo = bytes(70_000, 7);
    let reference = AttachmentRef::for_bytes(&photo, "image/jpeg", "same.jpg").expect("ref");
    let sha = reference.sha256.clone();
    let first = visit_with_photo(&ana, &account, &reference);
    assert_eq!(
        ana.put(&sha, &first, "photo", 0, &photo).json(),
        json!({"received": 70_000, "complete": true})
    );

    // The manager attaches the same bytes, under another name, to another
    // record: an empty PUT says they are there.
    let renamed = AttachmentRef {
        name: "copia.jpg".into(),
        ..reference.clone()
    };
    let second = marta.create(
        "activity",
        json!({"type": "visit", "subject": "Otra", "status": "planned",
               "account": account, "document": renamed.to_text()}),
    );
    let probe = marta.put(&sha, &second, "document", 0, &[]);
    assert_eq!(probe.status, 200, "{}", probe.text());
    assert_eq!(probe.json(), json!({"received": 70_000, "complete": true}));
    let read = marta.get(&sha, &second, "document", None);
    assert!(read.body == photo);
    assert_eq!(
        read.header("content-disposition"),
        "attachment; filename*=UTF-8''copia.jpg",
        "the name of the reference asked through"
    );
}

#[test]
fn the_openapi_document_describes_the_files_endpoints() {
    let rt = runtime();
    let server = TestServer::start();
    org(&server);
    let ana = Caller::new(&rt, &server, "ana");
    let doc = ana.api.get("/v1/openapi.json");
    assert_eq!(doc.status, 200, "{}", doc.text);
    let files = &doc.json["paths"]["/v1/files/{sha256}"];
    for method in ["get", "put"] {
        let op = &files[method];
        assert!(op.is_object(), "{method} missing: {files}");
        for status in ["400", "404", "409", "422", "429"] {
            assert!(op["responses"][status].is_object(), "{method} {status}");
        }
    }
    assert!(files["get"]["responses"]["206"].is_object());
    assert!(files["get"]["responses"]["416"].is_object());
    assert!(files["put"]["responses"]["413"].is_object());
    assert!(doc.json["components"]["schemas"]["UploadOut"].is_object());
}
