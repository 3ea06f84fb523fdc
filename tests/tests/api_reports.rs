//! Reports through the office API, end to end: a real server and real
//! devices sharing one manual clock. The server's reports, computed from
//! its index over what the caller sees, equal the reports the caller's own
//! device computes offline over the same records; a rep's reports never
//! include a record she may not see.

use std::sync::Arc;

use fieldwork_core::clock::ManualClock;
use fieldwork_core::report::{GroupBy, Rates, ReportName};
use fieldwork_core::{FieldWrite, RecordId, RecordKind};
use fieldwork_tests::api::ApiClient;
use fieldwork_tests::clocked::at;
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;
use serde_json::Value;

/// The report names the API serves at `/v1/reports/{name}`.
const NAMES: &[&str] = &[
    "pipeline",
    "win-rate",
    "cycle",
    "funnel",
    "activities",
    "visits",
    "targets",
];

/// The parameter sets every report is compared under.
const PARAMS: &[&str] = &[
    "",
    "from=2026-11-01&to=2026-11-30&tz=Europe/Madrid",
    "from=2026-11-03&to=2026-11-06",
    "owner=ana",
    "territory=madrid",
    "territory=sevilla",
    "group_by=owner&convert=EUR&rate=HUF:0.0025",
    "group_by=territory&tz=Europe/Budapest",
    "weight=negotiation:75&weight=proposal:50",
];

/// The world: a server and three devices on one clock.
struct World {
    server: TestServer,
    clock: ManualClock,
    ana: TestDevice,
    marta: TestDevice,
    bob: TestDevice,
    _dirs: Vec<tempfile::TempDir>,
}

impl World {
    fn new(rt: &Arc<tokio::runtime::Runtime>) -> World {
        let clock = ManualClock::new(at("2026-11-02T09:00:00Z"));
        let server_dir = tempfile::tempdir().expect("tmp");
        let server =
            TestServer::start_clocked(server_dir.path(), Some(Arc::new(clock.clone())), |_| {});
        server.add_user("admin", "admin", &[], None);
        server.add_user("marta", "manager", &[], None);
        server.add_user("ana", "rep", &["madrid"], Some("marta"));
        server.add_user("bob", "rep", &["sevilla"], None);
        let mut dirs = vec![server_dir];
        let mut device = |user: &str| {
            let dir = tempfile::tempdir().expect("tmp");
            let d = TestDevice::open_clocked(rt, dir.path(), Arc::new(clock.clone()));
            d.login(&server.url, user);
            dirs.push(dir);
            d
        };
        let (ana, marta, bob) = (device("ana"), device("marta"), device("bob"));
        World {
            server,
            clock,
            ana,
            marta,
            bob,
            _dirs: dirs,
        }
    }

    /// Everyone syncs (ana twice, so she also has what the others sent),
    /// all at the clock's current instant.
    fn sync_all(&self) {
        for d in [&self.ana, &self.bob, &self.marta, &self.ana] {
            d.sync();
        }
    }

    fn day(&self, t: &str) {
        self.clock.set(at(t));
    }
}

fn make(d: &TestDevice, kind: RecordKind, writes: Vec<FieldWrite>) -> RecordId {
    d.device.create(kind, writes).expect("create")
}

fn set(d: &TestDevice, id: &RecordId, writes: Vec<FieldWrite>) {
    d.device.update(id, writes).expect("update");
}

fn deal(d: &TestDevice, account: &RecordId, name: &str, stage: &str) -> RecordId {
    make(
        d,
        RecordKind::Deal,
        vec![
            FieldWrite::set("name", name),
            FieldWrite::set("account", account.to_string().as_str()),
            FieldWrite::set("stage", stage),
        ],
    )
}

fn money(amount: i64, currency: &str, close: &str) -> Vec<FieldWrite> {
    vec![
        FieldWrite::set("amount", amount),
        FieldWrite::set("currency", currency),
        FieldWrite::set("expected_close", close),
    ]
}

fn account(d: &TestDevice, name: &str, territory: &str, stage: &str) -> RecordId {
    make(
        d,
        RecordKind::Account,
        vec![
            FieldWrite::set("name", name),
            FieldWrite::set("territory", territory),
            FieldWrite::set("stage", stage),
        ],
    )
}

fn activity(d: &TestDevice, account: &RecordId, kind: &str, subject: &str, due: &str) -> RecordId {
    make(
        d,
        RecordKind::Activity,
        vec![
            FieldWrite::set("type", kind),
            FieldWrite::set("subject", subject),
            FieldWrite::set("status", "planned"),
            FieldWrite::set("account", account.to_string().as_str()),
            FieldWrite::set("due_at", due),
        ],
    )
}

fn stage(s: &str) -> Vec<FieldWrite> {
    vec![FieldWrite::set("stage", s)]
}

/// The records of the scenario.
struct Data {
    madrid: RecordId,
    sevilla: RecordId,
    sevilla_open: RecordId,
    bobs_account: RecordId,
}

/// Builds, over ten days: ana's madrid account and deals (EUR and HUF,
/// won, lost, open, one without amount, one archived by marta), her activities (done on time,
/// overdue, planned, a visit with check-in and check-out), a note and a
/// contact; marta's sevilla account with an open HUF deal and a won EUR
/// deal; bob's sevilla account and deal, seen by neither.
fn scenario(w: &World) -> Data {
    let (ana, marta, bob) = (&w.ana, &w.marta, &w.bob);
    // Day 0.
    let madrid = account(ana, "Ferretería Madrid", "madrid", "lead");
    let d1 = deal(ana, &madrid, "Tornillos", "qualification");
    set(ana, &d1, money(150_000, "EUR", "2026-11-20"));
    let d2 = deal(ana, &madrid, "Tuercas", "negotiation");
    set(ana, &d2, money(40_000_000, "HUF", "2026-12-15"));
    let d3 = deal(ana, &madrid, "Arandelas", "proposal");
    set(ana, &d3, money(50_000, "EUR", "2026-11-10"));
    let _no_amount = deal(ana, &madrid, "Clavos", "proposal");
    let archived = deal(ana, &madrid, "Archivada", "negotiation");
    set(ana, &archived, money(990_000, "EUR", "2026-11-21"));
    let sevilla = account(marta, "Aceites Sevilla", "sevilla", "prospect");
    let sevilla_open = deal(marta, &sevilla, "Aceite", "proposal");
    set(marta, &sevilla_open, money(90_000_000, "HUF", "2026-11-25"));
    let sevilla_won = deal(marta, &sevilla, "Vinagre", "negotiation");
    set(marta, &sevilla_won, money(30_000, "EUR", "2026-11-05"));
    // Marta's targets: ana's visits per week and EUR won per month, and
    // sevilla's deals won per quarter (a team target ana does not see).
    for (metric, period, goal, whose) in [
        ("visits", "week", "3", ("assignee", "ana")),
        ("revenue_won", "month", "500000", ("assignee", "ana")),
        ("deals_won", "quarter", "4", ("territory", "sevilla")),
    ] {
        let mut writes = vec![
            FieldWrite::set("name", format!("{metric} per {period}").as_str()),
            FieldWrite::set("metric", metric),
            FieldWrite::set("period", period),
            FieldWrite::set("goal", goal.parse::<i64>().expect("goal")),
            FieldWrite::set(whose.0, whose.1),
        ];
        if metric == "revenue_won" {
            writes.push(FieldWrite::set("currency", "EUR"));
        }
        make(marta, RecordKind::Target, writes);
    }
    let bobs_account = account(bob, "Bob's Bodega", "sevilla", "lead");
    let bobs_deal = deal(bob, &bobs_account, "Barricas", "negotiation");
    set(bob, &bobs_deal, money(70_000, "EUR", "2026-11-30"));
    w.sync_all();
    // Day 2.
    w.day("2026-11-04T10:30:00Z");
    set(ana, &d1, stage("proposal"));
    set(ana, &madrid, stage("prospect"));
    set(
        ana,
        &d3,
        vec![
            FieldWrite::set("stage", "lost"),
            FieldWrite::set("close_reason", "Precio"),
        ],
    );
    let call = activity(ana, &madrid, "call", "Llamar", "2026-11-04T12:00:00Z");
    set(ana, &call, vec![FieldWrite::set("status", "done")]);
    w.sync_all();
    // Day 5.
    w.day("2026-11-07T16:00:00Z");
    set(ana, &d1, stage("won"));
    set(ana, &madrid, stage("customer"));
    set(marta, &sevilla_won, stage("won"));
    // Archived records are left out everywhere (managers may archive).
    set(marta, &archived, vec![FieldWrite::set("archived", true)]);
    set(marta, &sevilla, stage("customer"));
    let visit = activity(ana, &madrid, "visit", "Visita", "2026-11-07T09:00:00Z");
    set(
        ana,
        &visit,
        vec![
            FieldWrite::set("status", "done"),
            FieldWrite::set("check_in_at", "2026-11-07T09:05:00Z"),
            FieldWrite::set("check_in_lat", 40.4168),
            FieldWrite::set("check_in_lon", -3.7038),
            FieldWrite::set("check_out_at", "2026-11-07T10:20:00Z"),
            FieldWrite::set("check_out_lat", 40.4169),
            FieldWrite::set("check_out_lon", -3.7036),
        ],
    );
    activity(
        ana,
        &madrid,
        "task",
        "Enviar oferta",
        "2026-11-08T09:00:00Z",
    );
    activity(ana, &madrid, "meeting", "Reunión", "2026-12-01T09:00:00Z");
    make(
        ana,
        RecordKind::Note,
        vec![
            FieldWrite::set("title", "Quiere tornillos inox"),
            FieldWrite::set("account", madrid.to_string().as_str()),
        ],
    );
    make(
        ana,
        RecordKind::Contact,
        vec![
            FieldWrite::set("first_name", "Lucía"),
            FieldWrite::set("last_name", "Pérez"),
            FieldWrite::set("account", madrid.to_string().as_str()),
        ],
    );
    activity(
        marta,
        &sevilla,
        "visit",
        "Visita Sevilla",
        "2026-11-09T09:00:00Z",
    );
    w.sync_all();
    // Day 8: the reports are asked for now (the task due on day 6 is overdue).
    w.day("2026-11-10T08:00:00Z");
    w.sync_all();
    Data {
        madrid,
        sevilla,
        sevilla_open,
        bobs_account,
    }
}

/// The device's report `name` with the API parameters `params`, as JSON.
fn on_device(d: &TestDevice, name: &ReportName, params: &str) -> Value {
    let result = d.store(|s| {
        let mut q = s.report_query();
        let mut from = None;
        let mut to = None;
        let mut rates: Option<Rates> = None;
        for (k, v) in params.split('&').filter_map(|kv| kv.split_once('=')) {
            match k {
                "from" => from = v.parse().ok(),
                "to" => to = v.parse().ok(),
                "tz" => q.time_zone = v.to_owned(),
                "owner" => q.owner = Some(v.to_owned()),
                "territory" => q.territory = Some(v.to_owned()),
                "group_by" if v == "owner" => q.group_by = GroupBy::Owner,
                "group_by" if v == "territory" => q.group_by = GroupBy::Territory,
                "convert" => {
                    rates = Some(Rates {
                        target: v.to_owned(),
                        per_unit: Default::default(),
                    })
                }
                "rate" => {
                    let (cur, rate) = v.split_once(':').expect("CUR:RATE");
                    if let Some(r) = &mut rates {
                        r.per_unit
                            .insert(cur.to_owned(), rate.parse().expect("rate"));
                    }
                }
                "weight" => {
                    let (stage, percent) = v.split_once(':').expect("STAGE:PERCENT");
                    q.weights
                        .0
                        .insert(stage.to_owned(), percent.parse().expect("percent"));
                }
                other => panic!("no such parameter {other}"),
            }
        }
        q.rates = rates;
        let q = q.with_days(from, to)?;
        s.report(name, &q)
    });
    serde_json::to_value(result).expect("json")
}

/// The API's report at `path` for `api`, as JSON (a `200` is required).
fn on_server(api: &ApiClient, path: &str) -> Value {
    let answer = api.get(path);
    assert_eq!(answer.status, 200, "{path}: {}", answer.text);
    assert!(
        answer.content_type.starts_with("application/json"),
        "{path}: {}",
        answer.content_type
    );
    answer.json
}

/// Every report under every parameter set: the API as `user` equals
/// `device`'s own report.
fn assert_identical(api: &ApiClient, device: &TestDevice, user: &str, data: &Data) {
    for name in NAMES {
        let report = ReportName::parse(name, None).expect("name");
        for params in PARAMS {
            let server = on_server(api, &format!("/v1/reports/{name}?{params}"));
            let local = on_device(device, &report, params);
            assert_eq!(server, local, "{user}: {name}?{params}");
        }
    }
    let timeline = ReportName::Timeline(data.madrid.clone());
    for params in ["", "from=2026-11-04&to=2026-11-07&tz=Europe/Madrid"] {
        let path = format!("/v1/reports/timeline/{}?{params}", data.madrid);
        let server = on_server(api, &path);
        assert_eq!(
            server,
            on_device(device, &timeline, params),
            "{user}: {path}"
        );
    }
}

fn pipeline_count(v: &Value) -> u64 {
    v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["count"].as_u64().expect("count"))
        .sum()
}

fn all_row<'a>(v: &'a Value, key: &str) -> &'a Value {
    v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r[key] == "all")
        .expect("the `all` row")
}

#[test]
fn the_servers_reports_equal_the_devices_for_a_manager_and_a_rep() {
    let rt = runtime();
    let w = World::new(&rt);
    let data = scenario(&w);
    let marta = ApiClient::signed_in(&rt, &w.server.url, "marta");
    let ana = ApiClient::signed_in(&rt, &w.server.url, "ana");
    assert_identical(&marta, &w.marta, "marta", &data);
    assert_identical(&ana, &w.ana, "ana", &data);

    // Hand-checked numbers. Open deals: ana's HUF negotiation and EUR
    // proposal without amount; marta also sees her sevilla HUF proposal.
    let pipe = |api: &ApiClient| on_server(api, "/v1/reports/pipeline");
    assert_eq!(pipeline_count(&pipe(&ana)), 2);
    assert_eq!(pipeline_count(&pipe(&marta)), 3);
    let converted = on_server(&marta, "/v1/reports/pipeline?convert=EUR&rate=HUF:0.0025");
    let proposal = converted["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["stage"] == "proposal")
        .expect("proposal row");
    assert_eq!(proposal["count"], 2);
    assert_eq!(proposal["without_amount"], 1);
    assert_eq!(proposal["amount"]["HUF"], 90_000_000);
    // 900,000.00 HUF at 0.0025 = 2,250.00 EUR.
    assert_eq!(proposal["converted"]["amount"], 225_000);
    // Closed deals: ana won one (EUR 1,500.00) and lost one; marta's team
    // also won the sevilla deal.
    let ana_wins = on_server(&ana, "/v1/reports/win-rate");
    assert_eq!(
        (
            all_row(&ana_wins, "owner")["won"].as_u64(),
            all_row(&ana_wins, "owner")["lost"].as_u64()
        ),
        (Some(1), Some(1)),
        "{ana_wins}"
    );
    assert_eq!(all_row(&ana_wins, "owner")["won_amount"]["EUR"], 150_000);
    let marta_wins = on_server(&marta, "/v1/reports/win-rate");
    assert_eq!(all_row(&marta_wins, "owner")["won"], 2, "{marta_wins}");
    // Visits: ana's one visit lasted 75 minutes.
    let visits = on_server(&ana, "/v1/reports/visits");
    let list = visits["visits"].as_array().expect("visits");
    assert_eq!(list.len(), 1, "{visits}");
    assert_eq!(list[0]["duration_minutes"], 75);
    // Activities: the task due on day 6 is overdue at day 8.
    let acts = on_server(&ana, "/v1/reports/activities");
    let overdue: u64 = acts["totals"]
        .as_array()
        .expect("totals")
        .iter()
        .map(|r| r["overdue"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(overdue, 1, "{acts}");
    // Targets: ana has her two, marta also the sevilla team target. Ana won
    // EUR 1,500.00 this month of her EUR 5,000.00 goal.
    let rows = |v: &Value| v["rows"].as_array().expect("rows").clone();
    let ana_targets = rows(&on_server(&ana, "/v1/reports/targets"));
    assert_eq!(ana_targets.len(), 2, "{ana_targets:?}");
    assert_eq!(rows(&on_server(&marta, "/v1/reports/targets")).len(), 3);
    let revenue = ana_targets
        .iter()
        .find(|r| r["metric"] == "revenue_won")
        .expect("revenue target");
    assert_eq!(
        (&revenue["period"], &revenue["actual"], &revenue["percent"]),
        (
            &Value::from("2026-11"),
            &Value::from(150_000),
            &Value::from(30)
        ),
        "{revenue}"
    );
}

#[test]
fn a_reps_reports_never_include_what_she_may_not_see() {
    let rt = runtime();
    let w = World::new(&rt);
    let data = scenario(&w);
    let ana = ApiClient::signed_in(&rt, &w.server.url, "ana");
    let marta = ApiClient::signed_in(&rt, &w.server.url, "marta");
    // Her pipeline has no sevilla deal, even when asked for sevilla.
    let sevilla = on_server(&ana, "/v1/reports/pipeline?territory=sevilla");
    assert_eq!(pipeline_count(&sevilla), 0, "{sevilla}");
    let all = on_server(&ana, "/v1/reports/pipeline?group_by=territory");
    assert!(
        all["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .all(|r| r["group"] == "madrid"),
        "{all}"
    );
    assert!(!all.to_string().contains("90000000"), "{all}");
    let wins = on_server(&ana, "/v1/reports/win-rate?group_by=territory");
    assert!(!wins.to_string().contains("marta"), "{wins}");
    assert_eq!(all_row(&wins, "owner")["won"], 1, "{wins}");
    // The manager sees both territories.
    let managed = on_server(&marta, "/v1/reports/pipeline?territory=sevilla");
    assert_eq!(pipeline_count(&managed), 1, "{managed}");
    // Timelines: hers lists only her records; others' accounts are 404.
    let mine = ana.get(&format!("/v1/reports/timeline/{}", data.madrid));
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert!(!mine.text.contains(&data.sevilla_open.to_string()));
    let events = mine.json["events"].as_array().expect("events");
    // Notes and contacts are dated by when the server first stored them,
    // the same instant the devices stored them (one clock).
    for kind in ["note", "contact"] {
        let e = events.iter().find(|e| e["kind"] == kind).expect(kind);
        assert_eq!(e["at"], "2026-11-07T16:00:00Z", "{}", mine.text);
    }
    for hidden in [&data.sevilla, &data.bobs_account] {
        let answer = ana.get(&format!("/v1/reports/timeline/{hidden}"));
        assert_eq!(answer.status, 404, "{}", answer.text);
        assert_eq!(answer.content_type, "application/problem+json");
        assert!(!answer.text.contains("Sevilla"), "{}", answer.text);
    }
    // The manager does not see bob's account either (not her team).
    let bobs = marta.get(&format!("/v1/reports/timeline/{}", data.bobs_account));
    assert_eq!(bobs.status, 404, "{}", bobs.text);
    let hers = marta.get(&format!("/v1/reports/timeline/{}", data.sevilla));
    assert_eq!(hers.status, 200, "{}", hers.text);
}

#[test]
fn bad_parameters_unknown_reports_and_csv() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("marta", "manager", &[], None);
    let api = ApiClient::signed_in(&rt, &server.url, "marta");
    for (path, status, field) in [
        ("/v1/reports/forecast", 404, None),
        ("/v1/reports/timeline", 404, None),
        ("/v1/reports/timeline/not-an-id", 404, None),
        ("/v1/reports/pipeline?from=yesterday", 400, Some("from")),
        ("/v1/reports/pipeline?to=2026-02-30", 400, Some("to")),
        ("/v1/reports/activities?tz=Mars/Olympus", 400, Some("tz")),
        ("/v1/reports/pipeline?group_by=stage", 400, Some("group_by")),
        ("/v1/reports/pipeline?rate=HUF:0.0025", 400, Some("rate")),
        (
            "/v1/reports/pipeline?convert=EUR&rate=HUF:lots",
            400,
            Some("rate"),
        ),
        ("/v1/reports/pipeline?colour=red", 400, Some("colour")),
        ("/v1/reports/pipeline?format=xml", 400, Some("format")),
    ] {
        let answer = api.get(path);
        assert_eq!(answer.status, status, "{path}: {}", answer.text);
        assert_eq!(answer.content_type, "application/problem+json", "{path}");
        assert_eq!(
            answer.json["field"].as_str(),
            field,
            "{path}: {}",
            answer.text
        );
    }
    // CSV: by parameter or by Accept, with the header line and CRLF.
    let csv = api.get("/v1/reports/pipeline?format=csv");
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    assert!(csv.text.starts_with("group,stage,"), "{}", csv.text);
    assert!(csv.text.ends_with("\r\n"), "{:?}", csv.text);
    let accepted = rt.block_on(async {
        let token = fieldwork_tests::raw::token(&server.url, "marta").await;
        let response = reqwest::Client::new()
            .get(format!("{}/v1/reports/activities", server.url))
            .bearer_auth(token)
            .header("accept", "text/csv")
            .send()
            .await
            .expect("request");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (content_type, response.text().await.expect("body"))
    });
    assert!(accepted.0.starts_with("text/csv"), "{}", accepted.0);
    assert!(accepted.1.starts_with("who,"), "{}", accepted.1);
    let anonymous = ApiClient::with_bearer(&rt, &server.url, "nope").get("/v1/reports/pipeline");
    assert_eq!(anonymous.status, 401);
    // An API key limited to accounts may ask for the funnel, not the pipeline.
    server.add_user("admin", "admin", &[], None);
    let admin_token = rt.block_on(fieldwork_tests::raw::token(&server.url, "admin"));
    let made = ApiClient::with_bearer(&rt, &server.admin_url, &admin_token).post(
        "/v1/admin/api-keys",
        serde_json::json!({"name": "BI", "user": "marta", "read_only": true, "kinds": ["account"]}),
    );
    assert_eq!(made.status, 201, "{}", made.text);
    let key = ApiClient::with_bearer(&rt, &server.url, made.json["key"].as_str().expect("key"));
    assert_eq!(key.get("/v1/reports/funnel").status, 200);
    let refused = key.get("/v1/reports/pipeline");
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(refused.json["code"], "key_scope");
    // An empty server answers empty reports.
    let empty = api.get("/v1/reports/funnel");
    assert_eq!(empty.status, 200, "{}", empty.text);
    assert_eq!(empty.json["accounts"], 0);
}
