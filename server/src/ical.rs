//! A small iCalendar writer (RFC 5545): one `VCALENDAR` of `VEVENT`s, for
//! the calendar feeds of the office API ([`crate::api::calendar`]).
//!
//! Guarantees:
//! - every TEXT value is escaped (`\` `;` `,` and line breaks), and control
//!   characters other than tab are dropped, so a value can never end a
//!   property or start another;
//! - every content line ends in CRLF and is folded to at most 75 octets
//!   (not counting the CRLF), never inside a UTF-8 character;
//! - times are written in UTC (`YYYYMMDDTHHMMSSZ`).

use std::fmt::Write as _;

use jiff::Timestamp;

/// The most octets of a content line, without its CRLF (RFC 5545 3.1).
const MAX_LINE_OCTETS: usize = 75;

/// An event's `STATUS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `CONFIRMED`.
    Confirmed,
    /// `CANCELLED`.
    Cancelled,
}

/// One `VEVENT`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `UID` (globally unique and stable across fetches).
    pub uid: String,
    /// `DTSTART`.
    pub start: Timestamp,
    /// `DTEND`.
    pub end: Timestamp,
    /// `SUMMARY`.
    pub summary: String,
    /// `DESCRIPTION`, if any.
    pub description: Option<String>,
    /// `CATEGORIES` (one category), if any.
    pub category: Option<String>,
    /// `STATUS`.
    pub status: Status,
    /// `LAST-MODIFIED`, if known.
    pub last_modified: Option<Timestamp>,
}

/// One `VCALENDAR`.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    /// `X-WR-CALNAME`: the name calendar apps show.
    pub name: String,
    /// `DTSTAMP` of every event: when the feed was made.
    pub stamp: Timestamp,
    /// The events.
    pub events: Vec<Event>,
}

/// A time as an iCalendar UTC DATE-TIME.
pub fn utc(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value escaped per RFC 5545 3.3.11 (control characters but tab
/// dropped; CRLF, CR and LF become `\n`).
pub fn escape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            '\t' => out.push('\t'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends `line` to `out`, folded at 75 octets on character boundaries
/// (continuation lines start with a space, which counts), ending in CRLF.
pub fn push_folded(out: &mut String, line: &str) {
    let mut budget = MAX_LINE_OCTETS;
    let mut used = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if used + n > budget {
            out.push_str("\r\n ");
            used = 1;
            budget = MAX_LINE_OCTETS;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
}

/// `NAME:escaped text`, folded.
fn text(out: &mut String, name: &str, value: &str) {
    push_folded(out, &format!("{name}:{}", escape_text(value)));
}

impl Calendar {
    /// The calendar as an iCalendar object (`text/calendar`).
    pub fn write(&self) -> String {
        let mut out = String::new();
        for line in [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//Fieldwork//Fieldwork CRM//EN",
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
            "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
            "X-PUBLISHED-TTL:PT1H",
        ] {
            push_folded(&mut out, line);
        }
        text(&mut out, "X-WR-CALNAME", &self.name);
        let stamp = utc(self.stamp);
        for e in &self.events {
            push_folded(&mut out, "BEGIN:VEVENT");
            text(&mut out, "UID", &e.uid);
            push_folded(&mut out, &format!("DTSTAMP:{stamp}"));
            push_folded(&mut out, &format!("DTSTART:{}", utc(e.start)));
            push_folded(&mut out, &format!("DTEND:{}", utc(e.end)));
            text(&mut out, "SUMMARY", &e.summary);
            if let Some(d) = &e.description {
                text(&mut out, "DESCRIPTION", d);
            }
            if let Some(c) = &e.category {
                text(&mut out, "CATEGORIES", c);
            }
            let status = match e.status {
                Status::Confirmed => "CONFIRMED",
                Status::Cancelled => "CANCELLED",
            };
            let _ = write!(out, "STATUS:{status}\r\n");
            if let Some(m) = e.last_modified {
                push_folded(&mut out, &format!("LAST-MODIFIED:{}", utc(m)));
            }
            push_folded(&mut out, "END:VEVENT");
        }
        push_folded(&mut out, "END:VCALENDAR");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("instant")
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape_text("a\\b;c,d\r\ne\nf\rg\u{0}h\ti"),
            "a\\\\b\\;c\\,d\\ne\\nf\\ng".to_owned() + "h\ti"
        );
    }

    #[test]
    fn long_lines_fold_at_75_octets_on_character_boundaries() {
        let value = "ő".repeat(100) + &"x".repeat(50);
        let mut out = String::new();
        push_folded(&mut out, &format!("SUMMARY:{value}"));
        assert!(out.ends_with("\r\n"));
        let lines: Vec<&str> = out.trim_end_matches("\r\n").split("\r\n").collect();
        assert!(lines.len() > 3, "{lines:?}");
        for (i, line) in lines.iter().enumerate() {
            assert!(line.len() <= 75, "line {i} has {} octets", line.len());
            assert_eq!(i > 0, line.starts_with(' '), "line {i}");
        }
        let unfolded: String = lines
            .iter()
            .enumerate()
            .map(|(i, l)| if i == 0 { *l } else { &l[1..] })
            .collect();
        assert_eq!(unfolded, format!("SUMMARY:{value}"));
    }

    #[test]
    fn a_calendar_parses_back_with_an_independent_parser() {
        let cal = Calendar {
            name: "Fieldwork: mia".into(),
            stamp: at("2027-01-01T00:00:00Z"),
            events: vec![Event {
                uid: "activity:01J@fieldwork".into(),
                start: at("2027-01-08T09:00:00Z"),
                end: at("2027-01-08T09:30:00Z"),
                summary: "Call Szőke Kft; ask, then \\ note".into(),
                description: Some("line one\nline two ".repeat(20)),
                category: Some("call".into()),
                status: Status::Cancelled,
                last_modified: Some(at("2026-12-31T10:00:00Z")),
            }],
        };
        let text = cal.write();
        assert!(text.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(text.contains("DTSTART:20270108T090000Z\r\n"));
        let parsed: icalendar::Calendar = text.parse().expect("parses");
        let event = parsed
            .components
            .iter()
            .find_map(|c| c.as_event())
            .expect("one event");
        use icalendar::Component;
        assert_eq!(
            event.get_summary(),
            Some("Call Szőke Kft; ask, then \\ note")
        );
        assert_eq!(
            event.get_description().map(str::to_owned),
            Some("line one\nline two ".repeat(20))
        );
        assert_eq!(event.get_uid(), Some("activity:01J@fieldwork"));
        assert_eq!(event.get_status(), Some(icalendar::EventStatus::Cancelled));
    }
}
