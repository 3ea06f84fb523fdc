//! Cursor (keyset) paging of the device's lists (issue 16): walking the
//! pages of any order gives exactly the list, whatever the page size, with
//! NULLs and ties in every sort key; records added or removed between pages
//! never make an unchanged record repeat or go missing; and a cursor is
//! checked, never trusted.

use std::collections::{BTreeMap, BTreeSet};

use crate::common;

use common::{account, set, store};
use fieldwork_core::schema::{ACCOUNT_STAGES, DEAL_STAGES};
use fieldwork_core::store::ListPage;
use fieldwork_core::summary::Archived;
use fieldwork_core::{CoreError, FieldWrite, ListQuery, RecordId, RecordKind, Sort, Store};

const SORTS: [Sort; 7] = [
    Sort::Name,
    Sort::Stage,
    Sort::Owner,
    Sort::Territory,
    Sort::Due,
    Sort::Amount,
    Sort::Updated,
];

/// No walk takes more pages than this: a cursor that does not advance
/// fails the test instead of looping forever.
const GUARD: usize = 1000;

/// The same titles many times (and equal but for case and accents).
const TITLES: [&str; 5] = ["Acme", "acme", "Ábel Bt.", "Zeta", "Acme"];

fn owner(i: usize) -> FieldWrite {
    match i % 4 {
        0 => FieldWrite::clear("owner"),
        1 | 3 => set("owner", "ana"),
        _ => set("owner", "luis"),
    }
}

/// 40 accounts, 30 deals and 30 activities with NULL and duplicate owners,
/// territories, stages, amounts and due dates.
fn populated(dir: &std::path::Path) -> Store {
    let mut s = store(dir, "paging.db");
    let mut accounts = Vec::new();
    for i in 0..40 {
        let mut writes = vec![set("stage", ACCOUNT_STAGES[i % 3]), owner(i)];
        match i % 3 {
            0 => {}
            1 => writes.push(set("territory", "north")),
            _ => writes.push(set("territory", "south")),
        }
        accounts.push(account(&mut s, TITLES[i % 5], writes));
    }
    for i in 0..30 {
        let mut writes = vec![
            set("name", TITLES[(i + 1) % 5]),
            set("account", &accounts[i % 7].to_string()),
            set("stage", DEAL_STAGES[i % 5]),
            owner(i + 1),
        ];
        if DEAL_STAGES[i % 5] == "lost" {
            writes.push(set("close_reason", "price"));
        }
        if i % 4 != 0 {
            writes.push(FieldWrite::set("amount", (i % 3) as i64 * 1000));
            writes.push(set("currency", "EUR"));
        }
        if i % 3 != 0 {
            writes.push(set("expected_close", &format!("2026-12-0{}", 1 + i % 4)));
        }
        s.create(RecordKind::Deal, writes).expect("deal");
    }
    for i in 0..30 {
        let mut writes = vec![
            set("type", if i % 2 == 0 { "call" } else { "task" }),
            set("subject", TITLES[(i + 2) % 5]),
            set("status", "planned"),
            owner(i + 2),
        ];
        if i % 5 != 0 {
            writes.push(set("account", &accounts[i % 11].to_string()));
        }
        if i % 3 != 0 {
            writes.push(set("due_at", &format!("2026-12-0{}T10:00:00Z", 1 + i % 3)));
        }
        s.create(RecordKind::Activity, writes).expect("activity");
    }
    s
}

fn everything(s: &Store, base: &ListQuery) -> Vec<RecordId> {
    s.list(&ListQuery {
        limit: Some(10_000),
        ..base.clone()
    })
    .expect("list")
    .into_iter()
    .map(|r| r.id)
    .collect()
}

fn page(s: &Store, base: &ListQuery, size: usize, after: Option<String>) -> ListPage {
    s.list_page(&ListQuery {
        limit: Some(size),
        after,
        ..base.clone()
    })
    .expect("page")
}

/// Every page of `base` by `size`, joined.
fn walk(s: &Store, base: &ListQuery, size: usize) -> Vec<RecordId> {
    let mut out = Vec::new();
    let mut after = None;
    for _ in 0..GUARD {
        // An offset only places the first page; the cursor the others.
        let q = match after {
            Some(_) => ListQuery {
                offset: 0,
                ..base.clone()
            },
            None => base.clone(),
        };
        let p = page(s, &q, size, after.take());
        assert!(p.items.len() <= size);
        // A page is short only when it is the last.
        assert!(p.next.is_none() || p.items.len() == size, "{base:?}");
        out.extend(p.items.into_iter().map(|r| r.id));
        match p.next {
            Some(next) => after = Some(next),
            None => return out,
        }
    }
    panic!("{base:?} by {size}: still paging after {GUARD} pages");
}

#[test]
fn walking_the_pages_of_every_order_gives_exactly_the_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = populated(dir.path());
    // The data has what makes keyset paging hard.
    let accounts = s
        .list(&ListQuery {
            limit: Some(1000),
            ..Default::default()
        })
        .expect("list");
    assert_eq!(accounts.len(), 40);
    assert!(accounts.iter().any(|r| r.owner.is_none()));
    assert!(accounts.iter().any(|r| r.territory.is_none()));
    let deals = s
        .list(&ListQuery {
            kind: Some(RecordKind::Deal),
            limit: Some(1000),
            ..Default::default()
        })
        .expect("list");
    assert!(deals.iter().any(|r| r.amount.is_none()));
    assert!(deals.iter().any(|r| r.due_at.is_none()));

    let mut walks = 0;
    for kind in [RecordKind::Account, RecordKind::Deal, RecordKind::Activity] {
        for sort in SORTS {
            for descending in [false, true] {
                let base = ListQuery {
                    kind: Some(kind),
                    sort,
                    descending,
                    ..Default::default()
                };
                let want = everything(&s, &base);
                let n = if kind == RecordKind::Account { 40 } else { 30 };
                assert_eq!(want.len(), n, "{kind:?}");
                assert_eq!(want.iter().collect::<BTreeSet<_>>().len(), n);
                for size in [1, 2, 3, 7] {
                    assert_eq!(
                        walk(&s, &base, size),
                        want,
                        "{kind:?} by {sort:?}, descending {descending}, pages of {size}"
                    );
                    walks += 1;
                }
                // Filtered too, and from an offset on.
                let north = ListQuery {
                    territory: Some("north".into()),
                    archived: Archived::Include,
                    ..base.clone()
                };
                assert_eq!(walk(&s, &north, 3), everything(&s, &north));
                let skipped = ListQuery {
                    offset: 5,
                    ..base.clone()
                };
                assert_eq!(walk(&s, &skipped, 4), want[5..]);
            }
        }
    }
    assert_eq!(walks, 3 * 7 * 2 * 4);
}

#[test]
fn a_limit_of_zero_is_an_empty_last_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = store(dir.path(), "d.db");
    account(&mut s, "Acme", vec![]);
    let p = page(&s, &ListQuery::default(), 0, None);
    assert_eq!(p, ListPage::default());
    // And an exactly full last page has no next.
    let p = page(&s, &ListQuery::default(), 1, None);
    assert_eq!((p.items.len(), p.next), (1, None));
}

#[test]
fn records_added_or_removed_between_pages_never_repeat_or_skip_the_others() {
    for sort in SORTS {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = populated(dir.path());
        for descending in [false, true] {
            let base = ListQuery {
                sort,
                descending,
                ..Default::default()
            };
            let before = everything(&s, &base);
            let mut changed = BTreeSet::new();
            let mut seen = Vec::new();
            let mut after = None;
            let mut pages = 0;
            loop {
                pages += 1;
                assert!(pages <= GUARD, "{sort:?}: still paging after {GUARD} pages");
                let p = page(&s, &base, 4, after.take());
                seen.extend(p.items.iter().map(|r| r.id.clone()));
                let Some(next) = p.next else { break };
                after = Some(next);
                let ahead: Vec<&RecordId> = before.iter().filter(|id| !seen.contains(id)).collect();
                match pages {
                    // Archive one already returned and one still ahead; add one.
                    1 => {
                        for id in [seen[1].clone(), ahead[2].clone()] {
                            s.update(&id, vec![FieldWrite::set("archived", true)])
                                .expect("archive");
                            changed.insert(id);
                        }
                        account(&mut s, "Acme", vec![set("territory", "north")]);
                    }
                    // Delete one already returned and one ahead; add two.
                    2 => {
                        let gone = [seen[5].clone(), ahead[0].clone()];
                        s.remove_records(&gone).expect("remove");
                        changed.extend(gone);
                        account(&mut s, "Ábel Bt.", vec![]);
                        account(&mut s, "Zeta", vec![FieldWrite::clear("owner")]);
                    }
                    _ => {}
                }
            }
            let mut counts = BTreeMap::new();
            for id in &seen {
                *counts.entry(id).or_insert(0) += 1;
            }
            assert!(
                counts.values().all(|c| *c == 1),
                "{sort:?} descending {descending}: a record came twice"
            );
            let unchanged: Vec<&RecordId> =
                before.iter().filter(|id| !changed.contains(*id)).collect();
            let returned: Vec<&RecordId> = seen.iter().filter(|id| before.contains(id)).collect();
            let returned_unchanged: Vec<&RecordId> = returned
                .iter()
                .copied()
                .filter(|id| !changed.contains(*id))
                .collect();
            assert_eq!(
                returned_unchanged, unchanged,
                "{sort:?} descending {descending}: unchanged records skipped or out of order"
            );
            // What was removed while still ahead never came.
            for id in changed.iter().filter(|id| !returned.contains(id)) {
                assert!(!seen.contains(id));
            }
        }
    }
}

fn refused_naming_after(r: fieldwork_core::Result<impl std::fmt::Debug>) -> String {
    match r {
        Err(CoreError::Invalid(e)) => {
            assert_eq!(e.field.as_deref(), Some("after"), "{e:?}");
            assert!(!e.message.is_empty());
            e.message
        }
        other => panic!("expected Invalid naming `after`, got {other:?}"),
    }
}

#[test]
fn a_cursor_that_is_tampered_with_foreign_or_garbage_is_invalid_naming_after() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = populated(dir.path());
    let by = |sort: Sort, descending: bool| ListQuery {
        sort,
        descending,
        limit: Some(3),
        ..Default::default()
    };
    let owner_cursor = s
        .list_page(&by(Sort::Owner, false))
        .expect("page")
        .next
        .expect("more pages");
    let name_cursor = s
        .list_page(&by(Sort::Name, false))
        .expect("page")
        .next
        .expect("more pages");
    let with = |q: ListQuery, after: &str| ListQuery {
        after: Some(after.to_owned()),
        ..q
    };
    // The cursor works where it belongs.
    assert_eq!(
        s.list_page(&with(by(Sort::Owner, false), &owner_cursor))
            .expect("next page")
            .items
            .len(),
        3
    );
    let mut bad = vec![
        // Another sort, another direction.
        (with(by(Sort::Owner, false), &name_cursor), "another sort"),
        (with(by(Sort::Name, false), &owner_cursor), "another sort"),
        (
            with(by(Sort::Owner, true), &owner_cursor),
            "another direction",
        ),
        (
            with(by(Sort::Updated, false), &owner_cursor),
            "another sort",
        ),
        // Garbage and an over-long string.
        (with(by(Sort::Owner, false), "garbage"), "garbage"),
        (with(by(Sort::Owner, false), ""), "empty"),
        (
            with(by(Sort::Owner, false), &"x".repeat(1 << 20)),
            "over-long",
        ),
        (
            with(
                by(Sort::Owner, false),
                &format!("{owner_cursor}{}", " ".repeat(64 * 1024)),
            ),
            "padded over-long",
        ),
        // With an offset.
        (
            ListQuery {
                offset: 3,
                ..with(by(Sort::Owner, false), &owner_cursor)
            },
            "with an offset",
        ),
    ];
    // Tampered: cut short, a key dropped, added or of the wrong type, a
    // flag out of range, the direction or the sort changed.
    let json: serde_json::Value = serde_json::from_str(&owner_cursor).expect("JSON");
    let keys = json["k"].as_array().expect("keys").clone();
    let tamper = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut j = json.clone();
        edit(&mut j);
        j.to_string()
    };
    let mut tampered = vec![owner_cursor[..owner_cursor.len() - 2].to_owned()];
    tampered.push(tamper(&|j| j["k"] = keys[1..].to_vec().into()));
    tampered.push(tamper(&|j| {
        let mut more = keys.clone();
        more.push(7.into());
        j["k"] = more.into();
    }));
    tampered.push(tamper(&|j| j["k"][0] = "1".into()));
    tampered.push(tamper(&|j| j["k"][0] = 2.into()));
    tampered.push(tamper(&|j| j["k"][2] = "not hex".into()));
    tampered.push(tamper(&|j| j["k"][3] = serde_json::Value::Null));
    tampered.push(tamper(&|j| j["d"] = true.into()));
    tampered.push(tamper(&|j| j["s"] = "territory".into()));
    tampered.push(tamper(&|j| j["s"] = "sideways".into()));
    for t in &tampered {
        assert_ne!(t, &owner_cursor);
        bad.push((with(by(Sort::Owner, false), t), "tampered"));
    }
    for (q, what) in bad {
        let message = refused_naming_after(s.list_page(&q));
        assert_eq!(refused_naming_after(s.list(&q)), message, "{what}");
    }
}
