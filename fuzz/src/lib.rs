//! What the fuzz targets share with the seed generator
//! (`examples/make_seeds.rs`): the fixed documents and users the change
//! validator is fuzzed against. Everything here is deterministic (fixed
//! actors, fixed times), so a seed change made on top of a base document
//! still applies to the base document the target rebuilds.

use fieldwork_core::automerge::transaction::{CommitOptions, Transactable};
use fieldwork_core::automerge::{ActorId, AutoCommit, ObjType, ROOT};
use fieldwork_core::document::ClassDoc;
use fieldwork_core::policy::RecordFacts;
use fieldwork_core::{Access, ClassName, DocId, Policy, RecordId, RecordKind, UserContext};

/// The actor of the (honest) user who wrote the base documents.
pub const BASE_ACTOR: [u8; 16] = [0x11; 16];
/// The time of the base documents' change (2026-11-24T09:00:00Z).
pub const BASE_TIME: i64 = 1_795_510_800;

/// One situation the validator is fuzzed in: which document, who pushes,
/// and what is known about the record.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// The record's kind.
    pub kind: RecordKind,
    /// The document's class.
    pub class: &'static str,
    /// The pusher's role in the shipped default policy.
    pub role: &'static str,
    /// Whether the document already holds the base content (otherwise it is
    /// empty: a record being created).
    pub existing: bool,
    /// The record's territory (`None`: no facts, a new record).
    pub territory: Option<&'static str>,
    /// Whether the validator may ever accept a change with operations here
    /// (false where the role may not write the class or edit the record).
    pub writable: bool,
}

/// The scenarios; the first input byte of the `change_validate` target
/// picks one (modulo their number).
pub const SCENARIOS: &[Scenario] = &[
    // A rep editing an account in her territory.
    Scenario {
        kind: RecordKind::Account,
        class: "general",
        role: "rep",
        existing: true,
        territory: Some("madrid"),
        writable: true,
    },
    // A rep creating an account.
    Scenario {
        kind: RecordKind::Account,
        class: "general",
        role: "rep",
        existing: false,
        territory: None,
        writable: true,
    },
    // A rep writing the financial class, which reps may not write.
    Scenario {
        kind: RecordKind::Account,
        class: "financial",
        role: "rep",
        existing: false,
        territory: Some("madrid"),
        writable: false,
    },
    // A rep editing another territory's account.
    Scenario {
        kind: RecordKind::Account,
        class: "general",
        role: "rep",
        existing: true,
        territory: Some("sevilla"),
        writable: false,
    },
    // A manager editing a deal.
    Scenario {
        kind: RecordKind::Deal,
        class: "general",
        role: "manager",
        existing: true,
        territory: Some("madrid"),
        writable: true,
    },
    // A manager writing a process instance (entries, the event log).
    Scenario {
        kind: RecordKind::ProcessInstance,
        class: "general",
        role: "manager",
        existing: true,
        territory: None,
        writable: true,
    },
];

/// The scenario for the first byte of an input.
pub fn scenario(selector: u8) -> Scenario {
    SCENARIOS[usize::from(selector) % SCENARIOS.len()]
}

/// The document id of a scenario (fixed record ids).
pub fn doc_id(s: &Scenario) -> DocId {
    let record = RecordId::derived(s.kind, &["fuzz", s.class]);
    #[allow(clippy::expect_used)]
    let class = ClassName::new(s.class).expect("a valid class name");
    record.doc(&class)
}

/// The access of the scenario's pusher under the shipped default policy.
pub fn access(s: &Scenario) -> Access {
    Access::User {
        user: UserContext {
            name: "ana".into(),
            role: s.role.into(),
            territories: vec!["madrid".into()],
            team: vec![],
        },
        policy: Policy::shipped_default(),
    }
}

/// The record's visibility facts in the scenario.
pub fn facts(s: &Scenario) -> Option<RecordFacts> {
    s.territory.map(|t| RecordFacts {
        owner: Some("luis".into()),
        assignee: None,
        territory: Some(t.into()),
        process_task: false,
    })
}

/// Writes the base content of a scenario's document with raw Automerge
/// calls: one scalar, one long text, one stage log or one entries map.
fn write_base(
    s: &Scenario,
    d: &mut AutoCommit,
) -> Result<(), fieldwork_core::automerge::AutomergeError> {
    match s.kind {
        RecordKind::Account | RecordKind::Deal => {
            d.put(ROOT, "name", "Hermanos Szőke SL")?;
            if s.kind == RecordKind::Account {
                let text = d.put_object(ROOT, "description", ObjType::Text)?;
                d.splice_text(&text, 0, 0, "Cliente desde 2019, ñandú")?;
            }
            let log = d.put_object(ROOT, "stage_history", ObjType::List)?;
            let entry = d.insert_object(&log, 0, ObjType::Map)?;
            let stage = if s.kind == RecordKind::Account {
                "lead"
            } else {
                "qualification"
            };
            d.put(&entry, "stage", stage)?;
            d.put(&entry, "at", "2026-11-24T09:00:00Z")?;
        }
        RecordKind::ProcessInstance => {
            d.put(ROOT, "model_key", "lead-qualification")?;
            let events = d.put_object(ROOT, "events", ObjType::Map)?;
            d.put(&events, "start#0", "{\"kind\":\"started\"}")?;
        }
        _ => {}
    }
    Ok(())
}

/// The scenario's base document as an Automerge document (empty for a
/// record being created), identical on every call.
pub fn base_automerge(s: &Scenario) -> AutoCommit {
    let mut d = AutoCommit::new().with_actor(ActorId::from(&BASE_ACTOR[..]));
    if s.existing {
        #[allow(clippy::expect_used)]
        write_base(s, &mut d).expect("the base content is valid Automerge");
        d.commit_with(
            CommitOptions::default()
                .with_message("luis")
                .with_time(BASE_TIME),
        );
    }
    d
}

/// The scenario's base document as the server holds it.
pub fn base_doc(s: &Scenario) -> ClassDoc {
    let mut am = base_automerge(s);
    let bytes = am.save();
    let snapshot = if s.existing {
        Some(bytes.as_slice())
    } else {
        None
    };
    #[allow(clippy::expect_used)]
    ClassDoc::load(
        doc_id(s),
        snapshot,
        std::iter::empty(),
        ActorId::from(&[0x22; 16][..]),
    )
    .expect("the base document loads")
}
