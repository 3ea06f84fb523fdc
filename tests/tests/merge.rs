//! Merging duplicates end to end (issue 17): a manager merges two accounts
//! through the office API while a rep's phone, offline, edits the
//! duplicate; after sync the rep's edit is on the record kept, on every
//! device and on the server, every contact, deal and activity refers to
//! it, and nothing was quarantined. The merge is undone, refused where it
//! must be, and cannot be undone after 30 days. A process instance on the
//! duplicate moves to the record kept, by the server alone (a pushed
//! change of an instance's record is refused), and back with the undo.

use fieldwork_core::automerge::transaction::Transactable;
use fieldwork_core::automerge::{ActorId, ROOT, ReadDoc};
use fieldwork_core::value::FieldValue;
use fieldwork_core::{RecordId, RecordKind};
use fieldwork_tests::api::{Answer, ApiClient};
use fieldwork_tests::clocked::{self, at};
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::forge::{doc_from, push_one, signed};
use fieldwork_tests::raw::{RawClient, token};
use fieldwork_tests::runtime;
use serde_json::json;

const T0: &str = "2027-03-01T09:00:00Z";

/// An account with a contact, a deal and an activity, made on `phone`.
struct Family {
    account: RecordId,
    contact: RecordId,
    deal: RecordId,
    activity: RecordId,
}

fn family(phone: &TestDevice, name: &str, phone_number: &str, extra: &[(&str, &str)]) -> Family {
    let mut fields = vec![
        ("name", name),
        ("territory", "madrid"),
        ("phone", phone_number),
    ];
    fields.extend_from_slice(extra);
    let account = phone.create(RecordKind::Account, &fields);
    let a = account.to_string();
    let contact = phone.create(
        RecordKind::Contact,
        &[("last_name", name), ("account", a.as_str())],
    );
    let c = contact.to_string();
    let deal = phone.create(RecordKind::Deal, &[("name", name), ("account", a.as_str())]);
    let activity = phone.create(
        RecordKind::Activity,
        &[
            ("type", "visit"),
            ("subject", name),
            ("account", a.as_str()),
            ("contact", c.as_str()),
        ],
    );
    Family {
        account,
        contact,
        deal,
        activity,
    }
}

fn text(phone: &TestDevice, id: &RecordId, field: &str) -> Option<String> {
    phone.get(id).get(field).map(FieldValue::display)
}

fn field(api: &ApiClient, id: &RecordId, name: &str) -> serde_json::Value {
    let answer = api.get(&format!("/v1/records/{}/{id}", id.kind()));
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json["fields"][name].clone()
}

fn code(answer: &Answer) -> &str {
    answer.json["code"].as_str().unwrap_or_default()
}

/// Every reference of `loser`'s family points at `to` on the server and
/// on each phone.
fn family_points_at(api: &ApiClient, phones: &[&TestDevice], of: &Family, to: &RecordId) {
    let to_text = to.to_string();
    for id in [&of.contact, &of.deal, &of.activity] {
        assert_eq!(
            field(api, id, "account"),
            json!(to_text),
            "{id} on the server"
        );
        for phone in phones {
            assert_eq!(
                text(phone, id, "account").as_deref(),
                Some(to_text.as_str()),
                "{id} on a phone"
            );
        }
    }
}

#[test]
fn an_offline_edit_of_the_merged_duplicate_lands_on_the_survivor_everywhere_and_undo_restores() {
    let rt = runtime();
    let w = clocked::world(T0);
    w.server.add_user("bea", "rep", &["madrid"], Some("mia"));
    let (ana, _ana_clock, _ana_dir) = clocked::device(&rt, &w, "ana", T0);
    let (bea, _bea_clock, _bea_dir) = clocked::device(&rt, &w, "bea", T0);
    let kept = family(&ana, "Ferretería Norte", "+34 600 000 001", &[]);
    let dup = family(
        &ana,
        "Ferreteria Norte SL",
        "+34 600 000 002",
        &[("industry", "hardware")],
    );
    ana.sync();
    bea.sync();
    assert_eq!(
        text(&bea, &dup.account, "industry").as_deref(),
        Some("hardware")
    );

    // Ana, offline, edits the duplicate: a field the survivor lacks and one
    // both have.
    ana.set(
        &dup.account,
        &[("city", "Sevilla"), ("phone", "+34 600 000 003")],
    );

    // Meanwhile the manager merges the duplicate into the record kept.
    let mia = ApiClient::signed_in(&rt, &w.server.url, "mia");
    let body = json!({"survivor": kept.account.to_string(), "loser": dup.account.to_string()});
    let merged = mia.post("/v1/merge/account", body.clone());
    assert_eq!(merged.status, 200, "{}", merged.text);
    assert_eq!(
        merged.json["filled"],
        json!(["industry"]),
        "{}",
        merged.text
    );
    assert_eq!(merged.json["repointed"], 3, "{}", merged.text);
    assert_eq!(merged.json["merged_by"], "mia");
    assert_eq!(merged.json["undo_until"], "2027-03-31T09:00:00Z");
    let merge_id = merged.json["id"].as_i64().expect("merge id");

    // Ana comes back: her edit lands on the survivor, on every replica.
    ana.sync();
    ana.sync();
    bea.sync();
    assert_eq!(field(&mia, &kept.account, "city"), "Sevilla");
    assert_eq!(field(&mia, &kept.account, "phone"), "+34 600 000 003");
    assert_eq!(field(&mia, &kept.account, "industry"), "hardware");
    assert_eq!(field(&mia, &dup.account, "archived"), "true");
    assert_eq!(
        field(&mia, &dup.account, "merged_into"),
        json!(kept.account.to_string())
    );
    assert_eq!(
        field(&mia, &dup.account, "city"),
        "Sevilla",
        "the duplicate keeps its history"
    );
    for phone in [&ana, &bea] {
        assert_eq!(
            text(phone, &kept.account, "city").as_deref(),
            Some("Sevilla")
        );
        assert_eq!(
            text(phone, &kept.account, "phone").as_deref(),
            Some("+34 600 000 003")
        );
        assert_eq!(
            text(phone, &kept.account, "industry").as_deref(),
            Some("hardware")
        );
        assert_eq!(
            phone.get(&dup.account).get("archived"),
            Some(&FieldValue::Bool(true))
        );
        assert_eq!(
            text(phone, &dup.account, "merged_into"),
            Some(kept.account.to_string())
        );
    }
    family_points_at(&mia, &[&ana, &bea], &dup, &kept.account);
    family_points_at(&mia, &[&ana, &bea], &kept, &kept.account);
    assert!(
        ana.store(|s| s.quarantine()).is_empty(),
        "nothing quarantined"
    );

    // The merge is listed on both records.
    let listed = mia.get(&format!("/v1/merges?record={}", dup.account));
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.json["merges"][0]["id"], merge_id);
    assert!(listed.json["merges"][0].get("undone_at").is_none());

    // Merging the duplicate again is refused: it is merged already.
    let again = mia.post("/v1/merge/account", body);
    assert_eq!(
        (again.status, code(&again)),
        (409, "already_merged"),
        "{}",
        again.text
    );

    // Undone: references back, the duplicate restored, the filled field
    // empty again; what Ana typed since stays.
    let undone = mia.post(&format!("/v1/merges/{merge_id}/undo"), json!({}));
    assert_eq!(undone.status, 200, "{}", undone.text);
    assert_eq!(undone.json["undone_by"], "mia");
    ana.sync();
    bea.sync();
    family_points_at(&mia, &[&ana, &bea], &dup, &dup.account);
    assert_eq!(field(&mia, &dup.account, "archived"), "false");
    assert!(field(&mia, &dup.account, "merged_into").is_null());
    assert!(field(&mia, &kept.account, "industry").is_null());
    assert_eq!(field(&mia, &kept.account, "city"), "Sevilla");
    assert_eq!(text(&bea, &dup.account, "merged_into"), None);
    assert_eq!(text(&bea, &kept.account, "industry"), None);
    let twice = mia.post(&format!("/v1/merges/{merge_id}/undo"), json!({}));
    assert_eq!(
        (twice.status, code(&twice)),
        (409, "merge_already_undone"),
        "{}",
        twice.text
    );
    assert!(ana.store(|s| s.quarantine()).is_empty());
}

#[test]
fn merges_are_refused_with_codes_and_expire_after_thirty_days() {
    let rt = runtime();
    let w = clocked::world(T0);
    let (ana, _clock, _dir) = clocked::device(&rt, &w, "ana", T0);
    let one = family(&ana, "Norte", "+34 600 000 011", &[]);
    let two = family(&ana, "Norte SL", "+34 600 000 012", &[]);
    ana.sync();
    let pair =
        |s: &RecordId, l: &RecordId| json!({"survivor": s.to_string(), "loser": l.to_string()});

    // A rep may edit both records but may not archive, so may not merge.
    let rep = ApiClient::signed_in(&rt, &w.server.url, "ana");
    let refused = rep.post("/v1/merge/account", pair(&one.account, &two.account));
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert_eq!(code(&refused), "archive_forbidden");
    assert_eq!(refused.content_type, "application/problem+json");

    let mia = ApiClient::signed_in(&rt, &w.server.url, "mia");
    let selfish = mia.post("/v1/merge/account", pair(&one.account, &one.account));
    assert_eq!((selfish.status, code(&selfish)), (400, "merge_self"));
    let mixed = mia.post("/v1/merge/account", pair(&one.account, &two.contact));
    assert_eq!((mixed.status, code(&mixed)), (400, "merge_kind_mismatch"));
    let deals = mia.post("/v1/merge/deal", pair(&one.deal, &two.deal));
    assert_eq!((deals.status, code(&deals)), (400, "merge_not_mergeable"));
    let bad_take = json!({"survivor": one.account.to_string(), "loser": two.account.to_string(), "take": ["archived"]});
    let taken = mia.post("/v1/merge/account", bad_take);
    assert_eq!(
        (taken.status, code(&taken)),
        (400, "merge_field_not_carried")
    );
    let unknown = mia.post("/v1/merges/999/undo", json!({}));
    assert_eq!(unknown.status, 404);
    // Nothing was changed by the refusals.
    assert!(field(&mia, &two.account, "merged_into").is_null());

    // Contacts merge too; `take` replaces the survivor's value.
    let body = json!({"survivor": one.contact.to_string(), "loser": two.contact.to_string(), "take": ["last_name"]});
    let merged = mia.post("/v1/merge/contact", body);
    assert_eq!(merged.status, 200, "{}", merged.text);
    assert_eq!(merged.json["filled"], json!(["last_name"]));
    assert_eq!(field(&mia, &one.contact, "last_name"), "Norte SL");
    assert_eq!(
        field(&mia, &two.activity, "contact"),
        json!(one.contact.to_string())
    );
    let id = merged.json["id"].as_i64().expect("id");

    // Thirty days and a minute later it can no longer be undone.
    w.server_clock.set(at("2027-03-31T09:01:00Z"));
    let mia = ApiClient::signed_in(&rt, &w.server.url, "mia");
    let late = mia.post(&format!("/v1/merges/{id}/undo"), json!({}));
    assert_eq!(
        (late.status, code(&late)),
        (409, "merge_undo_expired"),
        "{}",
        late.text
    );
    assert_eq!(field(&mia, &one.contact, "last_name"), "Norte SL");
}

#[test]
fn a_forward_the_rep_may_not_make_is_audited_and_her_edit_stays_on_the_duplicate() {
    let rt = runtime();
    let w = clocked::world(T0);
    let (ana, _clock, _dir) = clocked::device(&rt, &w, "ana", T0);
    let dup = family(&ana, "Norte", "+34 600 000 021", &[]);
    ana.sync();
    // The record kept is one Ana does not see (another territory).
    let mia = ApiClient::signed_in(&rt, &w.server.url, "mia");
    let created = mia.post(
        "/v1/records/account",
        json!({"fields": {"name": "Norte Barcelona", "territory": "barcelona"}}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let kept: RecordId = created.json["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("record id");

    ana.set(&dup.account, &[("city", "Sevilla")]);
    let body = json!({"survivor": kept.to_string(), "loser": dup.account.to_string()});
    let merged = mia.post("/v1/merge/account", body);
    assert_eq!(merged.status, 200, "{}", merged.text);
    ana.sync();

    assert!(field(&mia, &kept, "city").is_null(), "not forwarded");
    assert_eq!(
        field(&mia, &dup.account, "city"),
        "Sevilla",
        "kept on the duplicate"
    );
    assert!(ana.store(|s| s.quarantine()).is_empty());
    let audited: Vec<(String, String)> = w
        .server
        .state
        .db
        .read_blocking(|c| {
            let mut stmt = c.prepare(
                "SELECT user_name, message FROM audit WHERE code = 'merge_redirect_refused'",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .expect("audit");
    assert_eq!(audited.len(), 1, "{audited:?}");
    assert_eq!(audited[0].0, "ana");
    assert!(
        audited[0].1.contains(&kept.to_string()) && audited[0].1.contains(&dup.account.to_string()),
        "{}",
        audited[0].1
    );
}

#[test]
fn edits_follow_a_chain_of_merges_from_phones_and_the_office_api() {
    let rt = runtime();
    let w = clocked::world(T0);
    let (ana, _clock, _dir) = clocked::device(&rt, &w, "ana", T0);
    let [a, b, c] = ["Sur", "Sur SL", "Sur Sociedad"].map(|name| {
        ana.create(
            RecordKind::Account,
            &[("name", name), ("territory", "madrid")],
        )
    });
    ana.sync();
    ana.set(&a, &[("city", "Cádiz")]);

    let mia = ApiClient::signed_in(&rt, &w.server.url, "mia");
    for (survivor, loser) in [(&b, &a), (&c, &b)] {
        let body = json!({"survivor": survivor.to_string(), "loser": loser.to_string()});
        let merged = mia.post("/v1/merge/account", body);
        assert_eq!(merged.status, 200, "{}", merged.text);
    }
    let listed = mia.get(&format!("/v1/merges?record={b}"));
    assert_eq!(listed.json["merges"].as_array().map(Vec::len), Some(2));
    assert_eq!(listed.json["merges"][0]["survivor"], json!(c.to_string()));

    // A phone's edit of the first duplicate goes to the end of the chain.
    ana.sync();
    assert_eq!(field(&mia, &c, "city"), "Cádiz");
    assert!(field(&mia, &b, "city").is_null());

    // So does an office write to it.
    let patched = mia.patch(
        &format!("/v1/records/account/{a}"),
        json!({"fields": {"website": "https://sur.example"}}),
    );
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert_eq!(field(&mia, &c, "website"), "https://sur.example");
    assert_eq!(field(&mia, &a, "website"), "https://sur.example");
    ana.sync();
    assert_eq!(
        text(&ana, &c, "website").as_deref(),
        Some("https://sur.example")
    );
}

/// A manual process on an account: its owner makes a welcome call.
const ONBOARD: &str = r#"
key = "onboard"
name = "Onboard the customer"
trigger = { kind = "manual", record = "account" }

[[steps]]
id = "call"
name = "Welcome call"
kind = "task"
assignee = "owner"
subject = "Welcome {name}"
due = "P2D"
next = "done"

[[steps]]
id = "done"
name = "Done"
kind = "end"
"#;

/// The instance's card through the office API.
fn card(api: &ApiClient, instance: &str) -> serde_json::Value {
    let answer = api.get(&format!("/v1/processes/instances/{instance}"));
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json
}

/// `instance`'s `record` and `account` on `phone`.
fn instance_refs(phone: &TestDevice, instance: &RecordId) -> (Option<String>, Option<String>) {
    (
        text(phone, instance, "record"),
        text(phone, instance, "account"),
    )
}

#[test]
fn a_merge_repoints_process_instances_undo_puts_them_back_and_no_push_can() {
    let rt = runtime();
    let w = clocked::world(T0);
    let (ana, _clock, _dir) = clocked::device(&rt, &w, "ana", T0);
    let kept = family(&ana, "Sur", "+34 600 000 031", &[]);
    let dup = family(&ana, "Sur SL", "+34 600 000 032", &[]);
    ana.sync();

    let admin = ApiClient::signed_in(&rt, &w.server.url, "admin");
    let published = admin.post(
        "/v1/processes/models",
        json!({"format": "toml", "source": ONBOARD}),
    );
    assert_eq!(published.status, 201, "{}", published.text);
    let mia = ApiClient::signed_in(&rt, &w.server.url, "mia");
    let started = mia.post(
        "/v1/processes/instances",
        json!({"model": "onboard", "record": dup.account.to_string()}),
    );
    assert_eq!(started.status, 201, "{}", started.text);
    let instance = started.json["id"].as_str().expect("id").to_owned();
    let instance_id: RecordId = instance.parse().expect("instance id");
    let task = started.json["steps"][0]["activity"]["id"]
        .as_str()
        .expect("the task")
        .to_owned();
    let task_id: RecordId = task.parse().expect("task id");
    ana.sync();
    let (on_dup, on_kept) = (
        Some(dup.account.to_string()),
        Some(kept.account.to_string()),
    );
    assert_eq!(
        instance_refs(&ana, &instance_id),
        (on_dup.clone(), on_dup.clone())
    );

    // The merge moves the running instance and its task to the survivor.
    let body = json!({"survivor": kept.account.to_string(), "loser": dup.account.to_string()});
    let merged = mia.post("/v1/merge/account", body);
    assert_eq!(merged.status, 200, "{}", merged.text);
    // The family's contact, deal and activity, the task, and the
    // instance's `record` and `account`.
    assert_eq!(merged.json["repointed"], 6, "{}", merged.text);
    let merge_id = merged.json["id"].as_i64().expect("merge id");
    assert_eq!(
        card(&mia, &instance)["record"],
        json!(kept.account.to_string())
    );
    assert_eq!(
        field(&mia, &task_id, "account"),
        json!(kept.account.to_string())
    );
    ana.sync();
    assert_eq!(
        instance_refs(&ana, &instance_id),
        (on_kept.clone(), on_kept.clone())
    );
    assert!(
        ana.store(|s| s.quarantine()).is_empty(),
        "nothing quarantined"
    );

    // No device may do what the merge did: a manager's forged change of
    // the instance's `record` is refused, and nothing changed.
    let instance_doc = format!("{instance}/general");
    let code = rt.block_on(async {
        let t = token(&w.server.url, "mia").await;
        let mut c = RawClient::connect(&w.server.url, &t)
            .await
            .expect("connect");
        let welcome = c.hello("mia-forger").await;
        let mut forged = doc_from(&welcome, &instance_doc).with_actor(ActorId::random());
        assert_eq!(
            forged
                .get(ROOT, "record")
                .expect("get")
                .and_then(|(v, _)| v.as_str().map(str::to_owned)),
            Some(kept.account.to_string()),
            "the forger holds the instance"
        );
        forged
            .put(ROOT, "record", dup.account.to_string())
            .expect("put");
        c.send(&push_one(&instance_doc, signed(&mut forged, "mia")))
            .await;
        let r = c
            .push_result()
            .await
            .expect("the connection closed instead of answering");
        assert!(r.accepted.is_empty(), "accepted: {r:?}");
        r.refused.first().expect("a refusal").code.clone()
    });
    assert_eq!(code, "immutable");
    assert_eq!(
        card(&mia, &instance)["record"],
        json!(kept.account.to_string())
    );

    // Its task still works: completing it ends the instance.
    let done = ApiClient::signed_in(&rt, &w.server.url, "ana").post(
        &format!("/v1/tasks/{task}/complete"),
        json!({"outcome": "Called"}),
    );
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(card(&mia, &instance)["status"], "completed");

    // The undo puts the instance back on the duplicate, finished or not.
    let undone = mia.post(&format!("/v1/merges/{merge_id}/undo"), json!({}));
    assert_eq!(undone.status, 200, "{}", undone.text);
    let back = card(&mia, &instance);
    assert_eq!(back["record"], json!(dup.account.to_string()), "{back}");
    assert_eq!(back["status"], "completed", "{back}");
    assert_eq!(
        field(&mia, &task_id, "account"),
        json!(dup.account.to_string())
    );
    ana.sync();
    assert_eq!(instance_refs(&ana, &instance_id), (on_dup.clone(), on_dup));
    assert!(
        ana.store(|s| s.quarantine()).is_empty(),
        "nothing quarantined"
    );
}

/// The default policy with a custom choice `x_segment` on accounts, in the
/// class everyone reads.
fn segment_policy() -> String {
    let text = fieldwork_core::policy::DEFAULT_POLICY_TOML.replacen(
        "\"website\", \"description\"]",
        "\"website\", \"description\", \"x_segment\"]",
        1,
    );
    format!(
        "{text}\n[custom.account.segment]\ntype = \"choice\"\nchoices = [\"smb\", \"enterprise\"]\n"
    )
}

#[test]
fn a_custom_field_is_carried_by_the_merge_and_a_later_edit_of_it_forwarded() {
    let rt = runtime();
    let w = clocked::world(T0);
    let (ana, _clock, _dir) = clocked::device(&rt, &w, "ana", T0);
    w.server
        .set_policy(&segment_policy())
        .expect("policy installed");
    ana.sync();
    let kept = ana.create(
        RecordKind::Account,
        &[("name", "Oeste SL"), ("territory", "madrid")],
    );
    let duplicate = ana.create(
        RecordKind::Account,
        &[("name", "Oeste"), ("territory", "madrid")],
    );
    ana.set(&duplicate, &[("x_segment", "smb")]);
    ana.sync();

    let mia = ApiClient::signed_in(&rt, &w.server.url, "mia");
    let body = json!({"survivor": kept.to_string(), "loser": duplicate.to_string()});
    let merged = mia.post("/v1/merge/account", body);
    assert_eq!(merged.status, 200, "{}", merged.text);
    assert_eq!(
        field(&mia, &kept, "x_segment"),
        "smb",
        "carried by the merge"
    );

    // The phone edits the custom field of the duplicate: it goes on.
    ana.sync();
    ana.set(&duplicate, &[("x_segment", "enterprise")]);
    ana.sync();
    assert_eq!(field(&mia, &kept, "x_segment"), "enterprise", "forwarded");
    ana.sync();
    assert_eq!(
        text(&ana, &kept, "x_segment").as_deref(),
        Some("enterprise")
    );
    assert!(
        ana.store(|s| s.quarantine()).is_empty(),
        "nothing quarantined"
    );
}
