//! Which field each column of a file goes to: a mapping file, or the
//! headers themselves.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::ids::RecordKind;
use crate::schema;

/// The column target holding a row's id in the system it comes from.
pub const EXTERNAL_ID: &str = "external_id";
/// The column target naming a row's account (its external id or its exact
/// name), for contacts, deals and activities.
pub const ACCOUNT: &str = "account";

/// A mapping file:
/// `{"columns": {"CSV header": "field"}, "defaults": {"field": "value"}, "currency": "EUR"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Header → field name, `external_id`, `account`, or `""` to ignore the
    /// column.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Field → value (as typed) for rows whose cell is empty or missing.
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
    /// The ISO 4217 currency amounts are typed in (`EUR`), unless a row's
    /// currency column says otherwise.
    #[serde(default)]
    pub currency: Option<String>,
}

impl Mapping {
    /// Reads a mapping file (JSON).
    pub fn from_json(bytes: &[u8]) -> Result<Mapping, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("the mapping is not valid: {e}"))
    }
}

/// Where one column goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A field of the kind.
    Field(&'static str),
    /// A custom field (`x_…`): defined by the policy, which the import's
    /// edit checks the cell against (its text is written as typed).
    Custom(String),
    /// The row's id in the old system.
    ExternalId,
    /// The row's account, by external id or exact name.
    Account,
    /// Not imported.
    Ignored,
}

/// A header as a field name: lower case, spaces and dashes as underscores
/// (`Postal code` → `postal_code`).
pub fn normalise(header: &str) -> String {
    header
        .trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Whether records of `kind` have an account to resolve.
pub fn has_account(kind: RecordKind) -> bool {
    matches!(
        kind,
        RecordKind::Contact | RecordKind::Deal | RecordKind::Activity
    )
}

/// The target named `name` for `kind`, or why there is none.
pub fn target(kind: RecordKind, name: &str) -> Result<Target, String> {
    if name.is_empty() {
        return Ok(Target::Ignored);
    }
    if name == EXTERNAL_ID {
        return Ok(Target::ExternalId);
    }
    if name == ACCOUNT && has_account(kind) {
        return Ok(Target::Account);
    }
    match schema::field(kind, name) {
        Some(def) if def.system => Err(format!(
            "`{name}` is kept by the system and cannot be imported"
        )),
        Some(def) if def.ty == schema::FieldType::File => Err(format!(
            "`{name}` is a photo or file, which an import cannot carry"
        )),
        Some(def) => Ok(Target::Field(def.name)),
        None if schema::custom::is_custom(name) => Ok(Target::Custom(name.to_owned())),
        None => Err(format!("a {kind} has no field `{name}`")),
    }
}

/// Where the column headed `header` goes: the mapping's entry for it, else
/// the field of the same name (see [`normalise`]).
pub fn column(kind: RecordKind, mapping: &Mapping, header: &str) -> Result<Target, String> {
    let mapped = mapping
        .columns
        .get(header)
        .or_else(|| mapping.columns.get(header.trim()));
    match mapped {
        Some(name) => target(kind, name.trim()).map_err(|e| format!("is mapped to a field: {e}")),
        None => target(kind, &normalise(header)).map_err(|_| {
            format!(
                "is not a field of a {kind}; map it to one in the mapping file, or to \"\" to ignore it"
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_map_by_name_or_by_the_mapping() {
        let none = Mapping::default();
        assert_eq!(
            column(RecordKind::Account, &none, "Postal code"),
            Ok(Target::Field("postal_code"))
        );
        assert_eq!(
            column(RecordKind::Contact, &none, "Account"),
            Ok(Target::Account)
        );
        assert!(column(RecordKind::Account, &none, "Account").is_err());
        assert!(column(RecordKind::Account, &none, "stage_history").is_err());
        let m = Mapping::from_json(br#"{"columns": {"Empresa": "name", "Notas": ""}}"#)
            .expect("mapping");
        assert_eq!(
            column(RecordKind::Account, &m, "Empresa"),
            Ok(Target::Field("name"))
        );
        assert_eq!(
            column(RecordKind::Account, &m, "Notas"),
            Ok(Target::Ignored)
        );
        assert!(Mapping::from_json(br#"{"colums": {}}"#).is_err());
    }
}
