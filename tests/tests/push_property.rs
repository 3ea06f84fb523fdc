//! Structured fuzzing of the server's push checks against a hostile device.
//!
//! One real server, an admin (the bystander), a manager and a rep. For a
//! bounded number of generated cases (64; `PROPTEST_CASES` changes it, the
//! seed is fixed), a random pusher (rep or manager) pushes one valid-looking
//! Automerge change over a raw protocol connection: a random record (the
//! rep's, another territory's, a new one of a random kind), a random class,
//! operations on schema field names and junk names, values of right and
//! wrong types (and objects where scalars belong), signed with the pusher's
//! actor, another user's actor or an engine actor, by the pusher, another
//! user or `fieldwork-engine`.
//!
//! Invariants, each checked against the policy as the specification rather
//! than against the server's own code:
//! - the pusher's connection answers every push, and after every case the
//!   bystander's honest push is accepted (nothing panicked or wedged);
//! - a change the policy forbids (a rep writing the financial or sensitive
//!   class, or another territory's record; another user's actor; someone
//!   else's signature) is refused, and an accepted change only names fields
//!   the schema has in this document's class;
//! - no value written into a class the rep may not read, and no value of a
//!   refused manager change, appears in any frame the rep receives (captured
//!   on the wire by a proxy; the bystander's values do appear: the scan's
//!   positive control);
//! - afterwards, the server's stored documents hold only fields of their
//!   class, no refused change is stored, every stored change in a class the
//!   rep may not write was made by a manager or an admin, and no value the
//!   rep pushed sits in such a class or in another territory's record.

use std::cell::RefCell;
use std::collections::BTreeMap;

use fieldwork_core::automerge::transaction::{CommitOptions, Transactable};
use fieldwork_core::automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc, ScalarValue};
use fieldwork_core::sync::protocol::{ClientMessage, Push, PushedChange, ServerMessage};
use fieldwork_core::validate::{ENGINE_ACTOR_PREFIX, ENGINE_AUTHOR};
use fieldwork_core::{ClassName, DocId, FieldWrite, Policy, RecordId, RecordKind, schema};
use fieldwork_server::db::documents;
use fieldwork_tests::device::TestDevice;
use fieldwork_tests::frames::{occurrences, server_messages};
use fieldwork_tests::proxy::Proxy;
use fieldwork_tests::raw::{RawClient, token};
use fieldwork_tests::replicas::server_docs;
use fieldwork_tests::runtime;
use fieldwork_tests::server::TestServer;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_bytes::ByteBuf;

/// Classes of the shipped policy, plus one it does not have.
const CLASSES: [&str; 5] = [
    "general",
    "contact_details",
    "financial",
    "sensitive",
    "scratch",
];
/// Classes the rep may neither read nor write under the shipped policy.
const REP_HIDDEN: [&str; 2] = ["financial", "sensitive"];
/// Kinds of the new records a case may create.
const NEW_KINDS: [RecordKind; 6] = [
    RecordKind::Account,
    RecordKind::Contact,
    RecordKind::Deal,
    RecordKind::Activity,
    RecordKind::Note,
    RecordKind::ProcessInstance,
];
/// Fields that decide who sees a record. Cases never write them on the
/// setup records, so that those stay where the oracle expects them (the
/// rep's territory, another territory); new records get them.
const ROUTING: [&str; 5] = ["owner", "territory", "account", "assignee", "record"];
/// Field names no schema has.
const JUNK: [&str; 6] = [
    "colour",
    "",
    "__proto__",
    "name.first",
    "ñandú",
    "credit_limit ",
];
/// The fixed actors of the two pushers (bound to them before the cases).
const REP_ACTOR: [u8; 16] = [0xA1; 16];
const MANAGER_ACTOR: [u8; 16] = [0xB2; 16];
const ADMIN_ACTOR: [u8; 16] = [0xC3; 16];

/// Who pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pusher {
    Rep,
    Manager,
}

impl Pusher {
    fn name(self) -> &'static str {
        match self {
            Pusher::Rep => "ana",
            Pusher::Manager => "marta",
        }
    }
    fn other(self) -> Pusher {
        match self {
            Pusher::Rep => Pusher::Manager,
            Pusher::Manager => Pusher::Rep,
        }
    }
    fn actor(self) -> [u8; 16] {
        match self {
            Pusher::Rep => REP_ACTOR,
            Pusher::Manager => MANAGER_ACTOR,
        }
    }
    /// Marks every text value the pusher writes, so it can be found later.
    fn mark(self) -> &'static str {
        match self {
            Pusher::Rep => "REPFZ",
            Pusher::Manager => "MGRFZ",
        }
    }
}

/// Whose actor signs the change.
#[derive(Debug, Clone)]
enum Actor {
    Own,
    /// The other pusher's actor.
    Stolen,
    /// An engine actor (the prefix, then these bytes).
    Engine([u8; 14]),
}

/// Whose name the change's message carries.
#[derive(Debug, Clone, Copy)]
enum Author {
    Pusher,
    Other,
    Engine,
}

/// Which record.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// One of the records made in the setup (see [`World::records`]).
    Existing(usize),
    /// A new record of `NEW_KINDS[i]`.
    New(usize),
}

/// A field name: the n-th of the kind's schema fields in the document's
/// class, the n-th of the kind's schema (any class), or junk.
#[derive(Debug, Clone, Copy)]
enum Field {
    InClass(usize),
    Schema(usize),
    Junk(usize),
}

/// A value of some type, whatever the field's type is.
#[derive(Debug, Clone)]
enum Value {
    /// A value of the field's own type (marked where the type allows).
    Fit,
    /// Text carrying the case's mark: plain, as an e-mail, as a URL, long
    /// and multi-byte.
    Text(u8),
    /// A text the schema might accept without a mark (stage, time, code).
    Known(u8),
    Int(i64),
    Float(f64),
    Bool(bool),
    Counter(i64),
    Timestamp(i64),
    Null,
    Bytes(Vec<u8>),
}

/// One operation of the change.
#[derive(Debug, Clone)]
enum Op {
    Put(Field, Value),
    /// Make a text, list or map at the field, and put `inner` into it.
    Make(Field, u8, Vec<Value>),
    Delete(Field),
}

/// Which class document: one the record's kind has, or any of [`CLASSES`].
#[derive(Debug, Clone, Copy)]
enum ClassPick {
    OfKind(usize),
    Any(usize),
}

#[derive(Debug, Clone)]
struct Case {
    pusher: Pusher,
    target: Target,
    class: ClassPick,
    actor: Actor,
    author: Author,
    ops: Vec<Op>,
}

fn field() -> impl Strategy<Value = Field> {
    prop_oneof![
        8 => any::<usize>().prop_map(Field::InClass),
        2 => any::<usize>().prop_map(Field::Schema),
        1 => (0..JUNK.len()).prop_map(Field::Junk),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        16 => Just(Value::Fit),
        4 => any::<u8>().prop_map(Value::Text),
        2 => any::<u8>().prop_map(Value::Known),
        1 => any::<i64>().prop_map(Value::Int),
        1 => any::<f64>().prop_map(Value::Float),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => any::<i64>().prop_map(Value::Counter),
        1 => any::<i64>().prop_map(Value::Timestamp),
        1 => Just(Value::Null),
        1 => prop::collection::vec(any::<u8>(), 0..8).prop_map(Value::Bytes),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (field(), value()).prop_map(|(f, v)| Op::Put(f, v)),
        2 => (field(), any::<u8>(), prop::collection::vec(value(), 0..3))
            .prop_map(|(f, t, inner)| Op::Make(f, t, inner)),
        1 => field().prop_map(Op::Delete),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![Just(Pusher::Rep), Just(Pusher::Manager)],
        prop_oneof![
            5 => (0..3usize).prop_map(Target::Existing),
            1 => (0..NEW_KINDS.len()).prop_map(Target::New),
        ],
        prop_oneof![
            4 => any::<usize>().prop_map(ClassPick::OfKind),
            1 => (0..CLASSES.len()).prop_map(ClassPick::Any),
        ],
        prop_oneof![
            12 => Just(Actor::Own),
            1 => Just(Actor::Stolen),
            2 => any::<[u8; 14]>().prop_map(Actor::Engine),
        ],
        prop_oneof![
            12 => Just(Author::Pusher),
            1 => Just(Author::Other),
            2 => Just(Author::Engine),
        ],
        prop::collection::vec(op(), 1..3),
    )
        .prop_map(|(pusher, target, class, actor, author, ops)| Case {
            pusher,
            target,
            class,
            actor,
            author,
            ops,
        })
}

/// What the run has seen, for the final checks.
#[derive(Default)]
struct Log {
    /// Marked texts: (text, pusher, document class, accepted).
    texts: Vec<(String, Pusher, String, bool)>,
    /// Hashes of refused changes.
    refused: Vec<Vec<u8>>,
    /// How many refusals of each code (shown when the mix is wrong).
    codes: BTreeMap<String, usize>,
    /// Every document a case pushed to.
    docs: Vec<String>,
    /// The bystander's last value (must reach the rep).
    bystander: Option<String>,
    cases: usize,
}

struct World {
    server: TestServer,
    proxy: Proxy,
    /// (record, its territory) made in the setup: an account the rep sees,
    /// an account in another territory, a deal on the first account.
    records: Vec<(RecordId, &'static str)>,
    rep: RawClient,
    manager: RawClient,
    admin: RawClient,
    batch: u64,
    log: Log,
}

/// The text of a value, marked with `mark`.
fn text(mark: &str, n: u8) -> String {
    match n % 6 {
        0 => mark.to_owned(),
        1 => format!("{}@example.es", mark.to_lowercase()),
        2 => format!("https://{}.example.es/x", mark.to_lowercase()),
        3 => format!("{mark} {}", "ñ東".repeat(80)),
        4 => format!("{mark}\u{0}\u{202e}"),
        _ => format!("  {mark}  "),
    }
}

fn known(n: u8) -> &'static str {
    const KNOWN: [&str; 8] = [
        "qualified",
        "won",
        "2026-11-24T09:00:00Z",
        "EUR",
        "madrid",
        "ana",
        "{\"kind\":\"started\"}",
        "call",
    ];
    KNOWN[usize::from(n) % KNOWN.len()]
}

impl World {
    /// The current state of `doc` on the server, as an Automerge document.
    fn server_doc(&self, doc: &str) -> AutoCommit {
        let id = doc.to_owned();
        let parts = self
            .server
            .state
            .db
            .read_blocking(move |c| documents::whole(c, &id))
            .expect("read a stored document");
        let Some((snapshot, changes)) = parts else {
            return AutoCommit::new();
        };
        let mut am = match snapshot {
            Some(s) => AutoCommit::load(&s).expect("stored snapshot loads"),
            None => AutoCommit::new(),
        };
        for ch in changes {
            am.load_incremental(&ch).expect("stored change loads");
        }
        am
    }

    fn next_batch(&mut self) -> u64 {
        self.batch += 1;
        self.batch
    }
}

/// Pushes one change and waits for its result; `None` when the connection
/// closed or nothing came.
async fn push_one(
    client: &mut RawClient,
    batch: u64,
    doc: &str,
    bytes: Vec<u8>,
) -> Option<fieldwork_core::sync::protocol::PushResult> {
    client
        .send(&ClientMessage::Push(Push {
            batch,
            changes: vec![PushedChange {
                doc: doc.to_owned(),
                bytes: ByteBuf::from(bytes),
            }],
        }))
        .await;
    loop {
        match client.recv().await? {
            ServerMessage::PushResult(r) if r.batch == batch => return Some(r),
            ServerMessage::Error(e) => panic!("the server ended the connection: {e:?}"),
            _ => continue,
        }
    }
}

fn commit(doc: &mut AutoCommit, author: &str) -> Option<Vec<u8>> {
    doc.commit_with(CommitOptions::default().with_message(author))?;
    Some(doc.get_last_local_change()?.raw_bytes().to_vec())
}

/// A value that fits `def`'s type, marked when the type is free text.
/// Returns whether Automerge took the operation.
fn fitting(
    d: &mut AutoCommit,
    key: &str,
    def: &schema::FieldDef,
    mark: &str,
    account: &RecordId,
) -> bool {
    use schema::FieldType as T;
    let lower = mark.to_lowercase();
    match def.ty {
        T::Text { .. } => d.put(ROOT, key, mark),
        T::Email => d.put(ROOT, key, format!("{lower}@example.es")),
        T::Url => d.put(ROOT, key, format!("https://{lower}.example.es")),
        T::Phone => d.put(ROOT, key, "+34 911 000 000"),
        T::Enum(values) | T::MultiEnum(values) => d.put(ROOT, key, values[0]),
        T::Date => d.put(ROOT, key, "2027-01-04"),
        T::DateTime => d.put(ROOT, key, "2027-01-04T09:00:00Z"),
        T::TimeZone => d.put(ROOT, key, "Europe/Madrid"),
        T::Int { .. } | T::Money => d.put(ROOT, key, 5i64),
        T::Currency => d.put(ROOT, key, "EUR"),
        T::Country => d.put(ROOT, key, "ES"),
        T::Bool => d.put(ROOT, key, true),
        T::Latitude | T::Longitude => d.put(ROOT, key, 40.4),
        T::Ref(_) => d.put(ROOT, key, account.to_string()),
        T::User => d.put(ROOT, key, "ana"),
        T::LongText => d
            .put_object(ROOT, key, ObjType::Text)
            .and_then(|t| d.splice_text(&t, 0, 0, mark)),
        T::StageLog | T::Entries => d.put(ROOT, key, mark),
        T::File => {
            let name = format!("{mark}.jpg");
            match fieldwork_core::attachment::AttachmentRef::for_bytes(
                mark.as_bytes(),
                "image/jpeg",
                &name,
            ) {
                Ok(file) => d.put(ROOT, key, file.to_text()),
                Err(_) => return false,
            }
        }
    }
    .is_ok()
}

/// Returns whether Automerge took the operation.
fn put_value(
    d: &mut AutoCommit,
    obj: &fieldwork_core::automerge::ObjId,
    key: &str,
    v: &Value,
    mark: &str,
) -> bool {
    match v {
        Value::Fit => d.put(obj, key, mark),
        Value::Text(n) => d.put(obj, key, text(mark, *n)),
        Value::Known(n) => d.put(obj, key, known(*n)),
        Value::Int(i) => d.put(obj, key, *i),
        Value::Float(f) => d.put(obj, key, *f),
        Value::Bool(b) => d.put(obj, key, *b),
        Value::Counter(c) => d.put(obj, key, ScalarValue::counter(*c)),
        Value::Timestamp(t) => d.put(obj, key, ScalarValue::Timestamp(*t)),
        Value::Null => d.put(obj, key, ScalarValue::Null),
        Value::Bytes(b) => d.put(obj, key, ScalarValue::Bytes(b.clone())),
    }
    .is_ok()
}

/// Runs one case; per-case invariants are asserted here.
fn run_case(
    world: &RefCell<World>,
    rt: &tokio::runtime::Runtime,
    c: &Case,
) -> Result<(), TestCaseError> {
    let mut w = world.borrow_mut();
    w.log.cases += 1;
    let n = w.log.cases;
    let policy = Policy::shipped_default();
    let (record, territory) = match c.target {
        Target::Existing(i) => (w.records[i].0.clone(), Some(w.records[i].1)),
        Target::New(k) => (RecordId::new_random(NEW_KINDS[k]), None),
    };
    let kind = record.kind();
    let of_kind = policy.classes_of_kind(kind);
    let class: &str = match c.class {
        ClassPick::OfKind(i) => of_kind[i % of_kind.len()].as_str(),
        ClassPick::Any(i) => CLASSES[i],
    };
    let doc_id: DocId = record.doc(&ClassName::new(class).expect("class name"));
    let doc = doc_id.to_string();
    let mark = format!("{}{n:04}", c.pusher.mark());

    // Build the change on the server's current copy.
    let mut base = w.server_doc(&doc);
    let actor = match &c.actor {
        Actor::Own => c.pusher.actor().to_vec(),
        Actor::Stolen => c.pusher.other().actor().to_vec(),
        Actor::Engine(rest) => [&ENGINE_ACTOR_PREFIX[..], &rest[..]].concat(),
    };
    let mut d = base.fork().with_actor(ActorId::from(&actor[..]));
    let existing = matches!(c.target, Target::Existing(_));
    let defs: Vec<&str> = schema::fields(kind)
        .iter()
        .map(|f| f.name)
        .filter(|f| !(existing && ROUTING.contains(f)))
        .collect();
    let in_class: Vec<&str> = defs
        .iter()
        .copied()
        .filter(|f| {
            policy
                .class_of(kind, f)
                .is_some_and(|c| c.as_str() == class)
        })
        .collect();
    let mut names: Vec<String> = Vec::new();
    let name_of = |f: Field| match f {
        Field::InClass(i) if !in_class.is_empty() => in_class[i % in_class.len()].to_owned(),
        Field::InClass(i) | Field::Schema(i) => defs[i % defs.len()].to_owned(),
        Field::Junk(i) => JUNK[i].to_owned(),
    };
    let account = w.records[0].0.clone();
    for (i, op) in c.ops.iter().enumerate() {
        let m = format!("{mark}x{i}");
        match op {
            Op::Put(f, v) => {
                let name = name_of(*f);
                let took = match (v, schema::field(kind, &name)) {
                    (Value::Fit, Some(def)) => fitting(&mut d, &name, def, &m, &account),
                    _ => put_value(&mut d, &ROOT, &name, v, &m),
                };
                if took {
                    names.push(name);
                }
            }
            Op::Make(f, t, inner) => {
                let name = name_of(*f);
                let ty = [ObjType::Text, ObjType::List, ObjType::Map][usize::from(*t) % 3];
                if let Ok(obj) = d.put_object(ROOT, name.as_str(), ty) {
                    names.push(name.clone());
                    for (j, v) in inner.iter().enumerate() {
                        let _ = match ty {
                            ObjType::Text => d.splice_text(&obj, 0, 0, &text(&m, j as u8)),
                            ObjType::List => d.insert_object(&obj, 0, ObjType::Map).map(|e| {
                                put_value(&mut d, &e, "stage", v, &m);
                            }),
                            _ => {
                                put_value(&mut d, &obj, &format!("k{j}"), v, &m);
                                Ok(())
                            }
                        };
                    }
                }
            }
            Op::Delete(f) => {
                let name = name_of(*f);
                // Deleting a missing key is no operation at all.
                let present = d.get(ROOT, name.as_str()).is_ok_and(|v| v.is_some());
                if d.delete(ROOT, name.as_str()).is_ok() && present {
                    names.push(name);
                }
            }
        }
    }
    let author = match c.author {
        Author::Pusher => c.pusher.name(),
        Author::Other => c.pusher.other().name(),
        Author::Engine => ENGINE_AUTHOR,
    };
    let Some(bytes) = commit(&mut d, author) else {
        return Ok(()); // every operation failed locally: nothing to push
    };
    let change =
        fieldwork_core::automerge::Change::from_bytes(bytes.clone()).expect("our own change");
    let has_deps = !change.deps().is_empty();
    let batch = w.next_batch();
    let result = {
        let client = match c.pusher {
            Pusher::Rep => &mut w.rep,
            Pusher::Manager => &mut w.manager,
        };
        rt.block_on(push_one(client, batch, &doc, bytes))
    };
    let r = result.ok_or_else(|| TestCaseError::fail(format!("no answer to the push of {c:?}")))?;
    let accepted = r.refused.is_empty() && r.accepted.len() == 1;
    prop_assert!(
        accepted || (r.accepted.is_empty() && r.refused.len() == 1),
        "one change, one verdict: {r:?}"
    );
    if !accepted {
        let refusal = &r.refused[0];
        prop_assert!(
            !refusal.code.is_empty() && !refusal.message.is_empty(),
            "{refusal:?}"
        );
        w.log.refused.push(change.hash().as_ref().to_vec());
        *w.log
            .codes
            .entry(format!(
                "{} {} {:?}: {}",
                c.pusher.name(),
                refusal.code,
                refusal.field,
                refusal.message.chars().take(90).collect::<String>()
            ))
            .or_default() += 1;
    }
    w.log.docs.push(doc.clone());
    for i in 0..c.ops.len() {
        w.log
            .texts
            .push((format!("{mark}x{i}"), c.pusher, class.to_owned(), accepted));
    }

    // What the policy says must be refused.
    let engine = matches!(c.actor, Actor::Engine(_));
    let role = match c.pusher {
        Pusher::Rep => "rep",
        Pusher::Manager => "manager",
    };
    let writable = policy
        .role(role)
        .is_some_and(|r| r.write.iter().any(|w| w.as_str() == class));
    let forbidden = [
        (!writable, "the role may not write the class"),
        (
            c.pusher == Pusher::Rep && territory == Some("sevilla"),
            "another territory's record",
        ),
        (matches!(c.actor, Actor::Stolen), "another user's actor"),
        (
            !engine && !matches!(c.author, Author::Pusher),
            "signed by someone else",
        ),
        (
            engine && !matches!(c.author, Author::Engine),
            "engine actor, other author",
        ),
        (
            engine && has_deps,
            "an engine actor editing an existing document",
        ),
        (
            !CLASSES[..4].contains(&class),
            "a class the policy does not have",
        ),
    ];
    for (applies, why) in forbidden {
        prop_assert!(!(applies && accepted), "accepted although {why}: {c:?}");
    }
    if accepted {
        let home = ClassName::new(class).expect("class");
        for name in &names {
            prop_assert!(
                schema::field(kind, name).is_some() && policy.class_of(kind, name) == Some(&home),
                "accepted a write of `{name}` into {doc}: {c:?}"
            );
        }
    }

    // The bystander is still served.
    let (a, _) = w.records[0].clone();
    let general = format!("{a}/general");
    let mut honest = w
        .server_doc(&general)
        .fork()
        .with_actor(ActorId::from(&ADMIN_ACTOR[..]));
    let value = format!("BYSTANDER{n:04}");
    honest.put(ROOT, "industry", value.as_str()).expect("put");
    let bytes = commit(&mut honest, "admin").expect("a change");
    let batch = w.next_batch();
    let r = rt
        .block_on(push_one(&mut w.admin, batch, &general, bytes))
        .ok_or_else(|| TestCaseError::fail("the bystander got no answer"))?;
    prop_assert_eq!((r.accepted.len(), r.refused.len()), (1, 0), "{:?}", r);
    w.log.bystander = Some(value);
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

#[test]
fn a_hostile_device_cannot_store_leak_or_wedge_anything() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("admin", "admin", &[], None);
    server.add_user("marta", "manager", &["madrid", "sevilla"], None);
    server.add_user("ana", "rep", &["madrid"], Some("marta"));
    let proxy = Proxy::start(&server.url);

    // The records, with values the rep may not read.
    let setup = TestDevice::new(&rt);
    setup.login(&server.url, "admin");
    let secret = format!("SECRETTAX{}", std::process::id());
    let mine = setup.create(
        RecordKind::Account,
        &[("name", "Hermanos Szőke SL"), ("territory", "madrid")],
    );
    setup.set(&mine, &[("tax_id", &secret)]);
    setup
        .device
        .update(
            &mine,
            vec![
                FieldWrite::set("credit_currency", "EUR"),
                FieldWrite::set("credit_limit", 9_876_543i64),
            ],
        )
        .expect("credit");
    let theirs = setup.create(
        RecordKind::Account,
        &[("name", "En Sevilla"), ("territory", "sevilla")],
    );
    let deal = setup.create(
        RecordKind::Deal,
        &[
            ("name", "Contrato"),
            ("account", &mine.to_string()),
            ("stage", "qualification"),
        ],
    );
    setup.sync();

    let (rep, manager, admin) = rt.block_on(async {
        let mut rep = RawClient::connect(&proxy.url, &token(&server.url, "ana").await)
            .await
            .expect("rep connects");
        rep.hello("rep-device").await;
        let mut manager = RawClient::connect(&server.url, &token(&server.url, "marta").await)
            .await
            .expect("manager connects");
        manager.hello("manager-device").await;
        let mut admin = RawClient::connect(&server.url, &token(&server.url, "admin").await)
            .await
            .expect("admin connects");
        admin.hello("admin-device").await;
        (rep, manager, admin)
    });
    let world = RefCell::new(World {
        server,
        proxy,
        records: vec![(mine, "madrid"), (theirs, "sevilla"), (deal, "madrid")],
        rep,
        manager,
        admin,
        batch: 0,
        log: Log::default(),
    });
    // Each pusher binds its actor with one honest change first, so that a
    // case stealing it cannot claim it.
    for (who, name) in [(Pusher::Rep, "ana"), (Pusher::Manager, "marta")] {
        let mut w = world.borrow_mut();
        let doc = format!("{}/general", RecordId::new_random(RecordKind::Note));
        let mut d = AutoCommit::new().with_actor(ActorId::from(&who.actor()[..]));
        d.put(ROOT, "title", "Primera nota").expect("put");
        d.put(ROOT, "owner", name).expect("put");
        let bytes = commit(&mut d, name).expect("change");
        let batch = w.next_batch();
        let client = match who {
            Pusher::Rep => &mut w.rep,
            Pusher::Manager => &mut w.manager,
        };
        let r = rt
            .block_on(push_one(client, batch, &doc, bytes))
            .expect("answer");
        assert_eq!((r.accepted.len(), r.refused.len()), (1, 0), "{r:?}");
    }

    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: cases(),
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let outcome = runner.run(&case(), |c| run_case(&world, &rt, &c));
    if let Err(e) = outcome {
        panic!("{e}");
    }

    // Positive control for the store scan: one honest, marked rep value on
    // her account, pushed after the
    // cases so that none overwrites it.
    {
        let mut w = world.borrow_mut();
        let general = format!("{}/general", w.records[0].0);
        let mark = format!("{}0000x0", Pusher::Rep.mark());
        let mut d = w
            .server_doc(&general)
            .fork()
            .with_actor(ActorId::from(&REP_ACTOR[..]));
        d.put(ROOT, "industry", mark.as_str()).expect("put");
        let bytes = commit(&mut d, "ana").expect("change");
        let batch = w.next_batch();
        let r = rt
            .block_on(push_one(&mut w.rep, batch, &general, bytes))
            .expect("answer");
        assert_eq!((r.accepted.len(), r.refused.len()), (1, 0), "{r:?}");
        w.log
            .texts
            .push((mark, Pusher::Rep, "general".into(), true));
        w.log.docs.push(general);
    }

    let w = world.into_inner();
    assert!(w.log.cases >= cases() as usize, "every case ran");
    for p in [Pusher::Rep, Pusher::Manager] {
        let mine = || w.log.texts.iter().filter(move |t| t.1 == p);
        assert!(
            mine().any(|t| t.3) && mine().any(|t| !t.3),
            "{p:?} had both accepted and refused changes (so the checks below see both); refusals: {:?}",
            w.log.codes
        );
    }
    assert!(
        w.log.texts.iter().any(|t| t.3) && w.log.texts.iter().any(|t| !t.3),
        "the generator produced both accepted and refused changes; refusals: {:?}",
        w.log.codes
    );

    // The wire: nothing hidden from the rep reached her.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let frames = server_messages(&w.proxy.downstream());
    // Marks appear as written, or lower-cased in e-mails and URLs.
    let seen = |needle: &str| -> usize {
        let lower = needle.to_lowercase();
        frames
            .iter()
            .map(|f| occurrences(f, needle.as_bytes()) + occurrences(f, lower.as_bytes()))
            .sum()
    };
    let bystander = w.log.bystander.clone().expect("the bystander pushed");
    assert!(
        seen(&bystander) > 0,
        "positive control: the scan sees what the rep may read"
    );
    assert_eq!(seen(&secret), 0, "the sensitive value travelled to the rep");
    for (text, pusher, class, accepted) in &w.log.texts {
        let hidden = REP_HIDDEN.contains(&class.as_str());
        if *pusher == Pusher::Manager && (hidden || !accepted) {
            assert_eq!(
                seen(text),
                0,
                "`{text}` ({class}, accepted: {accepted}) reached the rep"
            );
        }
    }

    // The store: only permitted fields, no refused change, nothing the rep
    // may not write.
    let mut docs = w.log.docs.clone();
    docs.sort();
    docs.dedup();
    let policy = Policy::shipped_default();
    let stored = server_docs(&w.server, &docs);
    for (doc, state) in &stored {
        let id: DocId = doc.parse().expect("doc id");
        let kind = id.record().kind();
        let content: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(&state.content).expect("content");
        for field in content.keys() {
            assert_eq!(
                policy.class_of(kind, field),
                Some(id.class()),
                "{doc} holds `{field}`"
            );
        }
        let rep_may_not_write = REP_HIDDEN.contains(&id.class().as_str())
            || w.records
                .iter()
                .any(|(r, t)| r == id.record() && *t == "sevilla");
        if rep_may_not_write {
            assert!(
                !state.content.to_uppercase().contains(Pusher::Rep.mark()),
                "{doc} holds a value the rep pushed: {}",
                state.content
            );
        }
    }
    assert!(
        stored
            .values()
            .any(|s| s.content.to_uppercase().contains(Pusher::Rep.mark())),
        "positive control: the rep's accepted values are found in the store"
    );
    let refused = w.log.refused.clone();
    let (stored_refused, hidden_by_rep): (i64, i64) = w
        .server
        .state
        .db
        .read_blocking(move |c| {
            let mut n = 0;
            for hash in &refused {
                n += c.query_row(
                    "SELECT count(*) FROM changes WHERE hash = ?1",
                    [hash],
                    |r| r.get::<_, i64>(0),
                )?;
            }
            let hidden = c.query_row(
                "SELECT count(*) FROM changes c JOIN users u ON u.id = c.user_id \
                 WHERE u.role NOT IN ('manager', 'admin') \
                 AND (c.doc_id LIKE '%/financial' OR c.doc_id LIKE '%/sensitive')",
                [],
                |r| r.get::<_, i64>(0),
            )?;
            Ok((n, hidden))
        })
        .expect("query the feed");
    assert_eq!(stored_refused, 0, "a refused change was stored");
    assert_eq!(
        hidden_by_rep, 0,
        "a rep's change is stored in a class reps may not write"
    );
}

/// Changes found by the `change_validate` fuzz target that crash
/// Automerge's decoder (`core/tests/fuzz_regressions/change_validate/`,
/// first byte: the target's scenario selector) are refused as malformed
/// by a real server, which goes on serving the pusher and everyone else.
#[test]
fn changes_that_crash_the_decoder_are_refused_and_the_server_keeps_serving() {
    let rt = runtime();
    let server = TestServer::start();
    server.add_user("admin", "admin", &[], None);
    server.add_user("ana", "rep", &["madrid"], None);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/fuzz_regressions/change_validate");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .expect("the kept inputs")
        .map(|e| e.expect("entry").path())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty());
    rt.block_on(async {
        let mut rep = RawClient::connect(&server.url, &token(&server.url, "ana").await)
            .await
            .expect("connect");
        rep.hello("rep-device").await;
        let mut admin = RawClient::connect(&server.url, &token(&server.url, "admin").await)
            .await
            .expect("connect");
        admin.hello("admin-device").await;
        let doc = format!("{}/general", RecordId::new_random(RecordKind::Account));
        for (i, path) in inputs.iter().enumerate() {
            let bytes = std::fs::read(path).expect("read")[1..].to_vec();
            let r = push_one(&mut rep, i as u64 + 1, &doc, bytes)
                .await
                .unwrap_or_else(|| panic!("no answer to {}", path.display()));
            assert_eq!(r.accepted.len(), 0, "{}: {r:?}", path.display());
            assert_eq!(r.refused.len(), 1, "{}: {r:?}", path.display());
            assert!(!r.refused[0].message.is_empty());
            // The bystander is served.
            let mut d = AutoCommit::new().with_actor(ActorId::from(&ADMIN_ACTOR[..]));
            d.put(ROOT, "title", format!("Después {i}")).expect("put");
            let honest = commit(&mut d, "admin").expect("change");
            let other = format!("{}/general", RecordId::new_random(RecordKind::Note));
            let r = push_one(&mut admin, 100 + i as u64, &other, honest)
                .await
                .expect("the bystander is answered");
            assert_eq!((r.accepted.len(), r.refused.len()), (1, 0), "{r:?}");
        }
        // The pusher's own connection still works for an honest change.
        let mut d = AutoCommit::new().with_actor(ActorId::from(&REP_ACTOR[..]));
        d.put(ROOT, "name", "Honesta").expect("put");
        d.put(ROOT, "stage", "lead").expect("put");
        d.put(ROOT, "territory", "madrid").expect("put");
        let honest = commit(&mut d, "ana").expect("change");
        let r = push_one(&mut rep, 999, &doc, honest)
            .await
            .expect("answered");
        assert_eq!((r.accepted.len(), r.refused.len()), (1, 0), "{r:?}");
    });
}
