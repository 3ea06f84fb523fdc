//! Custom fields: names and the process-wide interner of their definitions.
//!
//! An administrator defines custom fields in the policy file (see
//! `crate::policy::custom`); every field name there gets the
//! [`PREFIX`] `x_`, so no built-in field, now or in a later release, can
//! collide with one. Their definitions are ordinary [`FieldDef`]s, so every
//! function that takes a definition (value parsing and checks, the
//! validator, cards, indexes) handles them unchanged.
//!
//! `FieldDef` is `Copy` with `'static` data, like the built-in tables. A
//! custom definition is made `'static` by [`intern`]: each *distinct*
//! definition (name, type, choices) is leaked once and shared by every
//! policy that holds it, so parsing the same policy again (a device opening
//! its store, the server reading its policy) allocates nothing new. Memory
//! is bounded by the distinct definitions ever installed in the process,
//! which only administrators write, each policy holding at most
//! `MAX_PER_KIND` fields per kind. This was chosen over owned definitions
//! because some sixty call sites hold `&'static FieldDef`.
//!
//! Guarantees:
//! - [`intern`] returns the same reference for equal definitions, and the
//!   reference lives for the rest of the process;
//! - [`is_custom`] is true exactly for names with the [`PREFIX`].

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use super::{FieldDef, FieldType};
use crate::ids::RecordKind;

/// The prefix of every custom field's name.
pub const PREFIX: &str = "x_";

/// Whether `name` is the name of a custom field (it has the [`PREFIX`]).
pub fn is_custom(name: &str) -> bool {
    name.starts_with(PREFIX)
}

/// How `field` of `kind` is stored, without asking a policy: its built-in
/// type, or for a custom field (defined by a policy, perhaps removed
/// since) one scalar, for which any scalar type reads and writes the
/// value as it is; `None` for any other name.
pub fn stored_type(kind: RecordKind, field: &str) -> Option<FieldType> {
    match super::field(kind, field) {
        Some(def) => Some(def.ty),
        None if is_custom(field) => Some(FieldType::Text { max: usize::MAX }),
        None => None,
    }
}

/// Everything interned so far, by content.
#[derive(Default)]
struct Interned {
    strs: HashSet<&'static str>,
    lists: HashSet<&'static [&'static str]>,
    kinds: HashSet<&'static [RecordKind]>,
    defs: HashSet<&'static FieldDef>,
}

static INTERNED: Mutex<Option<Interned>> = Mutex::new(None);

/// The parts of a custom definition before interning (owned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Spec {
    /// One line of text of at most this many characters.
    Text(usize),
    /// A whole number within bounds.
    Int(i64, i64),
    /// Money in minor units.
    Money,
    /// A calendar date.
    Date,
    /// True or false.
    Bool,
    /// One of the choices.
    Choice(Vec<String>),
    /// Any of the choices.
    MultiChoice(Vec<String>),
    /// A reference to a record of this kind.
    Ref(RecordKind),
}

/// The one `'static` definition of field `name` with type `spec` (see the
/// module documentation for the memory this holds).
pub(crate) fn intern(name: &str, spec: &Spec) -> &'static FieldDef {
    // A poisoned lock only means another thread panicked while inserting
    // into plain sets, which leaves them consistent.
    let mut guard = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
    let interned = guard.get_or_insert_with(Interned::default);
    let ty = match spec {
        Spec::Text(max) => FieldType::Text { max: *max },
        Spec::Int(min, max) => FieldType::Int {
            min: *min,
            max: *max,
        },
        Spec::Money => FieldType::Money,
        Spec::Date => FieldType::Date,
        Spec::Bool => FieldType::Bool,
        Spec::Choice(values) => FieldType::Enum(list(interned, values)),
        Spec::MultiChoice(values) => FieldType::MultiEnum(list(interned, values)),
        Spec::Ref(kind) => FieldType::Ref(kinds(interned, *kind)),
    };
    let def = FieldDef::new(string(interned, name), ty);
    intern_def(interned, def)
}

/// The one `'static` copy of `def`, whose parts are already `'static`
/// (a built-in field whose type a picklist replaces).
pub(crate) fn intern_with_type(def: &FieldDef, values: &[String]) -> &'static FieldDef {
    let mut guard = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
    let interned = guard.get_or_insert_with(Interned::default);
    let def = FieldDef {
        ty: FieldType::Enum(list(interned, values)),
        ..*def
    };
    intern_def(interned, def)
}

fn intern_def(interned: &mut Interned, def: FieldDef) -> &'static FieldDef {
    if let Some(found) = interned.defs.get(&def) {
        return found;
    }
    let leaked: &'static FieldDef = Box::leak(Box::new(def));
    interned.defs.insert(leaked);
    leaked
}

fn string(interned: &mut Interned, s: &str) -> &'static str {
    if let Some(found) = interned.strs.get(s) {
        return found;
    }
    let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
    interned.strs.insert(leaked);
    leaked
}

fn list(interned: &mut Interned, values: &[String]) -> &'static [&'static str] {
    let parts: Vec<&'static str> = values.iter().map(|v| string(interned, v)).collect();
    if let Some(found) = interned.lists.get(parts.as_slice()) {
        return found;
    }
    let leaked: &'static [&'static str] = Box::leak(parts.into_boxed_slice());
    interned.lists.insert(leaked);
    leaked
}

fn kinds(interned: &mut Interned, kind: RecordKind) -> &'static [RecordKind] {
    if let Some(found) = interned.kinds.get([kind].as_slice()) {
        return found;
    }
    let leaked: &'static [RecordKind] = Box::leak(Box::new([kind]));
    interned.kinds.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_definitions_share_one_reference_and_differing_ones_do_not() {
        let choices = vec!["smb".to_owned(), "mid".to_owned()];
        let a = intern("x_segment", &Spec::Choice(choices.clone()));
        let b = intern("x_segment", &Spec::Choice(choices));
        assert!(std::ptr::eq(a, b));
        assert_eq!(a.ty, FieldType::Enum(&["smb", "mid"]));
        let c = intern("x_segment", &Spec::MultiChoice(vec!["smb".into()]));
        assert!(!std::ptr::eq(a, c));
        assert_eq!(c.ty, FieldType::MultiEnum(&["smb"]));
        let r = intern("x_partner", &Spec::Ref(RecordKind::Contact));
        assert_eq!(r.ty, FieldType::Ref(&[RecordKind::Contact]));
        assert!(!r.required && !r.system);
        assert!(is_custom("x_partner") && !is_custom("name"));
    }
}
