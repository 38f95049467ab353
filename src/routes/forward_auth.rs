//! `GET /auth` (any method): traefik's ForwardAuth call, made before every request it routes.
//! The handler reads the request, asks [`Gate::decide`], and turns the [`Outcome`] into the
//! answer traefik passes on: 200, a redirect, or a page (HTML for browsers, JSON otherwise).

use std::time::Duration;

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::configuration::Settings;
use crate::domain::InstanceName;
use crate::error::chain;
use crate::gate::{AuthRequest, Gate, Outcome};
use crate::instances::StartError;

#[derive(serde::Deserialize)]
pub struct AuthQuery {
    #[serde(default)]
    fallback: Option<String>,
}

pub async fn auth(
    req: HttpRequest,
    query: Option<web::Query<AuthQuery>>,
    gate: web::Data<Gate>,
    settings: web::Data<Settings>,
) -> HttpResponse {
    let request = AuthRequest::from_headers(req.headers(), &settings.cookie_key);
    let fallback = query
        .and_then(|q| q.into_inner().fallback)
        .is_some_and(|f| f != "false" && f != "0");
    let outcome = gate.decide(&request, fallback).await;
    let counted = &gate.metrics().auth;
    match &outcome {
        Outcome::Allow => counted.allow.inc(),
        Outcome::Home => counted.home.inc(),
        Outcome::Retry { .. } => counted.retry.inc(),
        Outcome::NotReady { .. } => counted.not_ready.inc(),
        Outcome::Failed {
            error: StartError::Capacity(_),
            ..
        } => counted.capacity.inc(),
        Outcome::Failed { .. } => counted.failed.inc(),
    }
    match outcome {
        Outcome::Allow => HttpResponse::Ok().finish(),
        Outcome::Home => redirect(StatusCode::FOUND, &settings.cookie_fallback_url),
        Outcome::Retry { location } => redirect(StatusCode::TEMPORARY_REDIRECT, &location),
        Outcome::NotReady { name, waited } => not_ready(&request, &name, waited),
        Outcome::Failed { name, error } => failed(&request, &name, &error),
    }
}

fn redirect(status: StatusCode, location: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

const RETRY_AFTER_SECS: u64 = 2;
/// At capacity, a place frees when an instance goes to sleep: not every two seconds.
const CAPACITY_RETRY_AFTER_SECS: u64 = 10;

/// 503: still starting. Browsers get a page that refreshes itself; API clients get JSON.
fn not_ready(request: &AuthRequest, name: &InstanceName, waited: Duration) -> HttpResponse {
    let message = format!(
        "Your instance {name} is still starting (waited {}s). This page retries by itself.",
        waited.as_secs()
    );
    error_page(
        request,
        StatusCode::SERVICE_UNAVAILABLE,
        &message,
        Some(RETRY_AFTER_SECS),
    )
}

/// 502 (or 503 when Docker itself is away): the start failed.
fn failed(request: &AuthRequest, name: &InstanceName, error: &StartError) -> HttpResponse {
    let unavailable = StatusCode::SERVICE_UNAVAILABLE;
    let (status, retry, advice) = match error {
        StartError::Unavailable(_) | StartError::ShuttingDown => (
            unavailable,
            Some(RETRY_AFTER_SECS),
            "The container host is unavailable right now; try again in a moment.",
        ),
        StartError::NeverReady(_) => (
            unavailable,
            Some(RETRY_AFTER_SECS),
            "It is taking unusually long; try again in a moment.",
        ),
        StartError::Capacity(_) => (
            unavailable,
            Some(CAPACITY_RETRY_AFTER_SECS),
            "The site is at capacity: your instance will start when another one goes to sleep. This page retries by itself.",
        ),
        _ => (
            StatusCode::BAD_GATEWAY,
            None,
            "Reload to try again; if it keeps failing, ask the site's operator (docker logs shows why).",
        ),
    };
    log::warn!("{name}: answering {status}: {}", chain(error));
    error_page(request, status, &format!("{error}. {advice}"), retry)
}

/// A page for browsers, JSON otherwise; with `retry` (seconds), `Retry-After` and a page that
/// reloads itself after that long.
fn error_page(
    request: &AuthRequest,
    status: StatusCode,
    message: &str,
    retry: Option<u64>,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(secs) = retry {
        response.insert_header((header::RETRY_AFTER, secs.to_string()));
    }
    if request.wants_html {
        let refresh = match retry {
            Some(secs) => format!("<meta http-equiv=\"refresh\" content=\"{secs}\">"),
            None => String::new(),
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
        if let Some(secs) = retry {
            body["retry_after"] = secs.into();
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
