//! Phone numbers in E.164 form (`+34600112233`), for the phone index and
//! the office API's caller lookup.
//!
//! Guarantees:
//! - [`normalise`] never panics, whatever the input, and answers only
//!   numbers libphonenumber's metadata says are valid;
//! - a number written with `+` is read without a region; a national
//!   number (or one dialled with the region's international prefix, `00`)
//!   needs one, and the index and the lookup use the same one
//!   ([`DEFAULT_REGION`]), so a number typed either way finds the other.

use phonenumber::Mode;
use phonenumber::country::Id;

/// The region national numbers (without `+`) are read in, both when phone
/// fields are indexed and when a lookup is typed. Spain: the shipped
/// deployment's country; a number stored with its `+` country code is
/// indexed correctly whatever this says.
pub const DEFAULT_REGION: Option<&str> = Some("ES");

/// Longest input considered (longer is not a phone number).
const MAX_LEN: usize = 64;

/// The E.164 form of `raw`, read in `default_region` (an ISO 3166-1 alpha-2
/// code such as `ES`) when it has no `+` country code. `None` when `raw` is
/// not a valid number, or is national and no (known) region is given.
pub fn normalise(raw: &str, default_region: Option<&str>) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_LEN {
        return None;
    }
    let region = default_region.and_then(|r| r.trim().to_ascii_uppercase().parse::<Id>().ok());
    if !raw.starts_with('+') && region.is_none() {
        return None;
    }
    // The parser has panicked on malformed input in past releases; a bad
    // number must never take a request (or the writer) down with it.
    std::panic::catch_unwind(|| {
        let number = phonenumber::parse(region, raw).ok()?;
        number
            .is_valid()
            .then(|| number.format().mode(Mode::E164).to_string())
    })
    .ok()
    .flatten()
}

/// [`normalise`] in the [`DEFAULT_REGION`].
pub fn normalise_default(raw: &str) -> Option<String> {
    normalise(raw, DEFAULT_REGION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_numbers_need_the_region() {
        assert_eq!(
            normalise("600112233", Some("ES")).as_deref(),
            Some("+34600112233")
        );
        assert_eq!(
            normalise("600 11 22 33", Some("es")).as_deref(),
            Some("+34600112233")
        );
        assert_eq!(normalise("600112233", None), None);
        assert_eq!(normalise("600112233", Some("XX")), None);
    }

    #[test]
    fn international_numbers_parse_without_a_region() {
        assert_eq!(
            normalise("+34 600 11 22 33", None).as_deref(),
            Some("+34600112233")
        );
        assert_eq!(
            normalise("+36 (1) 234-5678", Some("ES")).as_deref(),
            Some("+3612345678")
        );
        // `00` is the international prefix of the region, so it needs one.
        assert_eq!(
            normalise("0034 600 11 22 33", Some("ES")).as_deref(),
            Some("+34600112233")
        );
    }

    #[test]
    fn invalid_input_is_none_never_a_panic() {
        for raw in [
            "",
            "   ",
            "call me",
            "+",
            "+0",
            "+34 1",
            "12",
            "+999 123456789",
            &"9".repeat(200),
            "+34 600 11 22 33 ext. 99999999999999999999999",
            "ñ+34🙂",
            "  2 22#:",
        ] {
            assert_eq!(normalise(raw, Some("ES")), None, "{raw:?}");
        }
        // Odd input may still hold a number; it must only never panic.
        for raw in ["\u{0}+34600112233", "+34\u{200b}600", "++34", "%00", "0"] {
            let _ = normalise(raw, Some("ES"));
            let _ = normalise(raw, None);
        }
    }
}
