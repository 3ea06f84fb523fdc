//! The security headers of every web answer.
//!
//! Guarantees: every answer of the web app carries
//! - `Content-Security-Policy` [`CSP`]: scripts, styles, images and
//!   connections only from this origin, no inline script or style, forms
//!   post only here, no framing (`frame-ancestors 'none'`), no `<base>`;
//! - `X-Frame-Options: DENY` (older browsers), `X-Content-Type-Options:
//!   nosniff`, `Referrer-Policy: same-origin` (no address leaves the
//!   site), `Cross-Origin-Opener-Policy: same-origin`;
//! - `Cache-Control: no-store` unless the handler chose otherwise (pages
//!   hold customer data; only the static assets are cacheable).

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The content security policy of the web app.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to the answer of `request`.
pub async fn secure(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    let fixed: [(HeaderName, &'static str); 5] = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        h.insert(name, HeaderValue::from_static(value));
    }
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
