//! Every case of [`super::route`]: the routed instance, the catch-all, paths, hosts, sessions.

use super::*;
use crate::configuration::Settings;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

fn request(headers: &[(&str, &str)]) -> AuthRequest {
    let mut map = HeaderMap::new();
    for (k, v) in headers {
        map.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    AuthRequest::from_headers(&map, "instance", true)
}

fn any_epoch(_: &InstanceName) -> Option<&'static str> {
    Some("e")
}

/// The old plain cookies: the name is the value.
fn plain() -> Sessions {
    let mut settings = Settings::for_tests();
    settings.sessions.cookie_signing = false;
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
        &settings.traefik,
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
        &settings.traefik,
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
        &Settings::for_tests().traefik,
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
    settings.traefik.routing = Routing::Path;
    settings.traefik.container_prefix = "/p".into();
    let at = |uri: &str| {
        let request = request(&[("x-forwarded-uri", uri)]);
        route(
            &request,
            true,
            &settings.traefik,
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
    settings.traefik.routing = Routing::Path;
    settings.traefik.container_prefix = "/p".into();
    let request = request(&[("x-spawner-instance", "aa"), ("x-forwarded-uri", "/p/bb/")]);
    let decided = route(
        &request,
        false,
        &settings.traefik,
        &plain(),
        SystemTime::now(),
        &any_epoch,
    );
    assert_eq!(decided, instance("aa"));
}

fn signed() -> (Settings, Sessions) {
    let mut settings = Settings::for_tests();
    settings.sessions.cookie_secrets =
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
        |cookie: &str, at: SystemTime, epoch_of: &dyn Fn(&InstanceName) -> Option<&'static str>| {
            let headers = [("x-spawner-instance", "minion-1"), ("cookie", cookie)];
            route(
                &request(&headers),
                false,
                &settings.traefik,
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
    let later = now + settings.sessions.session_ttl;
    assert_eq!(decide(&issued.cookie, later, &any_epoch), Route::Home);
    let recreated = |_: &InstanceName| -> Option<&'static str> { Some("another epoch") };
    assert_eq!(
        decide(&issued.cookie, now, &recreated),
        Route::Home,
        "a session of the instance's former self"
    );
}

#[test]
fn with_signing_a_path_needs_a_session_for_that_same_instance() {
    let (mut settings, sessions) = signed();
    settings.traefik.routing = Routing::Path;
    settings.traefik.container_prefix = "/p".into();
    let now = SystemTime::now();
    let issued = sessions.issue(&InstanceName::parse("minion-1").unwrap(), "e", now);
    let at = |routed: &str, uri: &str, cookie: &str| {
        let headers = [("x-forwarded-uri", uri), ("cookie", cookie)];
        let fallback = route(
            &request(&headers),
            true,
            &settings.traefik,
            &sessions,
            now,
            &any_epoch,
        );
        let headers = [("x-spawner-instance", routed), ("cookie", cookie)];
        let routed = route(
            &request(&headers),
            false,
            &settings.traefik,
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
    settings.traefik.routing = Routing::Host;
    settings.traefik.host_domain = "apps.test".into();
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
            &settings.traefik,
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
        &settings.traefik,
        &sessions,
        now,
        &any_epoch,
    );
    assert_eq!(routed, Route::Home);
}
