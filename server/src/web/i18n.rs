//! The web app in English, Spanish and Hungarian.
//!
//! Each request gets one [`Locale`] ([`negotiate`]): the `fw_lang` cookie
//! the language menu sets ([`choose`]), else the browser's
//! `Accept-Language`, else English. Pages are written in English; a
//! template marks each sentence for translation with the `t` filter
//! (`{{ "Sign in"|t }}`, or `{{ "{0} more not listed."|t1(n) }}` with a
//! value put in), and Rust code with [`text`]. The Spanish and Hungarian
//! catalogues ([`es`], [`hu`]) map those English sentences to theirs;
//! numbers, money and dates are written by [`fieldwork_core::locale`].
//!
//! Guarantees:
//! - every English sentence a template marks has a Spanish and a Hungarian
//!   translation (a test reads every template), and every translation
//!   keeps the sentence's `{0}`/`{1}` slots;
//! - a sentence missing from a catalogue shows in English, never empty;
//! - translations are plain text, escaped like every value (no catalogue
//!   entry can put markup on a page);
//! - the language is chosen per request and never stored on the server;
//!   the language menu only redirects to a path of this app.

pub mod es;
pub mod hu;
pub mod refusals;
pub mod values;

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use axum::extract::{Query, Request};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
pub use fieldwork_core::locale::Locale;
use serde::Deserialize;

/// The cookie holding the language chosen in the menu.
pub const COOKIE: &str = "fw_lang";

/// How long the language choice is remembered.
const CHOICE_AGE: Duration = Duration::from_secs(365 * 24 * 3600);

tokio::task_local! {
    static LOCALE: Locale;
}

/// The locale of the request being answered: English outside one, and
/// in work moved off the request's task (`spawn_blocking`, database
/// closures), so translate where a page is put together, not there.
pub fn current() -> Locale {
    LOCALE.try_with(|l| *l).unwrap_or_default()
}

/// Runs `future` with `locale` as the [`current`] one (for tests and
/// work that renders outside a request).
pub async fn with_locale<F: Future>(locale: Locale, future: F) -> F::Output {
    LOCALE.scope(locale, future).await
}

/// The locale a request asks for: its `fw_lang` cookie, else its
/// `Accept-Language`, else English.
pub fn locale_of(headers: &HeaderMap) -> Locale {
    super::cookies::cookie(headers, COOKIE)
        .and_then(|tag| Locale::from_tag(&tag))
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Locale::negotiate)
        })
        .unwrap_or_default()
}

/// Middleware: answers the request in its locale ([`locale_of`]), and
/// says which in `Content-Language`.
pub async fn negotiate(request: Request, next: Next) -> Response {
    let locale = locale_of(request.headers());
    let mut response = LOCALE.scope(locale, next.run(request)).await;
    response.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        header::HeaderValue::from_static(locale.tag()),
    );
    response
}

/// The language menu's link: `?lang=es`, optionally `&next=/web/...`.
#[derive(Debug, Deserialize)]
pub struct Choice {
    lang: String,
    #[serde(default)]
    next: String,
}

/// `GET /web/locale`: remembers the language in a cookie and goes back to
/// `next`, else to the page the link was on (its `Referer`), when that is
/// a path of this app; else to the home page. An unknown language changes
/// nothing.
pub async fn choose(
    axum::Extension(config): axum::Extension<super::WebConfig>,
    headers: HeaderMap,
    Query(choice): Query<Choice>,
) -> Response {
    let referer = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.parse::<axum::http::Uri>().ok());
    let from_referer = referer
        .as_ref()
        .and_then(|u| u.path_and_query())
        .map(|p| p.as_str());
    let back = [Some(choice.next.as_str()), from_referer]
        .into_iter()
        .flatten()
        .find(|p| super::paths::app_path(p))
        .unwrap_or("/web")
        .to_owned();
    let mut response = Redirect::to(&back).into_response();
    if let Some(locale) = Locale::from_tag(&choice.lang) {
        let cookie = super::cookies::set_cookie(COOKIE, locale.tag(), CHOICE_AGE, "/", config.tls);
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// The language menu: each locale with its link and whether it is the
/// current one.
pub fn menu() -> Vec<(Locale, String, bool)> {
    let now = current();
    Locale::ALL
        .into_iter()
        .map(|l| (l, format!("/web/locale?lang={}", l.tag()), l == now))
        .collect()
}

/// The catalogue of `locale`: English sentence → its translation.
fn catalogue(locale: Locale) -> Option<&'static HashMap<&'static str, &'static str>> {
    static ES: LazyLock<HashMap<&str, &str>> =
        LazyLock::new(|| es::TEXTS.iter().copied().collect());
    static HU: LazyLock<HashMap<&str, &str>> =
        LazyLock::new(|| hu::TEXTS.iter().copied().collect());
    match locale {
        Locale::En => None,
        Locale::Es => Some(&ES),
        Locale::Hu => Some(&HU),
    }
}

/// The words of `locale`: a field, kind or value name → how it reads.
fn words(locale: Locale) -> Option<&'static HashMap<&'static str, &'static str>> {
    static ES: LazyLock<HashMap<&str, &str>> =
        LazyLock::new(|| es::WORDS.iter().copied().collect());
    static HU: LazyLock<HashMap<&str, &str>> =
        LazyLock::new(|| hu::WORDS.iter().copied().collect());
    match locale {
        Locale::En => None,
        Locale::Es => Some(&ES),
        Locale::Hu => Some(&HU),
    }
}

/// How the name of a field, record kind or listed value (`credit_limit`,
/// `deal`, `won`) reads in the current locale: the catalogue's word, else
/// the name as English words (`credit_limit` → `Credit limit`).
pub fn word(name: &str) -> String {
    if let Some(w) = words(current()).and_then(|w| w.get(name)) {
        return (*w).to_owned();
    }
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => spaced,
    }
}

/// Marks `english` for translation where it cannot be translated yet (a
/// constant); translate it with [`text`] where it is shown.
pub const fn mark(english: &'static str) -> &'static str {
    english
}

/// `english` in `locale` (itself when there is no translation).
pub fn text_in(locale: Locale, english: &str) -> &str {
    catalogue(locale)
        .and_then(|c| c.get(english).copied())
        .unwrap_or(english)
}

/// `english` in the [`current`] locale.
pub fn text(english: &str) -> &str {
    text_in(current(), english)
}

/// `english` in the current locale with its `{0}`, `{1}`… slots filled
/// by `values` in one pass (a value's own braces are never read as slots).
pub fn fill(english: &str, values: &[&dyn std::fmt::Display]) -> String {
    let template = text(english);
    let mut out = String::with_capacity(template.len() + 16 * values.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let slot = after
            .get(1..3)
            .filter(|s| s.ends_with('}'))
            .and_then(|s| s[..1].parse::<usize>().ok())
            .and_then(|i| values.get(i));
        match slot {
            Some(v) => {
                out.push_str(&v.to_string());
                rest = &after[3..];
            }
            None => {
                out.push('{');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Money in the current locale (`1,250.50 EUR`, `1250,50 EUR`).
pub fn money(minor: i64, currency: &str) -> String {
    current().money(minor, currency)
}

/// A date and time to the minute in the current locale.
pub fn date_time(t: jiff::civil::DateTime) -> String {
    current().date_time(t)
}

/// A date in the current locale.
pub fn date(d: jiff::civil::Date) -> String {
    current().date(d)
}

/// The template filters of translation (`use super::i18n::filters;` in a
/// module that defines templates). `askama::filter_fn` generates a public
/// builder struct per filter, which cannot carry a doc comment.
#[allow(missing_docs)]
pub mod filters {
    use std::fmt::Display;

    /// `{{ "Sign in"|t }}`: the sentence in the current locale.
    #[askama::filter_fn]
    pub fn t<T: Display>(english: T, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(super::text(&english.to_string()).to_owned())
    }

    /// `{{ "{0} more"|t1(n) }}`: the sentence with its slot filled.
    #[askama::filter_fn]
    pub fn t1<T: Display, A: Display>(
        english: T,
        _: &dyn askama::Values,
        a: A,
    ) -> askama::Result<String> {
        Ok(super::fill(&english.to_string(), &[&a]))
    }

    /// `{{ "{0} of {1}"|t2(a, b) }}`: the sentence with both slots filled.
    #[askama::filter_fn]
    pub fn t2<T: Display, A: Display, B: Display>(
        english: T,
        _: &dyn askama::Values,
        a: A,
        b: B,
    ) -> askama::Result<String> {
        Ok(super::fill(&english.to_string(), &[&a, &b]))
    }
}

#[cfg(test)]
mod tests;
