//! What a ForwardAuth call asks for, read from the headers traefik forwards.

use actix_web::http::header::{self, HeaderMap, HeaderName};

use super::cookies::{self, InstanceCookie};
#[cfg(doc)]
use crate::traefik::config::INSTANCE_HEADER;
use crate::traefik::config::INSTANCE_HEADER_LOWERCASE;

/// What a request asks for, read from the headers traefik forwards.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// The original path and query (`X-Forwarded-Uri`), `/` when absent.
    pub uri: String,
    /// The instance cookie, read byte for byte ([`cookies::read`]).
    pub cookie: InstanceCookie,
    /// The instance traefik routed the request to: [`INSTANCE_HEADER`], which the instance
    /// router's own middleware sets (overwriting any the client sent). Absent on the catch-all.
    pub routed: Option<String>,
    /// The host the client asked for (`X-Forwarded-Host`), which names the instance on the
    /// catch-all in host routing; read on the catch-all's calls only (`fallback`), so the hot
    /// path does not copy it.
    pub host: Option<String>,
    /// A browser fetching a service worker script (`Service-Worker: script`).
    pub service_worker: bool,
    pub wants_html: bool,
}

// Parsed once: a header looked up by `&str` is parsed (and lowercased) on every call.
const FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
const FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const ROUTED: HeaderName = HeaderName::from_static(INSTANCE_HEADER_LOWERCASE);
const SERVICE_WORKER: HeaderName = HeaderName::from_static("service-worker");

impl AuthRequest {
    pub fn from_headers(headers: &HeaderMap, cookie_key: &str, fallback: bool) -> Self {
        let uri = headers
            .get(FORWARDED_URI)
            .and_then(|v| v.to_str().ok())
            .filter(|u| u.starts_with('/'))
            .unwrap_or("/")
            .to_string();
        let cookie = cookies::read(headers.get_all(header::COOKIE), cookie_key);
        let routed = headers
            .get(ROUTED)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let host = fallback
            .then(|| {
                headers
                    .get(FORWARDED_HOST)?
                    .to_str()
                    .ok()
                    .map(str::to_string)
            })
            .flatten();
        let service_worker = headers
            .get(SERVICE_WORKER)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"script"));
        let wants_html = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
        Self {
            uri,
            cookie,
            routed,
            host,
            service_worker,
            wants_html,
        }
    }

    pub fn path(&self) -> &str {
        self.uri.split(['?', '#']).next().unwrap_or("/")
    }
}

/// A `Location` that stays on this site: a path, never `//host` or a scheme.
pub fn same_site(uri: &str) -> &str {
    let safe = uri.starts_with('/')
        && !uri.starts_with("//")
        && !uri.contains('\\')
        && !uri.chars().any(char::is_control);
    if safe {
        uri
    } else {
        "/"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_on_this_site() {
        assert_eq!(same_site("/a?b=c"), "/a?b=c");
        assert_eq!(same_site("//evil.example/"), "/");
        assert_eq!(same_site("/\\evil.example"), "/");
        assert_eq!(same_site("https://evil.example/"), "/");
    }
}
