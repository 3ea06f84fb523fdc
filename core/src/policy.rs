//! The organisation's privacy policy: field classes, roles and their rights,
//! and its business-hours calendar ([`hours`]).
//!
//! [`Policy`] is parsed from TOML ([`Policy::from_toml`]) and always valid:
//! construction checks every rule and reports *all* problems at once, each
//! naming the key it concerns. The shipped default lives in
//! `core/policy.default.toml` ([`Policy::shipped_default`]).
//!
//! The same `Policy` value is used by the device (to refuse forbidden writes
//! before making them) and by the server (to filter what it sends and to check
//! every operation of every incoming change), so both sides agree.

pub(crate) mod access;
pub mod custom;
mod file;
pub mod hours;

use std::collections::{BTreeMap, BTreeSet};

pub(crate) use access::denial;
pub use access::{Access, RecordFacts, UserContext, codes};
pub use hours::{BusinessHours, BusinessSpan};

use crate::error::CoreError;
use crate::ids::{ClassName, RecordKind};
use crate::schema::{self, FieldDef};

/// The shipped default policy, as TOML text.
pub const DEFAULT_POLICY_TOML: &str = include_str!("../policy.default.toml");

/// Which records a role sees or edits.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Records the user owns (or, for activities, is assigned).
    Own,
    /// Records in one of the user's territories.
    Territory,
    /// Records owned by people the user manages.
    Team,
    /// Every record.
    All,
}

/// What a role may do to process instances (used by the process engine).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProcessRights {
    /// Start an instance by hand from a record.
    pub start: bool,
    /// Complete tasks that the engine created.
    pub complete_tasks: bool,
    /// Change an instance's parameters.
    pub change_parameters: bool,
    /// Suspend and resume an instance.
    pub suspend: bool,
    /// Stop an instance for good.
    pub stop: bool,
    /// Publish new model versions.
    pub publish: bool,
    /// Move running instances to another model version.
    pub migrate: bool,
}

/// One role's rights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// What the role is for.
    pub description: String,
    /// Whether the role may administer users and the policy.
    pub admin: bool,
    /// Classes the role may read.
    pub read: BTreeSet<ClassName>,
    /// Classes the role may write (always a subset of `read`).
    pub write: BTreeSet<ClassName>,
    /// Which records the role sees.
    pub sees: BTreeSet<Scope>,
    /// Which records the role may change (each scope is covered by `sees`).
    pub edits: BTreeSet<Scope>,
    /// Rights over process instances.
    pub process: ProcessRights,
    /// Whether the role may archive and restore records (write
    /// [`crate::schema::ARCHIVED`]) it may edit, and so merge duplicates
    /// (write [`crate::schema::MERGED_INTO`]); `archive = true` in the file.
    pub archive: bool,
    /// Whether the role may set, change and retire targets (records of
    /// kind [`RecordKind::Target`]); `targets = true` in the file.
    pub targets: bool,
}

/// One field class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassDef {
    /// What the class holds.
    pub description: String,
}

/// A complete, validated privacy policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    base_class: ClassName,
    classes: BTreeMap<ClassName, ClassDef>,
    field_class: BTreeMap<(RecordKind, String), ClassName>,
    roles: BTreeMap<String, Role>,
    business_hours: Option<BusinessHours>,
    extensions: custom::Extensions,
    source: String,
}

impl Policy {
    /// Parses and validates a policy. On failure every problem found is
    /// listed in [`CoreError::Policy`], each starting with the key concerned.
    pub fn from_toml(text: &str) -> Result<Self, CoreError> {
        file::parse(text)
    }

    /// The default policy shipped with Fieldwork.
    pub fn shipped_default() -> Self {
        // The shipped file is checked by a unit test; failing here would be a
        // build defect, not bad input.
        #[allow(clippy::expect_used)]
        file::parse(DEFAULT_POLICY_TOML).expect("the shipped default policy is valid")
    }

    /// The TOML text this policy was parsed from (what the server stores and
    /// sends to devices).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The class holding the fields that decide visibility.
    pub fn base_class(&self) -> &ClassName {
        &self.base_class
    }

    /// Every class, with its description.
    pub fn classes(&self) -> &BTreeMap<ClassName, ClassDef> {
        &self.classes
    }

    /// The class `field` of `kind` belongs to (`None` if the schema has no such field).
    pub fn class_of(&self, kind: RecordKind, field: &str) -> Option<&ClassName> {
        self.field_class.get(&(kind, field.to_owned()))
    }

    /// The fields of `kind` that are in `class`.
    pub fn fields_in<'a>(
        &'a self,
        kind: RecordKind,
        class: &'a ClassName,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.field_class
            .iter()
            .filter(move |((k, _), c)| *k == kind && *c == class)
            .map(|((_, f), _)| f.as_str())
    }

    /// The classes that hold at least one field of `kind`, base class first.
    pub fn classes_of_kind(&self, kind: RecordKind) -> Vec<ClassName> {
        let mut out = vec![self.base_class.clone()];
        for ((k, _), class) in &self.field_class {
            if *k == kind && !out.contains(class) {
                out.push(class.clone());
            }
        }
        out
    }

    /// The role named `name`.
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.get(name)
    }

    /// Every role by name.
    pub fn roles(&self) -> &BTreeMap<String, Role> {
        &self.roles
    }

    /// The definition of `field` of `kind` under this policy: a built-in
    /// field (with its picklist when the policy gives one) or one of the
    /// policy's custom fields. A custom field a later policy removed is
    /// `None`: its values stay in documents (and history) but are neither
    /// shown nor writable.
    pub fn field(&self, kind: RecordKind, field: &str) -> Option<&'static FieldDef> {
        match schema::field(kind, field) {
            Some(def) => Some(
                self.extensions
                    .picklists
                    .get(&(kind, def.name))
                    .copied()
                    .unwrap_or(def),
            ),
            None => self.extensions.custom(kind, field),
        }
    }

    /// Every field of `kind` under this policy: the built-in ones in
    /// schema order (picklists applied), then the custom ones by name.
    pub fn fields(&self, kind: RecordKind) -> impl Iterator<Item = &'static FieldDef> + '_ {
        let custom = self.extensions.fields.get(&kind).into_iter().flatten();
        schema::fields(kind)
            .iter()
            .map(move |def| {
                let picklist = self.extensions.picklists.get(&(kind, def.name));
                picklist.copied().unwrap_or(def)
            })
            .chain(custom.copied())
    }

    /// The label an administrator gave custom field `field` of `kind`
    /// (its name when none); `None` for any other field.
    pub fn label(&self, kind: RecordKind, field: &str) -> Option<&str> {
        self.extensions
            .labels
            .iter()
            .find(|((k, f), _)| *k == kind && *f == field)
            .map(|(_, label)| label.as_str())
    }

    /// Whether `other` defines the same fields as this policy (custom
    /// fields and picklists): when it does not, what a device indexes
    /// changes with it.
    pub fn same_fields(&self, other: &Policy) -> bool {
        self.extensions.fields == other.extensions.fields
            && self.extensions.picklists == other.extensions.picklists
    }

    /// The deal stages in force, in pipeline order: the policy's
    /// `[picklists.deal] stage` list, else the built-in
    /// [`schema::DEAL_STAGES`]. Always holds `won` and `lost`. A deal may
    /// still hold a stage a later policy removed (kept and shown as it is);
    /// only a new write must choose one of these.
    pub fn deal_stages(&self) -> &'static [&'static str] {
        self.extensions.deal_stages()
    }

    /// The deal stage probabilities in percent that `[pipeline.probability]`
    /// gives (empty when the policy has none); the pipeline report weighs
    /// open deals with them unless a query gives its own.
    pub fn stage_probabilities(&self) -> &BTreeMap<String, u8> {
        &self.extensions.probability
    }

    /// The organisation's business-hours calendar (`[business_hours]`);
    /// `None` when the policy has none: every hour counts.
    pub fn business_hours(&self) -> Option<&BusinessHours> {
        self.business_hours.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_default_is_valid_and_protects_restricted_account_fields() {
        let policy = Policy::shipped_default();
        let tax = policy
            .class_of(RecordKind::Account, "tax_id")
            .expect("classified");
        let credit = policy
            .class_of(RecordKind::Account, "credit_limit")
            .expect("classified");
        let rep = policy.role("rep").expect("rep role");
        assert!(!rep.read.contains(tax) && !rep.write.contains(tax));
        assert!(!rep.read.contains(credit) && !rep.write.contains(credit));
        for role in ["manager", "admin"] {
            let r = policy.role(role).expect("role");
            assert!(r.read.contains(tax) && r.write.contains(tax), "{role}");
            assert!(
                r.read.contains(credit) && r.write.contains(credit),
                "{role}"
            );
        }
    }

    #[test]
    fn classes_of_kind_lists_base_class_first() {
        let policy = Policy::shipped_default();
        let classes = policy.classes_of_kind(RecordKind::Account);
        assert_eq!(classes[0].as_str(), "general");
        assert_eq!(classes.len(), 4);
        assert_eq!(policy.classes_of_kind(RecordKind::Deal).len(), 1);
    }
}
