//! What a ForwardAuth call asks for, read from the headers traefik forwards, and [`route`]: the
//! part of the decision that needs nothing but the request, the settings, the session keys and the
//! time (no engine, no server), so every case is unit-tested.

use std::time::SystemTime;

use actix_web::http::header::{self, HeaderMap, HeaderName};

use super::cookies::{self, InstanceCookie};
use crate::configuration::Settings;
use crate::domain::{InstanceName, Routing};
use crate::sessions::Sessions;
use crate::traefik::config::{INSTANCE_HEADER, INSTANCE_HEADER_LOWERCASE};

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
    /// catch-all in host routing.
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
    pub fn from_headers(headers: &HeaderMap, cookie_key: &str) -> Self {
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
        let host = headers
            .get(FORWARDED_HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
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

/// Which case a request is.
///
/// On an instance router (`fallback` false) the instance is the one traefik routed to, named by
/// [`INSTANCE_HEADER`]: the request passes only with a valid session for exactly that instance,
/// and without the header it is refused. Whatever traefik's rule matched and however the
/// cookies are shaped, the instance spawner checks is the instance the request goes to.
///
/// On the catch-all (`fallback` true) nothing is forwarded to an instance: the public path
/// passes (to the home), and a session names the instance to make ready before a 307.
///
/// An instance is named only by a session spawner issued (or, with `cookie_signing` off, by the
/// bare name); an instance cookie spawner cannot read byte for byte refuses the request.
/// `epoch_of` tells an instance's session epoch (`None`: no such instance), which the session's
/// signature covers.
pub fn route(
    request: &AuthRequest,
    fallback: bool,
    settings: &Settings,
    sessions: &Sessions,
    now: SystemTime,
    epoch_of: &dyn Fn(&InstanceName) -> Option<String>,
) -> Route {
    let path = request.path();
    let host = request.host.as_deref().map(host_name);
    if fallback && is_public(path, &settings.public_path) {
        // In host routing the home has a host of its own: nothing public on an instance's.
        if settings.routing != Routing::Host || host == Some(settings.host_domain.as_str()) {
            return Route::Public;
        }
    }
    let wanted = match settings.routing {
        _ if !fallback => request.routed.as_deref(),
        Routing::Path => path
            .strip_prefix(settings.container_prefix.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .map(|rest| rest.split('/').next().unwrap_or("")),
        Routing::Host => host.and_then(|h| {
            h.strip_suffix(settings.host_domain.as_str())?
                .strip_suffix('.')
        }),
        // The catch-all in cookie mode: the session alone names the instance to make ready.
        Routing::Cookie => None,
    };
    if settings.routing == Routing::Path && !sessions.signed() {
        // The old plain mode: the path alone names the instance, as the Go spawner did.
        return wanted
            .and_then(|name| InstanceName::parse(name).ok())
            .map_or(Route::Home, Route::Instance);
    }
    let session = match &request.cookie {
        InstanceCookie::One(value) => sessions.instance_of(value, now, epoch_of),
        InstanceCookie::Absent => None,
        InstanceCookie::Refused(why) => {
            log::debug!("refused: {why}");
            None
        }
    };
    let Some(session) = session else {
        return Route::Home;
    };
    match wanted {
        Some(name) if name == session.as_str() => Route::Instance(session),
        // traefik's `Host` matcher ignores case; a browser lowercases the host.
        Some(name) if fallback && name.eq_ignore_ascii_case(session.as_str()) => {
            Route::Instance(session)
        }
        None if fallback && settings.routing == Routing::Cookie => Route::Instance(session),
        Some(name) => {
            log::debug!("refused: a session of {session} for instance {name:?}");
            Route::Home
        }
        None => {
            log::warn!("refused: a call without {INSTANCE_HEADER} (not from an instance router)");
            Route::Home
        }
    }
}

/// A `Host` without its port.
fn host_name(host: &str) -> &str {
    host.rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(name, _)| name)
}

/// `public` and the paths under it (`/home`, `/home/…`; never `/homework`).
fn is_public(path: &str, public: &str) -> bool {
    public == "/"
        || path == public
        || path
            .strip_prefix(public)
            .is_some_and(|rest| rest.starts_with('/'))
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

    /// On an instance router that routed to `routed` (plain cookies).
    fn on_router(routed: &str, headers: &[(&str, &str)]) -> Route {
        let mut all = vec![("x-spawner-instance", routed)];
        all.extend_from_slice(headers);
        let settings = Settings::for_tests();
        route(
            &request(&all),
            false,
            &settings,
            &plain(),
            SystemTime::now(),
            &any_epoch,
        )
    }

    /// On the catch-all (plain cookies).
    fn on_fallback(headers: &[(&str, &str)]) -> Route {
        let settings = Settings::for_tests();
        route(
            &request(headers),
            true,
            &settings,
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
        let at = |cookies: &[&str]| {
            let headers: Vec<_> = cookies.iter().map(|c| ("cookie", *c)).collect();
            (on_router("m2", &headers), on_fallback(&headers))
        };
        assert_eq!(at(&["instance=m2"]), (instance("m2"), instance("m2")));
        assert_eq!(
            at(&["a=b; instance=m2; c=d"]),
            (instance("m2"), instance("m2"))
        );
        assert_eq!(
            at(&["a=b", "instance=m2"]),
            (instance("m2"), instance("m2"))
        );
        assert_eq!(at(&["myinstance=m2"]), (Route::Home, Route::Home));
    }

    #[test]
    fn an_instance_router_passes_only_a_session_for_the_instance_it_routed_to() {
        assert_eq!(
            on_router("m2", &[("cookie", "instance=m2")]),
            instance("m2")
        );
        assert_eq!(
            on_router("m2", &[("cookie", "instance=other")]),
            Route::Home
        );
        assert_eq!(on_router("m2", &[]), Route::Home);
        let no_header = route(
            &request(&[("cookie", "instance=m2")]),
            false,
            &Settings::for_tests(),
            &plain(),
            SystemTime::now(),
            &any_epoch,
        );
        assert_eq!(no_header, Route::Home, "a call no instance router made");
    }

    #[test]
    fn no_empty_malformed_or_ambiguous_cookie_passes() {
        let long = format!("instance={}", "x".repeat(5000));
        for cookie in [
            "",
            "instance=",
            "instance",
            "instance=../x",
            "instance=\"m2\"",
            "instance=a b",
            "instance=m2 ",
            "instance =m2",
            "Instance=m2",
            "instance=m2; instance=m2",
            &long,
        ] {
            assert_eq!(
                on_router("m2", &[("cookie", cookie)]),
                Route::Home,
                "{cookie:?}"
            );
            assert_eq!(
                on_fallback(&[("cookie", cookie)]),
                Route::Home,
                "{cookie:?}"
            );
        }
        let two = [("cookie", "instance=m2"), ("cookie", "instance =other")];
        assert_eq!(on_router("m2", &two), Route::Home);
    }

    #[test]
    fn public_paths_pass_on_the_catch_all_only() {
        for uri in ["/home", "/home/", "/home/register?x=1", "/home?x"] {
            let headers = [("x-forwarded-uri", uri)];
            assert_eq!(on_fallback(&headers), Route::Public, "{uri}");
            assert_eq!(on_router("m2", &headers), Route::Home, "{uri}");
        }
        let homework = [("x-forwarded-uri", "/homework")];
        assert_eq!(on_fallback(&homework), Route::Home);
    }

    #[test]
    fn path_mode_reads_the_first_segment_after_the_prefix_on_the_catch_all() {
        let mut settings = Settings::for_tests();
        settings.routing = Routing::Path;
        settings.container_prefix = "/p".into();
        let at = |uri: &str| {
            let request = request(&[("x-forwarded-uri", uri)]);
            route(
                &request,
                true,
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
    fn path_mode_on_an_instance_router_goes_by_the_routed_instance_not_the_path() {
        let mut settings = Settings::for_tests();
        settings.routing = Routing::Path;
        settings.container_prefix = "/p".into();
        let request = request(&[("x-spawner-instance", "aa"), ("x-forwarded-uri", "/p/bb/")]);
        let decided = route(
            &request,
            false,
            &settings,
            &plain(),
            SystemTime::now(),
            &any_epoch,
        );
        assert_eq!(decided, instance("aa"));
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
        let decide =
            |cookie: &str, at: SystemTime, epoch_of: &dyn Fn(&InstanceName) -> Option<String>| {
                let headers = [("x-spawner-instance", "minion-1"), ("cookie", cookie)];
                route(
                    &request(&headers),
                    false,
                    &settings,
                    &sessions,
                    at,
                    epoch_of,
                )
            };
        assert_eq!(
            decide(&issued.cookie, now, &any_epoch),
            instance("minion-1")
        );
        assert_eq!(decide("instance=minion-1", now, &any_epoch), Route::Home);
        let two = format!("{}; instance=minion-2", issued.cookie);
        assert_eq!(decide(&two, now, &any_epoch), Route::Home);
        let later = now + settings.session_ttl;
        assert_eq!(decide(&issued.cookie, later, &any_epoch), Route::Home);
        let recreated = |_: &InstanceName| Some("another epoch".to_string());
        assert_eq!(
            decide(&issued.cookie, now, &recreated),
            Route::Home,
            "a session of the instance's former self"
        );
    }

    #[test]
    fn with_signing_a_path_needs_a_session_for_that_same_instance() {
        let (mut settings, sessions) = signed();
        settings.routing = Routing::Path;
        settings.container_prefix = "/p".into();
        let now = SystemTime::now();
        let issued = sessions.issue(&InstanceName::parse("minion-1").unwrap(), "e", now);
        let at = |routed: &str, uri: &str, cookie: &str| {
            let headers = [("x-forwarded-uri", uri), ("cookie", cookie)];
            let fallback = route(
                &request(&headers),
                true,
                &settings,
                &sessions,
                now,
                &any_epoch,
            );
            let headers = [("x-spawner-instance", routed), ("cookie", cookie)];
            let routed = route(
                &request(&headers),
                false,
                &settings,
                &sessions,
                now,
                &any_epoch,
            );
            (fallback, routed)
        };
        let one = instance("minion-1");
        assert_eq!(
            at("minion-1", "/p/minion-1/x", &issued.cookie),
            (one, instance("minion-1"))
        );
        assert_eq!(
            at("minion-2", "/p/minion-2/x", &issued.cookie),
            (Route::Home, Route::Home)
        );
        assert_eq!(
            at("minion-1", "/p/minion-1/x", "a=b"),
            (Route::Home, Route::Home)
        );
    }

    #[test]
    fn host_mode_names_the_instance_by_its_host_on_the_catch_all_and_keeps_home_on_its_own() {
        let (mut settings, sessions) = signed();
        settings.routing = Routing::Host;
        settings.host_domain = "apps.test".into();
        let now = SystemTime::now();
        let issued = sessions.issue(&InstanceName::parse("minion-1").unwrap(), "e", now);
        let at = |host: &str, uri: &str| {
            let headers = [
                ("x-forwarded-host", host),
                ("x-forwarded-uri", uri),
                ("cookie", issued.cookie.as_str()),
            ];
            route(
                &request(&headers),
                true,
                &settings,
                &sessions,
                now,
                &any_epoch,
            )
        };
        assert_eq!(at("minion-1.apps.test", "/x"), instance("minion-1"));
        assert_eq!(at("minion-1.apps.test:8443", "/x"), instance("minion-1"));
        assert_eq!(at("minion-2.apps.test", "/x"), Route::Home);
        assert_eq!(at("minion-1.apps.testx", "/x"), Route::Home);
        assert_eq!(at("apps.test", "/home"), Route::Public);
        assert_eq!(at("apps.test:8443", "/home/login"), Route::Public);
        assert_eq!(at("minion-1.apps.test", "/home"), instance("minion-1"));
        let headers = [
            ("x-spawner-instance", "minion-2"),
            ("cookie", issued.cookie.as_str()),
        ];
        let routed = route(
            &request(&headers),
            false,
            &settings,
            &sessions,
            now,
            &any_epoch,
        );
        assert_eq!(routed, Route::Home);
    }
}
