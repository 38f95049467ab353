//! Who may use the admin page, and from where. Signing in proves the API token once; the browser
//! then carries [`COOKIE`]: an expiry and an HMAC of it keyed with the token (never the token
//! itself), `HttpOnly`, `SameSite=Strict`, scoped to `/admin`. Every state-changing request must
//! come from the page itself ([`same_origin`]): a cross-site form or script is refused even
//! though the browser would not send the cookie along.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::domain::ApiToken;

/// The admin session's cookie.
pub const COOKIE: &str = "spawner_admin";
/// How long a sign-in lasts.
pub const LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// The header the page's own scripts send with every change (a cross-site form cannot).
pub const MARKER: &str = "x-spawner-admin";
/// What the cookie's MAC covers besides the expiry (so it proves nothing anywhere else).
const LABEL: &str = "spawner admin session v1";

/// The caller's address, for the log.
pub fn peer(addr: Option<std::net::SocketAddr>) -> String {
    addr.map_or_else(|| "an unknown address".into(), |a| a.to_string())
}

/// Whether `path` is the admin page's (it has its own sign-in instead of the bearer token).
pub fn is_admin_path(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

fn mac(token: &ApiToken, expires: u64) -> String {
    URL_SAFE_NO_PAD.encode(token.sign(format!("{LABEL}|{expires}").as_bytes()))
}

/// The cookie's value for a sign-in at `now`: `<expires>.<mac>`.
pub fn session_value(token: &ApiToken, now: SystemTime) -> String {
    let expires = (now + LIFETIME)
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    format!("{expires}.{}", mac(token, expires))
}

/// Whether `value` is a cookie this token signed that has not expired at `now`.
pub fn is_valid(token: &ApiToken, value: &str, now: SystemTime) -> bool {
    let Some((expires, presented)) = value.split_once('.') else {
        return false;
    };
    let Ok(expires) = expires.parse::<u64>() else {
        return false;
    };
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let fresh = expires > now && expires <= now + LIFETIME.as_secs() + 60;
    let signed = mac(token, expires).as_bytes().ct_eq(presented.as_bytes());
    fresh && bool::from(signed)
}

/// Whether the request carries a valid admin cookie (any of them, however many headers).
pub fn signed_in(headers: &HeaderMap, token: &ApiToken) -> bool {
    let now = SystemTime::now();
    headers
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == COOKIE && is_valid(token, value, now))
}

/// The one value of `name`; `Err` when it is given more than once.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a HeaderValue>, ()> {
    let mut values = headers.get_all(HeaderName::from_bytes(name.as_bytes()).map_err(|_| ())?);
    let first = values.next();
    match values.next() {
        Some(_) => Err(()),
        None => Ok(first),
    }
}

/// Whether a request comes from a page of this origin: `Sec-Fetch-Site: same-origin` (what
/// browsers send), and an `Origin`, when there is one, naming this very host. Without either
/// header it is refused: every browser that could hold the cookie sends at least one.
pub fn same_origin(headers: &HeaderMap) -> Result<(), &'static str> {
    const REFUSED: &str = "cross-site request refused: the admin page changes instances only \
                           from its own page";
    let site = single(headers, "sec-fetch-site").map_err(|_| REFUSED)?;
    let origin = single(headers, "origin").map_err(|_| REFUSED)?;
    if let Some(site) = site {
        if site.as_bytes() != b"same-origin" {
            return Err(REFUSED);
        }
    }
    if let Some(origin) = origin {
        let host = single(headers, "host").map_err(|_| REFUSED)?;
        let host = host.and_then(|h| h.to_str().ok()).ok_or(REFUSED)?;
        let origin = origin.to_str().map_err(|_| REFUSED)?;
        let ours = ["http://", "https://"]
            .iter()
            .any(|scheme| origin.strip_prefix(scheme) == Some(host));
        if !ours {
            return Err(REFUSED);
        }
    }
    match (site, origin) {
        (None, None) => Err(REFUSED),
        _ => Ok(()),
    }
}

/// Whether a change comes from the admin page itself: [`same_origin`], and for its API also
/// [`MARKER`], which no cross-site form can send.
pub fn from_the_page(headers: &HeaderMap, api: bool) -> Result<(), &'static str> {
    same_origin(headers)?;
    let marker = single(headers, MARKER).ok().flatten();
    match !api || marker.is_some_and(|v| v.as_bytes() == b"1") {
        true => Ok(()),
        false => Err("refused: the admin page's API takes changes only with \
                      X-Spawner-Admin: 1 (its own page sends it)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderMap;

    fn token() -> ApiToken {
        ApiToken::parse("a-token-for-the-tests-0123456789").unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    #[test]
    fn a_cookie_is_valid_for_its_token_until_it_expires_and_never_shows_the_token() {
        let now = SystemTime::now();
        let value = session_value(&token(), now);
        assert!(!value.contains("a-token-for-the-tests"), "{value}");
        assert!(is_valid(&token(), &value, now));
        assert!(!is_valid(&token(), &value, now + LIFETIME));
        let other = ApiToken::parse("another-token-for-the-tests-0123").unwrap();
        assert!(!is_valid(&other, &value, now));
        let (expires, mac) = value.split_once('.').unwrap();
        let later: u64 = expires.parse::<u64>().unwrap() + 3600;
        assert!(!is_valid(&token(), &format!("{later}.{mac}"), now));
        for forged in ["", ".", "1.x", "nonsense", "99999999999.AAAA"] {
            assert!(!is_valid(&token(), forged, now), "{forged}");
        }
    }

    #[test]
    fn only_a_request_from_the_page_itself_counts_as_same_origin() {
        let host = ("host", "127.0.0.1:8008");
        let good = [
            vec![("sec-fetch-site", "same-origin"), host],
            vec![
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://127.0.0.1:8008"),
                host,
            ],
            vec![("origin", "http://127.0.0.1:8008"), host],
            vec![("origin", "https://127.0.0.1:8008"), host],
        ];
        for pairs in good {
            assert_eq!(same_origin(&headers(&pairs)), Ok(()), "{pairs:?}");
        }
        let bad = [
            vec![host],
            vec![("sec-fetch-site", "cross-site"), host],
            vec![("sec-fetch-site", "same-site"), host],
            vec![("sec-fetch-site", "none"), host],
            vec![
                ("sec-fetch-site", "same-origin"),
                ("sec-fetch-site", "cross-site"),
                host,
            ],
            vec![("origin", "http://evil.example"), host],
            vec![("origin", "null"), host],
            vec![("origin", "http://127.0.0.1:8008")],
            vec![("origin", "http://127.0.0.1:8008.evil.example"), host],
            vec![
                ("origin", "http://127.0.0.1:8008"),
                ("origin", "http://evil.example"),
                host,
            ],
            vec![
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://evil.example"),
                host,
            ],
        ];
        for pairs in bad {
            assert!(same_origin(&headers(&pairs)).is_err(), "{pairs:?}");
        }
    }

    #[test]
    fn a_change_to_the_admin_api_needs_the_marker_too_a_sign_in_form_does_not() {
        let page = [
            ("sec-fetch-site", "same-origin"),
            ("host", "127.0.0.1:8008"),
        ];
        assert!(from_the_page(&headers(&page), true).is_err());
        assert_eq!(from_the_page(&headers(&page), false), Ok(()));
        let marked = [page[0], page[1], ("x-spawner-admin", "1")];
        assert_eq!(from_the_page(&headers(&marked), true), Ok(()));
        let twice = [
            page[0],
            page[1],
            ("x-spawner-admin", "1"),
            ("x-spawner-admin", "1"),
        ];
        assert!(from_the_page(&headers(&twice), true).is_err());
    }

    #[test]
    fn only_the_admin_paths_are_the_admin_pages() {
        for path in ["/admin", "/admin/", "/admin/api/instances"] {
            assert!(is_admin_path(path), "{path}");
        }
        for path in ["/adminx", "/deploy", "/", "/%61dmin/api/instances"] {
            assert!(!is_admin_path(path), "{path}");
        }
    }
}
