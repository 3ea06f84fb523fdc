//! One class document of a record: reading and writing typed fields in an
//! Automerge map.
//!
//! Layout: the document root is a map from field name to value. Scalars are
//! Automerge scalars (`Str`, `Int`, `F64`, `Boolean`); long text is a `Text`
//! object (concurrent edits merge per character); the stage log is a `List`
//! of `{stage, at}` maps; entry fields are a `Map` from key to a JSON string.
//! Nothing else is ever stored, which is what the server's validator checks.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    ActorId, AutoCommit, Change, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value,
};
use jiff::Timestamp;

use crate::error::{CoreError, Result};
use crate::ids::DocId;
use crate::schema::{self, FieldType};
use crate::value::{FieldValue, StageTransition};

/// One field as [`ClassDoc::read_fields`] reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadField {
    /// The field's name.
    pub field: String,
    /// Its value, as [`ClassDoc::get`] reads it.
    pub value: Option<FieldValue>,
    /// Every concurrently written value when there are several, as
    /// [`ClassDoc::get_all`] reads them; empty otherwise.
    pub all: Vec<FieldValue>,
}

/// An Automerge document holding one class of one record's fields.
#[derive(Debug)]
pub struct ClassDoc {
    id: DocId,
    doc: AutoCommit,
}

impl ClassDoc {
    /// A new, empty document written by `actor`.
    pub fn new(id: DocId, actor: ActorId) -> Self {
        ClassDoc {
            id,
            doc: AutoCommit::new().with_actor(actor),
        }
    }

    /// Loads a document from a saved snapshot followed by appended chunks
    /// (incremental saves or raw changes), as the store keeps them.
    pub fn load<'a>(
        id: DocId,
        snapshot: Option<&[u8]>,
        chunks: impl IntoIterator<Item = &'a [u8]>,
        actor: ActorId,
    ) -> Result<Self> {
        let corrupt =
            |e: automerge::AutomergeError| CoreError::Corrupt(format!("document {id}: {e}"));
        let mut doc = match snapshot {
            Some(bytes) => AutoCommit::load(bytes).map_err(corrupt)?,
            None => AutoCommit::new(),
        };
        for chunk in chunks {
            doc.load_incremental(chunk).map_err(corrupt)?;
        }
        let missing = doc.get_missing_deps(&[]);
        if !missing.is_empty() {
            return Err(CoreError::Corrupt(format!(
                "document {id} misses {} change(s) its history depends on",
                missing.len()
            )));
        }
        doc.set_actor(actor);
        Ok(ClassDoc { id, doc })
    }

    /// The document's id.
    pub fn id(&self) -> &DocId {
        &self.id
    }

    /// Whether the document has no changes at all.
    pub fn is_empty(&mut self) -> bool {
        self.doc.get_heads().is_empty()
    }

    /// The current heads (hashes of the changes nothing depends on yet).
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// The underlying Automerge document, for sync and history.
    pub fn automerge(&mut self) -> &mut AutoCommit {
        &mut self.doc
    }

    /// The field names present in the document.
    pub fn field_names(&self) -> Vec<String> {
        self.doc.keys(ROOT).collect()
    }

    /// Every field present, read as [`ClassDoc::get`] reads it; a value of
    /// the wrong shape (only a forged document holds one, and the validator
    /// refuses writing it) reads as absent.
    pub fn fields(&self) -> std::collections::BTreeMap<String, FieldValue> {
        self.field_names()
            .into_iter()
            .filter_map(|f| self.get(&f).ok().flatten().map(|v| (f, v)))
            .collect()
    }

    /// Every field present, read as [`ClassDoc::get`] reads it, with all
    /// its values when it was written concurrently (as
    /// [`ClassDoc::get_all`] reads them; empty otherwise): one pass over
    /// the document, where a `get` and a `get_all` per field cost two
    /// lookups each. Errors as `get` does.
    pub fn read_fields(&self) -> Result<Vec<ReadField>> {
        let kind = self.id.record().kind();
        let mut out = Vec::new();
        for item in self.doc.map_range(ROOT, ..) {
            let field = item.key.to_string();
            let ty = schema::custom::stored_type(kind, &field).ok_or_else(|| {
                CoreError::Corrupt(format!("{}: unknown field `{field}`", self.id))
            })?;
            if item.conflict || ty == FieldType::Entries {
                let value = self.get(&field)?;
                let all = self.get_all(&field)?;
                out.push(ReadField { field, value, all });
                continue;
            }
            // Only an object's id is needed (and building one allocates).
            let obj = match item.value {
                automerge::ValueRef::Object(_) => item.id(),
                automerge::ValueRef::Scalar(_) => ObjId::Root,
            };
            let value = self.read_value(ty, &field, item.value.into_value(), &obj)?;
            out.push(ReadField {
                field,
                value: Some(value),
                all: Vec::new(),
            });
        }
        Ok(out)
    }

    /// Reads `field` as the value its schema type describes. Returns `None`
    /// when the field is unset, and an error when the stored shape does not
    /// match the schema (which only a corrupt or forged document can cause).
    pub fn get(&self, field: &str) -> Result<Option<FieldValue>> {
        let ty = schema::custom::stored_type(self.id.record().kind(), field)
            .ok_or_else(|| CoreError::Corrupt(format!("{}: unknown field `{field}`", self.id)))?;
        if ty == FieldType::Entries {
            // Two replicas that each created the map concurrently hold two
            // map objects under one key; entries are the union of both, so
            // no one's entries are hidden by the conflict.
            let all = self.get_all(field)?;
            if all.is_empty() {
                return Ok(None);
            }
            let mut union = std::collections::BTreeMap::new();
            for v in all.into_iter().rev() {
                if let FieldValue::Entries(map) = v {
                    union.extend(map);
                }
            }
            return Ok(Some(FieldValue::Entries(union)));
        }
        let Some((value, obj)) = self.doc.get(ROOT, field)? else {
            return Ok(None);
        };
        self.read_value(ty, field, value, &obj).map(Some)
    }

    /// Every value concurrently written to `field` (more than one means a
    /// conflict that Automerge resolved by picking the first one returned).
    pub fn get_all(&self, field: &str) -> Result<Vec<FieldValue>> {
        let Some(ty) = schema::custom::stored_type(self.id.record().kind(), field) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (value, obj) in self.doc.get_all(ROOT, field)? {
            out.push(self.read_value(ty, field, value, &obj)?);
        }
        Ok(out)
    }

    fn read_value(
        &self,
        ty: FieldType,
        field: &str,
        value: Value<'_>,
        obj: &ObjId,
    ) -> Result<FieldValue> {
        let shape = || {
            CoreError::Corrupt(format!(
                "{}: `{field}` does not hold {}",
                self.id,
                ty.describe()
            ))
        };
        match (ty, value) {
            (FieldType::LongText, Value::Object(ObjType::Text)) => {
                Ok(FieldValue::Text(self.doc.text(obj)?))
            }
            (FieldType::StageLog, Value::Object(ObjType::List)) => {
                let mut log = Vec::new();
                for item in self.doc.list_range(obj, ..) {
                    let entry = item.id();
                    let read = |key: &str| -> Option<String> {
                        match self.doc.get(&entry, key).ok()?? {
                            (Value::Scalar(s), _) => match s.as_ref() {
                                ScalarValue::Str(s) => Some(s.to_string()),
                                _ => None,
                            },
                            _ => None,
                        }
                    };
                    if let (Some(stage), Some(at)) = (read("stage"), read("at")) {
                        log.push(StageTransition { stage, at });
                    }
                }
                Ok(FieldValue::Stages(log))
            }
            (FieldType::Entries, Value::Object(ObjType::Map)) => {
                let mut map = std::collections::BTreeMap::new();
                for item in self.doc.map_range(obj, ..) {
                    if let automerge::ValueRef::Scalar(automerge::ScalarValueRef::Str(text)) =
                        &item.value
                        && let Ok(json) = serde_json::from_str(text)
                    {
                        map.insert(item.key.to_string(), json);
                    }
                }
                Ok(FieldValue::Entries(map))
            }
            (_, Value::Scalar(s)) => match s.as_ref() {
                ScalarValue::Str(s) => Ok(FieldValue::Text(s.to_string())),
                ScalarValue::Int(i) => Ok(FieldValue::Int(*i)),
                ScalarValue::Uint(u) => i64::try_from(*u).map(FieldValue::Int).map_err(|_| shape()),
                ScalarValue::F64(f) => Ok(FieldValue::Float(*f)),
                ScalarValue::Boolean(b) => Ok(FieldValue::Bool(*b)),
                _ => Err(shape()),
            },
            _ => Err(shape()),
        }
    }

    /// Writes `value` to `field` (`None` deletes it). The value must already
    /// have been checked against the schema. Long text is updated with a
    /// minimal diff, so concurrent edits elsewhere in the text survive.
    pub fn put(&mut self, field: &str, ty: FieldType, value: Option<&FieldValue>) -> Result<()> {
        let Some(value) = value else {
            if self.doc.get(ROOT, field)?.is_some() {
                self.doc.delete(ROOT, field)?;
            }
            return Ok(());
        };
        match (ty, value) {
            (FieldType::LongText, FieldValue::Text(text)) => {
                let obj = self.text_obj(field)?;
                self.doc.update_text(&obj, text)?;
            }
            (FieldType::StageLog | FieldType::Entries, _) => {
                return Err(CoreError::Corrupt(format!(
                    "`{field}` is kept by the system; use its dedicated operation"
                )));
            }
            (_, FieldValue::Text(s)) => self.doc.put(ROOT, field, s.as_str())?,
            (_, FieldValue::Int(i)) => self.doc.put(ROOT, field, *i)?,
            (_, FieldValue::Float(f)) => self.doc.put(ROOT, field, *f)?,
            (_, FieldValue::Bool(b)) => self.doc.put(ROOT, field, *b)?,
            (_, other) => {
                return Err(CoreError::Corrupt(format!(
                    "`{field}` cannot hold {other:?}"
                )));
            }
        }
        Ok(())
    }

    /// Writes a value of any type, including the system-kept ones: a stage
    /// log is appended entry by entry, entries are put key by key. Used to
    /// copy a field from one document to another (reclassification).
    pub fn put_value(&mut self, field: &str, ty: FieldType, value: &FieldValue) -> Result<()> {
        match (ty, value) {
            (FieldType::StageLog, FieldValue::Stages(log)) => {
                for t in log {
                    let at = t.at.parse::<Timestamp>().map_err(|e| {
                        CoreError::Corrupt(format!("`{field}` holds a bad time `{}`: {e}", t.at))
                    })?;
                    self.append_stage(field, &t.stage, at)?;
                }
                Ok(())
            }
            (FieldType::Entries, FieldValue::Entries(map)) => {
                for (key, entry) in map {
                    self.put_entry(field, key, entry)?;
                }
                Ok(())
            }
            _ => self.put(field, ty, Some(value)),
        }
    }

    /// Commits an empty change (a document that must exist with no fields).
    pub fn commit_empty(&mut self, author: &str, at: Timestamp) -> Change {
        let hash = self.doc.empty_change(
            CommitOptions::default()
                .with_message(author)
                .with_time(at.as_second()),
        );
        // The change was just made, so it is in the document.
        #[allow(clippy::expect_used)]
        self.doc
            .get_change_by_hash(&hash)
            .expect("a change just committed is present")
    }

    /// Splices long text: deletes `delete` characters at `pos` and inserts
    /// `insert` there. Positions count Unicode scalar values.
    pub fn splice_text(
        &mut self,
        field: &str,
        pos: usize,
        delete: usize,
        insert: &str,
    ) -> Result<()> {
        let obj = self.text_obj(field)?;
        let len = self.doc.length(&obj);
        // Checked: `delete` comes from the caller, and `pos + delete` or
        // `delete as isize` would wrap (a negative delete splices backwards).
        let inside = pos.checked_add(delete).is_some_and(|end| end <= len);
        let (true, Ok(delete_signed)) = (inside, isize::try_from(delete)) else {
            return Err(CoreError::Invalid(crate::error::ValidationError::field(
                field,
                format!("splice {pos}+{delete} is outside the text (length {len})"),
            )));
        };
        self.doc.splice_text(&obj, pos, delete_signed, insert)?;
        Ok(())
    }

    /// Creates the containers (text, list, map) of `fields` that do not exist
    /// yet, so that later concurrent edits land in one shared object.
    pub fn create_containers(&mut self, fields: &[(&str, FieldType)]) -> Result<()> {
        for (field, ty) in fields {
            if self.doc.get(ROOT, *field)?.is_some() {
                continue;
            }
            match ty {
                FieldType::LongText => {
                    self.doc.put_object(ROOT, *field, ObjType::Text)?;
                }
                FieldType::StageLog => {
                    self.doc.put_object(ROOT, *field, ObjType::List)?;
                }
                FieldType::Entries => {
                    self.doc.put_object(ROOT, *field, ObjType::Map)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Appends `{stage, at}` to the stage log in `field`.
    pub fn append_stage(&mut self, field: &str, stage: &str, at: Timestamp) -> Result<()> {
        let list = match self.doc.get(ROOT, field)? {
            Some((Value::Object(ObjType::List), obj)) => obj,
            _ => self.doc.put_object(ROOT, field, ObjType::List)?,
        };
        let len = self.doc.length(&list);
        let entry = self.doc.insert_object(&list, len, ObjType::Map)?;
        self.doc.put(&entry, "stage", stage)?;
        self.doc.put(&entry, "at", at.to_string())?;
        Ok(())
    }

    /// Sets entry `key` of the entries field `field` to the JSON object `value`.
    pub fn put_entry(&mut self, field: &str, key: &str, value: &serde_json::Value) -> Result<()> {
        let map = match self.doc.get(ROOT, field)? {
            Some((Value::Object(ObjType::Map), obj)) => obj,
            _ => self.doc.put_object(ROOT, field, ObjType::Map)?,
        };
        self.doc.put(&map, key, value.to_string())?;
        Ok(())
    }

    fn text_obj(&mut self, field: &str) -> Result<ObjId> {
        match self.doc.get(ROOT, field)? {
            Some((Value::Object(ObjType::Text), obj)) => Ok(obj),
            _ => Ok(self.doc.put_object(ROOT, field, ObjType::Text)?),
        }
    }

    /// Commits pending operations as one change signed with `author` and
    /// `at`, and returns it; `None` if there was nothing to commit.
    pub fn commit(&mut self, author: &str, at: Timestamp) -> Option<Change> {
        let hash = self.doc.commit_with(
            CommitOptions::default()
                .with_message(author)
                .with_time(at.as_second()),
        )?;
        self.doc.get_change_by_hash(&hash)
    }

    /// A copy of this document with `change` applied, to look at what the
    /// change would make of it without touching the original.
    pub fn with_change(&mut self, change: &Change) -> Result<ClassDoc> {
        counters_fit(&self.id, change)?;
        let mut copy = ClassDoc {
            id: self.id.clone(),
            doc: self.doc.fork(),
        };
        copy.doc.apply_changes([change.clone()])?;
        Ok(copy)
    }

    /// Discards operations that were not committed.
    pub fn rollback(&mut self) {
        self.doc.rollback();
    }

    /// A full, compressed save of the document.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// Applies changes received from elsewhere; returns the hashes that were
    /// new to this document. Changes already present are ignored.
    pub fn apply_changes(&mut self, changes: Vec<Change>) -> Result<Vec<ChangeHash>> {
        let mut new = Vec::new();
        for change in &changes {
            counters_fit(&self.id, change)?;
            let hash = change.hash();
            if self.doc.get_change_meta_by_hash(&hash).is_none() && !new.contains(&hash) {
                new.push(hash);
            }
        }
        self.doc.apply_changes(changes)?;
        let missing = self.doc.get_missing_deps(&[]);
        if !missing.is_empty() {
            return Err(CoreError::Protocol(format!(
                "{}: received changes depend on {} change(s) this device does not have",
                self.id,
                missing.len()
            )));
        }
        Ok(new)
    }
}

/// Automerge (0.12) checks when parsing that a change's first operation
/// counter fits in 32 bits, but not its last one: applying a change whose
/// operations number past `u32::MAX` panics inside Automerge. Such a change
/// (only a forged one can be) is refused before anything applies it.
fn counters_fit(doc: &DocId, change: &Change) -> Result<()> {
    // `max_op` is `start_op + len - 1`, with `start_op <= u32::MAX` and a
    // length bounded by the bytes: no overflow in 64 bits.
    if change.max_op() > u64::from(u32::MAX) {
        return Err(CoreError::Protocol(format!(
            "{doc}: change {} numbers its operations past {}",
            change.hash(),
            u32::MAX
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ClassName, RecordId, RecordKind};

    fn new_doc(kind: RecordKind) -> ClassDoc {
        let id = RecordId::new_random(kind).doc(&ClassName::new("general").expect("valid"));
        ClassDoc::new(id, ActorId::random())
    }

    #[test]
    fn scalar_fields_round_trip() {
        let mut doc = new_doc(RecordKind::Account);
        doc.put(
            "name",
            schema::NAME,
            Some(&FieldValue::Text("Szőke Kft.".into())),
        )
        .expect("put");
        doc.put(
            "credit_limit",
            FieldType::Money,
            Some(&FieldValue::Int(5_000_000)),
        )
        .expect("put");
        assert!(doc.commit("ana", Timestamp::UNIX_EPOCH).is_some());
        assert_eq!(
            doc.get("name").expect("get"),
            Some(FieldValue::Text("Szőke Kft.".into()))
        );
        assert_eq!(
            doc.get("credit_limit").expect("get"),
            Some(FieldValue::Int(5_000_000))
        );
        doc.put("name", schema::NAME, None).expect("delete");
        assert_eq!(doc.get("name").expect("get"), None);
    }

    #[test]
    fn long_text_updates_are_diffs_that_merge() {
        let mut a = new_doc(RecordKind::Note);
        a.put(
            "body",
            FieldType::LongText,
            Some(&FieldValue::Text("Met José.".into())),
        )
        .expect("put");
        a.commit("ana", Timestamp::UNIX_EPOCH);
        let saved = a.save();
        let mut b =
            ClassDoc::load(a.id().clone(), Some(&saved), [], ActorId::random()).expect("load");
        a.put(
            "body",
            FieldType::LongText,
            Some(&FieldValue::Text("Met José. Wants a quote.".into())),
        )
        .expect("put");
        a.commit("ana", Timestamp::UNIX_EPOCH);
        b.splice_text("body", 0, 0, "Monday: ").expect("splice");
        b.commit("luis", Timestamp::UNIX_EPOCH);
        let changes = b.automerge().get_changes(&[]);
        a.apply_changes(changes).expect("merge");
        assert_eq!(
            a.get("body").expect("get"),
            Some(FieldValue::Text("Monday: Met José. Wants a quote.".into()))
        );
    }

    #[test]
    fn stage_log_and_entries_are_typed() {
        let mut doc = new_doc(RecordKind::Account);
        doc.append_stage("stage_history", "lead", Timestamp::UNIX_EPOCH)
            .expect("append");
        doc.append_stage("stage_history", "prospect", Timestamp::UNIX_EPOCH)
            .expect("append");
        let Some(FieldValue::Stages(log)) = doc.get("stage_history").expect("get") else {
            panic!("not a stage log");
        };
        assert_eq!(
            log.iter().map(|t| t.stage.as_str()).collect::<Vec<_>>(),
            ["lead", "prospect"]
        );
        let mut inst = new_doc(RecordKind::ProcessInstance);
        inst.put_entry("events", "e1", &serde_json::json!({"kind": "started"}))
            .expect("entry");
        let Some(FieldValue::Entries(map)) = inst.get("events").expect("get") else {
            panic!("not entries");
        };
        assert_eq!(map["e1"]["kind"], "started");
    }

    #[test]
    fn a_splice_outside_the_text_is_refused() {
        let mut doc = new_doc(RecordKind::Note);
        doc.put(
            "body",
            FieldType::LongText,
            Some(&FieldValue::Text("abc".into())),
        )
        .expect("put");
        assert!(matches!(
            doc.splice_text("body", 2, 5, "x"),
            Err(CoreError::Invalid(_))
        ));
    }

    /// `change` (a valid change chunk) with its start op replaced by `start`
    /// and its checksum recomputed: what a forging device can send.
    fn with_start_op(change: &Change, start: u64) -> Vec<u8> {
        use sha2::{Digest, Sha256};
        fn write(out: &mut Vec<u8>, mut v: u64) {
            loop {
                let b = (v & 0x7f) as u8;
                v >>= 7;
                if v == 0 {
                    return out.push(b);
                }
                out.push(b | 0x80);
            }
        }
        fn read(b: &[u8], i: &mut usize) -> usize {
            let (mut v, mut shift) = (0usize, 0);
            loop {
                let x = b[*i];
                *i += 1;
                v |= usize::from(x & 0x7f) << shift;
                shift += 7;
                if x & 0x80 == 0 {
                    return v;
                }
            }
        }
        let raw = change.raw_bytes();
        // Magic, checksum, chunk type, then the body's length and the body.
        let mut i = 9;
        let len = read(raw, &mut i);
        let body = &raw[i..i + len];
        // Dependencies, actor, seq; then the start op.
        let mut j = 0;
        j += 32 * read(body, &mut j);
        j += read(body, &mut j);
        read(body, &mut j);
        let at = j;
        read(body, &mut j);
        let mut new_body = body[..at].to_vec();
        write(&mut new_body, start);
        new_body.extend_from_slice(&body[j..]);
        let mut header = vec![1u8];
        write(&mut header, new_body.len() as u64);
        let hash: [u8; 32] = Sha256::new()
            .chain_update(&header)
            .chain_update(&new_body)
            .finalize()
            .into();
        let mut out = raw[..4].to_vec();
        out.extend_from_slice(&hash[..4]);
        out.extend_from_slice(&header);
        out.extend_from_slice(&new_body);
        out
    }

    #[test]
    fn a_change_numbering_its_operations_past_u32_is_refused_not_a_panic() {
        let mut doc = new_doc(RecordKind::Account);
        let mut forged = doc.automerge().fork();
        for (field, value) in [("name", "Acme"), ("stage", "lead"), ("territory", "madrid")] {
            forged.put(ROOT, field, value).expect("put");
        }
        forged.commit();
        let change = forged.get_last_local_change().expect("change");
        let fits =
            Change::from_bytes(with_start_op(&change, u64::from(u32::MAX) - 2)).expect("parses");
        doc.with_change(&fits).expect("the last op is u32::MAX");
        assert!(crate::change_limits::check_raw(fits.raw_bytes()).is_ok());
        for start in [u64::from(u32::MAX), u64::from(u32::MAX) - 1] {
            // Refused before Automerge parses it, with a clear code...
            let refused = crate::change_limits::check_raw(&with_start_op(&change, start))
                .expect_err("counters past u32");
            assert_eq!(refused.code, "malformed_change", "{refused:?}");
            // ...and still refused if something applies it regardless.
            let over = Change::from_bytes(with_start_op(&change, start)).expect("parses");
            assert!(
                matches!(doc.with_change(&over), Err(CoreError::Protocol(_))),
                "{start}"
            );
            assert!(
                matches!(doc.apply_changes(vec![over]), Err(CoreError::Protocol(_))),
                "{start}"
            );
        }
        assert!(doc.field_names().is_empty(), "nothing was applied");
    }

    #[test]
    fn a_splice_with_a_huge_delete_is_refused_not_wrapped() {
        let mut doc = new_doc(RecordKind::Note);
        doc.put(
            "body",
            FieldType::LongText,
            Some(&FieldValue::Text("abc".into())),
        )
        .expect("put");
        for (pos, delete) in [
            (1, usize::MAX),
            (3, usize::MAX),
            (usize::MAX, 1),
            (0, isize::MAX as usize + 1),
        ] {
            assert!(
                matches!(
                    doc.splice_text("body", pos, delete, "x"),
                    Err(CoreError::Invalid(_))
                ),
                "{pos}+{delete}"
            );
        }
        assert_eq!(
            doc.get("body").expect("read"),
            Some(FieldValue::Text("abc".into()))
        );
        doc.splice_text("body", 3, 0, "é")
            .expect("append at the end");
        assert_eq!(
            doc.get("body").expect("read"),
            Some(FieldValue::Text("abcé".into()))
        );
    }
}
