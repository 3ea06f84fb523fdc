//! Records as apps see them: kinds, edits, list rows, cards, search hits and
//! history. Each type is a plain value converted from the core's own; times
//! are RFC 3339 strings in UTC unless a field says otherwise.

use std::collections::HashMap;

use fieldwork_core::store::{self, CardField, RecordCard};
use fieldwork_core::{Policy, RecordKind, history};

/// The kinds of record an app works with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Kind {
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
    /// Long free text attached to other records.
    Note,
    /// A running or finished business process on a record.
    ProcessInstance,
    /// A success metric a manager set for a person or a territory (only
    /// roles with the `targets` right may create or change one).
    Target,
}

impl From<Kind> for RecordKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Account => RecordKind::Account,
            Kind::Contact => RecordKind::Contact,
            Kind::Relationship => RecordKind::Relationship,
            Kind::Deal => RecordKind::Deal,
            Kind::Activity => RecordKind::Activity,
            Kind::Note => RecordKind::Note,
            Kind::ProcessInstance => RecordKind::ProcessInstance,
            Kind::Target => RecordKind::Target,
        }
    }
}

/// One field set (or cleared) from what the user typed. The core parses the
/// text against the schema (`2026-12-01` for dates, `true`/`false`...) and
/// refuses it with [`FieldworkError::Invalid`](crate::FieldworkError)
/// naming the field. Money is typed as people write it by giving its
/// `currency`: `FieldEdit("credit_limit", "1234.50", currency = "EUR")`
/// stores 1234.50 EUR (the core reads the amount with the currency's own
/// decimals, `1234,5` too, and sets the record's currency field); without
/// a currency, money text is whole minor units (`123450`), as before.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FieldEdit {
    /// The field's schema name (`name`, `email`, `stage`...).
    pub field: String,
    /// The text typed; `None` clears the field.
    pub value: Option<String>,
    /// For a money field: the ISO 4217 currency `value` is typed in (a
    /// decimal amount then); `None` for everything else.
    #[uniffi(default = None)]
    pub currency: Option<String>,
}

/// Orders for record lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SortBy {
    /// By display name, in the device's locale.
    Name,
    /// By lifecycle or pipeline stage.
    Stage,
    /// By owner, then name.
    Owner,
    /// By territory, then name.
    Territory,
    /// By due or start time (activities), expected close (deals).
    Due,
    /// By amount (deals).
    Amount,
    /// By last change.
    Updated,
}

impl From<SortBy> for store::Sort {
    fn from(s: SortBy) -> Self {
        match s {
            SortBy::Name => store::Sort::Name,
            SortBy::Stage => store::Sort::Stage,
            SortBy::Owner => store::Sort::Owner,
            SortBy::Territory => store::Sort::Territory,
            SortBy::Due => store::Sort::Due,
            SortBy::Amount => store::Sort::Amount,
            SortBy::Updated => store::Sort::Updated,
        }
    }
}

/// Filters, order and page of a list. Every filter is optional.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ListOptions {
    /// The order (by name when `None`).
    #[uniffi(default = None)]
    pub sort: Option<SortBy>,
    /// Reverse it.
    #[uniffi(default = false)]
    pub descending: bool,
    /// Only this stage (accounts, deals).
    #[uniffi(default = None)]
    pub stage: Option<String>,
    /// Only this owner.
    #[uniffi(default = None)]
    pub owner: Option<String>,
    /// Only this territory.
    #[uniffi(default = None)]
    pub territory: Option<String>,
    /// Only children of this account.
    #[uniffi(default = None)]
    pub account: Option<String>,
    /// Only activities assigned to this user.
    #[uniffi(default = None)]
    pub assignee: Option<String>,
    /// Only this status (activities, process instances).
    #[uniffi(default = None)]
    pub status: Option<String>,
    /// At most this many rows (`0`: none). Negative is refused with
    /// `Invalid` (field `limit`).
    #[uniffi(default = 100)]
    pub limit: i32,
    /// Skip this many rows. Negative is refused with `Invalid` (field
    /// `offset`).
    #[uniffi(default = 0)]
    pub offset: i32,
    /// Continue after this cursor: the [`RecordPage::next_cursor`] of the
    /// previous page of the same sort and direction (`list_page`). A
    /// cursor with a non-zero `offset`, of another order, or not handed
    /// out by a page is refused with `Invalid` (field `after`).
    #[uniffi(default = None)]
    pub after: Option<String>,
    /// Archived records: left out when `None` (or `Exclude`).
    #[uniffi(default = None)]
    pub archived: Option<ArchivedFilter>,
    /// Only records whose custom fields (`x_…`) have these values, each
    /// compared with the value as typed (`smb`, `12`, `true`); empty: no
    /// such filter. A name that is not a custom field of the listed kind
    /// that this user may read is refused with `Invalid` naming it.
    #[uniffi(default)]
    pub custom: HashMap<String, String>,
    /// Order by this custom field (`x_…`) instead of `sort`, in the
    /// direction `descending` gives; records without a value come last,
    /// then by name. Refused as a `custom` name is; such a list pages by
    /// `offset` only: it hands out no cursor and `after` is refused with
    /// `Invalid` (field `after`).
    #[uniffi(default = None)]
    pub sort_custom: Option<String>,
}

/// One page of a list and the cursor of the next (`list_page`). Pages
/// walked by cursor never repeat or skip a record that stays in the list
/// with the same sort key, even when others are added or removed between
/// pages.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RecordPage {
    /// The rows of this page, in the list's order.
    pub items: Vec<RecordSummary>,
    /// Pass it as [`ListOptions::after`] for the next page; `None` when no
    /// rows follow (and always for a limit of 0).
    pub next_cursor: Option<String>,
}

impl From<store::ListPage> for RecordPage {
    fn from(p: store::ListPage) -> Self {
        RecordPage {
            items: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next,
        }
    }
}

/// Which records a list returns with respect to archiving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ArchivedFilter {
    /// Only records that are not archived.
    Exclude,
    /// Archived records too.
    Include,
    /// Only archived records.
    Only,
}

impl From<ArchivedFilter> for fieldwork_core::summary::Archived {
    fn from(a: ArchivedFilter) -> Self {
        match a {
            ArchivedFilter::Exclude => Self::Exclude,
            ArchivedFilter::Include => Self::Include,
            ArchivedFilter::Only => Self::Only,
        }
    }
}

/// One row of a list: what a list screen shows without opening the record.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RecordSummary {
    /// The record's id.
    pub id: String,
    /// Display name.
    pub title: String,
    /// Stage (accounts, deals).
    pub stage: Option<String>,
    /// Status (activities, process instances).
    pub status: Option<String>,
    /// Type (activities, relationships).
    pub type_name: Option<String>,
    /// Owner.
    pub owner: Option<String>,
    /// Assignee (activities).
    pub assignee: Option<String>,
    /// Territory (own or inherited from the account).
    pub territory: Option<String>,
    /// Parent account id.
    pub account: Option<String>,
    /// Due or start time.
    pub due_at: Option<String>,
    /// Amount in minor units (deals).
    pub amount: Option<i64>,
    /// Currency of `amount`.
    pub currency: Option<String>,
    /// Last change.
    pub updated_at: String,
}

impl From<store::Summary> for RecordSummary {
    fn from(s: store::Summary) -> Self {
        RecordSummary {
            id: s.id.to_string(),
            title: s.title,
            stage: s.stage,
            status: s.status,
            type_name: s.kind_type,
            owner: s.owner,
            assignee: s.assignee,
            territory: s.territory,
            account: s.account,
            due_at: s.due_at,
            amount: s.amount,
            currency: s.currency,
            updated_at: s.updated_at,
        }
    }
}

/// One field of a record card.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FieldView {
    /// Schema name.
    pub name: String,
    /// Its type in words, for hints and keyboards.
    pub type_name: String,
    /// The value as editable text (send it back in a [`FieldEdit`]).
    pub value: Option<String>,
    /// The value for people (money with currency...).
    pub display: Option<String>,
    /// Money with a known currency: the amount as the user types it
    /// (`1250.50`); send it back with [`FieldView::currency`] in a
    /// [`FieldEdit`]. (`value` keeps the minor units, `125050`.)
    pub amount: Option<String>,
    /// The currency of `amount` (`EUR`).
    pub currency: Option<String>,
    /// Whether this user may change it on this record.
    pub writable: bool,
    /// Whether the record must have a value.
    pub required: bool,
    /// Values written concurrently by others, besides the current one.
    pub conflicts: Vec<String>,
    /// For a custom field (`x_…`): the label the administrator gave it in
    /// the policy (its name when none); `None` for built-in fields, which
    /// apps label themselves.
    #[uniffi(default = None)]
    pub label: Option<String>,
}

impl From<CardField> for FieldView {
    fn from(f: CardField) -> Self {
        FieldView {
            name: f.name,
            type_name: f.type_name,
            value: f.value,
            display: f.display,
            amount: f.amount,
            currency: f.currency,
            writable: f.writable,
            required: f.required,
            conflicts: f.conflicts,
            label: None,
        }
    }
}

/// A record as its screen shows it: only the fields the user may read.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RecordView {
    /// The record's id.
    pub id: String,
    /// Its display name.
    pub title: String,
    /// Readable fields in schema order.
    pub fields: Vec<FieldView>,
}

impl RecordView {
    /// The card as apps see it, each custom field labelled as `policy`
    /// (the one the card was built under) labels it.
    pub(crate) fn of_card(c: RecordCard, policy: &Policy) -> Self {
        let kind = c.id.kind();
        RecordView {
            id: c.id.to_string(),
            title: c.title,
            fields: c
                .fields
                .into_iter()
                .map(|f| {
                    let label = policy.label(kind, &f.name).map(str::to_owned);
                    FieldView { label, ..f.into() }
                })
                .collect(),
        }
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SearchHit {
    /// The record found.
    pub id: String,
    /// Its display name.
    pub title: String,
    /// Relevance (lower is better).
    pub rank: f64,
}

impl From<store::SearchHit> for SearchHit {
    fn from(h: store::SearchHit) -> Self {
        SearchHit {
            id: h.id.to_string(),
            title: h.title,
            rank: h.rank,
        }
    }
}

/// What one change did to one field.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct FieldChange {
    /// The field.
    pub field: String,
    /// `set`, `cleared` or `edited`.
    pub action: String,
    /// The new value or inserted text, if any.
    pub value: Option<String>,
}

/// One change to a record: who, when, what.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HistoryEntry {
    /// When, as the author's clock said.
    pub at: String,
    /// The user who made it.
    pub author: String,
    /// The fields it changed.
    pub changes: Vec<FieldChange>,
}

impl From<history::HistoryEntry> for HistoryEntry {
    fn from(h: history::HistoryEntry) -> Self {
        HistoryEntry {
            at: h.at,
            author: h.author,
            changes: h
                .fields
                .into_iter()
                .map(|c| FieldChange {
                    field: c.field,
                    action: c.action,
                    value: c.value,
                })
                .collect(),
        }
    }
}

/// An edit the server refused, kept exactly as the user typed it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QuarantinedEdit {
    /// Row id, for [`FieldworkDevice::dismiss_quarantined`](crate::FieldworkDevice).
    pub id: i64,
    /// The record edited.
    pub record: String,
    /// The field written.
    pub field: String,
    /// The value typed, as JSON (`null` for clearing the field).
    pub value_json: String,
    /// Stable reason code.
    pub code: String,
    /// The policy rule that refused it.
    pub rule: String,
    /// Explanation for people.
    pub message: String,
    /// When the user made the edit.
    pub typed_at: String,
    /// When the server's refusal was handled.
    pub refused_at: String,
}

impl From<store::QuarantinedEdit> for QuarantinedEdit {
    fn from(q: store::QuarantinedEdit) -> Self {
        QuarantinedEdit {
            id: q.id,
            record: q.record.to_string(),
            field: q.field,
            value_json: q.value.to_string(),
            code: q.code,
            rule: q.rule,
            message: q.message,
            typed_at: q.typed_at,
            refused_at: q.refused_at,
        }
    }
}
