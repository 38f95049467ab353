//! `GET /auth` (any method): traefik's ForwardAuth call, made before every request it routes.
//! The handler reads the request, asks [`Gate::decide`], and turns the [`Outcome`] into the
//! answer traefik passes on: 200, a redirect, or a page (HTML for browsers, JSON otherwise).

use std::time::Duration;

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::configuration::Settings;
use crate::domain::{flag, InstanceName};
use crate::error::chain;
use crate::gate::{AuthRequest, Gate, Outcome};
use crate::instances::{CapacityFull, StartError};

use super::{waiting_page, ErrorBody};

pub async fn auth(
    req: HttpRequest,
    gate: web::Data<Gate>,
    settings: web::Data<Settings>,
) -> HttpResponse {
    // The value is traefik's configuration, not the client's; one it cannot be is read as an
    // instance router's call, which passes nothing without the routed instance.
    let fallback = fallback(req.query_string()).unwrap_or_else(|e| {
        log::warn!("/auth: {e} (the middleware's address); answering as on an instance router");
        false
    });
    let request = AuthRequest::from_headers(req.headers(), &settings.sessions.cookie_key, fallback);
    let counted = &gate.metrics().auth;
    match gate.decide(&request, fallback).await {
        Outcome::Allow => {
            counted.allow.inc();
            HttpResponse::Ok().finish()
        }
        Outcome::Home => {
            counted.home.inc();
            redirect(StatusCode::FOUND, &settings.sessions.cookie_fallback_url)
        }
        Outcome::Retry { location } => {
            counted.retry.inc();
            redirect(StatusCode::TEMPORARY_REDIRECT, &location)
        }
        Outcome::NotReady {
            name,
            waited,
            phase,
        } => {
            counted.not_ready.inc();
            not_ready(&request, &name, waited, phase)
        }
        Outcome::Failed { name, error } => {
            match error {
                StartError::Capacity(_) => counted.capacity.inc(),
                _ => counted.failed.inc(),
            }
            failed(&request, &name, &error)
        }
        Outcome::NotSynced => {
            counted.failed.inc();
            let message = "spawner has just started and is still reading the instances from the container host. This page tries again by itself.";
            let retry = ("unavailable", Some(RETRY_AFTER_SECS));
            let unavailable = StatusCode::SERVICE_UNAVAILABLE;
            error_page(&request, unavailable, message, retry, Duration::ZERO)
        }
    }
}

/// `?fallback=…` in the middleware's address: the catch-all's call. Read by hand, not by a
/// query extractor: an instance router's call (every request of a running instance) has no
/// query, and pays nothing for it. The parameter twice, or percent-encoded, is an error.
fn fallback(query: &str) -> Result<bool, String> {
    let values: Vec<&str> = query
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .filter(|(key, _)| *key == "fallback")
        .map(|(_, value)| value)
        .collect();
    match values.as_slice() {
        [] => Ok(false),
        [one] => flag::parse("fallback", Some(one)),
        _ => Err("`fallback` is given twice".into()),
    }
}

fn redirect(status: StatusCode, location: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

const RETRY_AFTER_SECS: u64 = 2;

/// 503: still starting. Browsers get the waiting page, which moves on by itself when the
/// instance is ready; API clients get JSON.
fn not_ready(
    request: &AuthRequest,
    name: &InstanceName,
    waited: Duration,
    phase: &str,
) -> HttpResponse {
    let message = format!(
        "Your instance {name} is still starting ({phase}; this request waited {}s). This page moves on by itself when it is ready.",
        waited.as_secs()
    );
    error_page(
        request,
        StatusCode::SERVICE_UNAVAILABLE,
        &message,
        ("starting", Some(RETRY_AFTER_SECS)),
        waited,
    )
}

/// 502 (or 503 when Docker itself is away): the start failed.
fn failed(request: &AuthRequest, name: &InstanceName, error: &StartError) -> HttpResponse {
    let unavailable = StatusCode::SERVICE_UNAVAILABLE;
    let (status, retry, advice) = match error {
        StartError::Unavailable(_) | StartError::ShuttingDown => (
            unavailable,
            ("unavailable", Some(RETRY_AFTER_SECS)),
            "The container host is unavailable right now; this page tries again by itself.",
        ),
        StartError::NeverReady(_) => (
            unavailable,
            ("unavailable", Some(RETRY_AFTER_SECS)),
            "It is taking unusually long; this page tries again by itself.",
        ),
        StartError::Capacity(_) => (
            unavailable,
            ("capacity", Some(CapacityFull::RETRY_AFTER_SECS)),
            "The site is at capacity: your instance will start when another one goes to sleep. This page retries by itself.",
        ),
        // Every other variant is spelled out: a new one must choose its answer here.
        StartError::Gone(_)
        | StartError::StartFailed { .. }
        | StartError::Superseded { .. }
        | StartError::Exited { .. }
        | StartError::Unhealthy(_)
        | StartError::NoAddress(_) => (
            StatusCode::BAD_GATEWAY,
            ("failed", None),
            "Reload to try again; if it keeps failing, ask the site's operator (docker logs shows why).",
        ),
    };
    log::warn!("{name}: answering {status}: {}", chain(error));
    let message = format!("{error}. {advice}");
    error_page(request, status, &message, retry, Duration::ZERO)
}

/// The waiting page for browsers, JSON ([`ErrorBody`], without `cause`: these are the
/// instance's users, the log has it) otherwise, both marked with `X-Spawner-Status` (`kind`);
/// with a retry (seconds), `Retry-After`.
fn error_page(
    request: &AuthRequest,
    status: StatusCode,
    message: &str,
    (kind, retry): (&str, Option<u64>),
    waited: Duration,
) -> HttpResponse {
    let body = ErrorBody::new(message).retry_after(retry);
    let mut response = body.head(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    response.insert_header((waiting_page::STATUS_HEADER, kind));
    if request.wants_html {
        let title = match kind {
            "starting" => "Your instance is starting",
            "capacity" => "Waiting for a place",
            _ => status.canonical_reason().unwrap_or("Error"),
        };
        let page = waiting_page::render(title, message, kind, retry, waited);
        response.content_type("text/html; charset=utf-8").body(page)
    } else {
        response.json(body)
    }
}

#[cfg(test)]
mod tests {
    use super::fallback;

    #[test]
    fn the_fallback_parameter_is_read_from_the_query_as_the_flag_parser_says() {
        assert_eq!(fallback(""), Ok(false));
        assert_eq!(fallback("fallback=true"), Ok(true));
        assert_eq!(fallback("x=1&fallback=false"), Ok(false));
        assert_eq!(fallback("fallback"), Ok(true));
        assert!(fallback("fallback=no").is_err());
        assert!(fallback("fallback=true&fallback=true").is_err());
    }
}
