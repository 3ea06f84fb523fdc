//! Task lists and calendars, in the user's time zone.
//!
//! "Today" is the user's local calendar day (IANA time zone, from the
//! directory or the device; UTC when unknown), computed with `jiff`'s
//! bundled time-zone database so a phone's clock setting cannot skew it.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};
use serde::Serialize;

use crate::error::{CoreError, Result, ValidationError};
use crate::summary::Summary;

/// One entry of a task list or calendar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    /// The activity.
    pub id: String,
    /// call, meeting, visit, email or task.
    #[serde(rename = "type")]
    pub kind: String,
    /// Subject.
    pub subject: String,
    /// planned, done or cancelled.
    pub status: String,
    /// Due (tasks) or start (others), UTC.
    pub at: Option<Timestamp>,
    /// The same instant in the user's time zone.
    pub local: Option<String>,
    /// Who it is for.
    pub assignee: Option<String>,
}

/// A user's open activities, bucketed.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TaskList {
    /// The time zone used.
    pub time_zone: String,
    /// Due before now and still open.
    pub overdue: Vec<Item>,
    /// Due later today (local day).
    pub today: Vec<Item>,
    /// Due after today.
    pub upcoming: Vec<Item>,
    /// Open, with no date.
    pub undated: Vec<Item>,
}

/// Resolves an IANA time-zone name; `None` means UTC.
pub fn zone(name: Option<&str>) -> Result<TimeZone> {
    match name {
        None => Ok(TimeZone::UTC),
        Some(n) => TimeZone::get(n).map_err(|_| {
            CoreError::Invalid(ValidationError::field(
                "time_zone",
                format!("`{n}` is not an IANA time zone (e.g. Europe/Madrid)"),
            ))
        }),
    }
}

/// An index row as a list item, with its local time in `tz`.
pub fn item(s: &Summary, tz: &TimeZone) -> Item {
    let at = s
        .due_at
        .as_deref()
        .and_then(|t| t.parse::<Timestamp>().ok());
    Item {
        id: s.id.to_string(),
        kind: s.kind_type.clone().unwrap_or_default(),
        subject: s.title.clone(),
        status: s.status.clone().unwrap_or_default(),
        at,
        local: at.map(|t| {
            t.to_zoned_datetime(tz.clone())
                .strftime("%Y-%m-%d %H:%M %Z")
                .to_string()
        }),
        assignee: s.assignee.clone(),
    }
}

/// Buckets open activities into overdue, today, upcoming and undated.
pub fn bucket(open: &[Summary], now: Timestamp, tz: &TimeZone, tz_name: &str) -> TaskList {
    let (_, end_of_today) = {
        let today = now.to_zoned_datetime(tz.clone()).date();
        day_bounds(today, today, tz)
    };
    let mut list = TaskList {
        time_zone: tz_name.to_owned(),
        ..TaskList::default()
    };
    for s in open {
        let it = item(s, tz);
        match it.at {
            None => list.undated.push(it),
            Some(t) if t < now => list.overdue.push(it),
            Some(t) if t < end_of_today => list.today.push(it),
            Some(_) => list.upcoming.push(it),
        }
    }
    list
}

/// The instants bounding local days `from` through `to` (inclusive) in `tz`.
pub fn day_bounds(from: Date, to: Date, tz: &TimeZone) -> (Timestamp, Timestamp) {
    let start = |d: Date| -> Timestamp {
        d.to_zoned_datetime(tz.clone())
            .map(|z: ZonedDateTime| z.timestamp())
            .unwrap_or(Timestamp::UNIX_EPOCH)
    };
    let end = to.tomorrow().map(start).unwrap_or(Timestamp::MAX);
    (start(from), end)
}

/// Parses a `YYYY-MM-DD` date.
pub fn date(text: &str) -> Result<Date> {
    text.parse::<Date>().map_err(|_| {
        CoreError::Invalid(ValidationError::record(format!(
            "`{text}` is not a date (YYYY-MM-DD)"
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{RecordId, RecordKind};

    fn summary(due: Option<&str>) -> Summary {
        Summary {
            id: RecordId::new_random(RecordKind::Activity),
            title: "Call".into(),
            stage: None,
            status: Some("planned".into()),
            kind_type: Some("call".into()),
            owner: None,
            assignee: Some("mia".into()),
            territory: None,
            account: None,
            due_at: due.map(str::to_owned),
            amount: None,
            currency: None,
            updated_at: "2027-01-01T00:00:00Z".into(),
        }
    }

    #[test]
    fn today_is_the_users_local_day() {
        let tz = zone(Some("America/Mexico_City")).expect("tz");
        // 05:00 UTC on the 8th is still the 7th in Mexico City (UTC-6).
        let now: Timestamp = "2027-01-08T05:00:00Z".parse().expect("ts");
        let rows = [
            summary(Some("2027-01-08T04:00:00Z")),
            summary(Some("2027-01-08T05:30:00Z")),
            summary(Some("2027-01-08T07:00:00Z")),
            summary(None),
        ];
        let list = bucket(&rows, now, &tz, "America/Mexico_City");
        assert_eq!(
            (
                list.overdue.len(),
                list.today.len(),
                list.upcoming.len(),
                list.undated.len()
            ),
            (1, 1, 1, 1)
        );
        assert_eq!(list.today[0].local.as_deref(), Some("2027-01-07 23:30 CST"));
    }

    #[test]
    fn extreme_instants_and_days_are_shown_not_panicked_on() {
        let rows = [
            summary(Some(&Timestamp::MIN.to_string())),
            summary(Some(&Timestamp::MAX.to_string())),
            summary(Some("9999-12-31T23:59:59-25:59")),
        ];
        assert!(
            rows[..2]
                .iter()
                .all(|r| item(r, &TimeZone::UTC).at.is_some())
        );
        for name in ["Pacific/Kiritimati", "Etc/GMT+12", "America/St_Johns"] {
            let tz = zone(Some(name)).expect("tz");
            for now in [Timestamp::MIN, Timestamp::MAX] {
                let list = bucket(&rows, now, &tz, name);
                assert_eq!(list.undated.len(), 1, "{name}: {list:?}");
            }
            let (a, b) = day_bounds(Date::MIN, Date::MAX, &tz);
            assert!(a <= b, "{name}");
        }
    }

    #[test]
    fn calendar_days_follow_the_zone_and_bad_zones_are_refused() {
        let tz = zone(Some("Europe/Budapest")).expect("tz");
        let (a, b) = day_bounds(
            date("2027-01-08").expect("d"),
            date("2027-01-08").expect("d"),
            &tz,
        );
        assert_eq!(a.to_string(), "2027-01-07T23:00:00Z");
        assert_eq!(b.to_string(), "2027-01-08T23:00:00Z");
        assert!(zone(Some("Mars/Olympus")).is_err());
        assert!(date("8/1/2027").is_err());
    }
}
