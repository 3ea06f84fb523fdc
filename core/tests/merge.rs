//! Two replicas of a device store edited offline and merged: every edit
//! survives as Automerge promises.

use crate::common;

use common::{account, merge_into, set, store};
use fieldwork_core::value::FieldValue;
use fieldwork_core::{RecordKind, Store};

#[test]
fn concurrent_offline_edits_on_forked_stores_all_survive_the_merge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = store(dir.path(), "a.db");
    let acc = account(&mut a, "Acme", vec![set("phone", "+34 600 000 001")]);
    let note = a
        .create(
            RecordKind::Note,
            vec![
                set("title", "Visita"),
                set("body", "Quiere un presupuesto."),
                set("account", &acc.to_string()),
            ],
        )
        .expect("note");
    a.fork_to(&dir.path().join("b.db")).expect("fork");
    let mut b = store(dir.path(), "b.db");
    assert_ne!(a.device_id(), b.device_id());
    assert_ne!(a.actor(), b.actor());

    // Offline on both: different fields, the same field, the same note text.
    a.update(
        &acc,
        vec![set("industry", "Retail"), set("website", "https://acme.es")],
    )
    .expect("a");
    b.update(
        &acc,
        vec![set("phone", "+34 600 000 002"), set("city", "Sevilla")],
    )
    .expect("b");
    a.update(&acc, vec![set("territory", "madrid")])
        .expect("a same field");
    b.update(&acc, vec![set("territory", "sevilla")])
        .expect("b same field");
    a.splice_text(&note, "body", 0, 0, "Lunes: ")
        .expect("a text");
    let len = "Quiere un presupuesto.".chars().count();
    b.splice_text(&note, "body", len, 0, " Llamar el viernes.")
        .expect("b text");

    merge_into(&mut a, &mut b);
    merge_into(&mut b, &mut a);

    for s in [&mut a, &mut b] {
        let r = s.get(&acc).expect("account");
        assert_eq!(r.text("industry"), Some("Retail"));
        assert_eq!(r.text("website"), Some("https://acme.es"));
        assert_eq!(r.text("phone"), Some("+34 600 000 002"));
        assert_eq!(r.text("city"), Some("Sevilla"));
        // Same field: Automerge picks one winner deterministically, keeps both.
        let both = r.conflicts.get("territory").expect("conflict recorded");
        assert_eq!(both.len(), 2);
        assert!(both.contains(&FieldValue::Text("madrid".into())));
        assert!(both.contains(&FieldValue::Text("sevilla".into())));
        let n = s.get(&note).expect("note");
        assert_eq!(
            n.text("body"),
            Some("Lunes: Quiere un presupuesto. Llamar el viernes.")
        );
    }
    let (ra, rb) = (a.get(&acc).expect("a"), b.get(&acc).expect("b"));
    assert_eq!(ra.fields, rb.fields, "both replicas agree, winner included");
    // The index of both follows the merged state.
    assert_eq!(a.search("sevilla", None, 5).expect("search").len(), 1);
    assert_eq!(b.search("retail", None, 5).expect("search").len(), 1);
}

#[test]
fn merging_is_idempotent_and_order_independent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = store(dir.path(), "a.db");
    let acc = account(&mut a, "Acme", vec![]);
    a.fork_to(&dir.path().join("b.db")).expect("fork");
    a.fork_to(&dir.path().join("c.db")).expect("fork");
    let mut b = store(dir.path(), "b.db");
    let mut c = store(dir.path(), "c.db");
    a.update(&acc, vec![set("industry", "A")]).expect("a");
    b.update(&acc, vec![set("industry", "B")]).expect("b");
    c.update(&acc, vec![set("city", "Cádiz")]).expect("c");
    // a <- b <- c in one order, c <- a <- b in another, twice over.
    for _ in 0..2 {
        merge_into(&mut b, &mut a);
        merge_into(&mut c, &mut a);
        merge_into(&mut a, &mut c);
        merge_into(&mut b, &mut c);
        merge_into(&mut a, &mut b);
    }
    let records: Vec<_> = [&mut a, &mut b, &mut c]
        .into_iter()
        .map(|s: &mut Store| s.get(&acc).expect("get"))
        .collect();
    assert_eq!(records[0].fields, records[1].fields);
    assert_eq!(records[1].fields, records[2].fields);
    assert_eq!(records[0].text("city"), Some("Cádiz"));
}
