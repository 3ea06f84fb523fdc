//! The languages Fieldwork speaks to people, and how numbers, money and
//! dates are written in each: English, Spanish and Hungarian.
//!
//! This is presentation only. Stored values never depend on a locale
//! (money is minor units and an ISO 4217 code, dates are ISO 8601); what a
//! person types is read back by [`crate::value::money_to_minor`], which
//! takes either decimal mark.
//!
//! Guarantees:
//! - every function here is total: any `i64`, any currency code (unknown
//!   codes get two decimals) and any date give a string, never a panic;
//! - [`Locale::amount_for_input`] writes what [`crate::value::money_to_minor`]
//!   reads back to the same minor units, in every locale (no grouping
//!   separators in an input's value);
//! - [`Locale::negotiate`] reads at most [`MAX_ACCEPT_LANGUAGE`] bytes and
//!   [`MAX_RANGES`] language ranges of a header, whatever its length.

use jiff::civil::{Date, DateTime, Weekday};

/// Longest `Accept-Language` value [`Locale::negotiate`] reads, in bytes.
pub const MAX_ACCEPT_LANGUAGE: usize = 1000;

/// Most language ranges [`Locale::negotiate`] considers.
pub const MAX_RANGES: usize = 20;

/// A language of the user interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Locale {
    /// English (the default; ISO dates, `1,250.50`).
    #[default]
    En,
    /// Spanish (`02/12/2026`, `1250,50`, `12.500,50`).
    Es,
    /// Hungarian (`2026. 12. 02.`, `1 250,50` with a no-break space).
    Hu,
}

impl Locale {
    /// Every locale, in the order a language menu lists them.
    pub const ALL: [Locale; 3] = [Locale::En, Locale::Es, Locale::Hu];

    /// The BCP 47 primary language tag: `en`, `es`, `hu`.
    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Es => "es",
            Locale::Hu => "hu",
        }
    }

    /// The language's name in itself, for a language menu.
    pub fn name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::Es => "Español",
            Locale::Hu => "Magyar",
        }
    }

    /// The locale of a language tag (`es`, `es-ES`, `HU_hu`), by its
    /// primary subtag; `None` for a language Fieldwork does not speak.
    pub fn from_tag(tag: &str) -> Option<Locale> {
        let primary = tag.trim().split(['-', '_']).next()?;
        Locale::ALL
            .into_iter()
            .find(|l| l.tag().eq_ignore_ascii_case(primary))
    }

    /// The best locale for an `Accept-Language` header value: the spoken
    /// language with the highest weight (the first of equal weights);
    /// `None` when none is spoken or the header cannot be read.
    pub fn negotiate(header: &str) -> Option<Locale> {
        let mut end = header.len().min(MAX_ACCEPT_LANGUAGE);
        while !header.is_char_boundary(end) {
            end -= 1;
        }
        let header = &header[..end];
        let mut best: Option<(Locale, u32)> = None;
        for range in header.split(',').take(MAX_RANGES) {
            let mut parts = range.split(';');
            let Some(locale) = parts.next().and_then(Locale::from_tag) else {
                continue;
            };
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1000), quality)
                .unwrap_or(0);
            if weight > 0 && best.is_none_or(|(_, w)| weight > w) {
                best = Some((locale, weight));
            }
        }
        best.map(|(l, _)| l)
    }

    /// The decimal mark.
    pub fn decimal_mark(self) -> char {
        match self {
            Locale::En => '.',
            Locale::Es | Locale::Hu => ',',
        }
    }

    /// The digit group separator (a no-break space in Hungarian).
    fn group_separator(self) -> char {
        match self {
            Locale::En => ',',
            Locale::Es => '.',
            Locale::Hu => '\u{a0}',
        }
    }

    /// Fewest digits before a group separator is used (Spanish writes
    /// `1250` but `12.500`).
    fn min_grouping(self) -> usize {
        match self {
            Locale::Es => 5,
            Locale::En | Locale::Hu => 4,
        }
    }

    /// A whole number with digit groups: `1,250`, `12.500`, `1 250`.
    pub fn integer(self, n: i64) -> String {
        let sign = if n < 0 { "-" } else { "" };
        format!("{sign}{}", self.group(&n.unsigned_abs().to_string()))
    }

    /// An amount of `currency` in minor units, for reading: digit groups,
    /// the locale's decimal mark, then the code (`1,250.50 EUR`,
    /// `1250,50 EUR`, `1 250,50 EUR`).
    pub fn money(self, minor: i64, currency: &str) -> String {
        let (sign, whole, fraction) = split_amount(minor, currency);
        let whole = self.group(&whole);
        match fraction {
            Some(f) => format!("{sign}{whole}{}{f} {currency}", self.decimal_mark()),
            None => format!("{sign}{whole} {currency}"),
        }
    }

    /// An amount of `currency` in minor units as a form's input holds it:
    /// no digit groups, the locale's decimal mark (`1250.50`, `1250,50`);
    /// [`crate::value::money_to_minor`] reads it back.
    pub fn amount_for_input(self, minor: i64, currency: &str) -> String {
        let (sign, whole, fraction) = split_amount(minor, currency);
        match fraction {
            Some(f) => format!("{sign}{whole}{}{f}", self.decimal_mark()),
            None => format!("{sign}{whole}"),
        }
    }

    /// A calendar date: `2026-12-02`, `02/12/2026`, `2026. 12. 02.`.
    pub fn date(self, d: Date) -> String {
        let (y, m, day) = (d.year(), d.month(), d.day());
        match self {
            Locale::En => format!("{y:04}-{m:02}-{day:02}"),
            Locale::Es => format!("{day:02}/{m:02}/{y:04}"),
            Locale::Hu => format!("{y:04}. {m:02}. {day:02}."),
        }
    }

    /// Reads a calendar date as a person of this locale types it: ISO
    /// `2026-12-02` in every locale, and `2/12/2026`, `2-12-2026`,
    /// `2.12.2026` (day first) in Spanish, `2026. 12. 02.` and `2026.12.2`
    /// in Hungarian. English accepts ISO only: `12/2/2026` means different
    /// days to different English readers. `None` for anything else or a
    /// day that does not exist.
    pub fn parse_date(self, text: &str) -> Option<Date> {
        let text = text.trim();
        if text.len() > 32 {
            return None;
        }
        if let Ok(d) = text.parse::<Date>() {
            return Some(d);
        }
        let parts: Vec<&str> = text
            .trim_end_matches('.')
            .split(['/', '-', '.'])
            .map(str::trim)
            .collect();
        let [a, b, c] = parts.as_slice() else {
            return None;
        };
        let number = |s: &str| -> Option<i16> {
            (!s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let (year, month, day) = match self {
            Locale::En => return None,
            Locale::Es => (number(c)?, number(b)?, number(a)?),
            Locale::Hu => (number(a)?, number(b)?, number(c)?),
        };
        if year < 1000 {
            return None;
        }
        Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
    }

    /// A date and time to the minute: the [`date`](Self::date) then
    /// `HH:MM` (24-hour in every locale).
    pub fn date_time(self, t: DateTime) -> String {
        format!("{} {:02}:{:02}", self.date(t.date()), t.hour(), t.minute())
    }

    /// A day heading of a calendar: `Wednesday 2 December`,
    /// `miércoles, 2 de diciembre`, `december 2., szerda`.
    pub fn day_heading(self, d: Date) -> String {
        let (weekday, month) = (self.weekday(d.weekday()), self.month(d.month()));
        match self {
            Locale::En => format!("{weekday} {} {month}", d.day()),
            Locale::Es => format!("{weekday}, {} de {month}", d.day()),
            Locale::Hu => format!("{month} {}., {weekday}", d.day()),
        }
    }

    /// The name of a weekday (`Monday`, `lunes`, `hétfő`).
    pub fn weekday(self, w: Weekday) -> &'static str {
        let i = usize::from(w.to_monday_zero_offset().unsigned_abs());
        let names: [&str; 7] = match self {
            Locale::En => [
                "Monday",
                "Tuesday",
                "Wednesday",
                "Thursday",
                "Friday",
                "Saturday",
                "Sunday",
            ],
            Locale::Es => [
                "lunes",
                "martes",
                "miércoles",
                "jueves",
                "viernes",
                "sábado",
                "domingo",
            ],
            Locale::Hu => [
                "hétfő",
                "kedd",
                "szerda",
                "csütörtök",
                "péntek",
                "szombat",
                "vasárnap",
            ],
        };
        names[i % 7]
    }

    /// The name of a month, 1 to 12 (`December`, `diciembre`, `december`).
    pub fn month(self, month: i8) -> &'static str {
        let names: [&str; 12] = match self {
            Locale::En => [
                "January",
                "February",
                "March",
                "April",
                "May",
                "June",
                "July",
                "August",
                "September",
                "October",
                "November",
                "December",
            ],
            Locale::Es => [
                "enero",
                "febrero",
                "marzo",
                "abril",
                "mayo",
                "junio",
                "julio",
                "agosto",
                "septiembre",
                "octubre",
                "noviembre",
                "diciembre",
            ],
            Locale::Hu => [
                "január",
                "február",
                "március",
                "április",
                "május",
                "június",
                "július",
                "augusztus",
                "szeptember",
                "október",
                "november",
                "december",
            ],
        };
        names[usize::from(month.clamp(1, 12).unsigned_abs()) - 1]
    }

    /// `digits` (ASCII digits only) with the locale's digit groups.
    fn group(self, digits: &str) -> String {
        if digits.len() < self.min_grouping() {
            return digits.to_owned();
        }
        let mut out = String::with_capacity(digits.len() * 2);
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(self.group_separator());
            }
            out.push(c);
        }
        out
    }
}

/// A `q=` weight in thousandths (`0.8` → 800); `None` when malformed.
fn quality(q: &str) -> Option<u32> {
    let q = q.trim();
    let (whole, fraction) = q.split_once('.').unwrap_or((q, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u32 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The sign, whole digits and (for currencies with decimals) fraction
/// digits of `minor` units of `currency`.
fn split_amount(minor: i64, currency: &str) -> (&'static str, String, Option<String>) {
    let exponent = iso_currency::Currency::from_code(currency)
        .and_then(|c| c.exponent())
        .unwrap_or(2);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    if exponent == 0 {
        return (sign, abs.to_string(), None);
    }
    let scale = 10u64.pow(u32::from(exponent));
    let fraction = format!("{:0width$}", abs % scale, width = usize::from(exponent));
    (sign, (abs / scale).to_string(), Some(fraction))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::money_to_minor;
    use jiff::civil::date;

    #[test]
    fn money_is_written_as_each_language_writes_it() {
        assert_eq!(Locale::En.money(125_050, "EUR"), "1,250.50 EUR");
        assert_eq!(Locale::Es.money(125_050, "EUR"), "1250,50 EUR");
        assert_eq!(Locale::Es.money(1_250_050, "EUR"), "12.500,50 EUR");
        assert_eq!(Locale::Hu.money(125_050, "EUR"), "1\u{a0}250,50 EUR");
        assert_eq!(Locale::Hu.money(3_000_000, "HUF"), "30\u{a0}000,00 HUF");
        assert_eq!(Locale::En.money(1250, "JPY"), "1,250 JPY");
        assert_eq!(Locale::En.money(-5, "EUR"), "-0.05 EUR");
        assert_eq!(
            Locale::En.money(i64::MIN, "EUR"),
            "-92,233,720,368,547,758.08 EUR"
        );
        assert_eq!(Locale::Es.integer(-1_234_567), "-1.234.567");
    }

    #[test]
    fn an_input_amount_reads_back_to_the_same_minor_units() {
        for locale in Locale::ALL {
            for (minor, currency) in [(125_050, "EUR"), (-7, "EUR"), (1250, "JPY"), (1, "KWD")] {
                let text = locale.amount_for_input(minor, currency);
                assert_eq!(
                    money_to_minor(&text, currency).expect("reads back"),
                    minor,
                    "{locale:?} {text}"
                );
            }
        }
    }

    #[test]
    fn dates_and_days_in_each_language() {
        let d = date(2026, 12, 2);
        assert_eq!(Locale::En.date(d), "2026-12-02");
        assert_eq!(Locale::Es.date(d), "02/12/2026");
        assert_eq!(Locale::Hu.date(d), "2026. 12. 02.");
        assert_eq!(
            Locale::Hu.date_time(d.at(9, 5, 0, 0)),
            "2026. 12. 02. 09:05"
        );
        assert_eq!(Locale::En.day_heading(d), "Wednesday 2 December");
        assert_eq!(Locale::Es.day_heading(d), "miércoles, 2 de diciembre");
        assert_eq!(Locale::Hu.day_heading(d), "december 2., szerda");
    }

    #[test]
    fn dates_read_back_as_each_language_types_them() {
        let d = Some(date(2026, 12, 2));
        for locale in Locale::ALL {
            assert_eq!(
                locale.parse_date(" 2026-12-02 "),
                d,
                "{locale:?}: ISO everywhere"
            );
            assert_eq!(
                locale.parse_date(&locale.date(date(2026, 12, 2))),
                d,
                "{locale:?}: round trip"
            );
        }
        for typed in ["2/12/2026", "02/12/2026", "2-12-2026", "2.12.2026"] {
            assert_eq!(Locale::Es.parse_date(typed), d, "{typed}");
        }
        for typed in ["2026. 12. 02.", "2026.12.2", "2026. 12. 2"] {
            assert_eq!(Locale::Hu.parse_date(typed), d, "{typed}");
        }
        // English: ISO only (12/2 and 2/12 are both read as "today" somewhere).
        assert_eq!(Locale::En.parse_date("12/2/2026"), None);
        // No such day, two-digit years, junk, overlong input.
        for bad in [
            "31/2/2026",
            "2/12/26",
            "2/12",
            "a/b/c",
            "2//2026",
            "1/1/2026/1",
        ] {
            assert_eq!(Locale::Es.parse_date(bad), None, "{bad}");
        }
        assert_eq!(Locale::Hu.parse_date("2026. 13. 01."), None);
        assert_eq!(Locale::Es.parse_date(&"1".repeat(100)), None);
    }

    #[test]
    fn the_header_picks_the_heaviest_spoken_language() {
        assert_eq!(
            Locale::negotiate("hu-HU,hu;q=0.9,en;q=0.8"),
            Some(Locale::Hu)
        );
        assert_eq!(
            Locale::negotiate("de-DE, es;q=0.5, en;q=0.4"),
            Some(Locale::Es)
        );
        assert_eq!(Locale::negotiate("en;q=0.2, es;q=0.7"), Some(Locale::Es));
        assert_eq!(Locale::negotiate("es;q=0, fr"), None);
        assert_eq!(Locale::negotiate("es;q=2"), None);
        assert_eq!(Locale::negotiate(""), None);
        let long = format!("{}es", "x,".repeat(5000));
        assert_eq!(
            Locale::negotiate(&long),
            None,
            "only the first ranges are read"
        );
        assert_eq!(Locale::from_tag("ES_es"), Some(Locale::Es));
    }
}
