//! What a ForwardAuth call asks for, read from the headers traefik forwards, and [`route`]: the
//! part of the decision that needs nothing but the request, the settings, the session keys and the
//! time (no engine, no server), so every case is unit-tested.

use std::time::SystemTime;

use actix_web::http::header::{self, HeaderMap};

use crate::configuration::Settings;
use crate::domain::InstanceName;
use crate::sessions::Sessions;

/// What a request asks for, read from the headers traefik forwards.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// The original path and query (`X-Forwarded-Uri`), `/` when absent.
    pub uri: String,
    /// Every value of the instance cookie the request carries (normally one).
    pub cookies: Vec<String>,
    pub wants_html: bool,
}

impl AuthRequest {
    pub fn from_headers(headers: &HeaderMap, cookie_key: &str) -> Self {
        let uri = headers
            .get("x-forwarded-uri")
            .and_then(|v| v.to_str().ok())
            .filter(|u| u.starts_with('/'))
            .unwrap_or("/")
            .to_string();
        let cookies = headers
            .get_all(header::COOKIE)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(k, _)| k.trim() == cookie_key)
            .map(|(_, v)| v.trim().to_string())
            .collect();
        let wants_html = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
        Self {
            uri,
            cookies,
            wants_html,
        }
    }

    pub fn path(&self) -> &str {
        self.uri.split(['?', '#']).next().unwrap_or("/")
    }
}

/// The decision that needs nothing but the request and the settings.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// A public path: let it through.
    Public,
    /// No usable instance named: send the client home.
    Home,
    /// This instance must be running and ready.
    Instance(InstanceName),
}

/// Which case a request is. An instance is named only by a session spawner issued (or, with
/// `cookie_signing` off, by the bare name). A request with two instance cookies is refused: traefik
/// may route it by one while spawner would check the other.
///
/// `epoch_of` tells an instance's session epoch (`None`: no such instance), which the session's
/// signature covers.
pub fn route(
    request: &AuthRequest,
    settings: &Settings,
    sessions: &Sessions,
    now: SystemTime,
    epoch_of: &dyn Fn(&InstanceName) -> Option<String>,
) -> Route {
    let path = request.path();
    let public = settings.public_path.as_str();
    if public == "/"
        || path == public
        || path
            .strip_prefix(public)
            .is_some_and(|rest| rest.starts_with('/'))
    {
        return Route::Public;
    }
    let session = match request.cookies.as_slice() {
        [only] => sessions.instance_of(only, now, epoch_of),
        _ => None,
    };
    if !settings.use_path_routing {
        return session.map_or(Route::Home, Route::Instance);
    }
    let in_path = path
        .strip_prefix(settings.container_prefix.as_str())
        .and_then(|rest| rest.strip_prefix('/'))
        .map(|rest| rest.split('/').next().unwrap_or(""))
        .and_then(|name| InstanceName::parse(name).ok());
    match in_path {
        // With signed sessions the path is only where the instance lives: the cookie must be
        // a session for that same instance.
        Some(name) if !sessions.signed() || session.as_ref() == Some(&name) => {
            Route::Instance(name)
        }
        _ => Route::Home,
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
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn request(headers: &[(&str, &str)]) -> AuthRequest {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        AuthRequest::from_headers(&map, "instance")
    }

    fn any_epoch(_: &InstanceName) -> Option<String> {
        Some("e".into())
    }

    /// The old plain cookies: the name is the value.
    fn plain() -> Sessions {
        let mut settings = Settings::for_tests();
        settings.cookie_signing = false;
        Sessions::from_settings(&settings)
    }

    fn decide(headers: &[(&str, &str)]) -> Route {
        route(
            &request(headers),
            &Settings::for_tests(),
            &plain(),
            SystemTime::now(),
            &any_epoch,
        )
    }

    fn instance(name: &str) -> Route {
        Route::Instance(InstanceName::parse(name).unwrap())
    }

    #[test]
    fn the_instance_cookie_names_the_instance_among_other_cookies() {
        assert_eq!(
            decide(&[("cookie", "instance=minion-1")]),
            instance("minion-1")
        );
        assert_eq!(
            decide(&[("cookie", "a=b; instance=minion-10; c=d")]),
            instance("minion-10")
        );
        assert_eq!(
            decide(&[("cookie", "a=b"), ("cookie", "instance=m2")]),
            instance("m2")
        );
        assert_eq!(decide(&[("cookie", "myinstance=minion-1")]), Route::Home);
    }

    #[test]
    fn no_empty_or_malformed_cookie_goes_home() {
        for cookie in [
            "",
            "instance=",
            "instance",
            "instance=../x",
            "instance=\"m\"",
            "instance=a b",
        ] {
            assert_eq!(decide(&[("cookie", cookie)]), Route::Home, "{cookie:?}");
        }
        assert_eq!(decide(&[]), Route::Home);
        assert_eq!(
            decide(&[("cookie", &format!("instance={}", "x".repeat(5000)))]),
            Route::Home
        );
    }

    #[test]
    fn public_paths_pass_whatever_the_cookie() {
        for uri in ["/home", "/home/", "/home/register?x=1", "/home?x"] {
            assert_eq!(decide(&[("x-forwarded-uri", uri)]), Route::Public, "{uri}");
        }
        assert_eq!(decide(&[("x-forwarded-uri", "/homework")]), Route::Home);
    }

    #[test]
    fn path_mode_reads_the_first_segment_after_the_prefix() {
        let mut settings = Settings::for_tests();
        settings.use_path_routing = true;
        settings.container_prefix = "/p".into();
        let at = |uri: &str| {
            route(
                &request(&[("x-forwarded-uri", uri)]),
                &settings,
                &plain(),
                SystemTime::now(),
                &any_epoch,
            )
        };
        assert_eq!(at("/p/minion-1"), instance("minion-1"));
        assert_eq!(at("/p/minion-1/a/b?c=d"), instance("minion-1"));
        assert_eq!(at("/minion-1"), Route::Home);
        assert_eq!(at("/p/"), Route::Home);
        assert_eq!(at("/px/minion-1"), Route::Home);
    }

    #[test]
    fn redirects_stay_on_this_site() {
        assert_eq!(same_site("/a?b=c"), "/a?b=c");
        assert_eq!(same_site("//evil.example/"), "/");
        assert_eq!(same_site("/\\evil.example"), "/");
        assert_eq!(same_site("https://evil.example/"), "/");
    }

    fn signed() -> (Settings, Sessions) {
        let mut settings = Settings::for_tests();
        settings.cookie_secrets =
            vec![crate::domain::session::Secret::parse(&"k".repeat(32)).unwrap()];
        let sessions = Sessions::from_settings(&settings);
        (settings, sessions)
    }

    #[test]
    fn with_signing_only_a_session_names_an_instance_and_never_two_cookies() {
        let (settings, sessions) = signed();
        let now = SystemTime::now();
        let issued = sessions.issue(&InstanceName::parse("minion-1").unwrap(), "e", now);
        let at = |cookie: &str| {
            route(
                &request(&[("cookie", cookie)]),
                &settings,
                &sessions,
                now,
                &any_epoch,
            )
        };
        assert_eq!(at(&issued.cookie), instance("minion-1"));
        assert_eq!(at("instance=minion-1"), Route::Home);
        let two = format!("{}; instance=minion-2", issued.cookie);
        assert_eq!(at(&two), Route::Home);
        let later = now + settings.session_ttl;
        let expired = route(
            &request(&[("cookie", &issued.cookie)]),
            &settings,
            &sessions,
            later,
            &any_epoch,
        );
        assert_eq!(expired, Route::Home);
        let recreated = |_: &InstanceName| Some("another epoch".to_string());
        let headers = [("cookie", issued.cookie.as_str())];
        let elsewhere = route(&request(&headers), &settings, &sessions, now, &recreated);
        assert_eq!(
            elsewhere,
            Route::Home,
            "a session of the instance's former self"
        );
    }

    #[test]
    fn with_signing_a_path_needs_a_session_for_that_same_instance() {
        let (mut settings, sessions) = signed();
        settings.use_path_routing = true;
        settings.container_prefix = "/p".into();
        let now = SystemTime::now();
        let issued = sessions.issue(&InstanceName::parse("minion-1").unwrap(), "e", now);
        let at = |uri: &str, cookie: &str| {
            let headers = [("x-forwarded-uri", uri), ("cookie", cookie)];
            route(&request(&headers), &settings, &sessions, now, &any_epoch)
        };
        assert_eq!(at("/p/minion-1/x", &issued.cookie), instance("minion-1"));
        assert_eq!(at("/p/minion-2/x", &issued.cookie), Route::Home);
        assert_eq!(at("/p/minion-1/x", "a=b"), Route::Home);
    }
}
