//! Which addresses the web app may send a browser back to. A leaf: the
//! session (after signing in) and the language menu both ask it.
//!
//! Guarantees: only a path of this app (`/web/...`): no scheme, no host,
//! no `//`, no backslash, no control character, at most 1,000 bytes — so
//! no form, link or header can make the app redirect to another site.

/// Whether `path` is a path of this app a redirect may go to.
pub fn app_path(path: &str) -> bool {
    path.starts_with("/web/")
        && !path.contains("//")
        && !path.contains('\\')
        && path.len() <= 1000
        && !path.chars().any(char::is_control)
}
