//! The server's refusals in the request's language.
//!
//! A refusal reaches a page as the office API's [`Problem`]: a stable
//! `code`, the field and the policy rule it names, and the core's English
//! sentence (`detail`). For the refusals of rights — the ones a person
//! meets when the policy stops them — this module writes the sentence in
//! Spanish or Hungarian from the code, the field's name and the rule, so
//! it says what the English one says. Other refusals (a value the rule
//! book refuses, with its own reasoning) keep the core's English sentence.
//!
//! Guarantees: English pages show the server's own sentence unchanged; a
//! translated sentence names nothing the English one does not (the field
//! the user sent and the rule).

use crate::api::problem::Problem;
use fieldwork_core::policy::codes;

use super::{Locale, current, word};
use crate::web::i18n;

/// `p`'s sentence for the person reading the page.
pub fn refusal(p: &Problem) -> String {
    if current() == Locale::En {
        return p.detail.clone();
    }
    let rule = p.rule.clone().unwrap_or_default();
    let field = p.field.as_deref().map(word).unwrap_or_default();
    match p.code.as_str() {
        codes::CLASS_NOT_WRITABLE if !field.is_empty() => {
            i18n::fill("Your role may not change {0} (rule {1}).", &[&field, &rule])
        }
        codes::RECORD_NOT_EDITABLE => i18n::fill(
            "You may not change this record: it is outside what your role edits (rule {0}).",
            &[&rule],
        ),
        codes::RECORD_NOT_VISIBLE => i18n::fill(
            "You may not change this record: your role does not see it (rule {0}).",
            &[&rule],
        ),
        codes::ARCHIVE_FORBIDDEN => i18n::fill(
            "Your role may not archive or restore records (rule {0}).",
            &[&rule],
        ),
        codes::TARGETS_FORBIDDEN => i18n::fill(
            "Your role may not set or change targets (rule {0}).",
            &[&rule],
        ),
        codes::PROCESS_FORBIDDEN => i18n::fill(
            "Your role may not do this to processes (rule {0}).",
            &[&rule],
        ),
        codes::PROCESS_HELD => i18n::fill(
            "The process is suspended or stopped: its tasks are held until someone resumes it ({0}).",
            &[&rule],
        ),
        codes::SYSTEM_FIELD if !field.is_empty() => i18n::fill(
            "{0} is kept by the system and cannot be written.",
            &[&field],
        ),
        _ => p.detail.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::with_locale;
    use super::*;
    use axum::http::StatusCode;

    fn denied(code: &str, field: Option<&str>) -> Problem {
        let mut p = Problem::new(
            StatusCode::FORBIDDEN,
            code,
            "role `rep` may not write `credit_limit` (class `finance`)",
        );
        p.field = field.map(str::to_owned);
        p.rule = Some("roles.rep.write".to_owned());
        p
    }

    #[tokio::test]
    async fn rights_refusals_read_in_the_language_and_the_rest_stay_as_sent() {
        let p = denied(codes::CLASS_NOT_WRITABLE, Some("credit_limit"));
        assert_eq!(refusal(&p), p.detail, "English: the server's sentence");
        with_locale(Locale::Es, async {
            assert_eq!(
                refusal(&p),
                "Su rol no puede cambiar Límite de crédito (regla roles.rep.write)."
            );
        })
        .await;
        with_locale(Locale::Hu, async {
            assert!(refusal(&p).contains("Hitelkeret"), "{}", refusal(&p));
            let other = denied(codes::INVALID_VALUE, Some("email"));
            assert_eq!(refusal(&other), other.detail, "not a right: as sent");
        })
        .await;
    }
}
