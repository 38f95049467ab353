//! What mock-home believes of a request's forwarded headers: who the client is, and which origin
//! it asked for.
//!
//! In the stack traefik runs in the host's network namespace and reaches mock-home on 127.0.0.1,
//! so a **loopback peer is taken for the proxy** and its `X-Forwarded-*` headers are read; any
//! other peer is the client itself and its forwarded headers are ignored.
//!
//! - **Client address**: from the proxy, the *last* address of `X-Forwarded-For` (all header
//!   lines read as one list, as Go's proxy joins them): the hop traefik appended, the address
//!   that connected to it. Entries before it are whatever the client sent (traefik drops them
//!   unless told to trust the client, but the last hop is traefik's either way), so they are
//!   never read. Without a usable header, the peer address.
//! - **What can be spoofed**: anyone who reaches mock-home's port directly from this host is a
//!   loopback peer and can name any address (it listens on 127.0.0.1 only, so that is a local
//!   user, who can also run as many clients as they like). A proxy in front of traefik (a CDN,
//!   a load balancer) would make its own address the last hop of every client: then all clients
//!   share one address here, and traefik's `forwardedHeaders.trustedIPs` does not change that.
//! - **Public origin**: `X-Forwarded-Proto` and `X-Forwarded-Host` from the proxy (traefik
//!   writes both from the request it received, replacing a client's own), else `http` and the
//!   `Host` header (mock-home itself speaks plain HTTP). traefik passes `Host` through unchanged
//!   (`passHostHeader`), so both name the host the browser asked for.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::HeaderMap;

const X_FORWARDED_FOR: &str = "x-forwarded-for";
const X_FORWARDED_HOST: &str = "x-forwarded-host";
const X_FORWARDED_PROTO: &str = "x-forwarded-proto";

/// Whether a peer is the proxy in front of mock-home (see the module's doc).
pub fn is_proxy(peer: Option<SocketAddr>) -> bool {
    peer.is_some_and(|p| p.ip().to_canonical().is_loopback())
}

/// The client's address (see the module's doc); `None` only without a peer (tests).
pub fn client_addr(peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
    let forwarded = || {
        let values: Vec<&str> = headers
            .get_all(X_FORWARDED_FOR)
            .map(|v| v.to_str().ok())
            .collect::<Option<_>>()?;
        let last = values.join(",").rsplit(',').next()?.trim().to_string();
        last.parse::<IpAddr>().ok()
    };
    let peer_ip = peer.map(|p| p.ip());
    let chosen = if is_proxy(peer) {
        forwarded().or(peer_ip)
    } else {
        peer_ip
    };
    chosen.map(|ip| ip.to_canonical())
}

/// The only value of a header, or `None` when it is missing, repeated or not text.
pub fn single<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let mut values = headers.get_all(name);
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    first.to_str().ok().map(str::trim)
}

/// The origin the client asked for, e.g. `http://127.0.0.1:8080` (see the module's doc);
/// `None` without a usable host.
pub fn public_origin(peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<String> {
    let from_proxy = |name| {
        if is_proxy(peer) {
            // traefik may list several (one per proxy); the first is what the client asked for.
            single(headers, name)
                .and_then(|v| v.split(',').next())
                .map(str::trim)
        } else {
            None
        }
    };
    let scheme = from_proxy(X_FORWARDED_PROTO).unwrap_or("http");
    let host = from_proxy(X_FORWARDED_HOST).or_else(|| single(headers, "host"))?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}").to_ascii_lowercase())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    /// A header map of static pairs, repeated names kept (also for the origin checks' tests).
    pub(crate) fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    const LOOPBACK: &str = "127.0.0.1:40000";
    const REMOTE: &str = "192.0.2.7:40000";

    fn addr(s: &str) -> Option<SocketAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn the_proxy_s_last_forwarded_hop_is_the_client_and_earlier_ones_are_ignored() {
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 203.0.113.5")]);
        assert_eq!(
            client_addr(addr(LOOPBACK), &h),
            Some("203.0.113.5".parse().unwrap())
        );
        // Repeated header lines read as one list, as Go's proxy joins them.
        let h = headers(&[
            ("x-forwarded-for", "10.9.9.9"),
            ("x-forwarded-for", " 203.0.113.6 "),
        ]);
        assert_eq!(
            client_addr(addr(LOOPBACK), &h),
            Some("203.0.113.6".parse().unwrap())
        );
        let h = headers(&[("x-forwarded-for", "2001:db8::1")]);
        assert_eq!(
            client_addr(addr(LOOPBACK), &h),
            Some("2001:db8::1".parse().unwrap())
        );
    }

    #[test]
    fn a_peer_that_is_not_the_proxy_cannot_name_another_address() {
        let h = headers(&[("x-forwarded-for", "203.0.113.5")]);
        assert_eq!(
            client_addr(addr(REMOTE), &h),
            Some("192.0.2.7".parse().unwrap())
        );
    }

    #[test]
    fn a_missing_or_garbled_forwarded_hop_falls_back_to_the_peer() {
        for h in [
            headers(&[]),
            headers(&[("x-forwarded-for", "")]),
            headers(&[("x-forwarded-for", "203.0.113.5, not-an-address")]),
            headers(&[("x-forwarded-for", "203.0.113.5,")]),
        ] {
            assert_eq!(
                client_addr(addr(LOOPBACK), &h),
                Some("127.0.0.1".parse().unwrap()),
                "{h:?}"
            );
        }
    }

    #[test]
    fn the_public_origin_is_the_proxy_s_forwarded_one_or_the_host() {
        let h = headers(&[
            ("host", "internal:8010"),
            ("x-forwarded-host", "Example.COM"),
            ("x-forwarded-proto", "https"),
        ]);
        assert_eq!(
            public_origin(addr(LOOPBACK), &h).as_deref(),
            Some("https://example.com")
        );
        assert_eq!(
            public_origin(addr(REMOTE), &h).as_deref(),
            Some("http://internal:8010"),
            "only the proxy's forwarded headers count"
        );
        let h = headers(&[("host", "127.0.0.1:8080")]);
        assert_eq!(
            public_origin(addr(LOOPBACK), &h).as_deref(),
            Some("http://127.0.0.1:8080")
        );
        let two_hosts = headers(&[("host", "a.example"), ("host", "b.example")]);
        assert_eq!(public_origin(addr(REMOTE), &two_hosts), None);
    }
}
