//! The one place numbers cross between the core's unsigned types and the
//! signed ones the public API uses (Kotlin `Int`/`Long`, Swift
//! `Int32`/`Int64`, Python `int`): unsigned numbers are awkward from Kotlin
//! and unusable from Java.
//!
//! Guarantees:
//! - Outgoing counts never wrap: a value above the signed maximum is that
//!   maximum ([`count`], [`small`]).
//! - An incoming negative number is refused with
//!   [`FieldworkError::Invalid`] naming the argument (`limit must not be
//!   negative`), never a panic and never a wrapped huge value
//!   ([`not_negative`]).

use crate::error::{FieldworkError, Result};

/// A count, size or number of seconds as a signed 64-bit number,
/// saturating at `i64::MAX`.
pub(crate) fn count(value: impl TryInto<i64>) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

/// A small number (a percent) as a signed 32-bit number, saturating at
/// `i32::MAX`.
pub(crate) fn small(value: impl TryInto<i32>) -> i32 {
    value.try_into().unwrap_or(i32::MAX)
}

/// An argument that must not be negative (a limit, an offset, a timeout),
/// as the unsigned type the core takes. A negative value (or one the
/// target type cannot hold) is `Invalid` naming `name`.
pub(crate) fn not_negative<U: TryFrom<i64>>(value: impl Into<i64>, name: &str) -> Result<U> {
    let value = value.into();
    if value < 0 {
        return Err(FieldworkError::Invalid {
            field: Some(name.to_owned()),
            detail: format!("{name} must not be negative"),
        });
    }
    U::try_from(value).map_err(|_| FieldworkError::Invalid {
        field: Some(name.to_owned()),
        detail: format!("{name} is too large"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_saturate_instead_of_wrapping() {
        assert_eq!(count(u64::MAX), i64::MAX);
        assert_eq!(count(1u64 << 63), i64::MAX);
        assert_eq!(count(i64::MAX as u64), i64::MAX);
        assert_eq!(count(42usize), 42);
        assert_eq!(count(0u64), 0);
        assert_eq!(small(u32::MAX), i32::MAX);
        assert_eq!(small(100u8), 100);
    }

    #[test]
    fn a_negative_argument_is_invalid_naming_it() {
        let err = not_negative::<usize>(-1i32, "limit").expect_err("refused");
        assert!(
            matches!(&err, FieldworkError::Invalid { field: Some(f), detail }
                if f == "limit" && detail == "limit must not be negative"),
            "{err:?}"
        );
        assert_eq!(not_negative::<usize>(0i32, "offset").ok(), Some(0));
        assert_eq!(
            not_negative::<u64>(i32::MAX, "timeout_seconds").ok(),
            Some(i32::MAX as u64)
        );
    }
}
