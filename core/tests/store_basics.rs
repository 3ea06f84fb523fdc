//! The device store end to end: records, index, lists, search, history, outbox.

use crate::common;

use common::{account, set, store};
use fieldwork_core::value::FieldValue;
use fieldwork_core::{FieldWrite, ListQuery, RecordKind, Sort};

#[test]
fn creating_an_account_applies_defaults_and_logs_the_stage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "device.db");
    let id = account(
        &mut s,
        "Szőke Kft.",
        vec![set("territory", "budapest"), set("email", "info@szoke.hu")],
    );
    let record = s.get(&id).expect("get");
    assert_eq!(record.text("name"), Some("Szőke Kft."));
    assert_eq!(record.text("stage"), Some("lead"));
    assert_eq!(record.text("owner"), Some("local"));
    assert_eq!(record.text("email"), Some("info@szoke.hu"));
    let Some(FieldValue::Stages(log)) = record.get("stage_history") else {
        panic!("no stage history: {record:?}");
    };
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].stage, "lead");
    assert_eq!(log[0].at, "2026-11-24T09:00:00Z");
    // Fields live in their class documents: general and contact_details here.
    let classes: Vec<&str> = record.classes.iter().map(|c| c.as_str()).collect();
    assert_eq!(classes, ["contact_details", "general"]);
}

#[test]
fn stage_transitions_are_kept_with_their_dates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = common::store_at(dir.path(), "d.db", "2026-11-24T09:00:00Z");
    let id = account(&mut s, "Acme", vec![]);
    drop(s);
    let mut s = common::store_at(dir.path(), "d.db", "2026-12-01T10:30:00Z");
    s.update(&id, vec![set("stage", "prospect")])
        .expect("update");
    // Setting the same stage again is not a transition.
    s.update(&id, vec![set("stage", "prospect")])
        .expect("no-op");
    let Some(FieldValue::Stages(log)) = s.get(&id).expect("get").get("stage_history").cloned()
    else {
        panic!("no log");
    };
    let got: Vec<(&str, &str)> = log
        .iter()
        .map(|t| (t.stage.as_str(), t.at.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("lead", "2026-11-24T09:00:00Z"),
            ("prospect", "2026-12-01T10:30:00Z")
        ]
    );
}

#[test]
fn lists_filter_and_sort_by_locale() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "d.db");
    s.set_locale("hu").expect("locale");
    for (name, stage, owner) in [
        ("Dénes és Társa", "customer", "ana"),
        ("Csaba Bt.", "lead", "luis"),
        ("Cukor Kft.", "prospect", "ana"),
    ] {
        account(&mut s, name, vec![set("stage", stage), set("owner", owner)]);
    }
    let names = |q: &ListQuery, s: &fieldwork_core::Store| -> Vec<String> {
        s.list(q)
            .expect("list")
            .into_iter()
            .map(|r| r.title)
            .collect()
    };
    let by_name = ListQuery {
        sort: Sort::Name,
        ..Default::default()
    };
    assert_eq!(
        names(&by_name, &s),
        ["Cukor Kft.", "Csaba Bt.", "Dénes és Társa"]
    );
    let by_stage = ListQuery {
        sort: Sort::Stage,
        ..Default::default()
    };
    assert_eq!(
        names(&by_stage, &s),
        ["Csaba Bt.", "Cukor Kft.", "Dénes és Társa"]
    );
    let anas = ListQuery {
        owner: Some("ana".into()),
        descending: true,
        ..Default::default()
    };
    assert_eq!(names(&anas, &s), ["Dénes és Társa", "Cukor Kft."]);
    // Switching the locale re-sorts: English has no `cs` letter.
    s.set_locale("en").expect("locale");
    assert_eq!(
        names(&by_name, &s),
        ["Csaba Bt.", "Cukor Kft.", "Dénes és Társa"]
    );
}

#[test]
fn deals_sort_by_amount_and_children_inherit_the_territory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "d.db");
    let acc = account(&mut s, "Acme", vec![set("territory", "madrid")]);
    for (name, amount) in [("Small", 1_000i64), ("Big", 900_000), ("Mid", 50_000)] {
        s.create(
            RecordKind::Deal,
            vec![
                set("name", name),
                set("account", &acc.to_string()),
                FieldWrite::set("amount", amount),
                set("currency", "EUR"),
            ],
        )
        .expect("deal");
    }
    let q = ListQuery {
        kind: Some(RecordKind::Deal),
        sort: Sort::Amount,
        descending: true,
        ..Default::default()
    };
    let rows = s.list(&q).expect("list");
    let got: Vec<(&str, Option<i64>)> = rows.iter().map(|r| (r.title.as_str(), r.amount)).collect();
    assert_eq!(
        got,
        [
            ("Big", Some(900_000)),
            ("Mid", Some(50_000)),
            ("Small", Some(1_000))
        ]
    );
    assert!(
        rows.iter()
            .all(|r| r.territory.as_deref() == Some("madrid"))
    );
    // Moving the account moves its children with it.
    s.update(&acc, vec![set("territory", "sevilla")])
        .expect("move");
    let q = ListQuery {
        kind: Some(RecordKind::Deal),
        territory: Some("sevilla".into()),
        ..Default::default()
    };
    assert_eq!(s.list(&q).expect("list").len(), 3);
}

#[test]
fn search_is_accent_insensitive_prefix_and_ranked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "d.db");
    let jose = s
        .create(
            RecordKind::Contact,
            vec![
                set("first_name", "José"),
                set("last_name", "Álvarez"),
                set("phone", "+34 912 345 678"),
            ],
        )
        .expect("contact");
    let szoke = account(&mut s, "Szőke Kft.", vec![set("email", "iroda@szoke.hu")]);
    let note = s
        .create(
            RecordKind::Note,
            vec![
                set("title", "Visita"),
                set("body", "Hablé con Szőke sobre el presupuesto de José."),
            ],
        )
        .expect("note");
    fn ids_in(s: &fieldwork_core::Store, text: &str) -> Vec<String> {
        s.search(text, None, 10)
            .expect("search")
            .into_iter()
            .map(|h| h.id.to_string())
            .collect()
    }
    let ids = |text: &str| ids_in(&s, text);
    assert_eq!(ids("jose")[0], jose.to_string());
    assert!(ids("jose").contains(&note.to_string()));
    assert_eq!(
        ids("szoke"),
        [szoke.to_string(), note.to_string()],
        "name match ranks above a mention"
    );
    assert_eq!(ids("SZŐ"), ids("szo"));
    assert_eq!(ids("alvarez jo"), [jose.to_string()]);
    assert_eq!(
        ids("912345"),
        [jose.to_string()],
        "phone digits are searchable"
    );
    assert_eq!(ids("iroda@szoke"), [szoke.to_string()]);
    assert!(ids("presupuestos").is_empty());
    assert!(
        ids("\" OR *").is_empty(),
        "query syntax is never interpreted"
    );
    // The index follows edits.
    s.update(&szoke, vec![set("name", "Kovács Zrt.")])
        .expect("rename");
    assert_eq!(ids_in(&s, "kovacs"), [szoke.to_string()]);
    assert_eq!(
        ids_in(&s, "szoke"),
        [szoke.to_string(), note.to_string()],
        "its e-mail still says szoke, and e-mails weigh more than note bodies"
    );
}

#[test]
fn history_tells_who_changed_what_when() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = common::store_at(dir.path(), "d.db", "2026-11-24T09:00:00Z");
    let id = account(&mut s, "Acme", vec![set("phone", "+34 600 000 000")]);
    drop(s);
    let mut s = common::store_at(dir.path(), "d.db", "2026-11-25T12:00:00Z");
    s.update(
        &id,
        vec![set("name", "Acme Ibérica"), FieldWrite::clear("phone")],
    )
    .expect("update");
    let history = s.history(&id).expect("history");
    let last_general = history
        .iter()
        .rev()
        .find(|h| h.class == "general")
        .expect("general change");
    assert_eq!(last_general.at, "2026-11-25T12:00:00Z");
    assert_eq!(last_general.author, "local");
    assert_eq!(last_general.fields[0].field, "name");
    assert_eq!(
        last_general.fields[0].value.as_deref(),
        Some("Acme Ibérica")
    );
    let cleared = history
        .iter()
        .flat_map(|h| &h.fields)
        .find(|f| f.field == "phone" && f.action == "cleared");
    assert!(cleared.is_some(), "{history:?}");
    let first = &history[0];
    assert_eq!(first.at, "2026-11-24T09:00:00Z");
}

#[test]
fn the_outbox_holds_every_unacknowledged_change_until_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "d.db");
    let id = account(&mut s, "Acme", vec![set("email", "a@acme.es")]);
    s.update(&id, vec![set("industry", "Retail")])
        .expect("update");
    let pending = s.pending(100, 1 << 20).expect("pending");
    assert_eq!(pending.len(), 3, "two class documents created, one updated");
    assert!(pending.windows(2).all(|w| w[0].seq < w[1].seq));
    let half: Vec<_> = pending[..2]
        .iter()
        .map(|p| (p.doc.clone(), p.hash))
        .collect();
    assert_eq!(s.acknowledge(&half).expect("ack"), 2);
    assert_eq!(s.outbox_len().expect("len"), 1);
    assert_eq!(
        s.acknowledge(&half).expect("ack again"),
        0,
        "acknowledging twice is harmless"
    );
    drop(s);
    let s = store(dir.path(), "d.db");
    assert_eq!(
        s.outbox_len().expect("len"),
        1,
        "the outbox survives a restart"
    );
}

#[test]
fn compaction_keeps_every_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "d.db");
    let id = account(&mut s, "Acme", vec![]);
    for i in 0..100 {
        s.update(&id, vec![set("industry", &format!("industry {i}"))])
            .expect("update");
    }
    drop(s);
    let mut s = store(dir.path(), "d.db");
    assert_eq!(
        s.get(&id).expect("get").text("industry"),
        Some("industry 99")
    );
    assert_eq!(s.history(&id).expect("history").len(), 101);
    assert!(s.verify().expect("verify").is_empty());
}

#[test]
fn identical_changes_in_different_documents_are_each_kept_in_the_outbox() {
    // Same actor, same second, same operations: the two documents' first
    // changes are byte-identical, with the same hash.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "d.db");
    let a = account(&mut s, "Gemelas", vec![set("email", "info@gemelas.es")]);
    let b = account(&mut s, "Gemelas", vec![set("email", "info@gemelas.es")]);
    let pending = s.pending(100, 1 << 20).expect("pending");
    assert_eq!(pending.len(), 4, "two documents per account");
    let contact: Vec<_> = pending
        .iter()
        .filter(|p| p.doc.class().as_str() == "contact_details")
        .collect();
    assert_eq!(contact.len(), 2);
    assert_eq!(
        contact[0].hash, contact[1].hash,
        "the two changes are identical"
    );
    assert_ne!(contact[0].doc, contact[1].doc);
    // Acknowledging one document's change leaves the other's pending.
    assert_eq!(
        s.acknowledge(&[(contact[0].doc.clone(), contact[0].hash)])
            .expect("ack"),
        1
    );
    assert_eq!(s.outbox_len().expect("len"), 3);
    assert!(s.get(&a).is_ok() && s.get(&b).is_ok());
}

#[test]
fn an_import_is_all_or_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "d.db");
    let ok: Vec<Vec<FieldWrite>> = (0..50)
        .map(|i| vec![set("name", &format!("Importada {i}"))])
        .collect();
    let ids = s.import(RecordKind::Account, ok).expect("import");
    assert_eq!(ids.len(), 50);
    assert_eq!(s.count(RecordKind::Account).expect("count"), 50);
    let mut bad: Vec<Vec<FieldWrite>> = (0..10)
        .map(|i| vec![set("name", &format!("Otra {i}"))])
        .collect();
    bad.push(vec![set("name", "Mala"), set("email", "no es un correo")]);
    assert!(s.import(RecordKind::Account, bad).is_err());
    assert_eq!(
        s.count(RecordKind::Account).expect("count"),
        50,
        "nothing of the failed import remains"
    );
    assert!(s.search("otra", None, 5).expect("search").is_empty());
}

#[test]
fn acknowledged_changes_give_their_space_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("d.db");
    let mut s = store(dir.path(), "d.db");
    let rows: Vec<Vec<FieldWrite>> = (0..3000)
        .map(|i| {
            vec![
                set("name", &format!("Cuenta {i}")),
                set("description", &"Notas largas de la visita. ".repeat(10)),
            ]
        })
        .collect();
    s.import(RecordKind::Account, rows).expect("import");
    drop(s);
    let full = std::fs::metadata(&path).expect("size").len();
    let mut s = store(dir.path(), "d.db");
    let acks: Vec<_> = s
        .pending(usize::MAX, usize::MAX)
        .expect("pending")
        .iter()
        .map(|p| (p.doc.clone(), p.hash))
        .collect();
    s.acknowledge(&acks).expect("ack");
    drop(s);
    let synced = std::fs::metadata(&path).expect("size").len();
    assert!(
        synced < full * 9 / 10,
        "the file shrank: {full} -> {synced}"
    );
}

#[test]
fn archived_records_leave_lists_and_search_but_stay_readable_and_restorable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "device.db");
    let kept = account(&mut s, "Ferretería Norte", vec![]);
    let gone = account(&mut s, "Ferretería Sur", vec![]);
    s.update(&gone, vec![FieldWrite::set("archived", true)])
        .expect("archive");
    let names = |s: &mut fieldwork_core::Store, archived| -> Vec<String> {
        s.list(&ListQuery {
            kind: Some(RecordKind::Account),
            archived,
            ..ListQuery::default()
        })
        .expect("list")
        .into_iter()
        .map(|r| r.title)
        .collect()
    };
    use fieldwork_core::summary::Archived;
    assert_eq!(names(&mut s, Archived::Exclude), ["Ferretería Norte"]);
    assert_eq!(names(&mut s, Archived::Only), ["Ferretería Sur"]);
    assert_eq!(names(&mut s, Archived::Include).len(), 2);
    let hits: Vec<_> = s
        .search("ferreteria", None, 10)
        .expect("search")
        .into_iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(hits, std::slice::from_ref(&kept));
    assert_eq!(
        s.get(&gone).expect("still readable").get("archived"),
        Some(&FieldValue::Bool(true))
    );
    s.update(&gone, vec![FieldWrite::set("archived", false)])
        .expect("restore");
    assert_eq!(names(&mut s, Archived::Exclude).len(), 2);
}

#[test]
fn the_locale_is_kept_in_the_store_not_read_from_the_environment_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "d.db");
    for name in ["Oso", "Ñandú", "Nube"] {
        account(&mut s, name, vec![]);
    }
    let names = |s: &fieldwork_core::Store| -> Vec<String> {
        s.list(&ListQuery::default())
            .expect("list")
            .into_iter()
            .map(|r| r.title)
            .collect()
    };
    s.set_locale("es_ES").expect("locale");
    assert_eq!(s.locale(), "es-ES");
    assert_eq!(names(&s), ["Nube", "Ñandú", "Oso"]);
    let e = s.set_locale("not a locale!").expect_err("malformed");
    assert!(
        matches!(&e, fieldwork_core::CoreError::Invalid(v) if v.field.as_deref() == Some("locale")),
        "{e:?}"
    );
    assert_eq!(s.locale(), "es-ES", "a refused locale changes nothing");
    drop(s);
    // Reopened (whatever LANG says now), the store sorts as it was told.
    let s = store(dir.path(), "d.db");
    assert_eq!(s.locale(), "es-ES");
    assert_eq!(names(&s), ["Nube", "Ñandú", "Oso"]);
    drop(s);
    // A store written before the locale was kept (no `locale` key, keys of
    // whatever locale the environment had) is re-keyed once, at its open.
    let conn = rusqlite::Connection::open(dir.path().join("d.db")).expect("open file");
    conn.execute_batch(
        "DELETE FROM meta WHERE key = 'locale'; UPDATE records SET title_key = x'00';",
    )
    .expect("age the store");
    drop(conn);
    let s = store(dir.path(), "d.db");
    let mut expected = vec!["Oso", "Ñandú", "Nube"];
    let collator = fieldwork_core::store::NameCollator::new(s.locale()).expect("collator");
    expected.sort_by_key(|n| collator.sort_key(n));
    assert_eq!(names(&s), expected);
}

#[test]
fn dates_are_read_as_the_users_language_types_them() {
    use fieldwork_core::{CoreError, TextWrite};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "device.db");
    let acc = account(&mut s, "Fechas SA", vec![]);
    let deal = s
        .create(
            RecordKind::Deal,
            vec![
                set("name", "Flota"),
                set("account", acc.to_string().as_str()),
            ],
        )
        .expect("deal");
    let close = |s: &mut fieldwork_core::Store, typed: &str| {
        s.update_text(&deal, vec![TextWrite::set("expected_close", typed)])
    };
    s.set_locale("es-ES").expect("es");
    close(&mut s, "2/12/2026").expect("Spanish day first");
    assert_eq!(
        s.get(&deal).expect("get").text("expected_close"),
        Some("2026-12-02")
    );
    s.set_locale("hu").expect("hu");
    close(&mut s, "2027. 01. 15.").expect("Hungarian");
    assert_eq!(
        s.get(&deal).expect("get").text("expected_close"),
        Some("2027-01-15")
    );
    s.set_locale("en").expect("en");
    let e = close(&mut s, "1/15/2027").expect_err("English: ISO only");
    assert!(
        matches!(&e, CoreError::Invalid(v) if v.field.as_deref() == Some("expected_close")),
        "{e:?}"
    );
    close(&mut s, "2027-02-01").expect("ISO everywhere");
    assert_eq!(
        s.get(&deal).expect("get").text("expected_close"),
        Some("2027-02-01")
    );
}

#[test]
fn compaction_saves_documents_whole_and_keeps_their_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "device.db");
    let id = account(&mut s, "Compacta SA", vec![]);
    for i in 0..20 {
        s.update(&id, vec![set("city", &format!("Ciudad {i}"))])
            .expect("edit");
    }
    let history = s.history(&id).expect("history").len();
    let done = s.compact().expect("compact");
    assert!(done.documents >= 1, "{done:?}");
    assert_eq!(
        s.compact().expect("again").documents,
        0,
        "nothing left to compact"
    );
    let record = s.get(&id).expect("get");
    assert_eq!(record.text("city"), Some("Ciudad 19"));
    assert_eq!(
        s.history(&id).expect("history").len(),
        history,
        "history kept"
    );
    // Still writable afterwards.
    s.update(&id, vec![set("city", "Final")])
        .expect("edit after");
    assert_eq!(s.get(&id).expect("get").text("city"), Some("Final"));
}
