//! Business-hours calendars on real dates: weekends, holidays, lunch
//! breaks and the 2027 DST changes of Europe/Madrid and Europe/Budapest
//! (28 March 02:00 → 03:00, 31 October 03:00 → 02:00).

use jiff::SignedDuration;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use super::*;
use crate::error::CoreError;
use crate::policy::{DEFAULT_POLICY_TOML, Policy};

const SPAIN: &str = r#"
[business_hours]
time_zone = "Europe/Madrid"
days = ["mon", "tue", "wed", "thu", "fri"]
hours = "09:00-13:00,15:00-18:00"
holidays = ["2027-01-06", "2027-11-01"]
"#;

fn calendar(table: &str) -> BusinessHours {
    let text = format!("{DEFAULT_POLICY_TOML}\n{table}");
    let policy = Policy::from_toml(&text).expect("valid policy");
    policy.business_hours().cloned().expect("a calendar")
}

fn tz(name: &str) -> TimeZone {
    zone(name).expect("zone")
}

/// Local wall time `local` in `zone` as an instant.
fn at(local: &str, zone: &TimeZone) -> Timestamp {
    let dt: DateTime = local.parse().expect("civil date-time");
    dt.to_zoned_datetime(zone.clone())
        .expect("zoned")
        .timestamp()
}

/// `t` as wall time in `zone` (`2027-03-29T10:00:00`).
fn wall(t: Timestamp, zone: &TimeZone) -> String {
    t.to_zoned_datetime(zone.clone()).datetime().to_string()
}

fn hours(h: u32) -> BusinessSpan {
    BusinessSpan {
        days: 0,
        minutes: h * 60,
    }
}

fn days(d: u32) -> BusinessSpan {
    BusinessSpan {
        days: d,
        minutes: 0,
    }
}

#[test]
fn business_hours_skip_the_weekend_across_the_spring_dst_change_in_madrid() {
    let cal = calendar(SPAIN);
    let madrid = tz("Europe/Madrid");
    // Friday 26 March, 17:00 CET (UTC+1): one hour left that day, the
    // second on Monday 29 March, after the clocks went forward (UTC+2).
    let friday = at("2027-03-26T17:00", &madrid);
    let due = cal.add(friday, hours(2), &madrid).expect("found");
    assert_eq!(wall(due, &madrid), "2027-03-29T10:00:00");
    assert_eq!(due.to_string(), "2027-03-29T08:00:00Z");
    // A business day keeps the local time: 10:00 CET → 10:00 CEST.
    let morning = at("2027-03-26T10:00", &madrid);
    let next = cal.add(morning, days(1), &madrid).expect("found");
    assert_eq!(wall(next, &madrid), "2027-03-29T10:00:00");
    assert_eq!(next.to_string(), "2027-03-29T08:00:00Z");
    // Five business days from Friday is the next Friday.
    let week = cal.add(morning, days(5), &madrid).expect("found");
    assert_eq!(wall(week, &madrid), "2027-04-02T10:00:00");
}

#[test]
fn the_lunch_break_and_the_closing_time_are_respected() {
    let cal = calendar(SPAIN);
    let madrid = tz("Europe/Madrid");
    let t = at("2027-02-03T12:30", &madrid);
    assert_eq!(
        wall(cal.add(t, hours(1), &madrid).expect("found"), &madrid),
        "2027-02-03T15:30:00"
    );
    // Landing exactly on the closing time stays there.
    let t = at("2027-02-03T17:00", &madrid);
    assert_eq!(
        wall(cal.add(t, hours(1), &madrid).expect("found"), &madrid),
        "2027-02-03T18:00:00"
    );
    // Minutes: 13:45 is closed, so 30 minutes count from 15:00.
    let t = at("2027-02-03T13:45", &madrid);
    let span = BusinessSpan {
        days: 0,
        minutes: 30,
    };
    assert_eq!(
        wall(cal.add(t, span, &madrid).expect("found"), &madrid),
        "2027-02-03T15:30:00"
    );
    assert!(cal.is_open(at("2027-02-03T09:00", &madrid), &madrid));
    assert!(!cal.is_open(at("2027-02-03T13:00", &madrid), &madrid));
    assert!(
        !cal.is_open(at("2027-02-06T10:00", &madrid), &madrid),
        "a Saturday"
    );
    assert_eq!(cal.add(t, BusinessSpan::default(), &madrid), Some(t));
}

#[test]
fn holidays_are_closed_all_day() {
    let cal = calendar(SPAIN);
    let madrid = tz("Europe/Madrid");
    // Tuesday 5 January 17:30 + 1 business hour: 30 minutes that day,
    // Wednesday 6 (Epiphany) is closed, 30 minutes on Thursday.
    let t = at("2027-01-05T17:30", &madrid);
    assert_eq!(
        wall(cal.add(t, hours(1), &madrid).expect("found"), &madrid),
        "2027-01-07T09:30:00"
    );
    // A business day from Tuesday 10:00 skips the holiday too.
    let t = at("2027-01-05T10:00", &madrid);
    assert_eq!(
        wall(cal.add(t, days(1), &madrid).expect("found"), &madrid),
        "2027-01-07T10:00:00"
    );
}

#[test]
fn the_next_opening_in_budapest_crosses_the_autumn_dst_change_and_a_holiday() {
    let cal = calendar(SPAIN);
    let budapest = tz("Europe/Budapest");
    // Friday 29 October 2027, 18:30 CEST (closed). Sunday 31 the clocks go
    // back; Monday 1 November is a holiday: Tuesday 2, 09:00 CET (UTC+1).
    let t = at("2027-10-29T18:30", &budapest);
    let open = cal
        .next_open(t, &budapest, SignedDuration::ZERO)
        .expect("found");
    assert_eq!(wall(open, &budapest), "2027-11-02T09:00:00");
    assert_eq!(open.to_string(), "2027-11-02T08:00:00Z");
    // The same instant in Madrid's calendar zone is the same answer there:
    // hours are local to whichever zone is asked.
    let madrid = tz("Europe/Madrid");
    assert_eq!(
        wall(
            cal.next_open(t, &madrid, SignedDuration::ZERO)
                .expect("found"),
            &madrid
        ),
        "2027-11-02T09:00:00"
    );
    // A business hour from Friday 17:30 CEST in Budapest: Tuesday 09:30 CET.
    let t = at("2027-10-29T17:30", &budapest);
    assert_eq!(
        wall(cal.add(t, hours(1), &budapest).expect("found"), &budapest),
        "2027-11-02T09:30:00"
    );
}

#[test]
fn an_appointment_that_does_not_fit_before_closing_moves_to_the_next_opening() {
    let cal = calendar(SPAIN);
    let madrid = tz("Europe/Madrid");
    let t = at("2027-02-05T17:30", &madrid); // a Friday
    let hour = SignedDuration::from_mins(60);
    assert_eq!(
        wall(cal.next_open(t, &madrid, hour).expect("found"), &madrid),
        "2027-02-08T09:00:00"
    );
    // Half an hour fits.
    assert_eq!(
        cal.next_open(t, &madrid, SignedDuration::from_mins(30)),
        Some(t)
    );
    // Longer than any opening (4 hours): the first opening that long.
    let long = SignedDuration::from_mins(600);
    assert_eq!(
        wall(cal.next_open(t, &madrid, long).expect("found"), &madrid),
        "2027-02-08T09:00:00"
    );
}

#[test]
fn hours_by_day_replace_the_hours_of_that_day() {
    let cal = calendar(
        r#"
[business_hours]
time_zone = "Europe/Madrid"
days = ["monday", "Tue", "wed", "thu", "fri"]
hours = "09:00-13:00,15:00-18:00"
hours_by_day = { fri = "08:00-15:00" }
"#,
    );
    let madrid = tz("Europe/Madrid");
    let friday = at("2027-02-05T16:00", &madrid);
    assert!(!cal.is_open(friday, &madrid));
    assert!(cal.is_open(at("2027-02-05T08:30", &madrid), &madrid));
    assert_eq!(
        wall(
            cal.next_open(friday, &madrid, SignedDuration::ZERO)
                .expect("found"),
            &madrid
        ),
        "2027-02-08T09:00:00"
    );
    // Thursday 12:00 + 1 business day: Friday 12:00 is open on Fridays.
    let t = at("2027-02-04T12:00", &madrid);
    assert_eq!(
        wall(cal.add(t, days(1), &madrid).expect("found"), &madrid),
        "2027-02-05T12:00:00"
    );
    // Thursday 17:00 + 1 business day: Friday closes at 15:00, so Monday.
    let t = at("2027-02-04T17:00", &madrid);
    assert_eq!(
        wall(cal.add(t, days(1), &madrid).expect("found"), &madrid),
        "2027-02-08T09:00:00"
    );
    // Until midnight: 24:00 is the end of the day.
    let late = calendar(
        "[business_hours]\ntime_zone = \"UTC\"\ndays = [\"sat\"]\nhours = \"20:00-24:00\"\n",
    );
    let t: Timestamp = "2027-02-06T23:00:00Z".parse().expect("t");
    assert_eq!(
        late.add(t, hours(2), &TimeZone::UTC)
            .map(|t| t.to_string())
            .as_deref(),
        Some("2027-02-13T21:00:00Z")
    );
}

#[test]
fn every_problem_of_the_calendar_is_listed_with_its_key() {
    let text = format!(
        "{DEFAULT_POLICY_TOML}\n{}",
        r#"
[business_hours]
time_zone = "Mars/Olympus"
days = ["mon", "mon", "funday"]
hours = "09:00-13:00,12:00-18:00"
hours_by_day = { sun = "10:00-12:00", fri = "25:00-26:00" }
holidays = ["2027-02-30", "2027-01-06", "2027-01-06", "6 Jan"]
"#
    );
    let Err(CoreError::Policy(errors)) = Policy::from_toml(&text) else {
        panic!("must be refused");
    };
    for needle in [
        "business_hours.time_zone: `Mars/Olympus`",
        "business_hours.days: `mon` is listed twice",
        "business_hours.days: `funday` is not a day",
        "business_hours.hours: `12:00-18:00` overlaps",
        "business_hours.hours_by_day.sun: `sun` is not among `days`",
        "business_hours.hours_by_day.fri: `fri` is not among `days`",
        "business_hours.holidays: `2027-02-30` is not a date",
        "business_hours.holidays: `2027-01-06` is listed twice",
        "business_hours.holidays: `6 Jan` is not a date",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(needle)),
            "{needle}: {errors:?}"
        );
    }
    // A calendar that never opens is refused, as is an empty or reversed
    // interval and a night shift across midnight.
    for (table, needle) in [
        (
            "days = []\nhours = \"09:00-18:00\"",
            "at least one working day",
        ),
        ("days = [\"mon\"]\nhours = \"\"", "no opening interval"),
        (
            "days = [\"mon\"]\nhours = \"18:00-09:00\"",
            "cannot cross midnight",
        ),
        (
            "days = [\"mon\"]\nhours = \"09:00-09:00\"",
            "ends before it starts",
        ),
        ("days = [\"mon\"]\nhours = \"9-17\"", "is not an interval"),
        (
            "days = [\"mon\"]\nhours = \"09:00-18:00\"\nopen = true",
            "unknown field",
        ),
    ] {
        let text = format!(
            "{DEFAULT_POLICY_TOML}\n[business_hours]\ntime_zone = \"Europe/Madrid\"\n{table}\n"
        );
        let Err(CoreError::Policy(errors)) = Policy::from_toml(&text) else {
            panic!("{table} must be refused");
        };
        assert!(
            errors.iter().any(|e| e.contains(needle)),
            "{needle}: {errors:?}"
        );
    }
}

#[test]
fn a_policy_without_a_calendar_stays_valid_and_has_none() {
    let policy = Policy::from_toml(DEFAULT_POLICY_TOML).expect("valid");
    assert!(policy.business_hours().is_none());
    assert!(Policy::shipped_default().business_hours().is_none());
    assert_eq!(calendar(SPAIN).time_zone_name(), "Europe/Madrid");
}

#[test]
fn searches_are_bounded_even_when_holidays_cover_years() {
    // One working day a week, and the next 2,000 Mondays all holidays:
    // the next opening lies beyond the search bound, which says so
    // instead of looping.
    let mut holidays = Vec::new();
    let mut d: Date = "2027-01-04".parse().expect("a Monday");
    for _ in 0..MAX_HOLIDAYS {
        holidays.push(format!("\"{d}\""));
        d = d.checked_add(jiff::Span::new().days(7)).expect("date");
    }
    let cal = calendar(&format!(
        "[business_hours]\ntime_zone = \"Europe/Madrid\"\ndays = [\"mon\"]\nhours = \"09:00-10:00\"\nholidays = [{}]\n",
        holidays.join(", ")
    ));
    let madrid = tz("Europe/Madrid");
    let t = at("2027-01-01T12:00", &madrid);
    let started = std::time::Instant::now();
    assert_eq!(cal.next_open(t, &madrid, SignedDuration::ZERO), None);
    assert_eq!(cal.add(t, hours(1), &madrid), None);
    assert_eq!(cal.add(t, days(1), &madrid), None);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    // Spans past the limits give up at once.
    let open = calendar(SPAIN);
    let huge = BusinessSpan {
        days: MAX_BUSINESS_DAYS + 1,
        minutes: 0,
    };
    assert_eq!(open.add(t, huge, &madrid), None);
    // The largest allowed span is found.
    let most = BusinessSpan {
        days: MAX_BUSINESS_DAYS,
        minutes: MAX_BUSINESS_MINUTES,
    };
    let started = std::time::Instant::now();
    assert!(open.add(t, most, &madrid).is_some());
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
}

#[test]
fn a_person_without_a_known_zone_gets_the_calendars() {
    let cal = calendar(SPAIN);
    assert_eq!(cal.zone_for(Some("Europe/Budapest")), tz("Europe/Budapest"));
    assert_eq!(cal.zone_for(Some("Mars/Olympus")), tz("Europe/Madrid"));
    assert_eq!(cal.zone_for(None), tz("Europe/Madrid"));
}
