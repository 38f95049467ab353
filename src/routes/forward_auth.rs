//! `GET /auth` (any method): traefik's ForwardAuth call, made before every request it routes.
//!
//! [`route`] decides from the request alone (no Docker, no server) which case applies; the handler
//! then answers from the index when the instance is ready, or holds the request while
//! [`Instances::ensure_ready`] starts it. traefik passes a non-2xx answer to the client verbatim
//! and gives up after 30 s, so every branch ends in a deliberate answer before that.

use std::time::{Duration, Instant};

use actix_web::http::header::{self, HeaderMap};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::configuration::Settings;
use crate::domain::InstanceName;
use crate::instances::{Instances, Lookup, StartError};

/// What a request asks for, read from the headers traefik forwards.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// The original path and query (`X-Forwarded-Uri`), `/` when absent.
    pub uri: String,
    /// Value of the instance cookie, if any.
    pub cookie: Option<String>,
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
        let cookie = headers
            .get_all(header::COOKIE)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| k.trim() == cookie_key)
            .map(|(_, v)| v.trim().to_string());
        let wants_html = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
        Self {
            uri,
            cookie,
            wants_html,
        }
    }

    fn path(&self) -> &str {
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

pub fn route(request: &AuthRequest, settings: &Settings) -> Route {
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
    let candidate = if settings.use_path_routing {
        path.strip_prefix(settings.container_prefix.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .map(|rest| rest.split('/').next().unwrap_or(""))
    } else {
        request.cookie.as_deref()
    };
    match candidate.map(InstanceName::parse) {
        Some(Ok(name)) => Route::Instance(name),
        _ => Route::Home,
    }
}

/// A `Location` that stays on this site: a path, never `//host` or a scheme.
fn same_site(uri: &str) -> &str {
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

#[derive(serde::Deserialize)]
pub struct AuthQuery {
    #[serde(default)]
    fallback: Option<String>,
}

pub async fn auth(
    req: HttpRequest,
    query: Option<web::Query<AuthQuery>>,
    instances: web::Data<Instances>,
) -> HttpResponse {
    let settings = instances.settings();
    let request = AuthRequest::from_headers(req.headers(), &settings.cookie_key);
    let fallback = query
        .and_then(|q| q.into_inner().fallback)
        .is_some_and(|f| f != "false" && f != "0");
    let name = match route(&request, settings) {
        Route::Public => return HttpResponse::Ok().finish(),
        Route::Home => return home(settings),
        Route::Instance(name) => name,
    };
    let ready = match instances.lookup(name.as_str()) {
        Lookup::Unknown => {
            log::debug!("{name}: unknown instance; redirecting home");
            return home(settings);
        }
        Lookup::Ready if !fallback => return HttpResponse::Ok().finish(),
        Lookup::Ready => true,
        Lookup::NotReady => false,
    };
    let started = Instant::now();
    let deadline = started + settings.hold_timeout;
    if !ready {
        let wait = instances.ensure_ready(name.as_str());
        match tokio::time::timeout(settings.hold_timeout, wait).await {
            Ok(Ok(())) => {}
            Ok(Err(StartError::Gone(_))) => return home(settings),
            Ok(Err(e)) => return failed(&request, &name, &e),
            Err(_) => {
                log::warn!(
                    "{name}: not ready within the hold timeout ({:?})",
                    settings.hold_timeout
                );
                return not_ready(&request, &name, settings.hold_timeout);
            }
        }
    }
    if !fallback {
        log::info!("{name}: request held {:?} until ready", started.elapsed());
        return HttpResponse::Ok().finish();
    }
    if settings.traefik_check_enabled {
        let wait = settings
            .route_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        if !route_loaded(settings, name.as_str(), wait).await {
            log::warn!("{name}: traefik did not load its route within {wait:?}; stopping it");
            instances.stop(name.as_str()).await;
            return not_ready(&request, &name, wait);
        }
    }
    let location = same_site(&request.uri);
    log::info!(
        "{name}: route ready after {:?}; 307 to {location}",
        started.elapsed()
    );
    HttpResponse::TemporaryRedirect()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn home(settings: &Settings) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, settings.cookie_fallback_url.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// Asks traefik's API until it lists router `<name>@http`, or `wait` runs out.
async fn route_loaded(settings: &Settings, name: &str, wait: Duration) -> bool {
    let url = format!("{}/api/http/routers/{name}@http", settings.traefik_base_url);
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(1))
        .finish();
    let check = async {
        loop {
            if let Ok(response) = client.get(&url).send().await {
                if response.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(wait, check).await.is_ok()
}

const RETRY_AFTER_SECS: u64 = 2;

/// 503: still starting. Browsers get a page that refreshes itself; API clients get JSON.
fn not_ready(request: &AuthRequest, name: &InstanceName, waited: Duration) -> HttpResponse {
    let message = format!(
        "Your instance {name} is still starting (waited {}s). This page retries by itself.",
        waited.as_secs()
    );
    error_page(request, StatusCode::SERVICE_UNAVAILABLE, &message, true)
}

/// 502 (or 503 when Docker itself is away): the start failed.
fn failed(request: &AuthRequest, name: &InstanceName, error: &StartError) -> HttpResponse {
    let (status, retry, advice) = match error {
        StartError::DockerUnavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            true,
            "The container host is unavailable right now; try again in a moment.",
        ),
        StartError::NeverReady(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            true,
            "It is taking unusually long; try again in a moment.",
        ),
        _ => (
            StatusCode::BAD_GATEWAY,
            false,
            "Reload to try again; if it keeps failing, ask the site's operator (docker logs shows why).",
        ),
    };
    log::warn!("{name}: answering {status}: {error}");
    error_page(request, status, &format!("{error}. {advice}"), retry)
}

fn error_page(
    request: &AuthRequest,
    status: StatusCode,
    message: &str,
    retry: bool,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if retry {
        response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()));
    }
    if request.wants_html {
        let refresh = if retry {
            format!("<meta http-equiv=\"refresh\" content=\"{RETRY_AFTER_SECS}\">")
        } else {
            String::new()
        };
        let body = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\">{refresh}<title>{}</title></head>\
             <body><h1>{}</h1><p>{}</p></body></html>",
            status.canonical_reason().unwrap_or("Error"),
            status.canonical_reason().unwrap_or("Error"),
            html_escape(message)
        );
        response.content_type("text/html; charset=utf-8").body(body)
    } else {
        let mut body = serde_json::json!({ "error": message });
        if retry {
            body["retry_after"] = RETRY_AFTER_SECS.into();
        }
        response.json(body)
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
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

    fn decide(headers: &[(&str, &str)]) -> Route {
        route(&request(headers), &Settings::for_tests())
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
            decide(&[("cookie", "a=b"), ("cookie", "instance=m")]),
            instance("m")
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
        let at = |uri: &str| route(&request(&[("x-forwarded-uri", uri)]), &settings);
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
}
