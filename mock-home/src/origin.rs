//! Login CSRF: a cross-site `POST` (register, login, logout) is refused with 403, so another site
//! cannot log a visitor into an account of its choosing, out of theirs, or register in their name.
//!
//! The rule is the one of Go's `http.CrossOriginProtection`:
//! - `Sec-Fetch-Site` (sent by every current browser) decides when present: `same-origin`, or
//!   `none` (the user's own navigation), passes; `same-site`, `cross-site` or anything else is
//!   refused (a sibling subdomain is another origin).
//! - Else `Origin` decides when present: it must equal the request's public origin, scheme and
//!   host with port, compared without case. "Same origin" is judged on what the browser asked
//!   for: the `X-Forwarded-Proto`/`-Host` traefik writes (from a loopback peer only), else `http`
//!   and `Host` (see [`crate::proxy`]). `Origin: null` (sandboxed frames, some redirects) is
//!   refused.
//! - Neither header (curl, scripts, old clients): passes. Such a request is not a browser's
//!   cross-site one.
//!
//! A repeated `Sec-Fetch-Site` or `Origin` header is refused: a browser never sends two.

use std::net::SocketAddr;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;

use crate::pages::error;
use crate::proxy;

const SEC_FETCH_SITE: &str = "sec-fetch-site";
const ORIGIN: &str = "origin";

/// Why a request is refused, or `None` when it may go on.
pub fn cross_site(peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<&'static str> {
    if headers.contains_key(SEC_FETCH_SITE) {
        return match proxy::single(headers, SEC_FETCH_SITE) {
            Some("same-origin" | "none") => None,
            _ => Some("Sec-Fetch-Site says the request comes from another site"),
        };
    }
    if headers.contains_key(ORIGIN) {
        let origin = proxy::single(headers, ORIGIN).map(str::to_ascii_lowercase);
        let expected = proxy::public_origin(peer, headers);
        return match (origin, expected) {
            (Some(origin), Some(expected)) if origin == expected => None,
            _ => Some("Origin names another site"),
        };
    }
    None
}

/// Middleware: every `POST` (they all change who is logged in) passes [`cross_site`] first.
pub async fn refuse_cross_site(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.method() == Method::POST {
        if let Some(reason) = cross_site(req.peer_addr(), req.headers()) {
            log::warn!(
                "refused a cross-site {} from {:?}: {reason}",
                req.path(),
                req.peer_addr()
            );
            let message = "This form only works from this site's own pages.";
            let response = error(req.request(), StatusCode::FORBIDDEN, message);
            return Ok(req.into_response(response));
        }
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::tests::headers;

    fn from_traefik() -> Option<SocketAddr> {
        Some("127.0.0.1:40000".parse().unwrap())
    }

    const HOST: (&str, &str) = ("host", "home.example:8080");

    #[test]
    fn a_same_origin_post_or_one_without_either_header_passes() {
        for h in [
            headers(&[HOST, ("sec-fetch-site", "same-origin")]),
            headers(&[HOST, ("sec-fetch-site", "none")]),
            headers(&[HOST, ("origin", "http://home.example:8080")]),
            headers(&[HOST, ("origin", "HTTP://Home.Example:8080")]),
            headers(&[HOST]),
            headers(&[]),
        ] {
            assert_eq!(cross_site(from_traefik(), &h), None, "{h:?}");
        }
    }

    #[test]
    fn a_cross_site_post_is_refused() {
        for h in [
            headers(&[HOST, ("sec-fetch-site", "cross-site")]),
            headers(&[HOST, ("sec-fetch-site", "same-site")]),
            headers(&[HOST, ("sec-fetch-site", "bogus")]),
            headers(&[HOST, ("origin", "http://evil.example")]),
            headers(&[HOST, ("origin", "http://home.example:8081")]),
            headers(&[HOST, ("origin", "https://home.example:8080")]),
            headers(&[HOST, ("origin", "http://home.example:8080.evil.example")]),
            headers(&[HOST, ("origin", "null")]),
            headers(&[("origin", "http://home.example:8080")]),
        ] {
            assert!(cross_site(from_traefik(), &h).is_some(), "{h:?}");
        }
    }

    #[test]
    fn sec_fetch_site_wins_over_origin() {
        let h = headers(&[
            HOST,
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://home.example:8080"),
        ]);
        assert!(cross_site(from_traefik(), &h).is_some());
    }

    #[test]
    fn repeated_headers_are_refused() {
        for h in [
            headers(&[
                HOST,
                ("sec-fetch-site", "same-origin"),
                ("sec-fetch-site", "cross-site"),
            ]),
            headers(&[
                HOST,
                ("origin", "http://home.example:8080"),
                ("origin", "http://evil.example"),
            ]),
        ] {
            assert!(cross_site(from_traefik(), &h).is_some(), "{h:?}");
        }
    }

    #[test]
    fn behind_a_tls_proxy_the_forwarded_origin_counts() {
        let h = headers(&[
            ("host", "127.0.0.1:8010"),
            ("x-forwarded-host", "home.example"),
            ("x-forwarded-proto", "https"),
            ("origin", "https://home.example"),
        ]);
        assert_eq!(cross_site(from_traefik(), &h), None);
        // The same headers from a peer that is not the proxy: its X-Forwarded-* are not read.
        let direct = Some("192.0.2.7:40000".parse().unwrap());
        assert!(cross_site(direct, &h).is_some());
    }
}
