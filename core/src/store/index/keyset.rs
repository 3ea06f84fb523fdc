//! Keyset (cursor) paging of the index's lists.
//!
//! Every [`Sort`] is a list of sort keys: SQL expressions over the
//! `records` row that are never NULL, each ascending or descending, always
//! ending with `record_id ASC`. As `record_id` is unique the order is total,
//! and as no key is NULL a row's position is fixed by its key values alone:
//! "the rows after this one" is the lexicographic comparison
//! `(k0 > ?) OR (k0 = ? AND k1 > ?) OR …` (`<` for a descending key).
//!
//! A nullable column is two keys, both in the column's direction: a flag
//! (`col IS NOT NULL`) and `COALESCE(col, …)`. That reproduces SQLite's
//! placement of NULLs in the plain `ORDER BY col` (first ascending, last
//! descending); `due_at` and `amount` keep their NULLs last both ways with
//! the flag `col IS NULL` always ascending.
//!
//! A cursor is the key values of the last row of a page, with the sort and
//! direction they belong to, as compact JSON (blobs in hex). It is opaque to
//! callers; [`decode`] refuses anything it did not produce for this order
//! as `Invalid` naming `after`.

use rusqlite::types::Value;
use serde::{Deserialize, Serialize};

use super::Sort;
use crate::error::{CoreError, Result, ValidationError};

/// The longest cursor accepted. A cursor holds at most a collation key of a
/// title (200 characters), an owner or territory and a record id; the
/// largest real ones are well under half of this.
pub(super) const MAX_CURSOR_LEN: usize = 8 * 1024;

/// What a key's values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyType {
    /// 0 or 1 (`col IS NULL`, `col IS NOT NULL`).
    Flag,
    /// A whole number.
    Integer,
    /// Text.
    Text,
    /// Bytes (a collation key), hex in a cursor.
    Blob,
}

impl KeyType {
    fn describe(self) -> &'static str {
        match self {
            KeyType::Flag => "0 or 1",
            KeyType::Integer => "a whole number",
            KeyType::Text => "text",
            KeyType::Blob => "hex bytes",
        }
    }
}

/// One sort key: a never-NULL expression and its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Key {
    /// The SQL expression over a `records` row.
    pub expr: &'static str,
    /// Descending.
    pub desc: bool,
    /// Its values' type.
    pub ty: KeyType,
}

const fn key(expr: &'static str, desc: bool, ty: KeyType) -> Key {
    Key { expr, desc, ty }
}

/// The sort keys of `sort` (reversed when `descending`), the last always
/// `record_id ASC`.
pub(super) fn keys(sort: Sort, descending: bool) -> Vec<Key> {
    use KeyType::{Blob, Flag, Integer, Text};
    let d = descending;
    let title = key("title_key", false, Blob);
    let mut keys = match sort {
        Sort::Name => vec![key("title_key", d, Blob)],
        Sort::Stage => vec![
            key("(stage_rank IS NOT NULL)", d, Flag),
            key("COALESCE(stage_rank, 0)", d, Integer),
            title,
        ],
        Sort::Owner => vec![
            key("(owner IS NOT NULL)", d, Flag),
            key("COALESCE(owner, '')", d, Text),
            title,
        ],
        Sort::Territory => vec![
            key("(territory IS NOT NULL)", d, Flag),
            key("COALESCE(territory, '')", d, Text),
            title,
        ],
        // No date or amount last, whichever the direction.
        Sort::Due => vec![
            key("(due_at IS NULL)", false, Flag),
            key("COALESCE(due_at, 0)", d, Integer),
        ],
        Sort::Amount => vec![
            key("(amount IS NULL)", false, Flag),
            key("COALESCE(amount, 0)", d, Integer),
        ],
        // Newest first is the natural reading of "sort by updated".
        Sort::Updated => vec![key("updated_at", !d, Integer)],
    };
    keys.push(key("record_id", false, Text));
    keys
}

/// The `ORDER BY` terms of `keys`: the order the after-condition pages
/// through, which lists run as [`index_order`] (tests prove them equal).
#[cfg(test)]
fn order_by(keys: &[Key]) -> String {
    keys.iter()
        .map(|k| format!("{} {}", k.expr, if k.desc { "DESC" } else { "ASC" }))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `ORDER BY` a list runs with: the index-friendly form of the same
/// order as [`order_by`] of [`keys`] (SQLite's own NULL placement instead
/// of flag keys), so SQLite can walk the `records_by_*` indexes. The tests
/// check that both orders are the same for every sort and direction.
pub(super) fn index_order(sort: Sort, descending: bool) -> String {
    let dir = if descending { "DESC" } else { "ASC" };
    match sort {
        Sort::Name => format!("title_key {dir}, record_id"),
        Sort::Stage => format!("stage_rank {dir}, title_key, record_id"),
        Sort::Owner => format!("owner {dir}, title_key, record_id"),
        Sort::Territory => format!("territory {dir}, title_key, record_id"),
        Sort::Due => format!("due_at IS NULL, due_at {dir}, record_id"),
        Sort::Amount => format!("amount IS NULL, amount {dir}, record_id"),
        Sort::Updated => format!(
            "updated_at {}, record_id",
            if descending { "ASC" } else { "DESC" }
        ),
    }
}

/// The condition "after the row whose keys are `values`" (the lexicographic
/// OR-chain, in parentheses), appending its arguments to `args`. `values` has one value per
/// key ([`decode`] checks that).
pub(super) fn after(keys: &[Key], values: &[Value], args: &mut Vec<Value>) -> String {
    // The first key's bound, implied by the chain; stated so that SQLite can
    // seek an index on it (`title_key`, `updated_at`) instead of scanning
    // from the top.
    let first = &keys[0];
    args.push(values[0].clone());
    let mut terms = Vec::with_capacity(keys.len());
    for (i, k) in keys.iter().enumerate() {
        let mut term = Vec::with_capacity(i + 1);
        for (eq, v) in keys[..i].iter().zip(values) {
            term.push(format!("{} = ?", eq.expr));
            args.push(v.clone());
        }
        term.push(format!("{} {} ?", k.expr, if k.desc { "<" } else { ">" }));
        args.push(values[i].clone());
        terms.push(format!("({})", term.join(" AND ")));
    }
    format!(
        "({} {} ? AND ({}))",
        first.expr,
        if first.desc { "<=" } else { ">=" },
        terms.join(" OR ")
    )
}

/// A cursor as written: the order it belongs to and its key values.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    /// The sort.
    s: Sort,
    /// Descending.
    d: bool,
    /// One value per key: numbers, text, blobs as hex text.
    k: Vec<serde_json::Value>,
}

fn invalid(message: impl Into<String>) -> CoreError {
    CoreError::Invalid(ValidationError::field("after", message))
}

fn sort_name(sort: Sort) -> String {
    serde_json::to_value(sort)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{sort:?}"))
}

fn direction(descending: bool) -> &'static str {
    if descending {
        "descending"
    } else {
        "ascending"
    }
}

/// The cursor after the row whose key values are `values` (as read from the
/// index for `keys(sort, descending)`).
pub(super) fn encode(sort: Sort, descending: bool, values: &[Value]) -> Result<String> {
    let keys = keys(sort, descending);
    if values.len() != keys.len() {
        return Err(CoreError::Corrupt(format!(
            "{} sort keys read for an order of {}",
            values.len(),
            keys.len()
        )));
    }
    let mut k = Vec::with_capacity(values.len());
    for (key, value) in keys.iter().zip(values) {
        k.push(match (key.ty, value) {
            (KeyType::Flag | KeyType::Integer, Value::Integer(i)) => (*i).into(),
            (KeyType::Text, Value::Text(t)) => t.clone().into(),
            (KeyType::Blob, Value::Blob(b)) => hex::encode(b).into(),
            (_, other) => {
                return Err(CoreError::Corrupt(format!(
                    "the index holds {other:?} for the sort key `{}`",
                    key.expr
                )));
            }
        });
    }
    serde_json::to_string(&Wire {
        s: sort,
        d: descending,
        k,
    })
    .map_err(|e| CoreError::Corrupt(format!("cursor not encodable: {e}")))
}

/// The key values of `cursor`, checked to be a cursor of the order `sort`
/// (reversed when `descending`): `Invalid` naming `after` otherwise.
pub(super) fn decode(sort: Sort, descending: bool, cursor: &str) -> Result<Vec<Value>> {
    if cursor.len() > MAX_CURSOR_LEN {
        return Err(invalid(format!(
            "the cursor is {} bytes long, more than the {MAX_CURSOR_LEN} any page hands out",
            cursor.len()
        )));
    }
    let wire: Wire = serde_json::from_str(cursor).map_err(|_| {
        invalid("the cursor is not one a page of this list handed out; start again without it")
    })?;
    if wire.s != sort || wire.d != descending {
        return Err(invalid(format!(
            "the cursor belongs to a list sorted by {} ({}), not by {} ({}); start again without it",
            sort_name(wire.s),
            direction(wire.d),
            sort_name(sort),
            direction(descending),
        )));
    }
    let keys = keys(sort, descending);
    if wire.k.len() != keys.len() {
        return Err(invalid(format!(
            "the cursor holds {} sort keys where this order has {}",
            wire.k.len(),
            keys.len()
        )));
    }
    let mut values = Vec::with_capacity(keys.len());
    for (i, (key, v)) in keys.iter().zip(&wire.k).enumerate() {
        let value = match key.ty {
            KeyType::Flag => v
                .as_i64()
                .filter(|f| *f == 0 || *f == 1)
                .map(Value::Integer),
            KeyType::Integer => v.as_i64().map(Value::Integer),
            KeyType::Text => v.as_str().map(|t| Value::Text(t.to_owned())),
            KeyType::Blob => v
                .as_str()
                .and_then(|h| hex::decode(h).ok())
                .map(Value::Blob),
        };
        values.push(value.ok_or_else(|| {
            invalid(format!(
                "sort key {} of the cursor is not {}",
                i + 1,
                key.ty.describe()
            ))
        })?);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use rusqlite::{Connection, params};

    use super::*;

    const SORTS: [Sort; 7] = [
        Sort::Name,
        Sort::Stage,
        Sort::Owner,
        Sort::Territory,
        Sort::Due,
        Sort::Amount,
        Sort::Updated,
    ];

    /// An index table with NULLs and ties in every sorted column.
    fn table() -> Connection {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch(
            "CREATE TABLE records (record_id TEXT NOT NULL UNIQUE, title_key BLOB NOT NULL,
                 stage_rank INTEGER, owner TEXT, territory TEXT, due_at INTEGER, amount INTEGER,
                 updated_at INTEGER NOT NULL)",
        )
        .expect("create");
        let owners = [None, Some("ana"), Some(""), Some("luis"), Some("Ana")];
        let territories = [Some("north"), None, Some("south"), Some("north")];
        for i in 0..60i64 {
            // Deterministic scramble so that no column follows the id.
            let h = (i * 37 + 11) % 61;
            let title: &[u8] = match h % 6 {
                0 => b"",
                1 => b"\x00a",
                2 => b"a",
                3 => b"a\x00",
                4 => b"b",
                _ => b"\xff",
            };
            conn.execute(
                "INSERT INTO records VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    format!("r{:02}", (h * 29) % 61),
                    title,
                    (h % 5 != 0).then_some(h % 3 - 1),
                    owners[(h % 5) as usize],
                    territories[(h % 4) as usize],
                    (h % 4 != 1).then_some((h % 7) - 3),
                    (h % 3 != 0).then_some(h % 4 * 1000 - 1000),
                    h % 5,
                ],
            )
            .expect("insert");
        }
        conn
    }

    fn ids(conn: &Connection, order: &str, condition: &str, args: &[Value]) -> Vec<String> {
        let sql = format!("SELECT record_id FROM records WHERE {condition} ORDER BY {order}");
        let mut stmt = conn.prepare(&sql).expect("prepare");
        stmt.query_map(rusqlite::params_from_iter(args), |r| r.get(0))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    }

    #[test]
    fn the_key_order_is_the_order_lists_had_before_for_every_sort_and_direction() {
        let conn = table();
        for sort in SORTS {
            for descending in [false, true] {
                let new = order_by(&keys(sort, descending));
                let want = ids(&conn, &index_order(sort, descending), "1", &[]);
                assert_eq!(want.len(), 60);
                assert_eq!(
                    ids(&conn, &new, "1", &[]),
                    want,
                    "{sort:?} descending={descending}: {new}"
                );
            }
        }
    }

    #[test]
    fn every_row_is_followed_by_exactly_the_rows_after_it() {
        let conn = table();
        for sort in SORTS {
            for descending in [false, true] {
                let keys = keys(sort, descending);
                let order = order_by(&keys);
                let exprs: Vec<&str> = keys.iter().map(|k| k.expr).collect();
                let sql = format!("SELECT {} FROM records ORDER BY {order}", exprs.join(", "));
                let mut stmt = conn.prepare(&sql).expect("prepare");
                let rows: Vec<Vec<Value>> = stmt
                    .query_map([], |r| (0..keys.len()).map(|i| r.get(i)).collect())
                    .expect("query")
                    .collect::<rusqlite::Result<_>>()
                    .expect("rows");
                let all = ids(&conn, &order, "1", &[]);
                for (i, row) in rows.iter().enumerate() {
                    // Through a cursor, as a page would.
                    let cursor = encode(sort, descending, row).expect("encode");
                    let values = decode(sort, descending, &cursor).expect("decode");
                    assert_eq!(&values, row);
                    let mut args = Vec::new();
                    let condition = after(&keys, &values, &mut args);
                    assert_eq!(
                        ids(&conn, &order, &condition, &args),
                        all[i + 1..],
                        "{sort:?} descending={descending} after row {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_page_after_a_cursor_seeks_the_name_index_rather_than_scanning() {
        let conn = table();
        conn.execute_batch("CREATE INDEX by_title ON records(title_key)")
            .expect("index");
        for descending in [false, true] {
            let keys = keys(Sort::Name, descending);
            let values = [Value::Blob(b"a".to_vec()), Value::Text("r30".into())];
            let mut args = Vec::new();
            let condition = after(&keys, &values, &mut args);
            let sql = format!(
                "EXPLAIN QUERY PLAN SELECT record_id FROM records WHERE {condition} ORDER BY {} LIMIT 5",
                order_by(&keys)
            );
            let mut stmt = conn.prepare(&sql).expect("prepare");
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(&args), |r| r.get(3))
                .expect("plan")
                .collect::<rusqlite::Result<_>>()
                .expect("rows");
            assert!(
                plan.iter()
                    .any(|p| p.starts_with("SEARCH") && p.contains("by_title (title_key")),
                "{plan:?}"
            );
        }
    }

    fn refused(r: Result<Vec<Value>>) -> String {
        match r {
            Err(CoreError::Invalid(e)) => {
                assert_eq!(e.field.as_deref(), Some("after"), "{e:?}");
                e.message
            }
            other => panic!("expected Invalid naming `after`, got {other:?}"),
        }
    }

    #[test]
    fn a_cursor_of_another_order_or_shape_is_invalid_naming_after() {
        let good = encode(
            Sort::Owner,
            false,
            &[
                Value::Integer(1),
                Value::Text("ana".into()),
                Value::Blob(vec![0, 0xab]),
                Value::Text("01J".into()),
            ],
        )
        .expect("encode");
        assert_eq!(
            good,
            r#"{"s":"owner","d":false,"k":[1,"ana","00ab","01J"]}"#
        );
        assert!(decode(Sort::Owner, false, &good).is_ok());
        refused(decode(Sort::Owner, true, &good));
        refused(decode(Sort::Territory, false, &good));
        for bad in [
            "",
            "garbage",
            "null",
            "[]",
            "{}",
            r#"{"s":"owner","d":false,"k":[1,"ana","00ab"]}"#,
            r#"{"s":"owner","d":false,"k":[1,"ana","00ab","01J",5]}"#,
            r#"{"s":"owner","d":false,"k":[2,"ana","00ab","01J"]}"#,
            r#"{"s":"owner","d":false,"k":[1,7,"00ab","01J"]}"#,
            r#"{"s":"owner","d":false,"k":[1,"ana","0g","01J"]}"#,
            r#"{"s":"owner","d":false,"k":[1,"ana","abc","01J"]}"#,
            r#"{"s":"owner","d":false,"k":[1.5,"ana","00ab","01J"]}"#,
            r#"{"s":"owner","d":false,"k":[1,"ana","00ab",null]}"#,
            r#"{"s":"owner","d":false,"k":[1,"ana","00ab","01J"],"x":1}"#,
            r#"{"s":"sideways","d":false,"k":[1,"ana","00ab","01J"]}"#,
        ] {
            refused(decode(Sort::Owner, false, bad));
        }
        for bad in [
            r#"{"s":"updated","d":false,"k":[18446744073709551616,"01J"]}"#,
            r#"{"s":"updated","d":false,"k":["1","01J"]}"#,
            r#"{"s":"updated","d":"no","k":[1,"01J"]}"#,
        ] {
            refused(decode(Sort::Updated, false, bad));
        }
        assert!(
            decode(
                Sort::Updated,
                false,
                r#"{"s":"updated","d":false,"k":[-1,"01J"]}"#
            )
            .is_ok()
        );
        let long = format!("{}{}", good, " ".repeat(MAX_CURSOR_LEN));
        assert!(refused(decode(Sort::Owner, false, &long)).contains("bytes long"));
    }

    #[test]
    fn the_largest_cursor_of_a_real_row_fits_the_bound() {
        // A title of 200 characters that make long collation keys, and an
        // owner of 200 characters that JSON escapes.
        let collator = super::super::super::collation::NameCollator::new("hu").expect("collator");
        let title: String = "Ǆ̈ŉ😀ﬃ".chars().cycle().take(200).collect();
        let owner: String = "\u{1}".repeat(200);
        let cursor = encode(
            Sort::Owner,
            false,
            &[
                Value::Integer(1),
                Value::Text(owner),
                Value::Blob(collator.sort_key(&title)),
                Value::Text("01KA0000000000000000000000".into()),
            ],
        )
        .expect("encode");
        assert!(cursor.len() <= MAX_CURSOR_LEN / 2, "{}", cursor.len());
    }
}
