//! Cross-origin calls from web pages: refused (no CORS headers at all) unless the operator
//! names the origins allowed. A daemon on a user's machine is reachable from any page the
//! user's browser opens; without an allowlist, such a page cannot read its answers (the
//! sandboxes of `/e2b` and their access tokens among them).

use std::time::Duration;

use axum::http::HeaderValue;
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer, ExposeHeaders};

/// A web origin, as a browser sends it in `Origin`.
pub type Origin = HeaderValue;

/// How long a browser may keep a preflight's answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The origins of `list` (comma-separated `scheme://host[:port]`, as browsers send `Origin`);
/// an empty list allows none.
pub fn parse_origins(list: &str) -> Result<Vec<HeaderValue>, String> {
    let mut origins = Vec::new();
    for origin in list.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let origin = origin.strip_suffix('/').unwrap_or(origin);
        let rest = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
        let host_ok = rest
            .is_some_and(|host| !host.is_empty() && !host.contains(['/', '?', '#', '@', '*', ' ']) && host.is_ascii());
        if !host_ok {
            return Err(format!(
                "{origin:?} is not an origin: write scheme://host[:port] (http or https, no path, no wildcard)"
            ));
        }
        let value = HeaderValue::from_str(&origin.to_ascii_lowercase()).map_err(|e| format!("{origin:?}: {e}"))?;
        origins.push(value);
    }
    Ok(origins)
}

/// The layer that lets `origins` call every route; `None` when there are none.
pub fn layer(origins: &[HeaderValue]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins.iter().cloned()))
            .allow_methods(AllowMethods::mirror_request())
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers(ExposeHeaders::any())
            .max_age(PREFLIGHT_MAX_AGE),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        let parsed = parse_origins(" https://App.example ,http://localhost:3000/,").unwrap();
        assert_eq!(parsed, ["https://app.example", "http://localhost:3000"]);
        assert!(parse_origins("").unwrap().is_empty());
        for bad in ["*", "app.example", "https://", "https://a.example/path", "ftp://a.example", "https://*.example"] {
            assert!(parse_origins(bad).is_err(), "{bad}");
        }
    }
}
