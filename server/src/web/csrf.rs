//! Cross-site request forgery: every POST of the web app must carry a
//! token bound to the browser's session and come from this site.
//!
//! The token of a form is `HMAC-SHA256(secret, purpose)`, base64url, where
//! the secret is the session's login token (from the `HttpOnly` cookie,
//! never shown to scripts) or, on the sign-in form, the random pre-session
//! cookie `fw_login`. It is a synchronizer token kept by the server
//! implicitly: nothing extra is stored, and a page that leaks its token
//! leaks nothing about the session token (HMAC is one-way).
//!
//! Guarantees:
//! - [`valid`] compares in constant time (`Mac::verify_slice`) and refuses
//!   a token that is missing, malformed or longer than [`MAX_TOKEN`];
//! - [`same_origin`] accepts a request only when its `Origin` (or, when a
//!   browser sent none, its `Referer`) is this server's origin as the
//!   `Host` header names it, with `https` when the listener serves TLS;
//!   `Origin: null`, a foreign origin, a request with neither header and a
//!   browser's `Sec-Fetch-Site` other than `same-origin` or `none` are
//!   refused.

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// What the tokens of web forms are made for (changing it invalidates
/// every open form).
const PURPOSE: &[u8] = b"fieldwork web form v1";

/// Longest token accepted, in characters.
pub const MAX_TOKEN: usize = 64;

/// The name of the hidden form field holding the token.
pub const FIELD: &str = "csrf";

fn mac(secret: &str) -> Option<HmacSha256> {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(PURPOSE);
    Some(mac)
}

/// The form token of `secret` (a session token or a pre-session secret).
pub fn token_for(secret: &str) -> String {
    mac(secret)
        .map(|m| URL_SAFE_NO_PAD.encode(m.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Whether `presented` is the form token of `secret` (constant time).
pub fn valid(secret: &str, presented: Option<&str>) -> bool {
    let Some(presented) = presented.filter(|p| !p.is_empty() && p.len() <= MAX_TOKEN) else {
        return false;
    };
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(presented) else {
        return false;
    };
    mac(secret).is_some_and(|m| m.verify_slice(&bytes).is_ok())
}

/// Why a request is not same-origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossOrigin {
    /// No `Host` header to compare with.
    NoHost,
    /// The browser says the request comes from another site.
    FetchSite,
    /// `Origin` names another origin (or `null`).
    Origin,
    /// `Referer` names another origin.
    Referer,
    /// Neither `Origin` nor `Referer` was sent.
    Unknown,
}

/// Checks that a state-changing request comes from this site (see the
/// module's guarantees); `tls`: whether the listener serves TLS.
pub fn same_origin(headers: &HeaderMap, tls: bool) -> Result<(), CrossOrigin> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let host = text(header::HOST)
        .filter(|h| !h.is_empty() && h.len() <= 255)
        .ok_or(CrossOrigin::NoHost)?;
    let expected = format!("{}://{host}", if tls { "https" } else { "http" });
    if let Some(site) = text(axum::http::HeaderName::from_static("sec-fetch-site"))
        && site != "same-origin"
        && site != "none"
    {
        return Err(CrossOrigin::FetchSite);
    }
    if headers.contains_key(header::ORIGIN) {
        return match text(header::ORIGIN) {
            Some(origin) if origin.eq_ignore_ascii_case(&expected) => Ok(()),
            _ => Err(CrossOrigin::Origin),
        };
    }
    if headers.contains_key(header::REFERER) {
        return match text(header::REFERER) {
            Some(r) if same_prefix(r, &expected) => Ok(()),
            _ => Err(CrossOrigin::Referer),
        };
    }
    Err(CrossOrigin::Unknown)
}

/// Whether address `r` is on origin `origin` (the origin itself, or a path,
/// query or fragment after it).
fn same_prefix(r: &str, origin: &str) -> bool {
    let Some(head) = r.get(..origin.len()) else {
        return false;
    };
    head.eq_ignore_ascii_case(origin)
        && matches!(
            r.as_bytes().get(origin.len()),
            None | Some(b'/' | b'?' | b'#')
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn tokens_belong_to_their_secret() {
        let t = token_for("session-a");
        assert!(valid("session-a", Some(&t)));
        assert!(!valid("session-b", Some(&t)));
        assert!(!valid("session-a", None));
        assert!(!valid("session-a", Some("")));
        assert!(!valid("session-a", Some("not base64 !!")));
        assert!(!valid("session-a", Some(&"A".repeat(200))));
        let mut flipped = t.clone().into_bytes();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        assert!(!valid(
            "session-a",
            Some(std::str::from_utf8(&flipped).expect("ascii"))
        ));
    }

    #[test]
    fn only_this_origin_may_post() {
        let ok = headers(&[
            ("host", "crm.example:8443"),
            ("origin", "https://crm.example:8443"),
        ]);
        assert_eq!(same_origin(&ok, true), Ok(()));
        assert_eq!(same_origin(&ok, false), Err(CrossOrigin::Origin));
        for bad in [
            "https://evil.example",
            "null",
            "https://crm.example:8443.evil",
        ] {
            let h = headers(&[("host", "crm.example:8443"), ("origin", bad)]);
            assert_eq!(same_origin(&h, true), Err(CrossOrigin::Origin), "{bad}");
        }
        let referer = headers(&[("host", "h:1"), ("referer", "http://h:1/web/accounts?q=1")]);
        assert_eq!(same_origin(&referer, false), Ok(()));
        let sneaky = headers(&[("host", "h:1"), ("referer", "http://h:12/web")]);
        assert_eq!(same_origin(&sneaky, false), Err(CrossOrigin::Referer));
        assert_eq!(
            same_origin(&headers(&[("host", "h:1")]), false),
            Err(CrossOrigin::Unknown)
        );
        let cross = headers(&[
            ("host", "h:1"),
            ("origin", "http://h:1"),
            ("sec-fetch-site", "cross-site"),
        ]);
        assert_eq!(same_origin(&cross, false), Err(CrossOrigin::FetchSite));
        assert_eq!(
            same_origin(&headers(&[("origin", "http://h:1")]), false),
            Err(CrossOrigin::NoHost)
        );
    }
}
