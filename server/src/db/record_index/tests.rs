//! The record index on a real server database: documents stored through
//! the feed as the push path stores them, facts kept from base documents,
//! then listed, searched and looked up as different users.

use std::collections::{BTreeMap, HashSet};

use fieldwork_core::automerge::ActorId;
use fieldwork_core::document::ClassDoc;
use fieldwork_core::{
    Access, ClassName, CoreError, FieldValue, Policy, Record, RecordId, RecordKind, UserContext,
    schema,
};
use rusqlite::Connection;

use super::*;
use crate::db::{Db, facts, feed};
use crate::error::ServerError;

/// A server database and the documents written to it.
struct World {
    _dir: tempfile::TempDir,
    db: Db,
    docs: BTreeMap<DocId, ClassDoc>,
    actor: ActorId,
}

fn t(s: &str) -> FieldValue {
    FieldValue::Text(s.to_owned())
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().expect("dir");
        let db = Db::open(dir.path()).expect("open");
        World {
            _dir: dir,
            db,
            docs: BTreeMap::new(),
            actor: ActorId::random(),
        }
    }

    /// Writes `values` (`None` deletes) to the record's `class` document
    /// as the push path stores a change: feed, facts, index.
    fn write(&mut self, record: &RecordId, class: &str, values: &[(&str, Option<FieldValue>)]) {
        let class: ClassName = class.parse().expect("class");
        let doc_id = record.doc(&class);
        let actor = self.actor.clone();
        let doc = self
            .docs
            .entry(doc_id.clone())
            .or_insert_with(|| ClassDoc::new(doc_id.clone(), actor));
        for (field, value) in values {
            let def = schema::field(record.kind(), field).expect("field");
            doc.put(field, def.ty, value.as_ref()).expect("put");
        }
        let at = "2027-01-08T09:00:00Z".parse().expect("time");
        let change = doc.commit("test", at).expect("a change");
        self.db
            .write_blocking(|w| {
                let tx = w.conn.transaction()?;
                feed::append(
                    &tx,
                    &doc_id,
                    &change.hash().0,
                    change.raw_bytes(),
                    None,
                    None,
                    0,
                )?;
                if class.as_str() == "general" {
                    let rec = Record {
                        id: record.clone(),
                        fields: doc.fields(),
                        conflicts: BTreeMap::new(),
                        classes: vec![class.clone()],
                    };
                    facts::update_facts(&tx, &rec)?;
                }
                refresh(&tx, doc)?;
                tx.commit()?;
                Ok(())
            })
            .expect("write");
    }

    /// A new record with general fields (and optionally others).
    fn create(&mut self, kind: RecordKind, general: &[(&str, FieldValue)]) -> RecordId {
        let id = RecordId::new_random(kind);
        let values: Vec<(&str, Option<FieldValue>)> =
            general.iter().map(|(f, v)| (*f, Some(v.clone()))).collect();
        self.write(&id, "general", &values);
        id
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> crate::error::Result<T>,
    ) -> crate::error::Result<T> {
        self.db.read_blocking(f)
    }

    fn list(&self, access: &Access, q: &ListQuery) -> crate::error::Result<ListPage> {
        self.read(|c| list(c, access, q))
    }

    fn ids(
        &self,
        access: &Access,
        kind: RecordKind,
        filters: Vec<Filter>,
        sort: Option<Sort>,
    ) -> Vec<String> {
        let q = ListQuery {
            kind,
            filters,
            sort,
            after: None,
            limit: MAX_LIMIT,
            archived: Default::default(),
        };
        self.list(access, &q).expect("list").ids
    }
}

fn user(name: &str, role: &str, territories: &[&str], policy: Policy) -> Access {
    Access::User {
        user: UserContext {
            name: name.into(),
            role: role.into(),
            territories: territories.iter().map(|t| (*t).to_owned()).collect(),
            team: vec![],
        },
        policy,
    }
}

fn rep() -> Access {
    user("ana", "rep", &["madrid"], Policy::shipped_default())
}

fn manager() -> Access {
    user(
        "maria",
        "manager",
        &["madrid", "sevilla"],
        Policy::shipped_default(),
    )
}

fn admin() -> Access {
    user("root", "admin", &[], Policy::shipped_default())
}

fn filter(field: &str, op: FilterOp, value: &str) -> Filter {
    Filter {
        field: field.into(),
        op,
        value: value.into(),
    }
}

fn sort(field: &str, descending: bool) -> Option<Sort> {
    Some(Sort {
        field: field.into(),
        descending,
    })
}

fn account(w: &mut World, name: &str, territory: &str) -> String {
    w.create(
        RecordKind::Account,
        &[
            ("name", t(name)),
            ("stage", t("lead")),
            ("territory", t(territory)),
        ],
    )
    .to_string()
}

fn denial(err: ServerError) -> fieldwork_core::Denial {
    match err {
        ServerError::Core(CoreError::Denied(d)) => d,
        other => panic!("expected a denial, got {other:?}"),
    }
}

#[test]
fn users_list_only_records_they_see() {
    let mut w = World::new();
    let madrid = account(&mut w, "Madrid SA", "madrid");
    let sevilla = account(&mut w, "Sevilla SL", "sevilla");
    let mine = w
        .create(
            RecordKind::Account,
            &[
                ("name", t("Mine")),
                ("stage", t("lead")),
                ("owner", t("ana")),
                ("territory", t("bilbao")),
            ],
        )
        .to_string();
    // A contact inherits its account's territory.
    let contact = w
        .create(
            RecordKind::Contact,
            &[("last_name", t("Pérez")), ("account", t(&sevilla))],
        )
        .to_string();
    let set = |v: Vec<String>| v.into_iter().collect::<HashSet<_>>();
    assert_eq!(
        set(w.ids(&rep(), RecordKind::Account, vec![], None)),
        set(vec![madrid.clone(), mine.clone()])
    );
    assert!(w.ids(&rep(), RecordKind::Contact, vec![], None).is_empty());
    assert_eq!(
        w.ids(&manager(), RecordKind::Contact, vec![], None),
        vec![contact]
    );
    assert_eq!(
        set(w.ids(&admin(), RecordKind::Account, vec![], None)),
        set(vec![madrid, sevilla, mine])
    );
    // Unsorted lists are in creation (record id) order.
    let all = w.ids(&admin(), RecordKind::Account, vec![], None);
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);
    // A role missing from the policy sees nothing.
    let ghost = user("ghost", "nobody", &["madrid"], Policy::shipped_default());
    assert!(w.ids(&ghost, RecordKind::Account, vec![], None).is_empty());
}

#[test]
fn filters_and_sorts_on_unreadable_or_unknown_fields_are_refused() {
    let mut w = World::new();
    let id = account(&mut w, "Madrid SA", "madrid");
    let rid: RecordId = id.parse().expect("id");
    w.write(
        &rid,
        "financial",
        &[("credit_limit", Some(FieldValue::Int(5_000)))],
    );
    let q = |filters: Vec<Filter>, sort: Option<Sort>| ListQuery {
        kind: RecordKind::Account,
        filters,
        sort,
        after: None,
        limit: 10,
        archived: Default::default(),
    };
    for query in [
        q(vec![filter("credit_limit", FilterOp::Gt, "1000")], None),
        q(vec![filter("credit_limit", FilterOp::IsSet, "")], None),
        q(vec![], sort("credit_limit", false)),
        q(vec![filter("tax_id", FilterOp::Eq, "B123")], None),
    ] {
        let d = denial(w.list(&rep(), &query).expect_err("refused"));
        assert_eq!(d.code, "class_not_readable");
        assert_eq!(d.rule, "roles.rep.read");
        assert!(matches!(
            d.field.as_deref(),
            Some("credit_limit" | "tax_id")
        ));
    }
    let d = denial(
        w.list(
            &rep(),
            &q(vec![filter("shoe_size", FilterOp::Eq, "42")], None),
        )
        .expect_err("unknown"),
    );
    assert_eq!(
        (d.code.as_str(), d.field.as_deref()),
        ("unknown_field", Some("shoe_size"))
    );
    let d = denial(
        w.list(&rep(), &q(vec![], sort("nope", true)))
            .expect_err("unknown"),
    );
    assert_eq!(d.code, "unknown_field");
    // The manager may, and the comparison is numeric.
    assert_eq!(
        w.ids(
            &manager(),
            RecordKind::Account,
            vec![filter("credit_limit", FilterOp::Gt, "999")],
            None
        ),
        vec![id.clone()]
    );
    assert!(
        w.ids(
            &manager(),
            RecordKind::Account,
            vec![filter("credit_limit", FilterOp::Gt, "10000")],
            None
        )
        .is_empty()
    );
    // A value that is not of the field's type is a clear error.
    let err = w
        .list(
            &manager(),
            &q(vec![filter("credit_limit", FilterOp::Gt, "lots")], None),
        )
        .expect_err("invalid");
    assert!(
        matches!(err, ServerError::Core(CoreError::Invalid(_))),
        "{err:?}"
    );
    let err = w
        .list(&manager(), &q(vec![], sort("stage_history", false)))
        .expect_err("not sortable");
    assert!(
        matches!(err, ServerError::Core(CoreError::Invalid(_))),
        "{err:?}"
    );
}

#[test]
fn filters_compare_text_ignoring_case_and_accents() {
    let mut w = World::new();
    let jose = account(&mut w, "José Szőke Kft", "madrid");
    let other = account(&mut w, "Other", "madrid");
    let rid: RecordId = other.parse().expect("id");
    w.write(&rid, "contact_details", &[("city", Some(t("Ávila")))]);
    let a = admin();
    let ids = |f: Filter| w.ids(&a, RecordKind::Account, vec![f], None);
    assert_eq!(
        ids(filter("name", FilterOp::Eq, "JOSE SZOKE KFT")),
        vec![jose.clone()]
    );
    assert_eq!(
        ids(filter("name", FilterOp::Prefix, "jose sz")),
        vec![jose.clone()]
    );
    assert_eq!(
        ids(filter("name", FilterOp::Contains, "szoke")),
        vec![jose.clone()]
    );
    assert_eq!(
        ids(filter("name", FilterOp::Ne, "jose szoke kft")),
        vec![other.clone()]
    );
    assert_eq!(
        ids(filter("city", FilterOp::Eq, "avila")),
        vec![other.clone()]
    );
    assert_eq!(
        ids(filter("city", FilterOp::IsSet, "")),
        vec![other.clone()]
    );
    assert_eq!(
        ids(filter("city", FilterOp::IsNotSet, "")),
        vec![jose.clone()]
    );
    // Ne matches records without a value too.
    assert_eq!(
        ids(filter("city", FilterOp::Ne, "avila")),
        vec![jose.clone()]
    );
    // Several filters must all hold.
    assert!(
        w.ids(
            &a,
            RecordKind::Account,
            vec![
                filter("name", FilterOp::Prefix, "jose"),
                filter("city", FilterOp::IsSet, "")
            ],
            None
        )
        .is_empty()
    );
}

#[test]
fn sorting_follows_the_folded_text_with_missing_values_last() {
    let mut w = World::new();
    let names = ["beta", "Álvaro", "zeta", "Ábaco", "alfa"];
    let mut ids = BTreeMap::new();
    for n in names {
        ids.insert(n, account(&mut w, n, "madrid"));
    }
    let a = admin();
    let by = |n: &[&str]| n.iter().map(|n| ids[n].clone()).collect::<Vec<_>>();
    assert_eq!(
        w.ids(&a, RecordKind::Account, vec![], sort("name", false)),
        by(&["Ábaco", "alfa", "Álvaro", "beta", "zeta"])
    );
    assert_eq!(
        w.ids(&a, RecordKind::Account, vec![], sort("name", true)),
        by(&["zeta", "beta", "Álvaro", "alfa", "Ábaco"])
    );
    // Without a value: after those with one, in both directions.
    let zeta: RecordId = ids["zeta"].parse().expect("id");
    let beta: RecordId = ids["beta"].parse().expect("id");
    w.write(&zeta, "contact_details", &[("city", Some(t("Zaragoza")))]);
    w.write(&beta, "contact_details", &[("city", Some(t("Ávila")))]);
    let asc = w.ids(&a, RecordKind::Account, vec![], sort("city", false));
    assert_eq!(asc[..2], by(&["beta", "zeta"]));
    assert_eq!(asc.len(), 5);
    let desc = w.ids(&a, RecordKind::Account, vec![], sort("city", true));
    assert_eq!(desc[..2], by(&["zeta", "beta"]));
    assert_eq!(desc.len(), 5);
}

/// Pages through `q` collecting ids, calling `between` after every page.
fn page_all(
    w: &mut World,
    access: &Access,
    mut q: ListQuery,
    mut between: impl FnMut(&mut World),
) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..100 {
        let page = w.list(access, &q).expect("page");
        assert!(page.ids.len() <= q.limit);
        out.extend(page.ids);
        match page.next {
            Some(next) => q.after = Some(next),
            None => return out,
        }
        between(w);
    }
    panic!("pagination did not end");
}

#[test]
fn keyset_pages_return_every_record_once_despite_inserts() {
    let mut w = World::new();
    let mut originals = Vec::new();
    for i in 0..23 {
        // Some without a city, to cross from sorted rows to unsorted ones.
        let id = account(&mut w, &format!("Cuenta {:02}", (i * 7) % 23), "madrid");
        if i % 3 != 0 {
            let rid: RecordId = id.parse().expect("id");
            w.write(
                &rid,
                "contact_details",
                &[("city", Some(t(&format!("c{}", i % 5))))],
            );
        }
        originals.push(id);
    }
    let a = admin();
    for (sort_by, descending) in [
        (None, false),
        (Some("name"), false),
        (Some("name"), true),
        (Some("city"), false),
        (Some("city"), true),
    ] {
        let q = ListQuery {
            kind: RecordKind::Account,
            filters: vec![],
            sort: sort_by.and_then(|s| sort(s, descending)),
            after: None,
            limit: 4,
            archived: Default::default(),
        };
        let mut n = 0;
        let seen = page_all(&mut w, &a, q, |w| {
            n += 1;
            account(w, &format!("Cuenta {:02} nueva", n % 23), "madrid");
        });
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "no record twice ({sort_by:?} {descending})"
        );
        for id in &originals {
            assert!(
                unique.contains(id),
                "{id} missing ({sort_by:?} {descending})"
            );
        }
    }
}

#[test]
fn malformed_or_foreign_cursors_are_errors() {
    let mut w = World::new();
    for i in 0..3 {
        account(&mut w, &format!("A{i}"), "madrid");
    }
    let a = admin();
    let q = |after: Option<String>, sort: Option<Sort>| ListQuery {
        kind: RecordKind::Account,
        filters: vec![],
        sort,
        after,
        limit: 1,
        archived: Default::default(),
    };
    for bad in ["", "!!!", "bm90IGpzb24", &"A".repeat(5000), "eyJzIjoxfQ"] {
        let err = w.list(&a, &q(Some(bad.into()), None)).expect_err(bad);
        assert!(matches!(err, ServerError::Invalid(_)), "{bad}: {err:?}");
    }
    let next = w
        .list(&a, &q(None, sort("name", false)))
        .expect("page")
        .next
        .expect("more");
    let err = w
        .list(&a, &q(Some(next.clone()), None))
        .expect_err("other order");
    assert!(matches!(err, ServerError::Invalid(_)), "{err:?}");
    assert_eq!(
        w.list(&a, &q(Some(next), sort("name", false)))
            .expect("page")
            .ids
            .len(),
        1
    );
}

#[test]
fn search_is_accent_insensitive_prefix_matching_of_visible_readable_text() {
    let mut w = World::new();
    let acc = account(&mut w, "Szőke Kft", "madrid");
    let contact = w.create(
        RecordKind::Contact,
        &[
            ("first_name", t("José")),
            ("last_name", t("García")),
            ("account", t(&acc)),
        ],
    );
    w.write(
        &contact,
        "contact_details",
        &[("email", Some(t("pepe@ejemplo.es")))],
    );
    let hidden = account(&mut w, "José Hidden", "sevilla");
    let find = |access: &Access, text: &str, kinds: Option<&[RecordKind]>| {
        w.read(|c| search(c, access, text, kinds, 20))
            .expect("search")
    };
    let hits = find(&rep(), "jose", None);
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].record_id, contact.to_string());
    assert_eq!(hits[0].kind, RecordKind::Contact);
    assert_eq!(hits[0].title, "José García");
    assert_eq!(find(&rep(), "szoke", None)[0].record_id, acc);
    assert_eq!(find(&rep(), "SZŐK", None)[0].title, "Szőke Kft");
    // All words must match, each may be in another readable class.
    assert_eq!(find(&rep(), "jos garc ejemplo", None).len(), 1);
    assert!(find(&rep(), "jose nadie", None).is_empty());
    // Kinds narrow; FTS5 syntax in user text is only text.
    assert!(find(&rep(), "jose", Some(&[RecordKind::Account])).is_empty());
    assert!(find(&rep(), "jose\" OR NEAR(* -", None).is_empty());
    assert!(find(&rep(), "  -- ", None).is_empty());
    // The admin sees the hidden account too.
    let all: HashSet<String> = find(&admin(), "jose", None)
        .into_iter()
        .map(|h| h.record_id)
        .collect();
    assert!(all.contains(&hidden) && all.contains(&contact.to_string()));
}

#[test]
fn search_folds_special_latin_letters_and_an_older_index_is_rebuilt() {
    let mut w = World::new();
    let lodz = account(&mut w, "Łódź Hurt", "madrid");
    let oster = account(&mut w, "Østergaard ApS", "madrid");
    let strasse = account(&mut w, "Hauptstraße Bäckerei", "madrid");
    let find = |w: &World, text: &str| -> Vec<String> {
        w.read(|c| search(c, &admin(), text, None, 10))
            .expect("search")
            .into_iter()
            .map(|h| h.record_id)
            .collect()
    };
    assert_eq!(find(&w, "lodz"), [lodz.as_str()]);
    assert_eq!(find(&w, "ŁÓDŹ"), [lodz.as_str()]);
    assert_eq!(find(&w, "ostergaard"), [oster.as_str()]);
    assert_eq!(find(&w, "hauptstrasse"), [strasse.as_str()]);
    assert_eq!(find(&w, "hauptstraße"), [strasse.as_str()]);
    // An index built by version 1 (unfolded text) is rebuilt at open.
    w.db.write_blocking(|wr| {
        wr.conn.execute_batch(
            "DELETE FROM record_search;
             UPDATE meta SET value = '1' WHERE key = 'record_index_version';",
        )?;
        Ok(())
    })
    .expect("age the index");
    assert!(find(&w, "lodz").is_empty());
    let rebuilt =
        w.db.write_blocking(|wr| ensure_built(&wr.conn))
            .expect("ensure");
    assert_eq!(rebuilt, Some(3));
    assert_eq!(find(&w, "lodz"), [lodz.as_str()]);
    assert_eq!(find(&w, "ostergaard"), [oster.as_str()]);
}

#[test]
fn search_counts_only_text_of_readable_classes() {
    // A policy where contact e-mails are sensitive: reps may not read them.
    let text = Policy::shipped_default().source().replace(
        "contact_details = [\"email\", \"email_secondary\", \"phone\", \"mobile\", \"business_card\"]\nsensitive = [\"birthday\"]",
        "contact_details = [\"email_secondary\", \"phone\", \"mobile\", \"business_card\"]\nsensitive = [\"birthday\", \"email\"]",
    );
    let policy = Policy::from_toml(&text).expect("policy");
    assert_eq!(
        policy
            .class_of(RecordKind::Contact, "email")
            .map(ClassName::as_str),
        Some("sensitive")
    );
    let mut w = World::new();
    let contact = w.create(
        RecordKind::Contact,
        &[("last_name", t("García")), ("owner", t("ana"))],
    );
    w.write(
        &contact,
        "sensitive",
        &[("email", Some(t("secreto@ejemplo.es")))],
    );
    let rep = user("ana", "rep", &[], policy.clone());
    let manager = user("maria", "manager", &[], policy);
    let find = |access: &Access, text: &str| {
        w.read(|c| search(c, access, text, None, 20))
            .expect("search")
    };
    assert!(
        find(&rep, "secreto").is_empty(),
        "sensitive text found by a rep"
    );
    assert!(find(&rep, "garcia secreto").is_empty());
    assert_eq!(find(&rep, "garcia").len(), 1);
    // Maria sees no record of hers (no territory, no team, not owner).
    assert!(find(&manager, "secreto").is_empty());
    let owner = user(
        "ana",
        "manager",
        &[],
        Policy::from_toml(&text).expect("policy"),
    );
    assert_eq!(
        find(&owner, "secreto").len(),
        1,
        "a role reading it finds it"
    );
}

#[test]
fn phone_lookup_finds_numbers_typed_either_way() {
    let mut w = World::new();
    let acc = account(&mut w, "Madrid SA", "madrid");
    let rid: RecordId = acc.parse().expect("id");
    w.write(
        &rid,
        "contact_details",
        &[("phone", Some(t("+34 600 11 22 33")))],
    );
    let contact = w.create(
        RecordKind::Contact,
        &[("last_name", t("García")), ("account", t(&acc))],
    );
    // Stored without country code: read in the default region.
    w.write(
        &contact,
        "contact_details",
        &[("mobile", Some(t("600-112-233")))],
    );
    let far = account(&mut w, "Sevilla SL", "sevilla");
    let far_id: RecordId = far.parse().expect("id");
    w.write(
        &far_id,
        "contact_details",
        &[("phone", Some(t("+34600112233")))],
    );
    let number = crate::phone::normalise("600112233", Some("ES")).expect("valid");
    assert_eq!(number, "+34600112233");
    let look = |w: &World, access: &Access| {
        w.read(|c| by_phone(c, access, &number, 10))
            .expect("lookup")
    };
    let hits = look(&w, &rep());
    let got: Vec<(String, RecordKind, String)> = hits
        .into_iter()
        .map(|h| (h.record_id, h.kind, h.field))
        .collect();
    let mut want = vec![
        (acc.clone(), RecordKind::Account, "phone".to_owned()),
        (
            contact.to_string(),
            RecordKind::Contact,
            "mobile".to_owned(),
        ),
    ];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(look(&w, &admin()).len(), 3);
    // A role that may not read contact details finds nothing.
    let text = Policy::shipped_default()
        .source()
        .replace(
            "read = [\"general\", \"contact_details\"]",
            "read = [\"general\"]",
        )
        .replace(
            "write = [\"general\", \"contact_details\"]",
            "write = [\"general\"]",
        );
    let narrow = user(
        "ana",
        "rep",
        &["madrid"],
        Policy::from_toml(&text).expect("policy"),
    );
    assert!(look(&w, &narrow).is_empty());
    // Changing and removing the number updates the index.
    w.write(
        &rid,
        "contact_details",
        &[("phone", Some(t("+34 600 99 88 77")))],
    );
    w.write(&contact, "contact_details", &[("mobile", None)]);
    assert!(look(&w, &rep()).is_empty());
    let moved = w
        .read(|c| by_phone(c, &rep(), "+34600998877", 10))
        .expect("lookup");
    assert_eq!(moved.len(), 1);
}

#[test]
fn refresh_replaces_what_changed_and_rebuild_restores_everything() {
    let mut w = World::new();
    let acc = account(&mut w, "Antiguo Nombre", "madrid");
    let rid: RecordId = acc.parse().expect("id");
    w.write(&rid, "general", &[("name", Some(t("Nuevo Nombre")))]);
    let find = |w: &World, text: &str| {
        w.read(|c| search(c, &admin(), text, None, 10))
            .expect("search")
            .len()
    };
    assert_eq!(find(&w, "antiguo"), 0);
    assert_eq!(find(&w, "nuevo"), 1);
    w.write(&rid, "general", &[("industry", Some(t("Pesca")))]);
    assert_eq!(find(&w, "pesca nuevo"), 1);
    w.write(&rid, "general", &[("industry", None)]);
    assert_eq!(find(&w, "pesca"), 0);
    let rows = |w: &World| {
        w.read(|c| {
            Ok(c.query_row("SELECT count(*) FROM record_fields", [], |r| {
                r.get::<_, i64>(0)
            })?)
        })
        .expect("count")
    };
    let before = rows(&w);
    let n =
        w.db.write_blocking(|wr| {
            wr.conn
                .execute_batch("DELETE FROM record_fields; DELETE FROM record_docs;")?;
            rebuild(&wr.conn)
        })
        .expect("rebuild");
    assert_eq!(n, 1);
    assert_eq!(rows(&w), before);
    assert_eq!(find(&w, "nuevo"), 1);
    // Once built at this version, it is not rebuilt again.
    let ensure = || {
        w.db.write_blocking(|wr| ensure_built(&wr.conn))
            .expect("ensure")
    };
    let _ = ensure();
    assert_eq!(ensure(), None);
    assert_eq!(find(&w, "nuevo"), 1);
}
