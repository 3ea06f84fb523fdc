//! The policy file format (TOML) and its validation.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::custom::Extensions;
use super::{ClassDef, Policy, ProcessRights, Role, Scope};
use crate::error::CoreError;
use crate::ids::{ClassName, RecordKind};
use crate::schema;

/// The only format version this build reads.
const FORMAT: u32 = 1;

/// Fields that decide who sees a record; they must be in the base class so
/// that everyone who sees the record can evaluate visibility.
const ROUTING_FIELDS: &[&str] = &["owner", "territory", "account", "assignee", "record"];

/// Fields everyone who sees a record must read too, so they are in the base
/// class; a policy that does not list them gets them there (a policy written
/// before the field existed stays valid).
const BASE_FIELDS: &[&str] = &[schema::ARCHIVED, schema::MERGED_INTO];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    format: u32,
    base_class: String,
    classes: BTreeMap<String, ClassFile>,
    fields: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    roles: BTreeMap<String, RoleFile>,
    /// The business-hours calendar (absent: every hour counts).
    #[serde(default)]
    business_hours: Option<super::hours::HoursFile>,
    /// Custom fields by kind and name (absent: none).
    #[serde(default)]
    custom: BTreeMap<String, BTreeMap<String, super::custom::CustomFile>>,
    /// Built-in text fields that become choices, by kind and field.
    #[serde(default)]
    picklists: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// Pipeline settings (stage probabilities).
    #[serde(default)]
    pipeline: super::custom::PipelineFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassFile {
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleFile {
    #[serde(default)]
    description: String,
    #[serde(default)]
    admin: bool,
    read: Vec<String>,
    write: Vec<String>,
    sees: Vec<Scope>,
    edits: Vec<Scope>,
    #[serde(default)]
    process: ProcessRights,
    #[serde(default)]
    archive: bool,
    #[serde(default)]
    targets: bool,
}

/// Reads a policy file and checks it whole: every problem is listed, each
/// with its key, in file order (format, classes, base class, fields, roles,
/// business hours);
/// the policy is returned only when there is none.
pub(super) fn parse(text: &str) -> Result<Policy, CoreError> {
    let file: PolicyFile = toml::from_str(text)
        .map_err(|e| CoreError::Policy(vec![e.to_string().trim().to_owned()]))?;
    let mut errors = Vec::new();

    if file.format != FORMAT {
        errors.push(format!(
            "format: this build reads format {FORMAT}, the file says {}",
            file.format
        ));
    }
    let classes = parse_classes(&file, &mut errors);
    let base_class = class_ref(&classes, "base_class", &file.base_class, &mut errors);
    let extensions =
        super::custom::parse(&file.custom, &file.picklists, &file.pipeline, &mut errors);
    let mut field_class = parse_fields(&file, &classes, &extensions, &mut errors);
    if let Some(base) = &base_class {
        place_base_fields(&mut field_class, base);
        place_unlisted_kinds(&file, &mut field_class, base);
    }
    check_classified(
        &field_class,
        &extensions,
        base_class.as_ref(),
        &file.base_class,
        &mut errors,
    );
    let roles = parse_roles(&file, &classes, base_class.as_ref(), &mut errors);
    let business_hours = file
        .business_hours
        .as_ref()
        .and_then(|h| super::hours::check(h, &mut errors));

    match (errors.is_empty(), base_class) {
        (true, Some(base_class)) => Ok(Policy {
            base_class,
            classes,
            field_class,
            roles,
            business_hours,
            extensions,
            source: text.to_owned(),
        }),
        _ => Err(CoreError::Policy(errors)),
    }
}

/// The declared classes whose names are valid (an error for each other).
fn parse_classes(file: &PolicyFile, errors: &mut Vec<String>) -> BTreeMap<ClassName, ClassDef> {
    let mut classes = BTreeMap::new();
    for (name, class) in &file.classes {
        match ClassName::new(name) {
            Ok(c) => {
                classes.insert(
                    c,
                    ClassDef {
                        description: class.description.clone(),
                    },
                );
            }
            Err(e) => errors.push(format!("classes.{name}: {e}")),
        }
    }
    classes
}

/// The class `name` refers to at `key`, if it is declared in `[classes]`
/// (an error otherwise).
fn class_ref(
    classes: &BTreeMap<ClassName, ClassDef>,
    key: &str,
    name: &str,
    errors: &mut Vec<String>,
) -> Option<ClassName> {
    match ClassName::new(name) {
        Ok(c) if classes.contains_key(&c) => Some(c),
        _ => {
            errors.push(format!("{key}: unknown class `{name}` (not in [classes])"));
            None
        }
    }
}

/// The class of each field listed under `[fields]`; an error for an
/// unknown record kind, an unknown class, a name that is not a field of
/// the kind (built-in or custom), and a field listed in a second class (the
/// first one stays).
fn parse_fields(
    file: &PolicyFile,
    classes: &BTreeMap<ClassName, ClassDef>,
    extensions: &Extensions,
    errors: &mut Vec<String>,
) -> BTreeMap<(RecordKind, String), ClassName> {
    let mut field_class: BTreeMap<(RecordKind, String), ClassName> = BTreeMap::new();
    for (kind_name, by_class) in &file.fields {
        let Ok(kind) = kind_name.parse::<RecordKind>() else {
            errors.push(format!(
                "fields.{kind_name}: unknown record kind `{kind_name}`"
            ));
            continue;
        };
        for (class_name, fields) in by_class {
            let key = format!("fields.{kind_name}.{class_name}");
            let Some(class) = class_ref(classes, &key, class_name, errors) else {
                continue;
            };
            for field in fields {
                if schema::field(kind, field).is_none() && extensions.custom(kind, field).is_none()
                {
                    errors.push(format!("{key}: `{field}` is not a field of {kind_name}"));
                    continue;
                }
                if let Some(previous) = field_class.insert((kind, field.clone()), class.clone()) {
                    errors.push(format!(
                        "{key}: `{field}` is already in class `{previous}`; a field belongs to exactly one class"
                    ));
                }
            }
        }
    }
    field_class
}

/// Puts each of [`BASE_FIELDS`] the file does not classify in the base class.
fn place_base_fields(
    field_class: &mut BTreeMap<(RecordKind, String), ClassName>,
    base: &ClassName,
) {
    for kind in RecordKind::ALL {
        for name in BASE_FIELDS {
            if schema::field(kind, name).is_some() {
                field_class
                    .entry((kind, (*name).to_owned()))
                    .or_insert_with(|| base.clone());
            }
        }
    }
}

/// Kinds a policy may leave out of `[fields]` entirely: all their fields go
/// to the base class (a policy written before the kind existed stays
/// valid). Who may write them is decided by a role right, not a class.
const BASE_KINDS: &[RecordKind] = &[RecordKind::Target];

/// Puts every field of each of [`BASE_KINDS`] the file has no `[fields.*]`
/// table for in the base class.
fn place_unlisted_kinds(
    file: &PolicyFile,
    field_class: &mut BTreeMap<(RecordKind, String), ClassName>,
    base: &ClassName,
) {
    for kind in BASE_KINDS {
        if file.fields.contains_key(kind.as_str()) {
            continue;
        }
        for def in schema::fields(*kind) {
            field_class
                .entry((*kind, def.name.to_owned()))
                .or_insert_with(|| base.clone());
        }
    }
}

/// Every schema field (custom ones too) must be in a class, and the routing fields in the
/// base class (`base_name` as written in the file, for the message).
fn check_classified(
    field_class: &BTreeMap<(RecordKind, String), ClassName>,
    extensions: &Extensions,
    base_class: Option<&ClassName>,
    base_name: &str,
    errors: &mut Vec<String>,
) {
    for kind in RecordKind::ALL {
        let custom = extensions.fields.get(&kind).into_iter().flatten().copied();
        for def in schema::fields(kind).iter().chain(custom) {
            match field_class.get(&(kind, def.name.to_owned())) {
                None => errors.push(format!(
                    "fields.{kind}: `{}` is not in any class; every field must be classified",
                    def.name
                )),
                Some(class) if Some(class) != base_class => {
                    let why = if ROUTING_FIELDS.contains(&def.name) {
                        "decides who sees the record"
                    } else if BASE_FIELDS.contains(&def.name) {
                        "must be known to everyone who sees the record"
                    } else {
                        continue;
                    };
                    errors.push(format!(
                        "fields.{kind}.{class}: `{}` {why} and must be in the base class `{base_name}`",
                        def.name
                    ));
                }
                Some(_) => {}
            }
        }
    }
}

/// The roles, each checked by [`parse_role`]; at least one must be admin.
fn parse_roles(
    file: &PolicyFile,
    classes: &BTreeMap<ClassName, ClassDef>,
    base_class: Option<&ClassName>,
    errors: &mut Vec<String>,
) -> BTreeMap<String, Role> {
    let mut roles = BTreeMap::new();
    for (name, role) in &file.roles {
        let role = parse_role(name, role, classes, base_class, errors);
        roles.insert(name.clone(), role);
    }
    if !roles.values().any(|r| r.admin) {
        errors.push("roles: at least one role must have `admin = true`".to_owned());
    }
    roles
}

/// One role, with an error for a bad name, unknown classes, a class it
/// writes but does not read, no scope seen, a scope it edits but does not
/// see (unless it sees all), and not reading the base class.
fn parse_role(
    name: &str,
    role: &RoleFile,
    classes: &BTreeMap<ClassName, ClassDef>,
    base_class: Option<&ClassName>,
    errors: &mut Vec<String>,
) -> Role {
    let key = format!("roles.{name}");
    if !valid_role_name(name) {
        errors.push(format!(
            "{key}: role names are 1-32 characters of a-z, 0-9 or `_`"
        ));
    }
    let read: BTreeSet<ClassName> = role
        .read
        .iter()
        .filter_map(|c| class_ref(classes, &format!("{key}.read"), c, errors))
        .collect();
    let write: BTreeSet<ClassName> = role
        .write
        .iter()
        .filter_map(|c| class_ref(classes, &format!("{key}.write"), c, errors))
        .collect();
    for class in write.difference(&read) {
        errors.push(format!(
            "{key}.write: `{class}` is writable but not readable; add it to {key}.read"
        ));
    }
    let sees: BTreeSet<Scope> = role.sees.iter().copied().collect();
    let edits: BTreeSet<Scope> = role.edits.iter().copied().collect();
    check_scopes(&key, &sees, &edits, errors);
    if let Some(base) = base_class
        && !read.contains(base)
    {
        errors.push(format!(
            "{key}.read: every role must read the base class `{base}`"
        ));
    }
    Role {
        description: role.description.clone(),
        admin: role.admin,
        read,
        write,
        sees,
        edits,
        process: role.process,
        archive: role.archive,
        targets: role.targets,
    }
}

/// Role names are 1-32 characters of a-z, 0-9 or `_`.
fn valid_role_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A role must see some records, and edit only records it sees (unless it
/// sees all).
fn check_scopes(
    key: &str,
    sees: &BTreeSet<Scope>,
    edits: &BTreeSet<Scope>,
    errors: &mut Vec<String>,
) {
    if sees.is_empty() {
        errors.push(format!(
            "{key}.sees: a role must see at least its own records"
        ));
    }
    if !sees.contains(&Scope::All) {
        for scope in edits.difference(sees) {
            errors.push(format!(
                "{key}.edits: `{scope:?}` is not among the records the role sees",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::DEFAULT_POLICY_TOML;
    use super::*;

    fn errors_of(text: &str) -> Vec<String> {
        match parse(text) {
            Err(CoreError::Policy(errors)) => errors,
            other => panic!("expected policy errors, got {other:?}"),
        }
    }

    #[test]
    fn a_syntax_error_is_reported_with_its_position() {
        let errors = errors_of("format = 1\nbase_class = \n");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("line 2"), "{errors:?}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = DEFAULT_POLICY_TOML.replace(
            "base_class = \"general\"",
            "base_class = \"general\"\nbase_klass = 1",
        );
        let errors = errors_of(&text);
        assert!(errors[0].contains("base_klass"), "{errors:?}");
    }

    #[test]
    fn every_problem_is_listed_with_its_key() {
        let text = DEFAULT_POLICY_TOML
            .replace("sensitive = [\"tax_id\"]", "sensitive = [\"tax_id\", \"colour\"]")
            .replace(
                "read = [\"general\", \"contact_details\"]\nwrite = [\"general\", \"contact_details\"]",
                "read = [\"general\"]\nwrite = [\"general\", \"contact_details\", \"secret\"]",
            )
            .replace("\"territory\", \"industry\"", "\"industry\"")
            .replace("financial = [\"credit_limit\", \"credit_currency\", \"contract\"]", "financial = [\"credit_limit\", \"credit_currency\", \"contract\", \"territory\"]");
        let errors = errors_of(&text);
        let has = |needle: &str| errors.iter().any(|e| e.contains(needle));
        assert!(
            has("fields.account.sensitive: `colour` is not a field"),
            "{errors:?}"
        );
        assert!(has("roles.rep.write: unknown class `secret`"), "{errors:?}");
        assert!(
            has("roles.rep.write: `contact_details` is writable but not readable"),
            "{errors:?}"
        );
        assert!(has("`territory` decides who sees the record"), "{errors:?}");
    }

    #[test]
    fn unclassified_and_doubly_classified_fields_are_refused() {
        let text = DEFAULT_POLICY_TOML
            .replace("sensitive = [\"tax_id\"]", "sensitive = []")
            .replace(
                "contact_details = [\"email\", \"phone\"",
                "contact_details = [\"email\", \"name\", \"phone\"",
            );
        let errors = errors_of(&text);
        let has = |needle: &str| errors.iter().any(|e| e.contains(needle));
        assert!(has("`tax_id` is not in any class"), "{errors:?}");
        assert!(has("`name` is already in class"), "{errors:?}");
    }

    #[test]
    fn target_fields_go_to_the_base_class_unless_the_policy_lists_them() {
        let policy = Policy::shipped_default();
        for def in schema::fields(RecordKind::Target) {
            assert_eq!(
                policy
                    .class_of(RecordKind::Target, def.name)
                    .map(|c| c.as_str()),
                Some("general"),
                "{}",
                def.name
            );
        }
        let roles = |p: &Policy, r: &str| p.role(r).expect("role").targets;
        assert!(roles(&policy, "manager") && roles(&policy, "admin"));
        assert!(!roles(&policy, "rep") && !roles(&policy, "auditor"));
        // Listing the kind means classifying every one of its fields.
        let partial = crate::policy::DEFAULT_POLICY_TOML.replace(
            "[roles.rep]",
            "[fields.target]\ngeneral = [\"metric\"]\n\n[roles.rep]",
        );
        let Err(CoreError::Policy(errors)) = Policy::from_toml(&partial) else {
            panic!("a partial [fields.target] must be refused");
        };
        assert!(
            errors
                .iter()
                .any(|e| e.contains("`period` is not in any class")),
            "{errors:?}"
        );
    }

    #[test]
    fn archived_goes_to_the_base_class_unless_listed_and_only_there() {
        let policy = parse(DEFAULT_POLICY_TOML).expect("valid");
        for kind in [RecordKind::Account, RecordKind::Note, RecordKind::Activity] {
            assert_eq!(
                policy
                    .class_of(kind, schema::ARCHIVED)
                    .map(ClassName::as_str),
                Some("general"),
                "{kind}"
            );
        }
        assert!(
            policy
                .class_of(RecordKind::ProcessInstance, schema::ARCHIVED)
                .is_none()
        );
        assert!(policy.role("manager").expect("manager").archive);
        assert!(!policy.role("rep").expect("rep").archive);
        let listed_elsewhere = DEFAULT_POLICY_TOML.replace(
            "sensitive = [\"tax_id\"]",
            "sensitive = [\"tax_id\", \"archived\"]",
        );
        let errors = errors_of(&listed_elsewhere);
        assert!(
            errors.iter().any(|e| e.contains(
                "fields.account.sensitive: `archived` must be known to everyone who sees the record"
            )),
            "{errors:?}"
        );
    }

    #[test]
    fn custom_roles_are_accepted() {
        let text = format!(
            "{DEFAULT_POLICY_TOML}\n[roles.telesales]\nread = [\"general\", \"contact_details\"]\nwrite = [\"general\"]\nsees = [\"own\"]\nedits = [\"own\"]\n"
        );
        let policy = parse(&text).expect("valid");
        assert!(policy.role("telesales").expect("custom role").process == ProcessRights::default());
    }
}
