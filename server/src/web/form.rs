//! Form bodies and query strings of the web app, read within bounds.
//!
//! Guarantees: a form body is read with a size limit ([`MAX_BODY`], or the
//! server's `max_admin_body` when smaller) and the server's body time
//! limit; it and a query string hold at most [`MAX_PAIRS`] pairs, each
//! value at most [`MAX_VALUE`] bytes; anything else is refused with a
//! [`FormError`], never a panic. Decoding is `application/x-www-form-urlencoded`
//! (`+` is a space, `%XX` a byte, invalid UTF-8 replaced).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};

use crate::state::AppState;

/// Largest form body, in bytes.
pub const MAX_BODY: usize = 256 * 1024;

/// Most `name=value` pairs in a form or query string.
pub const MAX_PAIRS: usize = 400;

/// Longest value, in bytes (long text fields are bounded by the schema
/// well below this).
pub const MAX_VALUE: usize = 64 * 1024;

/// Longest query string, in bytes.
pub const MAX_QUERY: usize = 8 * 1024;

/// Why a form or query could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError {
    /// The status to answer.
    pub status: StatusCode,
    /// A sentence for people.
    pub message: String,
}

/// The decoded pairs of a form or query, in order (repeated names kept).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairs(pub Vec<(String, String)>);

impl Pairs {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed, when it is not empty and has at
    /// most `max` bytes.
    pub fn text(&self, name: &str, max: usize) -> Option<String> {
        self.get(name)
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= max)
            .map(str::to_owned)
    }

    /// Values of names starting with `prefix`, by the rest of the name.
    pub fn with_prefix(&self, prefix: &str) -> BTreeMap<String, String> {
        self.0
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(prefix).map(|n| (n.to_owned(), v.clone())))
            .collect()
    }
}

/// Decodes `raw` (a query string or form body) within the bounds.
pub fn parse(raw: &[u8]) -> Result<Pairs, FormError> {
    parse_bounded(raw, MAX_PAIRS, MAX_VALUE)
}

/// Decodes `raw` with at most `max_pairs` pairs of values of at most
/// `max_value` bytes (a form that uploads one long text).
pub fn parse_bounded(raw: &[u8], max_pairs: usize, max_value: usize) -> Result<Pairs, FormError> {
    let mut out = Vec::new();
    for (k, v) in form_urlencoded::parse(raw) {
        if out.len() == max_pairs {
            return Err(bad(format!("at most {max_pairs} fields")));
        }
        if v.len() > max_value || k.len() > 256 {
            return Err(bad(format!("`{}` is too long", truncate(&k, 64))));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(Pairs(out))
}

/// Decodes a query string (absent: no pairs).
pub fn query(raw: Option<&str>) -> Result<Pairs, FormError> {
    let raw = raw.unwrap_or("");
    if raw.len() > MAX_QUERY {
        return Err(bad("the address is too long".into()));
    }
    parse(raw.as_bytes())
}

/// Reads and decodes a form body.
pub async fn body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Pairs, FormError> {
    let limit = MAX_BODY.min(state.config.max_admin_body.max(1024));
    let bytes = body_bytes(state, headers, body, limit).await?;
    parse(&bytes)
}

/// Reads a body of at most `limit` bytes within the server's body time
/// limit.
pub async fn body_bytes(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<axum::body::Bytes, FormError> {
    crate::request::read_body_bytes(headers, body, limit, state.config.body_timeout)
        .await
        .map_err(|e| {
            let (status, _, message) = e.describe();
            FormError { status, message }
        })
}

fn bad(message: String) -> FormError {
    FormError {
        status: StatusCode::BAD_REQUEST,
        message,
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
pub fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_decoded_and_bounded() {
        let p = parse(b"csrf=abc&f.name=Caf%C3%A9+N%C3%BA%C3%B1ez&f.city=&o.city=Le%C3%B3n")
            .expect("valid");
        assert_eq!(p.get("csrf"), Some("abc"));
        let f = p.with_prefix("f.");
        assert_eq!(f.get("name").map(String::as_str), Some("Café Núñez"));
        assert_eq!(f.get("city").map(String::as_str), Some(""));
        assert_eq!(
            p.with_prefix("o.").get("city").map(String::as_str),
            Some("León")
        );
        assert_eq!(p.text("f.city", 10), None);
        let many = "a=1&".repeat(MAX_PAIRS + 1);
        assert!(parse(many.as_bytes()).is_err());
        let long = format!("a={}", "x".repeat(MAX_VALUE + 1));
        assert!(parse(long.as_bytes()).is_err());
        assert!(query(Some(&"q".repeat(MAX_QUERY + 1))).is_err());
        assert_eq!(parse(b"%FF=%C3").expect("lossy").0.len(), 1);
        assert_eq!(truncate("ééé", 3), "é");
    }
}
