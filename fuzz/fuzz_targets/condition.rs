//! The condition language of gateways and triggers
//! (`fieldwork_core::process::condition`): parse arbitrary text, and
//! evaluate whatever parses against a record holding fields of every value
//! type.
//!
//! Checks: parsing never panics (no stack overflow on deep nesting, no
//! slicing inside a multi-byte character), a refusal names a position
//! inside the text, and evaluation never panics.
#![no_main]

use std::collections::BTreeMap;

use fieldwork_core::FieldValue;
use fieldwork_core::process::condition::Condition;
use libfuzzer_sys::fuzz_target;

fn record() -> BTreeMap<String, FieldValue> {
    let mut f = BTreeMap::new();
    f.insert("stage".into(), FieldValue::Text("qualified".into()));
    f.insert("name".into(), FieldValue::Text("Szőke Kft — Ñandú".into()));
    f.insert("amount".into(), FieldValue::Int(250_000));
    f.insert("latitude".into(), FieldValue::Float(40.4168));
    f.insert("nan".into(), FieldValue::Float(f64::NAN));
    f.insert("active".into(), FieldValue::Bool(true));
    f.insert("empty".into(), FieldValue::Text(String::new()));
    f.insert("stages".into(), FieldValue::Stages(Vec::new()));
    f.insert("events".into(), FieldValue::Entries(BTreeMap::new()));
    f
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Condition::parse(text) {
        Ok(condition) => {
            let _ = condition.fields();
            let fields = record();
            let first = condition.eval(&fields);
            assert_eq!(first, condition.eval(&fields), "evaluation is pure");
            let _ = condition.eval(&BTreeMap::new());
        }
        Err(e) => {
            assert!(!e.message.is_empty());
            assert!(
                e.at <= text.chars().count(),
                "error position {} beyond the {} characters of {text:?}",
                e.at,
                text.chars().count()
            );
            let _ = e.to_string();
        }
    }
});
