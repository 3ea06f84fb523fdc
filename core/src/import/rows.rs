//! One row of a file checked as a record of its kind would be: every cell
//! parsed by the schema's own parsing ([`FieldWrite::text`], money typed
//! with its currency by [`value::money_to_minor`]) and the record checked
//! against the rule book ([`rules::violations`]).

use std::collections::BTreeMap;

use super::mapping::{Mapping, Target};
use super::{Issue, MAX_EXTERNAL_ID, Row};
use crate::edit::FieldWrite;
use crate::ids::RecordKind;
use crate::locale::Locale;
use crate::rules;
use crate::schema::{self, FieldType};
use crate::value::{self, FieldValue};

/// The fields a creation fills when a row leaves them empty (the edit's
/// defaults: the author owns the record, the first stage, `planned`), so
/// that their absence is not reported as a missing required field.
const FILLED_ON_CREATION: &[&str] = &["owner", "stage", "status"];

/// The columns of a file: each header with where it goes.
pub(super) struct Columns {
    pub(super) kind: RecordKind,
    pub(super) headers: Vec<(String, Target)>,
    pub(super) currency: Option<String>,
    /// The mapping's defaults, parsed once: (field, writes).
    pub(super) defaults: Vec<(&'static str, Vec<FieldWrite>)>,
}

/// What one cell (or default) writes; errors name the field.
fn cell_writes(
    kind: RecordKind,
    field: &'static str,
    text: &str,
    currency: Option<&str>,
) -> Result<Vec<FieldWrite>, String> {
    let def =
        schema::field(kind, field).ok_or_else(|| format!("a {kind} has no field `{field}`"))?;
    match def.ty {
        FieldType::Money => {
            let Some(code) = currency else {
                return Err(
                    "is an amount of money: give its currency (`currency` in the mapping, or a currency column)"
                        .into(),
                );
            };
            let minor = value::money_to_minor(&plain_amount(text), code).map_err(|e| e.message)?;
            let mut out = vec![FieldWrite::set(def.name, minor)];
            if let Some(cur) = schema::currency_field(kind, def.name) {
                out.push(FieldWrite::text(kind, cur, Some(code)).map_err(message)?);
            }
            Ok(out)
        }
        FieldType::Date => {
            let iso = Locale::En.parse_date(text).map(|d| d.to_string());
            let typed = iso.as_deref().unwrap_or(text);
            Ok(vec![
                FieldWrite::text(kind, def.name, Some(typed)).map_err(message)?,
            ])
        }
        _ => Ok(vec![
            FieldWrite::text(kind, def.name, Some(text)).map_err(message)?,
        ]),
    }
}

fn message(e: crate::error::CoreError) -> String {
    match e {
        crate::error::CoreError::Invalid(v) => v.message,
        other => other.to_string(),
    }
}

/// An amount as people write it (`1.250,50`, `1,250.50`, `1 250,50`) with
/// its thousands separators dropped, for [`value::money_to_minor`].
fn plain_amount(text: &str) -> String {
    let t: String = text
        .trim()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\'')
        .collect();
    let (dot, comma) = (t.rfind('.'), t.rfind(','));
    match (dot, comma) {
        // Both: the last one is the decimal mark, the other groups thousands.
        (Some(d), Some(c)) if d > c => t.replace(',', ""),
        (Some(_), Some(_)) => t.replace('.', ""),
        // One mark used more than once groups thousands.
        (Some(_), None) if t.matches('.').count() > 1 => t.replace('.', ""),
        (None, Some(_)) if t.matches(',').count() > 1 => t.replace(',', ""),
        _ => t,
    }
}

impl Columns {
    /// Parses the mapping's defaults (an invalid one is the mapping's
    /// error, not a row's).
    pub(super) fn with_defaults(mut self, mapping: &Mapping) -> Result<Self, String> {
        for (field, text) in &mapping.defaults {
            let Target::Field(name) = super::mapping::target(self.kind, field.trim())
                .map_err(|e| format!("the mapping's default for `{field}`: {e}"))?
            else {
                return Err(format!(
                    "the mapping's default for `{field}`: only fields take defaults"
                ));
            };
            let writes = cell_writes(self.kind, name, text, self.currency.as_deref())
                .map_err(|e| format!("the mapping's default for `{field}`: {e}"))?;
            self.defaults.push((name, writes));
        }
        Ok(self)
    }

    /// Checks one row (`cells`, one per header) that starts on `line`.
    pub(super) fn row(&self, line: u64, cells: &[&str]) -> Result<Row, Vec<Issue>> {
        let kind = self.kind;
        let mut issues = Vec::new();
        let issue = |column: &str, field: Option<&str>, message: String| Issue {
            line,
            column: Some(column.to_owned()),
            field: field.map(str::to_owned),
            message,
        };
        let mut row = Row {
            line,
            external_id: None,
            account: None,
            account_column: None,
            writes: Vec::new(),
            on_create: Vec::new(),
        };
        // A currency column gives the row's amounts their currency.
        let mut currency = self.currency.clone();
        for ((_, target), cell) in self.headers.iter().zip(cells) {
            if let Target::Field(f) = target
                && schema::field(kind, f).is_some_and(|d| d.ty == FieldType::Currency)
                && !cell.trim().is_empty()
            {
                currency = Some(cell.trim().to_owned());
            }
        }
        let mut set: BTreeMap<&'static str, &str> = BTreeMap::new();
        for ((header, target), cell) in self.headers.iter().zip(cells) {
            let is_long = matches!(target, Target::Field(f)
                if schema::field(kind, f).is_some_and(|d| d.ty == FieldType::LongText));
            if cell.trim().is_empty() {
                continue;
            }
            let text = if is_long { *cell } else { cell.trim() };
            match target {
                Target::Ignored => {}
                Target::ExternalId if text.chars().count() > MAX_EXTERNAL_ID => issues.push(issue(
                    header,
                    None,
                    format!("an external id has at most {MAX_EXTERNAL_ID} characters"),
                )),
                Target::ExternalId => row.external_id = Some(text.to_owned()),
                Target::Account => {
                    row.account = Some(text.to_owned());
                    row.account_column = Some(header.clone());
                }
                Target::Custom(f) => match FieldWrite::text(kind, f, Some(text)) {
                    Ok(write) => {
                        row.writes.retain(|o: &FieldWrite| o.field != write.field);
                        row.writes.push(write);
                    }
                    Err(e) => issues.push(issue(header, Some(f), e.to_string())),
                },
                Target::Field(f) => match cell_writes(kind, f, text, currency.as_deref()) {
                    Ok(writes) => {
                        set.insert(f, header);
                        for w in writes {
                            row.writes.retain(|o: &FieldWrite| o.field != w.field);
                            row.writes.push(w);
                        }
                    }
                    Err(message) => issues.push(issue(header, Some(f), message)),
                },
            }
        }
        for (field, writes) in &self.defaults {
            if !set.contains_key(field) {
                for w in writes {
                    if !row.writes.iter().any(|o| o.field == w.field) {
                        row.writes.push(w.clone());
                    }
                }
            }
        }
        if !issues.is_empty() {
            return Err(issues);
        }
        let mut fields: rules::Fields = row
            .writes
            .iter()
            .filter_map(|w| Some((w.field.clone(), w.value.clone()?)))
            .collect();
        for f in FILLED_ON_CREATION {
            if let Some(def) = schema::field(kind, f) {
                fields
                    .entry(def.name.to_owned())
                    .or_insert(FieldValue::Text(String::new()));
            }
        }
        // An account column names an account the server resolves before the
        // edit (an unknown one refuses the row there): the record has one.
        if row.account.is_some() {
            fields
                .entry(super::ACCOUNT.to_owned())
                .or_insert(FieldValue::Text(String::new()));
        }
        for v in rules::violations(kind, &fields) {
            let column = set.get(v.field.as_str()).copied();
            row.on_create.push(Issue {
                line,
                column: column.map(str::to_owned),
                field: Some(v.field.clone()),
                message: v.message,
            });
        }
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_as_people_write_them() {
        assert_eq!(plain_amount("1.250,50"), "1250,50");
        assert_eq!(plain_amount("1,250.50"), "1250.50");
        assert_eq!(plain_amount("1 250,5"), "1250,5");
        assert_eq!(plain_amount("1.000.000"), "1000000");
        assert_eq!(plain_amount("12,5"), "12,5");
    }
}
