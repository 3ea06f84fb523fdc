//! The schema: which fields each kind of record has and what values they take.
//!
//! The built-in schema is code (it changes with releases); *which class*
//! each field is in is policy (it changes at runtime, see
//! [`crate::policy`]), and so are the custom fields (`x_…`) and picklists an
//! administrator adds there ([`custom`]): code that must see them asks
//! [`crate::policy::Policy::field`] rather than [`field`]. Every write,
//! local or arriving from the network, is checked against this schema.

mod account;
mod activity;
mod contact;
pub mod custom;
mod deal;
mod note;
mod process;
mod relationship;
pub mod target;

use crate::ids::RecordKind;

/// The type and shape of a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    /// One line of text, at most `max` characters.
    Text {
        /// Maximum length in characters.
        max: usize,
    },
    /// Long text stored as an Automerge text object: concurrent edits by two
    /// people merge character by character and both survive.
    LongText,
    /// An e-mail address (RFC 5322 addr-spec).
    Email,
    /// A phone number: digits with optional `+`, spaces, dots, dashes, parentheses.
    Phone,
    /// An absolute `http` or `https` URL.
    Url,
    /// One of a fixed set of values.
    Enum(&'static [&'static str]),
    /// Any number of a fixed set of values (custom `multi_choice` fields),
    /// stored as text: the chosen values in the set's order, joined by
    /// `, ` (such values never contain a comma).
    MultiEnum(&'static [&'static str]),
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// An instant with its UTC offset, RFC 3339 (`2027-01-08T09:00:00+01:00`).
    DateTime,
    /// An IANA time-zone name (`Europe/Budapest`).
    TimeZone,
    /// A whole number within bounds.
    Int {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// An amount of money in minor units (cents); the currency is another field.
    Money,
    /// An ISO 4217 currency code (`EUR`, `HUF`).
    Currency,
    /// An ISO 3166-1 alpha-2 country code (`ES`, `HU`).
    Country,
    /// True or false.
    Bool,
    /// A latitude in degrees, -90 to 90.
    Latitude,
    /// A longitude in degrees, -180 to 180.
    Longitude,
    /// A reference to another record of one of the given kinds.
    Ref(&'static [RecordKind]),
    /// A user name (as known to the server).
    User,
    /// The system-kept log of lifecycle stage transitions: a list of
    /// `{stage, at}` maps. Appended by the core whenever `stage` changes.
    StageLog,
    /// A map from keys to JSON objects, merged key by key. Used by the
    /// process engine for instance events and parameters.
    Entries,
    /// A photo or file: an [`crate::attachment::AttachmentRef`] (hash, size,
    /// media type, name) as compact JSON text; the bytes travel outside sync.
    File,
}

impl FieldType {
    /// A short human name for error messages and docs.
    pub fn describe(self) -> String {
        match self {
            FieldType::Text { max } => format!("text (at most {max} characters)"),
            FieldType::LongText => "long text".into(),
            FieldType::Email => "e-mail address".into(),
            FieldType::Phone => "phone number".into(),
            FieldType::Url => "http(s) URL".into(),
            FieldType::Enum(values) => format!("one of {}", values.join(", ")),
            FieldType::MultiEnum(values) => {
                format!("any of {} (separated by commas)", values.join(", "))
            }
            FieldType::Date => "date (YYYY-MM-DD)".into(),
            FieldType::DateTime => "date-time (RFC 3339, e.g. 2027-01-08T09:00:00+01:00)".into(),
            FieldType::TimeZone => "IANA time zone (e.g. Europe/Madrid)".into(),
            FieldType::Int { min, max } => format!("whole number from {min} to {max}"),
            FieldType::Money => "amount in minor units (whole number)".into(),
            FieldType::Currency => "ISO 4217 currency code".into(),
            FieldType::Country => "ISO 3166-1 alpha-2 country code".into(),
            FieldType::Bool => "true or false".into(),
            FieldType::Latitude => "latitude (-90 to 90)".into(),
            FieldType::Longitude => "longitude (-180 to 180)".into(),
            FieldType::Ref(kinds) => {
                let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
                format!("id of a {} record", names.join(" or "))
            }
            FieldType::User => "user name".into(),
            FieldType::StageLog => "stage history (kept by the system)".into(),
            FieldType::Entries => "map of JSON objects (kept by the system)".into(),
            FieldType::File => "photo or file (attach it; at most 25 MiB)".into(),
        }
    }

    /// Whether the value is an Automerge object (text, list, map) rather than
    /// a scalar. Such fields are created once with their document.
    pub fn is_container(self) -> bool {
        matches!(
            self,
            FieldType::LongText | FieldType::StageLog | FieldType::Entries
        )
    }
}

/// One field of a kind of record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldDef {
    /// The field's name, unique within its kind.
    pub name: &'static str,
    /// Type and shape of its value.
    pub ty: FieldType,
    /// Whether a record of this kind must always have a value for it.
    pub required: bool,
    /// Whether only the core sets it (users cannot write it directly).
    pub system: bool,
}

impl FieldDef {
    pub(crate) const fn new(name: &'static str, ty: FieldType) -> Self {
        FieldDef {
            name,
            ty,
            required: false,
            system: false,
        }
    }

    pub(crate) const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub(crate) const fn system(mut self) -> Self {
        self.system = true;
        self
    }
}

/// The field that archives a record (every customer kind has it): an
/// archived record is kept, synced and editable like any other, but left
/// out of lists, search and lookups unless asked for. Records are archived
/// rather than erased, because an offline device may still be editing one;
/// its edit then merges into the archived record and nothing typed is lost.
pub const ARCHIVED: &str = "archived";

/// The definition of [`ARCHIVED`], appended to every customer kind.
pub(crate) const ARCHIVED_FIELD: FieldDef = FieldDef::new(ARCHIVED, FieldType::Bool);

/// Whether records of `kind` can be archived (the customer kinds; process
/// models and instances have their own lifecycles).
pub fn archivable(kind: RecordKind) -> bool {
    field(kind, ARCHIVED).is_some()
}

/// The field that marks a record merged into another of its kind (a
/// duplicate's survivor, see [`crate::merge`]): the merged record is kept,
/// archived, with its whole history, and edits made to it afterwards are
/// forwarded to the survivor. Written only by a merge or its undo, by roles
/// that may archive.
pub const MERGED_INTO: &str = "merged_into";

/// The definition of [`MERGED_INTO`] for accounts.
pub(crate) const MERGED_INTO_ACCOUNT: FieldDef =
    FieldDef::new(MERGED_INTO, FieldType::Ref(&[RecordKind::Account]));

/// The definition of [`MERGED_INTO`] for contacts.
pub(crate) const MERGED_INTO_CONTACT: FieldDef =
    FieldDef::new(MERGED_INTO, FieldType::Ref(&[RecordKind::Contact]));

/// Common text length for names and subjects.
pub(crate) const NAME: FieldType = FieldType::Text { max: 200 };
/// Common text length for short codes and labels.
pub(crate) const SHORT: FieldType = FieldType::Text { max: 80 };
/// Common text length for one-paragraph texts (reasons, outcomes).
pub(crate) const PARAGRAPH: FieldType = FieldType::Text { max: 2000 };

/// The fields of every record kind, in display order.
pub fn fields(kind: RecordKind) -> &'static [FieldDef] {
    match kind {
        RecordKind::Account => account::FIELDS,
        RecordKind::Contact => contact::FIELDS,
        RecordKind::Relationship => relationship::FIELDS,
        RecordKind::Deal => deal::FIELDS,
        RecordKind::Activity => activity::FIELDS,
        RecordKind::Note => note::FIELDS,
        RecordKind::ProcessModel => process::MODEL_FIELDS,
        RecordKind::ProcessInstance => process::INSTANCE_FIELDS,
        RecordKind::Target => target::FIELDS,
    }
}

/// The definition of `field` in `kind`, if the schema has it.
pub fn field(kind: RecordKind, field: &str) -> Option<&'static FieldDef> {
    fields(kind).iter().find(|f| f.name == field)
}

/// Lifecycle stages of an account, in their usual order.
pub const ACCOUNT_STAGES: &[&str] = account::STAGES;
/// Pipeline stages of a deal; `won` and `lost` close it.
pub const DEAL_STAGES: &[&str] = deal::STAGES;
/// Types of activity.
pub const ACTIVITY_TYPES: &[&str] = activity::TYPES;
/// Statuses of an activity.
pub const ACTIVITY_STATUSES: &[&str] = activity::STATUSES;
/// Types of relationship between accounts and contacts.
pub const RELATIONSHIP_TYPES: &[&str] = relationship::TYPES;
/// Statuses of a process instance.
pub const INSTANCE_STATUSES: &[&str] = process::INSTANCE_STATUSES;

/// The currency field that gives the money field `money_field` of `kind`
/// its currency (`credit_limit` → `credit_currency`, a deal's `amount` →
/// `currency`); `None` for a field that is not money.
pub fn currency_field(kind: RecordKind, money_field: &str) -> Option<&'static str> {
    let def = field(kind, money_field).filter(|d| d.ty == FieldType::Money)?;
    let name = if def.name == "credit_limit" {
        "credit_currency"
    } else {
        "currency"
    };
    field(kind, name)
        .filter(|d| d.ty == FieldType::Currency)
        .map(|d| d.name)
}

/// The field that names a record of `kind` in lists and search results.
pub fn title_field(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Account | RecordKind::Deal | RecordKind::ProcessModel | RecordKind::Target => {
            "name"
        }
        RecordKind::Contact => "last_name",
        RecordKind::Relationship => "type",
        RecordKind::Activity => "subject",
        RecordKind::Note => "title",
        RecordKind::ProcessInstance => "model_key",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_unique_field_names_and_an_owner() {
        for kind in RecordKind::ALL {
            let defs = fields(kind);
            let mut names: Vec<&str> = defs.iter().map(|f| f.name).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "duplicate field in {kind}");
            assert!(field(kind, "owner").is_some(), "{kind} has no owner");
            assert!(
                field(kind, title_field(kind)).is_some(),
                "{kind} has no title field"
            );
        }
    }

    #[test]
    fn required_fields_are_never_system_fields() {
        for kind in RecordKind::ALL {
            for def in fields(kind) {
                assert!(!(def.required && def.system), "{kind}.{}", def.name);
            }
        }
    }
}
