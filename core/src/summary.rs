//! One record as a list shows it, without opening it: [`Summary`], a row
//! of the device store's index, which task lists and calendars also read.
//!
//! Guarantees:
//! - A leaf below the process layer and the store (it names only record
//!   ids), so both can use it without depending on each other.
//! - Serializes as it did under `store::Summary` (re-exported there).

use serde::{Deserialize, Serialize};

use crate::ids::RecordId;

/// One row of a list: what a list screen shows without opening the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The record.
    pub id: RecordId,
    /// Display name.
    pub title: String,
    /// Stage (accounts, deals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Status (activities, process instances).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Type (activities, relationships).
    #[serde(skip_serializing_if = "Option::is_none", rename = "type")]
    pub kind_type: Option<String>,
    /// Owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Assignee (activities).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Territory (own or inherited from the account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub territory: Option<String>,
    /// Parent account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Due or start time, RFC 3339 UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
    /// Amount in minor units (deals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    /// Currency of `amount`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Last change, RFC 3339 UTC.
    pub updated_at: String,
}
