//! Identifiers of records, field classes and Automerge documents.
//!
//! A record (an account, a deal, ...) is stored as one Automerge document per
//! *field class*, so that the server can withhold a whole class from a user
//! who may not read it. The identifiers spell that out:
//!
//! | what      | form                         | example                                   |
//! |-----------|------------------------------|-------------------------------------------|
//! | record    | `<kind>:<key>`               | `account:01JD8M3T5ZK6X2YB7E4Q9R0W1V`      |
//! | class doc | `<kind>:<key>/<class>`       | `account:01JD8M3T5ZK6X2YB7E4Q9R0W1V/financial` |
//!
//! Keys are ULIDs for records created by people (time-ordered, 26 characters of
//! Crockford base 32) and deterministic hashes for records the process engine
//! creates, so two replicas that run the same step name the task identically.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::CoreError;

/// The kinds of record Fieldwork stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A customer company or person.
    Account,
    /// A person at an account.
    Contact,
    /// A typed link between two accounts or contacts.
    Relationship,
    /// A sales opportunity with an amount and a pipeline stage.
    Deal,
    /// A call, meeting, visit, e-mail or task.
    Activity,
    /// Long free text attached to other records, edited collaboratively.
    Note,
    /// A business-process model (one document per published version).
    ProcessModel,
    /// A running (or finished) instance of a process model on one record.
    ProcessInstance,
    /// A success metric a manager sets for a person or a territory.
    Target,
}

impl RecordKind {
    /// Every kind, in a stable order.
    pub const ALL: [RecordKind; 9] = [
        RecordKind::Account,
        RecordKind::Contact,
        RecordKind::Relationship,
        RecordKind::Deal,
        RecordKind::Activity,
        RecordKind::Note,
        RecordKind::ProcessModel,
        RecordKind::ProcessInstance,
        RecordKind::Target,
    ];

    /// The kind's name as used in identifiers, the policy file and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Account => "account",
            RecordKind::Contact => "contact",
            RecordKind::Relationship => "relationship",
            RecordKind::Deal => "deal",
            RecordKind::Activity => "activity",
            RecordKind::Note => "note",
            RecordKind::ProcessModel => "process_model",
            RecordKind::ProcessInstance => "process_instance",
            RecordKind::Target => "target",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecordKind {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecordKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| CoreError::InvalidId(format!("unknown record kind `{s}`")))
    }
}

/// The identifier of one record: its kind and a key unique within the kind.
///
/// Guarantees: the key is 1 to 64 characters of `[0-9A-Za-z_-]`, so the
/// textual form never contains `:` or `/` after the kind and round-trips
/// through [`FromStr`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordId {
    kind: RecordKind,
    key: String,
}

impl RecordId {
    /// A fresh, time-ordered identifier (ULID) for a record created now.
    pub fn new_random(kind: RecordKind) -> Self {
        RecordId {
            kind,
            key: ulid::Ulid::new().to_string(),
        }
    }

    /// A deterministic identifier derived from `parts`: every replica that
    /// derives it from the same parts gets the same id. Used by the process
    /// engine so that one step executed on two replicas creates one record.
    pub fn derived(kind: RecordKind, parts: &[&str]) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(kind.as_str().as_bytes());
        for part in parts {
            hasher.update([0u8]);
            hasher.update(part.as_bytes());
        }
        let digest = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        RecordId {
            kind,
            key: ulid::Ulid::from_bytes(bytes).to_string(),
        }
    }

    /// Builds an id from a kind and an existing key, checking the key's shape.
    pub fn from_parts(kind: RecordKind, key: &str) -> Result<Self, CoreError> {
        let ok = !key.is_empty()
            && key.len() <= 64
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(CoreError::InvalidId(format!(
                "record key `{key}` must be 1-64 characters of letters, digits, `_` or `-`"
            )));
        }
        Ok(RecordId {
            kind,
            key: key.to_owned(),
        })
    }

    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        self.kind
    }

    /// The key part (after `kind:`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The id of this record's document for `class`.
    pub fn doc(&self, class: &ClassName) -> DocId {
        DocId {
            record: self.clone(),
            class: class.clone(),
        }
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.key)
    }
}

impl FromStr for RecordId {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, key) = s.split_once(':').ok_or_else(|| {
            CoreError::InvalidId(format!("`{s}` is not a record id (expected `kind:key`)"))
        })?;
        RecordId::from_parts(kind.parse()?, key)
    }
}

impl Serialize for RecordId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RecordId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The name of a field class (`general`, `financial`, ...), as defined by the
/// privacy policy. Guarantees: 1-32 characters of `[a-z0-9_]`, starting with a
/// letter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClassName(String);

impl ClassName {
    /// Checks and wraps a class name.
    pub fn new(name: &str) -> Result<Self, CoreError> {
        let ok = (1..=32).contains(&name.len())
            && name.as_bytes()[0].is_ascii_lowercase()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(ClassName(name.to_owned()))
        } else {
            Err(CoreError::InvalidId(format!(
                "class name `{name}` must be 1-32 characters of a-z, 0-9 or `_`, starting with a letter"
            )))
        }
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClassName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ClassName {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ClassName::new(s)
    }
}

impl Serialize for ClassName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ClassName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ClassName::new(&s).map_err(serde::de::Error::custom)
    }
}

/// The identifier of one Automerge document: a record and one of its classes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DocId {
    record: RecordId,
    class: ClassName,
}

impl DocId {
    /// The record this document belongs to.
    pub fn record(&self) -> &RecordId {
        &self.record
    }

    /// The field class this document holds.
    pub fn class(&self) -> &ClassName {
        &self.class
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.record, self.class)
    }
}

impl FromStr for DocId {
    type Err = CoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (record, class) = s.rsplit_once('/').ok_or_else(|| {
            CoreError::InvalidId(format!(
                "`{s}` is not a document id (expected `kind:key/class`)"
            ))
        })?;
        Ok(DocId {
            record: record.parse()?,
            class: class.parse()?,
        })
    }
}

impl Serialize for DocId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DocId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_and_doc_ids_round_trip_through_text() {
        let id = RecordId::new_random(RecordKind::Account);
        let parsed: RecordId = id.to_string().parse().expect("parses");
        assert_eq!(parsed, id);
        let doc = id.doc(&ClassName::new("financial").expect("valid"));
        assert_eq!(doc.to_string(), format!("{id}/financial"));
        let parsed: DocId = doc.to_string().parse().expect("parses");
        assert_eq!(parsed, doc);
        assert_eq!(parsed.record().kind(), RecordKind::Account);
    }

    #[test]
    fn derived_ids_are_deterministic_and_distinct() {
        let a = RecordId::derived(RecordKind::Activity, &["inst", "call", "0"]);
        let b = RecordId::derived(RecordKind::Activity, &["inst", "call", "0"]);
        let c = RecordId::derived(RecordKind::Activity, &["inst", "call", "1"]);
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Parts are separated, so shifting a boundary changes the id.
        let d = RecordId::derived(RecordKind::Activity, &["instc", "all", "0"]);
        assert_ne!(a, d);
    }

    #[test]
    fn malformed_ids_are_refused_with_the_reason() {
        assert!(
            matches!("account".parse::<RecordId>(), Err(CoreError::InvalidId(m)) if m.contains("kind:key"))
        );
        assert!(
            matches!("planet:123".parse::<RecordId>(), Err(CoreError::InvalidId(m)) if m.contains("planet"))
        );
        assert!("account:a/b".parse::<RecordId>().is_err());
        assert!("account:abc/Financial".parse::<DocId>().is_err());
        assert!(ClassName::new("9lives").is_err());
    }
}
