//! Locale-aware sort keys for names (ICU4X collation).
//!
//! Lists sorted by name follow the user's language: in Spanish `Ñandú` comes
//! after `Nube`; in Hungarian `Csaba` comes after `Cukor` because `cs` is a
//! letter of its own. The index stores a binary sort key per record, so a
//! sorted list is an index scan; changing the locale recomputes the keys.

use icu_collator::options::{CollatorOptions, Strength};
use icu_collator::{Collator, CollatorBorrowed};
use icu_locale_core::Locale;

use crate::error::{CoreError, ValidationError};

/// A collator for one locale.
pub struct NameCollator {
    locale: String,
    collator: CollatorBorrowed<'static>,
}

impl std::fmt::Debug for NameCollator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameCollator")
            .field("locale", &self.locale)
            .finish()
    }
}

impl NameCollator {
    /// A collator for a BCP 47 locale such as `es-ES` or `hu` (`es_ES`, as
    /// POSIX and iOS write it, is read the same). Case and accents only
    /// break ties between otherwise equal names.
    pub fn new(locale: &str) -> Result<Self, CoreError> {
        let parsed = Locale::try_from_str(&locale.trim().replace('_', "-")).map_err(|e| {
            CoreError::Invalid(ValidationError::field(
                "locale",
                format!("`{locale}` is not a BCP 47 locale: {e}"),
            ))
        })?;
        let mut options = CollatorOptions::default();
        options.strength = Some(Strength::Tertiary);
        let collator = Collator::try_new((&parsed).into(), options).map_err(|e| {
            CoreError::Invalid(ValidationError::field(
                "locale",
                format!("no collation data for `{locale}`: {e}"),
            ))
        })?;
        Ok(NameCollator {
            locale: parsed.to_string(),
            collator,
        })
    }

    /// The canonical locale tag.
    pub fn locale(&self) -> &str {
        &self.locale
    }

    /// The binary sort key of `name`: comparing keys bytewise orders names as
    /// the locale does.
    pub fn sort_key(&self, name: &str) -> Vec<u8> {
        let mut key = Vec::with_capacity(name.len() * 2);
        // Writing into a Vec cannot fail.
        let _ = self.collator.write_sort_key_to(name, &mut key);
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(locale: &str, names: &[&str]) -> Vec<String> {
        let c = NameCollator::new(locale).expect("locale");
        let mut v: Vec<&str> = names.to_vec();
        v.sort_by_key(|n| c.sort_key(n));
        v.into_iter().map(str::to_owned).collect()
    }

    #[test]
    fn spanish_puts_enye_after_n() {
        assert_eq!(
            sorted("es", &["Oso", "Ñandú", "Nube"]),
            ["Nube", "Ñandú", "Oso"]
        );
    }

    #[test]
    fn hungarian_treats_cs_as_one_letter() {
        assert_eq!(
            sorted("hu", &["Csaba", "Dénes", "Cukor"]),
            ["Cukor", "Csaba", "Dénes"]
        );
        // In English the same names sort letter by letter.
        assert_eq!(
            sorted("en", &["Csaba", "Dénes", "Cukor"]),
            ["Csaba", "Cukor", "Dénes"]
        );
    }

    #[test]
    fn case_and_accents_only_break_ties() {
        assert_eq!(
            sorted("es", &["jose", "José", "Josefa"]),
            ["jose", "José", "Josefa"]
        );
    }

    #[test]
    fn a_malformed_locale_is_refused() {
        assert!(NameCollator::new("not a locale!").is_err());
    }

    #[test]
    fn posix_underscores_read_as_bcp_47() {
        assert_eq!(
            NameCollator::new("es_ES").expect("locale").locale(),
            "es-ES"
        );
        assert_eq!(
            sorted("es_ES", &["Oso", "Ñandú", "Nube"]),
            ["Nube", "Ñandú", "Oso"]
        );
    }
}
