//! Dates and times typed into a form with the browser's pickers: a date
//! field is an `<input type="date">` (`YYYY-MM-DD`, as stored), an instant
//! an `<input type="datetime-local">` in the user's time zone
//! (`2027-01-08T09:00`), stored as RFC 3339 with the zone's offset.
//!
//! Guarantees: an instant shown in a form reads back to the same instant
//! (to the minute) in the same zone; a local time that a zone's clock
//! change skips or repeats is resolved the way `jiff` resolves it
//! (compatible: later for a gap, earlier for a fold); text that is not a
//! local date-time goes on unchanged, for the schema to judge (an RFC 3339
//! instant typed by hand is kept as typed).

use fieldwork_core::RecordKind;
use fieldwork_core::schema::{self, FieldType};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

/// The input type a form uses for a field of type `ty`.
pub fn input_type(ty: Option<FieldType>) -> &'static str {
    match ty {
        Some(FieldType::Date) => "date",
        Some(FieldType::DateTime) => "datetime-local",
        _ => "text",
    }
}

/// A stored instant (RFC 3339) as a `datetime-local` input holds it in
/// `zone`; `None` when it does not parse.
pub fn for_input(stored: &str, zone: &TimeZone) -> Option<String> {
    let at: jiff::Timestamp = stored.parse().ok()?;
    Some(zone.to_datetime(at).strftime("%Y-%m-%dT%H:%M").to_string())
}

/// What to store for `typed` in field `field` of a `kind` record: for an
/// instant typed as a local date-time, that time in `zone` as RFC 3339;
/// anything else unchanged.
pub fn to_stored(kind: RecordKind, field: &str, typed: &str, zone: &TimeZone) -> String {
    let is_instant = schema::field(kind, field).is_some_and(|d| d.ty == FieldType::DateTime);
    let local = typed.trim().parse::<DateTime>().ok().filter(|_| is_instant);
    match local.and_then(|dt| dt.to_zoned_datetime(zone.clone()).ok()) {
        Some(z) => z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        None => typed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_time_is_stored_with_the_zones_offset_and_shown_back() {
        let madrid = TimeZone::get("Europe/Madrid").expect("zone");
        let activity = RecordKind::Activity;
        let stored = to_stored(activity, "due_at", "2027-01-08T09:00", &madrid);
        assert_eq!(stored, "2027-01-08T09:00:00+01:00");
        assert_eq!(
            for_input(&stored, &madrid).as_deref(),
            Some("2027-01-08T09:00")
        );
        // Summer time.
        assert_eq!(
            to_stored(activity, "due_at", "2027-07-08T09:00", &madrid),
            "2027-07-08T09:00:00+02:00"
        );
        // Typed by hand with an offset, or not a date-time: unchanged.
        let typed = "2027-01-08T09:00:00Z";
        assert_eq!(to_stored(activity, "due_at", typed, &madrid), typed);
        assert_eq!(to_stored(activity, "due_at", "soon", &madrid), "soon");
        assert_eq!(
            to_stored(activity, "subject", "2027-01-08T09:00", &madrid),
            "2027-01-08T09:00"
        );
        assert_eq!(input_type(Some(FieldType::Date)), "date");
    }
}
