//! Calendar feeds end to end (issue 12's acceptance): the seed's process
//! example puts a follow-up call on the manager's calendar a week after a
//! deal is won; the manager's iCalendar feed, fetched without any
//! `Authorization` like a calendar app does, parses with an independent
//! parser and holds that call at the right time. A rep's feed does not hold
//! it; a revoked or replaced feed URL is `404`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldwork_core::process::engine::activity_id;
use fieldwork_core::{RecordId, RecordKind};
use fieldwork_server::process_admin;
use fieldwork_tests::clocked::{World, at, device, repo, server_changes, world};
use fieldwork_tests::runtime;
use icalendar::{CalendarDateTime, Component, DatePerhapsTime};
use serde_json::{Value, json};

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A status, a content type and a body.
fn send(rt: &tokio::runtime::Runtime, req: reqwest::RequestBuilder) -> (u16, String, String) {
    rt.block_on(async {
        let r = req.send().await.expect("request");
        let status = r.status().as_u16();
        let kind = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, kind, r.text().await.expect("body"))
    })
}

/// Makes a feed for the holder of `token`; returns its path.
fn make_feed(rt: &tokio::runtime::Runtime, w: &World, token: &str) -> String {
    let (status, _, body) = send(
        rt,
        reqwest::Client::new()
            .post(format!("{}/v1/me/calendar-feed", w.server.url))
            .bearer_auth(token),
    );
    assert_eq!(status, 201, "{body}");
    let feed: Value = serde_json::from_str(&body).expect("json");
    let url = feed["url"].as_str().expect("url").to_owned();
    let secret = feed["token"].as_str().expect("token");
    assert_eq!(url, format!("/v1/calendar/{secret}.ics"));
    url
}

/// Fetches a feed as a calendar app does: no `Authorization`.
fn fetch(rt: &tokio::runtime::Runtime, w: &World, path: &str) -> (u16, String, String) {
    send(
        rt,
        reqwest::Client::new().get(format!("{}{path}", w.server.url)),
    )
}

/// The events of a feed, parsed by the `icalendar` crate.
fn events(text: &str) -> Vec<icalendar::Event> {
    let calendar: icalendar::Calendar = text.parse().expect("the feed parses as iCalendar");
    calendar
        .components
        .iter()
        .filter_map(|c| c.as_event().cloned())
        .collect()
}

/// Runs the seed's process example until the follow-up call exists on the
/// server and on the manager's device; returns the call's id.
fn deal_won_follow_up(rt: &Arc<tokio::runtime::Runtime>, w: &World, t0: &str) -> RecordId {
    let model = process_admin::read_model(&repo("examples/processes/deal-won-follow-up.bpmn"))
        .expect("bpmn");
    process_admin::publish(&w.server.state, model, "admin").expect("publish");
    let (ana, _, _a) = device(rt, w, "ana", t0);
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
    let list = ana.store(|s| s.process_instances());
    assert_eq!(list.len(), 1, "{list:?}");
    let instance: RecordId = list[0].id.parse().expect("id");
    ana.sync();
    // A week passes; the server's scheduler creates the call.
    w.server_clock.set(at("2027-01-08T09:30:00Z"));
    let call = activity_id(&instance, "call-customer", 1);
    let call_doc = format!("{call}/general");
    wait_for("the server's scheduler to create the call", || {
        server_changes(&w.server, &call_doc) > 0
    });
    call
}

#[test]
fn the_manager_s_feed_holds_the_follow_up_call_at_the_right_time() {
    let rt = runtime();
    let t0 = "2027-01-01T09:00:00Z";
    let w = world(t0);
    let call = deal_won_follow_up(&rt, &w, t0);
    // What the manager's device holds, to compare the feed with.
    let (mia, _, _m) = device(&rt, &w, "mia", "2027-01-08T09:30:00Z");
    mia.sync();
    let record = mia.get(&call);
    let subject = record.text("subject").expect("subject").to_owned();
    assert_eq!(subject, "Call the customer: how is Fleet renewal going?");
    // A call is scheduled by its start (a task would be by its due time).
    let due = at(record
        .text("starts_at")
        .or_else(|| record.text("due_at"))
        .expect("a scheduled time"));
    assert_eq!(
        due,
        at("2027-01-08T09:00:00Z"),
        "a week after the deal was won"
    );
    let minutes = record
        .get("duration_minutes")
        .and_then(|v| v.as_int())
        .expect("duration");
    assert_eq!(minutes, 15);

    let mia_token = rt.block_on(fieldwork_tests::raw::token(&w.server.url, "mia"));
    let feed = make_feed(&rt, &w, &mia_token);
    let (status, kind, text) = fetch(&rt, &w, &feed);
    assert_eq!(status, 200, "{text}");
    assert_eq!(kind, "text/calendar; charset=utf-8");
    assert!(text.starts_with("BEGIN:VCALENDAR\r\n"), "{text}");
    for line in text.split("\r\n") {
        assert!(line.len() <= 75, "an unfolded line: {line:?}");
    }
    let calendar: icalendar::Calendar = text.parse().expect("parses");
    assert_eq!(calendar.get_name(), Some("Fieldwork: mia"));
    let found = events(&text);
    let uid = format!("{call}@fieldwork");
    let event = found
        .iter()
        .find(|e| e.get_uid() == Some(uid.as_str()))
        .unwrap_or_else(|| panic!("the call is in the feed: {text}"));
    assert_eq!(event.get_summary(), Some(subject.as_str()));
    assert_eq!(
        event.get_description(),
        Some("Ask how the delivery went and whether they need anything else")
    );
    match event.get_start() {
        Some(DatePerhapsTime::DateTime(CalendarDateTime::Utc(start))) => {
            assert_eq!(
                start.timestamp(),
                due.as_second(),
                "DTSTART is the due time"
            );
        }
        other => panic!("DTSTART is not a UTC time: {other:?}"),
    }
    assert_eq!(event.property_value("DTSTART"), Some("20270108T090000Z"));
    match event.get_end() {
        Some(DatePerhapsTime::DateTime(CalendarDateTime::Utc(end))) => {
            assert_eq!(end.timestamp(), due.as_second() + minutes * 60, "DTEND");
        }
        other => panic!("DTEND is not a UTC time: {other:?}"),
    }
    let categories: Vec<&str> = event
        .multi_properties()
        .get("CATEGORIES")
        .into_iter()
        .flatten()
        .map(|p| p.value())
        .collect();
    assert_eq!(categories, ["call"]);
    assert_eq!(event.get_status(), Some(icalendar::EventStatus::Confirmed));
    // The path without `.ics` is the same feed.
    let (status, _, same) = fetch(&rt, &w, feed.trim_end_matches(".ics"));
    assert_eq!(status, 200);
    assert_eq!(events(&same).len(), found.len());

    // The rep whose deal it was does not have the manager's call.
    let ana_token = rt.block_on(fieldwork_tests::raw::token(&w.server.url, "ana"));
    let ana_feed = make_feed(&rt, &w, &ana_token);
    let (status, _, ana_text) = fetch(&rt, &w, &ana_feed);
    assert_eq!(status, 200, "{ana_text}");
    assert!(
        events(&ana_text)
            .iter()
            .all(|e| e.get_uid() != Some(uid.as_str())),
        "{ana_text}"
    );
    assert!(!ana_text.contains(&call.to_string()), "{ana_text}");

    // Revoked: 404. A new feed replaces the old one.
    let http = reqwest::Client::new();
    let (status, _, _) = send(
        &rt,
        http.delete(format!("{}/v1/me/calendar-feed", w.server.url))
            .bearer_auth(&mia_token),
    );
    assert_eq!(status, 204);
    let (status, kind, _) = fetch(&rt, &w, &feed);
    assert_eq!((status, kind.as_str()), (404, "application/problem+json"));
    let second = make_feed(&rt, &w, &mia_token);
    let third = make_feed(&rt, &w, &mia_token);
    assert_eq!(fetch(&rt, &w, &second).0, 404, "replaced");
    assert_eq!(fetch(&rt, &w, &third).0, 200);
    // An administrator can revoke it too (on the admin listener).
    let admin = rt.block_on(fieldwork_tests::raw::token(&w.server.url, "admin"));
    let revoke = format!("{}/v1/admin/users/mia/calendar-feed", w.server.admin_url);
    let (status, _, body) = send(&rt, http.delete(&revoke).bearer_auth(&mia_token));
    assert_eq!(status, 403, "not an administrator: {body}");
    let (status, _, body) = send(&rt, http.delete(&revoke).bearer_auth(&admin));
    assert_eq!(status, 204, "{body}");
    assert_eq!(fetch(&rt, &w, &third).0, 404);
    let (status, _, _) = send(&rt, http.delete(&revoke).bearer_auth(&admin));
    assert_eq!(status, 404, "no feed any more");
    // Nonsense tokens are 404 too.
    assert_eq!(fetch(&rt, &w, "/v1/calendar/nonsense.ics").0, 404);

    // An API key may not make a feed.
    let (status, _, body) = send(
        &rt,
        http.post(format!("{}/v1/admin/api-keys", w.server.admin_url))
            .bearer_auth(&admin)
            .json(&json!({"name": "mia's tool", "user": "mia", "read_only": false})),
    );
    assert_eq!(status, 201, "{body}");
    let created: Value = serde_json::from_str(&body).expect("json");
    let key = created["key"].as_str().expect("key");
    let (status, _, body) = send(
        &rt,
        http.post(format!("{}/v1/me/calendar-feed", w.server.url))
            .bearer_auth(key),
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("key_scope"), "{body}");
}

#[test]
fn a_feed_shows_only_what_the_user_may_read_now() {
    let rt = runtime();
    let t0 = "2027-03-01T08:00:00Z";
    let w = world(t0);
    // Topics and outcomes of activities become sensitive: reps do not read them.
    let default = std::fs::read_to_string(repo("core/policy.default.toml")).expect("policy");
    let policy = default
        .replacen(
            "\"duration_minutes\", \"topic\", \"outcome\",",
            "\"duration_minutes\",",
            1,
        )
        .replacen(
            "[fields.note]",
            "sensitive = [\"topic\", \"outcome\"]\n\n[fields.note]",
            1,
        );
    assert_ne!(policy, default);
    w.server.set_policy(&policy).expect("policy installed");
    let (office, _, _o) = device(&rt, &w, "admin", t0);
    office.sync();
    let visit = office.create(
        RecordKind::Activity,
        &[
            ("type", "visit"),
            ("subject", "Visit Szőke Kft"),
            ("status", "planned"),
            ("owner", "admin"),
            ("assignee", "ana"),
            ("starts_at", "2027-03-02T10:00:00Z"),
            ("topic", "the confidential price list"),
        ],
    );
    let far = office.create(
        RecordKind::Activity,
        &[
            ("type", "call"),
            ("subject", "Call in two years"),
            ("status", "planned"),
            ("owner", "admin"),
            ("assignee", "ana"),
            ("starts_at", "2029-03-02T10:00:00Z"),
        ],
    );
    office.sync();

    let ana = rt.block_on(fieldwork_tests::raw::token(&w.server.url, "ana"));
    let feed = make_feed(&rt, &w, &ana);
    let (status, _, text) = fetch(&rt, &w, &feed);
    assert_eq!(status, 200, "{text}");
    let found = events(&text);
    let uid = format!("{visit}@fieldwork");
    let event = found
        .iter()
        .find(|e| e.get_uid() == Some(uid.as_str()))
        .unwrap_or_else(|| panic!("the visit is in the feed: {text}"));
    assert_eq!(event.get_summary(), Some("Visit Szőke Kft"));
    assert_eq!(event.get_description(), None, "{text}");
    assert!(!text.contains("confidential"), "{text}");
    assert!(
        !text.contains(&far.to_string()),
        "beyond the 400-day window: {text}"
    );

    // Ana is disabled: her feed is gone with her.
    let admin = rt.block_on(fieldwork_tests::raw::token(&w.server.url, "admin"));
    let (status, _, body) = send(
        &rt,
        reqwest::Client::new()
            .post(format!("{}/v1/admin/users/ana/disable", w.server.admin_url))
            .bearer_auth(&admin),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(fetch(&rt, &w, &feed).0, 404);
}

#[test]
fn tasks_and_calendar_as_json_hold_the_follow_up_call_for_those_who_see_it() {
    let rt = runtime();
    let t0 = "2027-01-01T09:00:00Z";
    let w = world(t0);
    w.server.add_user("luis", "rep", &["sevilla"], None);
    let call = deal_won_follow_up(&rt, &w, t0);
    let get = |user: &str, path: &str| -> (u16, Value) {
        let token = rt.block_on(fieldwork_tests::raw::token(&w.server.url, user));
        let (status, _, body) = send(
            &rt,
            reqwest::Client::new()
                .get(format!("{}{path}", w.server.url))
                .bearer_auth(token),
        );
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
    };
    let ids = |list: &Value| -> Vec<String> {
        list.as_array()
            .into_iter()
            .flatten()
            .map(|i| i["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    // The server's clock reads 2027-01-08T09:30Z: the 09:00 call is overdue.
    let (status, tasks) = get("mia", "/v1/tasks?tz=Europe/Madrid");
    assert_eq!(status, 200, "{tasks}");
    assert_eq!(tasks["user"], "mia");
    assert_eq!(tasks["time_zone"], "Europe/Madrid");
    assert_eq!(ids(&tasks["overdue"]), [call.to_string()], "{tasks}");
    assert_eq!(tasks["overdue"][0]["at"], "2027-01-08T09:00:00Z");
    assert_eq!(tasks["overdue"][0]["local"], "2027-01-08 10:00 CET");
    assert_eq!(tasks["overdue"][0]["type"], "call");
    // Her calendar for that day, and not the day before.
    let (status, day) = get("mia", "/v1/calendar?from=2027-01-08&to=2027-01-08");
    assert_eq!(status, 200, "{day}");
    assert_eq!(ids(&day["items"]), [call.to_string()], "{day}");
    let (_, before) = get("mia", "/v1/calendar?from=2027-01-07&to=2027-01-07");
    assert!(ids(&before["items"]).is_empty(), "{before}");
    // A rep of another territory asking for Mia's calendar sees none of it.
    let (status, other) = get(
        "luis",
        "/v1/calendar?user=mia&from=2027-01-01&to=2027-01-31",
    );
    assert_eq!(status, 200, "{other}");
    assert!(ids(&other["items"]).is_empty(), "{other}");
    // Bad requests are problems, not guesses.
    assert_eq!(get("mia", "/v1/tasks?user=nobody").0, 404);
    assert_eq!(get("mia", "/v1/tasks?tz=Mars/Olympus").0, 422);
    assert_eq!(
        get("mia", "/v1/calendar?from=2027-01-08&to=2027-01-01").0,
        400
    );
    assert_eq!(
        get("mia", "/v1/calendar?from=2027-01-01&to=2027-12-31").0,
        400
    );
    assert_eq!(get("mia", "/v1/calendar?from=2027-01-01").0, 400);
}
