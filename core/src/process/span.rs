//! Durations as models write them: ISO 8601 (`P7D`, `PT2H30M`) and
//! business time (`P2BD`, `PT4BH`, `P1BDT30BM`): the one parser of step
//! durations, deadlines, offsets, schedules and `duration` parameters.
//!
//! Business time counts only the hours the organisation's calendar
//! (`[business_hours]` in the policy, [`crate::policy::hours`]) is open:
//! `nBD` working days, `nBH` business hours, `nBM` business minutes. With
//! no calendar, every hour counts (a business day is 24 hours). The two
//! are not mixed in one duration.

use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use crate::policy::hours::{BusinessHours, BusinessSpan, MAX_BUSINESS_DAYS, MAX_BUSINESS_MINUTES};

/// A checked duration: calendar time or business time.
#[derive(Debug, Clone, Copy)]
pub enum Delay {
    /// ISO 8601 (`P7D`): every hour counts; days are 24 hours in UTC.
    Calendar(Span),
    /// Business time (`P2BD`, `PT4BH`): counted in the calendar's opening
    /// hours.
    Business(BusinessSpan),
}

impl Default for Delay {
    fn default() -> Self {
        Delay::Calendar(Span::new())
    }
}

impl Delay {
    /// `at` plus this delay: calendar time in UTC, business time with
    /// `calendar` in zone `tz` (every hour counts when there is no
    /// calendar, or when the calendar finds no answer within its search
    /// bound: the result is then the same on every replica too).
    pub fn after(
        &self,
        at: Timestamp,
        calendar: Option<&BusinessHours>,
        tz: &TimeZone,
    ) -> Timestamp {
        match self {
            Delay::Calendar(span) => after(at, *span),
            Delay::Business(b) => calendar
                .and_then(|c| c.add(at, *b, tz))
                .unwrap_or_else(|| at.checked_add(b.as_elapsed()).unwrap_or(at)),
        }
    }

    /// Whether it lies surely after its start (a loop through a step that
    /// waits this long cannot spin).
    pub fn is_positive(&self) -> bool {
        match self {
            Delay::Calendar(span) => {
                let t0 = Timestamp::UNIX_EPOCH;
                after(t0, *span) > t0
            }
            Delay::Business(b) => !b.is_zero(),
        }
    }

    /// Whether it is business time.
    pub fn is_business(&self) -> bool {
        matches!(self, Delay::Business(_))
    }
}

/// `at` plus `span`, in UTC (a day is 24 hours).
pub fn after(at: Timestamp, span: Span) -> Timestamp {
    at.to_zoned_datetime(TimeZone::UTC)
        .checked_add(span)
        .map(|z| z.timestamp())
        .unwrap_or(at)
}

/// Parses a step's duration: ISO 8601 (`P7D`, `PT2H`) or business time
/// (`P2BD`, `PT4BH`, `P1BDT30BM`).
pub fn delay(text: &str) -> Result<Delay, String> {
    match business(text) {
        Some(b) => b.map(Delay::Business),
        None => duration(text).map(Delay::Calendar),
    }
}

/// Parses an ISO 8601 duration (`P7D`, `PT2H30M`): calendar time only
/// (a schedule's period), business time is refused with a sentence.
pub fn duration(text: &str) -> Result<Span, String> {
    let t = text.trim();
    if business(t).is_some() {
        return Err(format!(
            "`{text}` is business time, which is not accepted here (use an ISO 8601 duration, e.g. P7D)"
        ));
    }
    if !t.starts_with(['P', 'p', '-', '+']) {
        return Err(format!(
            "`{text}` is not an ISO 8601 duration (e.g. P7D, PT2H)"
        ));
    }
    t.parse::<Span>()
        .map_err(|e| format!("`{text}` is not an ISO 8601 duration (e.g. P7D, PT2H): {e}"))
}

/// `Some` when `text` is written in business time (it has a `B` unit):
/// the span, or why it is malformed. `None` for anything else.
fn business(text: &str) -> Option<Result<BusinessSpan, String>> {
    let t = text.trim().to_ascii_uppercase();
    let body = t.strip_prefix('P')?;
    if !body.contains('B') {
        return None;
    }
    let bad = || {
        format!(
            "`{}` is not a business duration: write working days, hours and minutes as P2BD, PT4BH, PT30BM or P1BDT4BH",
            text.trim()
        )
    };
    let (date, time) = match body.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (body, None),
    };
    let mut span = BusinessSpan::default();
    let mut minutes: u64 = 0;
    let mut any = false;
    for (part, units) in [(date, &["BD"][..]), (time.unwrap_or(""), &["BH", "BM"][..])] {
        let mut rest = part;
        let mut allowed = units.iter();
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 7 {
                return Some(Err(bad()));
            }
            let Ok(n) = rest[..digits].parse::<u64>() else {
                return Some(Err(bad()));
            };
            rest = &rest[digits..];
            // Units in order, each at most once.
            let Some(unit) = allowed.by_ref().find(|u| rest.starts_with(**u)) else {
                return Some(Err(bad()));
            };
            rest = &rest[unit.len()..];
            any = true;
            match *unit {
                "BD" => match u32::try_from(n) {
                    Ok(d) if d <= MAX_BUSINESS_DAYS => span.days = d,
                    _ => {
                        return Some(Err(format!(
                            "`{}`: at most {MAX_BUSINESS_DAYS} business days",
                            text.trim()
                        )));
                    }
                },
                "BH" => minutes += n * 60,
                _ => minutes += n,
            }
        }
    }
    if time == Some("") || !any {
        return Some(Err(bad()));
    }
    match u32::try_from(minutes) {
        Ok(m) if m <= MAX_BUSINESS_MINUTES => span.minutes = m,
        _ => {
            return Some(Err(format!(
                "`{}`: at most {} business hours",
                text.trim(),
                MAX_BUSINESS_MINUTES / 60
            )));
        }
    }
    Some(Ok(span))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(days: u32, minutes: u32) -> Delay {
        Delay::Business(BusinessSpan { days, minutes })
    }

    fn business_of(text: &str) -> Option<BusinessSpan> {
        match delay(text) {
            Ok(Delay::Business(b)) => Some(b),
            _ => None,
        }
    }

    #[test]
    fn business_durations_parse_and_calendar_ones_stay_iso() {
        let span = |days, minutes| Some(BusinessSpan { days, minutes });
        assert_eq!(business_of("P2BD"), span(2, 0));
        assert_eq!(business_of("PT4BH"), span(0, 240));
        assert_eq!(business_of("p1bdt4bh30bm"), span(1, 270));
        assert_eq!(business_of("PT90BM"), span(0, 90));
        assert!(matches!(delay("P7D"), Ok(Delay::Calendar(_))));
        for bad in [
            "PBD",
            "P2BDT",
            "PT4BD",
            "P2BH",
            "P2BD3BD",
            "PT30BM4BH",
            "P2BDT4H",
            "P1D2BD",
            "P-2BD",
            "P99999999BD",
            "P1001BD",
            "PT10001BH",
        ] {
            assert!(delay(bad).is_err(), "{bad}");
        }
        let e = duration("P2BD").expect_err("not for a schedule");
        assert!(e.contains("business time"), "{e}");
        assert!(!b(0, 0).is_positive() && b(0, 1).is_positive() && b(1, 0).is_business());
    }

    #[test]
    fn without_a_calendar_every_hour_counts() {
        let t: Timestamp = "2027-01-08T16:30:00Z".parse().expect("t");
        assert_eq!(
            b(2, 60).after(t, None, &TimeZone::UTC).to_string(),
            "2027-01-10T17:30:00Z"
        );
    }
}
