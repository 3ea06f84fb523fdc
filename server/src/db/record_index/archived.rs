//! Archived records in index queries: lists, search and phone lookup leave
//! them out unless asked for.
//!
//! Guarantees: the condition reads only the `archived` field, which every
//! policy keeps in the base class (`fieldwork_core::policy`), so it never
//! depends on a value the caller may not read; it is one indexed lookup per
//! row (`record_fields_by_record`).

pub use fieldwork_core::summary::Archived;

/// An SQL condition (starting with ` AND `, or empty) on the record id in
/// column `record` for `which`. No parameters.
pub fn condition(which: Archived, record: &str) -> String {
    let archived = format!(
        "EXISTS (SELECT 1 FROM record_fields arc WHERE arc.record_id = {record}
                 AND arc.field = '{}' AND arc.sort_key = '1')",
        fieldwork_core::schema::ARCHIVED
    );
    match which {
        Archived::Exclude => format!(" AND NOT {archived}"),
        Archived::Include => String::new(),
        Archived::Only => format!(" AND {archived}"),
    }
}
