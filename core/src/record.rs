//! A record as the app sees it: the merged fields of its class documents.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{ClassName, RecordId, RecordKind};
use crate::policy::RecordFacts;
use crate::rules;
use crate::schema;
use crate::value::FieldValue;

/// A record assembled from the class documents present on this device.
///
/// Fields of classes the user may not read are simply absent: the device
/// never received them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The record's id.
    pub id: RecordId,
    /// Current field values.
    pub fields: BTreeMap<String, FieldValue>,
    /// Fields written concurrently by several people: every value, the
    /// current (winning) one first. Empty when there is no conflict.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub conflicts: BTreeMap<String, Vec<FieldValue>>,
    /// The classes of this record present on the device.
    pub classes: Vec<ClassName>,
}

impl Record {
    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        self.id.kind()
    }

    /// A field's value.
    pub fn get(&self, field: &str) -> Option<&FieldValue> {
        self.fields.get(field)
    }

    /// A field's value if it is text.
    pub fn text(&self, field: &str) -> Option<&str> {
        self.get(field).and_then(FieldValue::as_text)
    }

    /// The display name: for contacts "first last", otherwise the kind's
    /// title field; the id when the title is not readable.
    pub fn title(&self) -> String {
        if self.kind() == RecordKind::Contact {
            let name = [self.text("first_name"), self.text("last_name")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            if !name.is_empty() {
                return name;
            }
        }
        self.get(schema::title_field(self.kind()))
            .map(FieldValue::display)
            .unwrap_or_else(|| self.id.to_string())
    }

    /// The parent account whose territory this record inherits (contact,
    /// deal, activity, ...; a relationship's `from` account): see
    /// [`rules::parent_account`].
    pub fn account(&self) -> Option<RecordId> {
        rules::parent_account(self.kind(), &self.fields)
    }

    /// The facts deciding visibility, given the territory inherited from the
    /// parent account (`None` for accounts, which carry their own).
    pub fn facts(&self, inherited_territory: Option<String>) -> RecordFacts {
        RecordFacts {
            owner: self.text("owner").map(str::to_owned),
            assignee: self.text("assignee").map(str::to_owned),
            territory: rules::territory_of(
                self.kind(),
                self.text("territory"),
                inherited_territory.as_deref(),
            ),
            process_task: self.kind() == RecordKind::Activity
                && self.text("process_instance").is_some(),
        }
    }
}
