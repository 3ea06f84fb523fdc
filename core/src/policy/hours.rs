//! The organisation's business-hours calendar (`[business_hours]` in the
//! policy) and the pure, bounded time arithmetic the process engine does
//! with it.
//!
//! The calendar is part of the replicated policy, so every engine replica
//! (each device and the server) reads the same one, and every function
//! here is pure: the same calendar, instant and time zone give the same
//! answer everywhere. Time zones are looked up in the time zone database
//! compiled into Fieldwork ([`zone`]), never the machine's, so two
//! replicas of one build agree even when their systems' databases differ.
//!
//! A policy without `[business_hours]` has no calendar: every hour counts
//! (the behaviour before calendars existed).

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use jiff::tz::{TimeZone, TimeZoneDatabase};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;

/// Most opening intervals in one day.
pub const MAX_INTERVALS_PER_DAY: usize = 8;
/// Most holidays a calendar lists.
pub const MAX_HOLIDAYS: usize = 2_000;
/// Most local days any search walks (about eleven years): a search that
/// finds no opening within it gives up (`None`) instead of looping.
pub const MAX_SEARCH_DAYS: u32 = 4_000;
/// Most business days one duration may count (`P1000BD`).
pub const MAX_BUSINESS_DAYS: u32 = 1_000;
/// Most business minutes one duration may count (10,000 hours).
pub const MAX_BUSINESS_MINUTES: u32 = 600_000;

/// The `[business_hours]` table as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HoursFile {
    /// IANA time zone of the calendar (`Europe/Madrid`): the zone of
    /// timers and of people with no time zone of their own.
    time_zone: String,
    /// Working days: `mon` … `sun` (or `monday` … `sunday`).
    days: Vec<String>,
    /// Opening intervals of a working day: `09:00-13:00,15:00-18:00`.
    hours: String,
    /// Other opening intervals for some working days (`fri = "08:00-15:00"`).
    #[serde(default)]
    hours_by_day: BTreeMap<String, String>,
    /// Dates closed all day (`2027-01-06`).
    #[serde(default)]
    holidays: Vec<String>,
}

/// Business time to add: whole business days, then business minutes
/// (`P2BD`, `PT4BH`, `P1BDT30BM`; see `docs/PROCESSES.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BusinessSpan {
    /// Working days (each the same local time on the next working day).
    pub days: u32,
    /// Minutes counted only while the calendar is open.
    pub minutes: u32,
}

impl BusinessSpan {
    /// Whether it adds anything.
    pub fn is_zero(&self) -> bool {
        self.days == 0 && self.minutes == 0
    }

    /// The same span where every hour counts (no calendar): a business
    /// day is 24 hours, a business minute a minute.
    pub fn as_elapsed(&self) -> SignedDuration {
        SignedDuration::from_secs(i64::from(self.days) * 86_400 + i64::from(self.minutes) * 60)
    }
}

/// A checked business-hours calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    zone_name: String,
    zone: TimeZone,
    /// Opening intervals per weekday (Monday first), as minutes since local
    /// midnight `[start, end)`, sorted, disjoint, `end <= 1440`; empty: closed.
    week: [Vec<(u16, u16)>; 7],
    holidays: BTreeSet<Date>,
}

/// `name` in the time zone database compiled into Fieldwork.
pub fn zone(name: &str) -> Option<TimeZone> {
    TimeZoneDatabase::bundled().get(name).ok()
}

const DAY_NAMES: [(&str, &str); 7] = [
    ("mon", "monday"),
    ("tue", "tuesday"),
    ("wed", "wednesday"),
    ("thu", "thursday"),
    ("fri", "friday"),
    ("sat", "saturday"),
    ("sun", "sunday"),
];

/// The weekday index (Monday = 0) of `name`.
fn day_index(name: &str) -> Option<usize> {
    let n = name.trim().to_ascii_lowercase();
    DAY_NAMES.iter().position(|(s, l)| n == *s || n == *l)
}

/// Parses `HH:MM` (or `24:00`) into minutes since midnight.
fn minute_of_day(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    if !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(1_440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

/// Parses `09:00-13:00,15:00-18:00`: at least one interval, each
/// `start < end` within the day, in order and not overlapping.
pub fn parse_intervals(text: &str) -> Result<Vec<(u16, u16)>, String> {
    let mut out: Vec<(u16, u16)> = Vec::new();
    if text.trim().is_empty() {
        return Err("no opening interval (write e.g. `09:00-13:00,15:00-18:00`)".into());
    }
    for part in text.split(',') {
        if out.len() == MAX_INTERVALS_PER_DAY {
            return Err(format!(
                "at most {MAX_INTERVALS_PER_DAY} opening intervals a day"
            ));
        }
        let Some((a, b)) = part.split_once('-') else {
            return Err(format!("`{}` is not an interval HH:MM-HH:MM", part.trim()));
        };
        let (Some(start), Some(end)) = (minute_of_day(a), minute_of_day(b)) else {
            return Err(format!(
                "`{}` is not an interval HH:MM-HH:MM (00:00 to 24:00)",
                part.trim()
            ));
        };
        if start >= end {
            return Err(format!(
                "`{}` ends before it starts (an interval cannot cross midnight)",
                part.trim()
            ));
        }
        if let Some(&(_, prev_end)) = out.last()
            && start < prev_end
        {
            return Err(format!(
                "`{}` overlaps or comes before the interval ahead of it",
                part.trim()
            ));
        }
        out.push((start, end));
    }
    Ok(out)
}

/// Checks the table: every problem is pushed to `errors`, each starting
/// with its key; the calendar comes back only when there is none.
pub(super) fn check(file: &HoursFile, errors: &mut Vec<String>) -> Option<BusinessHours> {
    let before = errors.len();
    let key = "business_hours";
    let zone = zone(file.time_zone.trim());
    if zone.is_none() {
        errors.push(format!(
            "{key}.time_zone: `{}` is not an IANA time zone (e.g. Europe/Madrid)",
            file.time_zone
        ));
    }
    let mut working = [false; 7];
    for d in &file.days {
        match day_index(d) {
            Some(i) if working[i] => errors.push(format!("{key}.days: `{d}` is listed twice")),
            Some(i) => working[i] = true,
            None => errors.push(format!(
                "{key}.days: `{d}` is not a day (mon, tue, wed, thu, fri, sat, sun)"
            )),
        }
    }
    if file.days.is_empty() {
        errors.push(format!(
            "{key}.days: at least one working day (a calendar that never opens would stop every business-time step)"
        ));
    }
    let hours = parse_intervals(&file.hours)
        .map_err(|e| errors.push(format!("{key}.hours: {e}")))
        .unwrap_or_default();
    let mut week: [Vec<(u16, u16)>; 7] = Default::default();
    for (i, w) in working.iter().enumerate() {
        if *w {
            week[i] = hours.clone();
        }
    }
    for (day, text) in &file.hours_by_day {
        let at = format!("{key}.hours_by_day.{day}");
        match day_index(day) {
            Some(i) if working[i] => match parse_intervals(text) {
                Ok(h) => week[i] = h,
                Err(e) => errors.push(format!("{at}: {e}")),
            },
            Some(_) => errors.push(format!(
                "{at}: `{day}` is not among `days` (add it there to open on it)"
            )),
            None => errors.push(format!(
                "{at}: `{day}` is not a day (mon, tue, wed, thu, fri, sat, sun)"
            )),
        }
    }
    if file.holidays.len() > MAX_HOLIDAYS {
        errors.push(format!(
            "{key}.holidays: {} dates; at most {MAX_HOLIDAYS}",
            file.holidays.len()
        ));
    }
    let mut holidays = BTreeSet::new();
    for h in file.holidays.iter().take(MAX_HOLIDAYS) {
        match h.trim().parse::<Date>() {
            Ok(d) if h.trim().len() == 10 => {
                if !holidays.insert(d) {
                    errors.push(format!("{key}.holidays: `{h}` is listed twice"));
                }
            }
            _ => errors.push(format!("{key}.holidays: `{h}` is not a date (YYYY-MM-DD)")),
        }
    }
    match zone {
        Some(zone) if errors.len() == before => Some(BusinessHours {
            zone_name: file.time_zone.trim().to_owned(),
            zone,
            week,
            holidays,
        }),
        _ => None,
    }
}

impl BusinessHours {
    /// The calendar's time zone, by name.
    pub fn time_zone_name(&self) -> &str {
        &self.zone_name
    }

    /// The calendar's time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The zone of a person whose directory entry says `name`: that zone
    /// when it is known, else the calendar's.
    pub fn zone_for(&self, name: Option<&str>) -> TimeZone {
        name.and_then(zone).unwrap_or_else(|| self.zone.clone())
    }

    /// The opening intervals of local day `date` (none on a holiday).
    fn openings(&self, date: Date) -> &[(u16, u16)] {
        if self.holidays.contains(&date) {
            return &[];
        }
        let i = usize::from(date.weekday().to_monday_zero_offset().unsigned_abs());
        self.week.get(i).map_or(&[], Vec::as_slice)
    }

    /// Whether local day `date` is a working day (open at some time).
    pub fn is_working_day(&self, date: Date) -> bool {
        !self.openings(date).is_empty()
    }

    /// The opening intervals of local day `date` in zone `tz`, as instants
    /// (a local time a DST change skips is read as the time after it;
    /// an interval the change empties is left out).
    fn intervals(&self, date: Date, tz: &TimeZone) -> Vec<(Timestamp, Timestamp)> {
        let instant = |minute: u16| -> Option<Timestamp> {
            let (day, minute) = if minute >= 1_440 {
                (date.tomorrow().ok()?, 0)
            } else {
                (date, minute)
            };
            let h = i8::try_from(minute / 60).ok()?;
            let m = i8::try_from(minute % 60).ok()?;
            tz.to_ambiguous_timestamp(day.at(h, m, 0, 0))
                .compatible()
                .ok()
        };
        self.openings(date)
            .iter()
            .filter_map(|&(s, e)| Some((instant(s)?, instant(e)?)))
            .filter(|(s, e)| s < e)
            .collect()
    }

    /// The first instant at or after `at` when the calendar is open in
    /// zone `tz` for at least `need` (clamped to the longest opening
    /// interval of the week, so that a meeting longer than any opening
    /// still gets one). `None` when no opening lies within
    /// [`MAX_SEARCH_DAYS`] local days.
    pub fn next_open(
        &self,
        at: Timestamp,
        tz: &TimeZone,
        need: SignedDuration,
    ) -> Option<Timestamp> {
        let longest = self
            .week
            .iter()
            .flatten()
            .map(|(s, e)| SignedDuration::from_mins(i64::from(e - s)))
            .max()?;
        let need = need.clamp(SignedDuration::ZERO, longest);
        // The day before too: its interval may end after `at` when a DST
        // change moved midnight.
        let mut date = at.to_zoned_datetime(tz.clone()).date().yesterday().ok()?;
        for _ in 0..MAX_SEARCH_DAYS {
            for (s, e) in self.intervals(date, tz) {
                let start = s.max(at);
                if e.duration_since(start) >= need && e > start {
                    return Some(start);
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// Whether the calendar is open at `at` in zone `tz`.
    pub fn is_open(&self, at: Timestamp, tz: &TimeZone) -> bool {
        self.next_open(at, tz, SignedDuration::ZERO) == Some(at)
    }

    /// `at` plus `span` in business time, in zone `tz`:
    ///
    /// - business days first: from the next opening at or after `at`, the
    ///   same local time that many working days later (or the next opening
    ///   after it, when the calendar is closed then);
    /// - then business minutes, counted only while the calendar is open
    ///   (4 hours from 16:00 with `09:00-18:00` is 11:00 the next working
    ///   day; landing on a closing time stays there).
    ///
    /// `None` when the answer lies beyond [`MAX_SEARCH_DAYS`] local days
    /// (or the span is larger than [`MAX_BUSINESS_DAYS`] /
    /// [`MAX_BUSINESS_MINUTES`]).
    pub fn add(&self, at: Timestamp, span: BusinessSpan, tz: &TimeZone) -> Option<Timestamp> {
        if span.days > MAX_BUSINESS_DAYS || span.minutes > MAX_BUSINESS_MINUTES {
            return None;
        }
        let mut t = at;
        if span.days > 0 {
            t = self.add_days(t, span.days, tz)?;
        }
        if span.minutes > 0 {
            t = self.add_minutes(t, span.minutes, tz)?;
        }
        Some(t)
    }

    fn add_days(&self, at: Timestamp, days: u32, tz: &TimeZone) -> Option<Timestamp> {
        let start = self
            .next_open(at, tz, SignedDuration::ZERO)?
            .to_zoned_datetime(tz.clone());
        let time = start.time();
        let mut date = start.date();
        let mut left = days;
        let mut walked = 0;
        while left > 0 {
            date = date.tomorrow().ok()?;
            walked += 1;
            if walked > MAX_SEARCH_DAYS {
                return None;
            }
            if self.is_working_day(date) {
                left -= 1;
            }
        }
        let landed = tz
            .to_ambiguous_timestamp(date.to_datetime(time))
            .compatible()
            .ok()?;
        self.next_open(landed, tz, SignedDuration::ZERO)
    }

    fn add_minutes(&self, at: Timestamp, minutes: u32, tz: &TimeZone) -> Option<Timestamp> {
        let mut left = SignedDuration::from_mins(i64::from(minutes));
        let mut date = at.to_zoned_datetime(tz.clone()).date().yesterday().ok()?;
        for _ in 0..MAX_SEARCH_DAYS {
            for (s, e) in self.intervals(date, tz) {
                if e <= at {
                    continue;
                }
                let start = s.max(at);
                let open = e.duration_since(start);
                if open >= left {
                    return start.checked_add(left).ok();
                }
                left -= open;
            }
            date = date.tomorrow().ok()?;
        }
        None
    }
}

#[cfg(test)]
mod tests;
