//! One edit of one record, as a user asks for it: checked and turned into
//! one Automerge change per class document. Pure (no I/O): the device store
//! ([`crate::store`]) and the server's office API run this same code, and
//! the server then accepts the API's changes only through the path a
//! device's push takes, so an edit made anywhere meets the same rules.
//!
//! Order matters and is the guarantee: (1) every field written exists in
//! the schema and is not kept by the system, (2) the policy refuses a field
//! the user may not write, whatever its value (so a refusal never names a
//! rule or a value check about fields they may not write or even read),
//! (3) every value is checked against the schema (text typed into a form,
//! [`TextWrite`], is parsed only now), (4) the record as it would be is
//! checked against the rule book ([`crate::rules`]: required and
//! cross-field rules; the system writes a write implies come from there
//! too, and the policy is asked about them as well), and only then (5) are
//! documents changed. A refusal at any step changes nothing. What the edit
//! reads beyond the record (stored class documents, an account's
//! territory) comes from an [`EditEnv`].
//!
//! Guarantees: a field the user may not write, a value the schema refuses
//! or a record a rule would newly break is refused before any document is
//! touched, with the same codes the server uses for a forged push
//! (`class_not_writable`, `record_not_editable`, `invalid_value`, ...).

mod field_write;
mod plan;

use automerge::{ActorId, Change};
use jiff::Timestamp;

pub use field_write::{FieldWrite, TextWrite, TypedWrite};

use crate::document::ClassDoc;
use crate::error::{CoreError, Result, ValidationError};
use crate::ids::{ClassName, DocId, RecordId, RecordKind};
use crate::policy::{Access, Policy};
use crate::record::Record;
use crate::schema::{self, FieldDef};
use crate::value::FieldValue;

/// A class document changed by an edit, with its new change and the typed
/// writes it carries.
pub type Touched = (ClassDoc, Change, Vec<TypedWrite>);

/// What an edit reads beyond the record: stored class documents and the
/// territory an account passes to its children.
pub trait EditEnv {
    /// The stored territory of `account`, if the account is known.
    fn account_territory(&self, account: &RecordId) -> Result<Option<String>>;
    /// The stored class document `doc`, taken for changing (`None` when the
    /// record has no such document yet).
    fn take_doc(&mut self, doc: &DocId) -> Result<Option<ClassDoc>>;
    /// The actor a new class document is made with.
    fn actor(&self) -> &ActorId;
}

/// Who edits, under which rules, and when.
#[derive(Debug, Clone, Copy)]
pub struct Editor<'a> {
    /// The user's access (role, territories, team, policy).
    pub access: &'a Access,
    /// The policy in force (field classes).
    pub policy: &'a Policy,
    /// The author stamped on changes (the user's name).
    pub author: &'a str,
    /// The time stamped on changes and implied writes (whole seconds).
    pub now: Timestamp,
    /// How the user types dates ([`Locale::parse_date`]); ISO is read in
    /// every locale.
    pub locale: crate::locale::Locale,
}

impl Editor<'_> {
    /// Checks `writes` to `current` (an empty record when `creating`,
    /// which then gets the defaults: owner, first stage, `planned`) and
    /// applies them: one change per class document that changes. Nothing
    /// is returned for writes that change nothing.
    pub fn write(
        &self,
        env: &mut impl EditEnv,
        current: &Record,
        creating: bool,
        writes: Vec<FieldWrite>,
    ) -> Result<Vec<Touched>> {
        let kind = current.kind();
        let fields: Vec<&str> = writes.iter().map(|w| w.field.as_str()).collect();
        self.check_fields(env, current, creating, &fields)?;
        let mut wanted = plan::check_values(self.policy, kind, writes)?;
        if creating {
            for (field, default) in plan::defaults(self.policy, kind, self.author) {
                wanted.entry(field).or_insert(Some(default));
            }
        }
        let after = plan::fields_after(current, &wanted);
        plan::check_rules(kind, creating, current, &after)?;
        let planned = plan::plan_writes(
            self.policy,
            kind,
            creating,
            current,
            &after,
            wanted,
            self.now,
        )?;
        if planned.is_empty() {
            return Ok(Vec::new());
        }
        for p in &planned {
            self.check_field(env, current, p.def.name, !creating)?;
        }
        if creating {
            self.check_creation(env, current, &after)?;
        }
        plan::apply(self, env, current, planned, creating)
    }

    /// [`Editor::write`] for text as a person typed it into a form: the
    /// fields are checked (schema names, then the policy) before any text
    /// is parsed, so a field the user may not write is refused as `Denied`
    /// whatever was typed into it; then the text is parsed against the
    /// schema ([`FieldWrite::text`]; money typed with its currency as a
    /// decimal amount, see [`TextWrite`]) and written as [`Editor::write`]
    /// does.
    pub fn write_text(
        &self,
        env: &mut impl EditEnv,
        current: &Record,
        creating: bool,
        texts: Vec<TextWrite>,
    ) -> Result<Vec<Touched>> {
        let kind = current.kind();
        let mut fields: Vec<&str> = texts.iter().map(|t| t.field.as_str()).collect();
        // Money typed with its currency also writes the currency field.
        for t in texts
            .iter()
            .filter(|t| t.currency.is_some() && t.text.is_some())
        {
            fields.push(field_write::money_currency_field(kind, &t.field)?);
        }
        self.check_fields(env, current, creating, &fields)?;
        let writes = field_write::from_texts(self.policy, kind, &texts, self.locale)?;
        self.write(env, current, creating, writes)
    }

    /// Steps (1) and (2): the fields exist and are the user's to set, and
    /// the policy lets this user write each of them on `current`.
    fn check_fields(
        &self,
        env: &impl EditEnv,
        current: &Record,
        creating: bool,
        fields: &[&str],
    ) -> Result<()> {
        plan::user_fields(self.policy, current.kind(), fields)?;
        for field in fields {
            self.check_field(env, current, field, !creating)?;
        }
        Ok(())
    }

    /// The policy: may the user write `field` of `current` (an existing
    /// record when `existing`, one being created otherwise)?
    pub fn check_field(
        &self,
        env: &impl EditEnv,
        current: &Record,
        field: &str,
        existing: bool,
    ) -> Result<()> {
        let inherited = match current.account() {
            Some(acc) => env.account_territory(&acc)?,
            None => None,
        };
        let facts = current.facts(inherited);
        let doc = self
            .policy
            .class_of(current.kind(), field)
            .map(|c| current.id.doc(c).to_string());
        self.access
            .check_write(
                current.kind(),
                field,
                existing.then_some(&facts),
                doc.as_deref(),
            )
            .map_err(CoreError::Denied)
    }

    /// A new record must fall inside the user's creation scope as the edit
    /// leaves it (the same check the server applies).
    fn check_creation(
        &self,
        env: &impl EditEnv,
        current: &Record,
        after: &std::collections::BTreeMap<String, FieldValue>,
    ) -> Result<()> {
        let created = Record {
            fields: after.clone(),
            ..current.clone()
        };
        let inherited = match created.account() {
            Some(acc) => env.account_territory(&acc)?,
            None => None,
        };
        crate::validate::check_new_record(
            self.access,
            current.kind(),
            &created.facts(inherited),
            None,
        )
        .map_err(CoreError::Denied)
    }

    /// The class `field` of `kind` lives in under the policy.
    pub fn class_of(&self, kind: RecordKind, field: &str) -> Result<ClassName> {
        self.policy
            .class_of(kind, field)
            .cloned()
            .ok_or_else(|| CoreError::Corrupt(format!("policy does not classify {kind}.{field}")))
    }
}

/// A record with no fields yet (what a creation starts from).
pub fn empty_record(id: &RecordId) -> Record {
    Record {
        id: id.clone(),
        fields: Default::default(),
        conflicts: Default::default(),
        classes: Vec::new(),
    }
}

/// Adds one class document's fields (and conflicting values) to `record`;
/// returns the document's latest change time (seconds).
pub fn absorb(record: &mut Record, doc: &mut ClassDoc) -> Result<i64> {
    for read in doc.read_fields()? {
        let field = read.field;
        if let Some(value) = read.value {
            record.fields.insert(field.clone(), value);
        }
        let all = read.all;
        // Equal concurrent values (the same step run on two replicas) are
        // not a conflict anyone needs to see.
        if all.len() > 1 && all.iter().any(|v| *v != all[0]) {
            record.conflicts.insert(field, all);
        }
    }
    record.classes.push(doc.id().class().clone());
    let mut updated = 0i64;
    for head in doc.heads() {
        if let Some(meta) = doc.automerge().get_change_meta_by_hash(&head) {
            updated = updated.max(meta.timestamp);
        }
    }
    Ok(updated)
}

/// The schema's definition of `field` of `kind` (`invalid_value`-style
/// error naming the field otherwise).
pub fn field_def(kind: RecordKind, field: &str) -> Result<&'static FieldDef> {
    schema::field(kind, field).ok_or_else(|| no_field(kind, field))
}

/// The definition of `field` of `kind` under `policy`, custom fields and
/// picklists included (the same error as [`field_def`] otherwise: a custom
/// field the policy removed is written no more).
pub fn policy_field_def(
    policy: &Policy,
    kind: RecordKind,
    field: &str,
) -> Result<&'static FieldDef> {
    policy
        .field(kind, field)
        .ok_or_else(|| no_field(kind, field))
}

fn no_field(kind: RecordKind, field: &str) -> CoreError {
    CoreError::Invalid(ValidationError::field(
        field,
        format!("{kind} has no field `{field}`"),
    ))
}
