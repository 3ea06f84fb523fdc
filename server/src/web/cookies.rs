//! Reading and setting the web app's cookies: the session, the sign-in
//! form's pre-session secret and the language choice. A leaf: it knows
//! nothing of what the cookies hold.
//!
//! Guarantees: a cookie value is read only when it is 1 to
//! [`MAX_COOKIE`] bytes of URL-safe characters (anything else counts as
//! absent); every cookie set is `HttpOnly; SameSite=Strict`, and `Secure`
//! when the listener serves TLS.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};

/// Longest cookie value looked up, in bytes.
pub const MAX_COOKIE: usize = 256;

/// The value of cookie `name` in the request, when it is 1 to 256 bytes of
/// URL-safe characters.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= MAX_COOKIE
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A `Set-Cookie` value: `value` for `max_age` (zero: delete), on `path`.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age: Duration,
    path: &str,
    tls: bool,
) -> HeaderValue {
    let secure = if tls { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Max-Age={}; Path={path}; HttpOnly; SameSite=Strict{secure}",
        max_age.as_secs()
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_and_bounded() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; fw_session=abc_DEF-9; b=2"),
        );
        assert_eq!(cookie(&h, "fw_session").as_deref(), Some("abc_DEF-9"));
        assert_eq!(cookie(&h, "missing"), None);
        h.insert(header::COOKIE, HeaderValue::from_static("fw_session=a;b"));
        assert_eq!(cookie(&h, "fw_session").as_deref(), Some("a"));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("fw_session=<script>"),
        );
        assert_eq!(cookie(&h, "fw_session"), None);
        let long = format!("fw_session={}", "a".repeat(300));
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&long).expect("header"),
        );
        assert_eq!(cookie(&h, "fw_session"), None);
    }

    #[test]
    fn cookie_flags_follow_tls() {
        let plain = set_cookie("fw_session", "t", Duration::from_secs(60), "/", false);
        let plain = plain.to_str().expect("ascii");
        assert!(plain.contains("HttpOnly") && plain.contains("SameSite=Strict"));
        assert!(plain.contains("Path=/") && !plain.contains("Secure"));
        let tls = set_cookie("fw_session", "t", Duration::from_secs(60), "/", true);
        assert!(tls.to_str().expect("ascii").ends_with("; Secure"));
    }
}
