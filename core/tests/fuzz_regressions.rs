//! Regression tests for what the fuzz targets in `fuzz/` found (see
//! `docs/FUZZING.md`). Each feeds the input to the same functions as the
//! target that found it and asserts a clean result: a clear error, or a
//! run that completes, never a panic, a stack overflow or a hang.
//!
//! Inputs kept as files live in `core/tests/fuzz_regressions/<target>/`;
//! inputs too large for a file (deep nesting, long chains, big diagrams)
//! are generated here.
//!
//! A stack overflow aborts the whole process, so those cases run in a child
//! process (this test binary again, filtered to one test) and the parent
//! reports how the child ended. Slow cases run on a thread with a deadline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common;
use fieldwork_core::process::bpmn;
use fieldwork_core::process::condition::Condition;
use fieldwork_core::process::engine::{self, Inputs};
use fieldwork_core::process::instance::Instance;
use fieldwork_core::process::model::Model;
use fieldwork_core::sync::protocol::DirectoryEntry;
use fieldwork_core::{FieldValue, Policy, Record, RecordId, RecordKind};

/// Set in the child process to the name of the case it must run.
const CHILD: &str = "FW_FUZZ_REGRESSION_CHILD";

/// Runs `case` in a child process (the test `test` of this binary) and
/// fails with a clear message if the child crashed: a stack overflow kills
/// the process, which no `catch_unwind` can report.
fn in_child(test: &str, case: impl FnOnce()) {
    if std::env::var(CHILD).as_deref() == Ok(test) {
        case();
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let out = Command::new(exe)
        .arg(common::test_name(module_path!(), test))
        .args(["--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, test)
        .output()
        .expect("run the child");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: String = stderr.lines().rev().take(8).collect::<Vec<_>>().join("\n");
    assert!(
        out.status.success(),
        "the input crashed the process ({}); last lines:\n{tail}",
        out.status
    );
    // The child really ran the case (and did not just filter it out).
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the child did not run `{test}`"
    );
}

/// Runs `f` on a thread and fails if it takes longer than `limit`.
fn within<T: Send + 'static>(
    limit: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(_) => panic!(
            "{what} took longer than {limit:?} (still running after {:?})",
            start.elapsed()
        ),
    }
}

/// A parse result is fine when it is a clear error or a condition that
/// evaluates (and drops) without trouble.
fn parses_or_refuses(text: &str) {
    match Condition::parse(text) {
        Ok(condition) => {
            let mut fields = BTreeMap::new();
            fields.insert("a".to_owned(), FieldValue::Int(1));
            let _ = condition.eval(&fields);
            let _ = condition.fields().len();
            drop(condition);
        }
        Err(e) => assert!(!e.message.is_empty(), "a refusal says why"),
    }
}

/// Found by `condition`: 100 000 nested parentheses overflowed the stack
/// in the recursive-descent parser (SIGSEGV, found with inputs above
/// libFuzzer's default 4 KiB length; 5 000 levels already overflow a
/// 2 MiB thread stack in a debug build).
#[test]
fn deeply_nested_conditions_do_not_overflow_the_stack() {
    in_child("deeply_nested_conditions_do_not_overflow_the_stack", || {
        let n = 100_000;
        parses_or_refuses(&format!("{}a{}", "(".repeat(n), ")".repeat(n)));
        parses_or_refuses(&format!("{}a", "!".repeat(n)));
        parses_or_refuses(&format!("{}a == 1{}", "!(".repeat(n), ")".repeat(n)));
    });
}

/// Found by `condition`: a flat chain `a && a && … && a` (or `||`) of
/// 100 000 terms, with no nesting at all, overflowed the stack: the parser
/// builds a left-deep tree as deep as the chain is long, and evaluating
/// (and dropping) it recurses once per term.
#[test]
fn long_condition_chains_do_not_overflow_the_stack() {
    in_child("long_condition_chains_do_not_overflow_the_stack", || {
        let n = 100_000;
        parses_or_refuses(&vec!["a"; n].join(" && "));
        parses_or_refuses(&vec!["a == 1"; n].join(" || "));
    });
}

/// The same chain reaching the parser the way devices meet it: inside a
/// process model's JSON (the synced `definition`, up to 1 MB of text),
/// which every device parses when the model arrives.
#[test]
fn a_model_with_a_long_condition_is_refused_or_loads() {
    in_child("a_model_with_a_long_condition_is_refused_or_loads", || {
        let chain = vec!["amount > 1"; 60_000].join(" && ");
        let json = serde_json::json!({
            "key": "long-condition",
            "name": "Long condition",
            "trigger": { "kind": "field_change", "record": "deal", "condition": chain },
            "steps": [{ "id": "done", "kind": "end" }],
        })
        .to_string();
        assert!(json.len() < 1_000_000, "fits the definition field");
        match Model::from_json(&json, 1) {
            Ok(model) => drop(model),
            Err(e) => assert!(!e.0.is_empty(), "a refusal says why"),
        }
    });
}

/// A BPMN file like a real modeler export: one small process and a
/// diagram of `shapes` shapes (about 50 bytes each).
fn big_diagram(shapes: usize) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <bpmn:definitions xmlns:bpmn=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" \
         xmlns:bpmndi=\"http://www.omg.org/spec/BPMN/20100524/DI\" \
         xmlns:dc=\"http://www.omg.org/spec/DD/20100524/DC\" \
         xmlns:fieldwork=\"https://fieldwork.example/bpmn\" id=\"d\">\n\
         <bpmn:process id=\"p\">\n\
         <bpmn:startEvent id=\"s\" fieldwork:trigger=\"manual\" fieldwork:record=\"account\"/>\n\
         <bpmn:endEvent id=\"e\"/>\n\
         <bpmn:sequenceFlow id=\"f\" sourceRef=\"s\" targetRef=\"e\"/>\n\
         </bpmn:process>\n<bpmndi:BPMNDiagram id=\"g\"><bpmndi:BPMNPlane id=\"pl\">\n",
    );
    for i in 0..shapes {
        xml.push_str(&format!(
            "<bpmndi:BPMNShape id=\"x{i}\"><dc:Bounds x=\"{i}\" y=\"2\"/></bpmndi:BPMNShape>\n"
        ));
    }
    xml.push_str("</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>\n</bpmn:definitions>\n");
    xml
}

/// Found by `bpmn_import` (as a hang on deeply nested ignored elements,
/// then confirmed on flat files): the importer recomputes the line number
/// of every XML event by counting newlines from the start of the file, so
/// its time grows with the square of the file's size. A 416 KB diagram of
/// 8 000 shapes took 85 s in the fuzz build; a diagram of 6 000 shapes
/// (≈ 400 KB) must import in well under the 20 s allowed here.
#[test]
fn importing_a_large_diagram_takes_linear_time() {
    let xml = big_diagram(6_000);
    assert!(xml.len() > 300_000);
    let file = within(
        Duration::from_secs(20),
        "importing a 6 000-shape BPMN diagram",
        move || bpmn::import(&xml),
    )
    .expect("a valid file imports");
    assert_eq!(file.steps.len(), 1, "{file:?}");
}

/// Steps an instance of `model` once, as the `bpmn_import` target does.
fn run_once(model: &Model, record: &Record) {
    let started = jiff::Timestamp::from_second(1_800_000_000).expect("time");
    let instance = Instance {
        id: Instance::derive_id(&model.file.key, &record.id, started),
        model_key: model.file.key.clone(),
        model: RecordId::derived(RecordKind::ProcessModel, &[&model.file.key, "1"]),
        started_version: 1,
        record: record.id.clone(),
        account: None,
        owner: Some("ana".into()),
        started_at: started,
        events: BTreeMap::new(),
        parameters: BTreeMap::new(),
    };
    let directory = [DirectoryEntry {
        name: "ana".into(),
        role: "rep".into(),
        manager: None,
        time_zone: Some("Europe/Madrid".into()),
    }];
    let policy = Policy::shipped_default();
    let out = engine::step(&Inputs {
        model,
        start: &model.start,
        instance: &instance,
        record: Some(record),
        account: None,
        activities: &BTreeMap::new(),
        directory: &directory,
        policy: Some(&policy),
        called: &BTreeMap::new(),
        may_start: true,
        now: started,
    });
    for action in &out.actions {
        if let engine::Action::CreateActivity { fields, .. } = action
            && let Some(FieldValue::Text(subject)) = fields.get("subject")
        {
            assert!(
                subject.chars().count() <= 200,
                "subjects are cut to 200 characters"
            );
        }
    }
}

fn regression_files(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
}

/// Files kept from `bpmn_import` runs: each imports (or is refused with a
/// reason) and, when it is a valid model, runs its first steps. The first
/// one is the known engine bug the target reached: a subject cut at 200
/// bytes inside a multi-byte character (`String::truncate` panicked; the
/// engine now cuts at a character boundary).
#[test]
fn bpmn_files_found_by_fuzzing_import_or_get_a_clear_error() {
    let files = regression_files("bpmn_import");
    assert!(!files.is_empty());
    let mut ran = 0;
    for path in files {
        let xml = std::fs::read_to_string(&path).expect("read");
        let file = match bpmn::import(&xml) {
            Ok(f) => f,
            Err(e) => {
                assert!(
                    e.0.iter().all(|p| !p.message.is_empty()) && !e.0.is_empty(),
                    "{}",
                    path.display()
                );
                continue;
            }
        };
        let Ok(model) = Model::check(file, 1) else {
            continue;
        };
        let kind = model.trigger.record.unwrap_or(RecordKind::Account);
        let id = RecordId::derived(kind, &["fuzz"]);
        let mut fields = BTreeMap::new();
        fields.insert("name".to_owned(), FieldValue::Text("Ñandú ".repeat(60)));
        let record = Record {
            id,
            fields,
            conflicts: BTreeMap::new(),
            classes: Vec::new(),
        };
        let outcome = std::panic::catch_unwind(|| run_once(&model, &record));
        assert!(outcome.is_ok(), "{} panicked in the engine", path.display());
        ran += 1;
    }
    assert!(ran > 0, "at least one kept file is a runnable model");
}

/// Files kept from `change_validate` runs (first byte: the target's
/// scenario; the rest: the change's bytes). Each made Automerge 0.12 panic:
/// decoding an actor index past `u32`, or applying a change our validator
/// had accepted. Neither is reachable on the server: the raw-chunk check
/// (`change_limits`) runs first, and the server decodes, checks and
/// applies each change inside `catch_unwind`
/// (`tests/tests/push_property.rs` pushes these files to a real server).
/// Here: the raw-chunk check itself reads them without panicking and,
/// when it refuses, says why; a forged checksum is always refused.
#[test]
fn changes_found_by_fuzzing_are_read_by_the_raw_check_without_panicking() {
    let files = regression_files("change_validate");
    assert!(!files.is_empty());
    for path in files {
        let input = std::fs::read(&path).expect("read");
        let bytes = &input[1..];
        let _ = fieldwork_core::change_limits::chunk_hash(bytes);
        if let Err(d) = fieldwork_core::change_limits::measure(bytes) {
            assert!(
                !d.code.is_empty() && !d.message.is_empty(),
                "{}: {d:?}",
                path.display()
            );
        }
        // The same bytes with one byte of the checksum flipped.
        let mut forged = bytes.to_vec();
        forged[4] ^= 0xff;
        let d = fieldwork_core::change_limits::measure(&forged).expect_err("a forged checksum");
        assert_eq!(d.code, "malformed_change", "{}: {d:?}", path.display());
    }
}
