//! Browser-facing hardening: the `Host` check that defeats DNS rebinding against a
//! loopback platform, and the headers that keep responses from being sniffed or
//! framed.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Which `Host` values are this platform.
#[derive(Debug, Clone, Copy)]
pub enum Hosts {
    /// Bound to loopback: only loopback names. A page on `evil.example` that
    /// re-resolves its name to 127.0.0.1 still sends `Host: evil.example`.
    Loopback,
    /// Bound beyond loopback, where clients use names this process cannot know.
    Any,
}

fn is_loopback_host(authority: &str) -> bool {
    // Strip the port: `[::1]:8787`, `127.0.0.1:8787`, `localhost`.
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub async fn check_host(State(hosts): State<Hosts>, req: Request, next: Next) -> Response {
    if let Hosts::Loopback = hosts {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()));
        // HTTP/1.0 clients may send no Host; browsers always do.
        if let Some(host) = host.filter(|h| !is_loopback_host(h)) {
            return ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "this platform serves loopback names only (localhost, 127.0.0.1, [::1]), not {host:?}"
                ),
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// The API is JSON for programs: nothing in it is meant to be rendered, framed or
/// run by a browser. `/docs` sets its own, looser policy.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(API_CSP),
        );
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names() {
        for ok in [
            "localhost",
            "LOCALHOST:8787",
            "127.0.0.1:1",
            "127.9.9.9",
            "[::1]:80",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8787",
            "10.0.0.1:80",
            "[fe80::1]:1",
            "localhost.evil.example",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }
}
