//! The guard in front of everything under `/admin` ([`gate`]): the sign-in ([`access`]) for the
//! page's data and actions, the page's own origin for every change, and the security headers on
//! every answer.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web;

use super::access::{from_the_page, peer, signed_in};
use super::pages;
use crate::configuration::Settings;
use crate::routes::json_error;

/// Every answer under `/admin`: no framing, no referrer, no caching, only its own assets.
const SECURITY_HEADERS: [(&str, &str); 6] = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-frame-options", "DENY"),
    // Not `no-referrer`: under it Chromium sends `Origin: null` with the page's own form posts,
    // and the origin check could not tell them from a sandboxed cross-site frame's.
    ("referrer-policy", "same-origin"),
    ("x-content-type-options", "nosniff"),
    ("cache-control", "no-store"),
    ("cross-origin-resource-policy", "same-origin"),
];

/// The headers a refusal judged, for its log line.
fn judged(headers: &HeaderMap) -> String {
    let seen = |name: &str| {
        let values = headers.get_all(name);
        let values = values.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        values.collect::<Vec<_>>()
    };
    format!(
        "Sec-Fetch-Site {:?}, Origin {:?}, Host {:?}",
        seen("sec-fetch-site"),
        seen("origin"),
        seen("host")
    )
}

/// The paths open without the sign-in: the page (which then shows the sign-in form), its
/// assets, signing in and out. Exact, as sent.
const PAGE_PATHS: [&str; 6] = [
    "/admin",
    "/admin/",
    "/admin/admin.js",
    "/admin/admin.css",
    "/admin/login",
    "/admin/logout",
];

fn refuse(req: ServiceRequest, status: StatusCode, why: &str) -> ServiceResponse {
    let mut answer = json_error(status, why);
    if status == StatusCode::UNAUTHORIZED {
        answer.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Cookie realm=\"spawner admin\""),
        );
    }
    req.into_response(answer)
}

/// The admin scope's gate: no page without an `api_token`; its API only with the cookie; every
/// change only from the page itself (and, for the API, with [`MARKER`]). Then the security
/// headers on whatever is answered.
pub async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let token = req
        .app_data::<web::Data<Settings>>()
        .and_then(|s| s.listen.api_token.clone());
    // Decided on the path as sent, which the router decodes: only the page's own few paths are
    // open; anything else (`/admin/%61pi/…` included) needs the sign-in, and a percent sign,
    // which no path of the page has, is refused outright.
    let api = !PAGE_PATHS.contains(&req.path());
    let encoded = req.path().contains('%');
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD);
    let refusal: Option<(StatusCode, &str)> = match &token {
        _ if encoded => Some((StatusCode::BAD_REQUEST, "no percent-encoding under /admin")),
        None => Some((
            StatusCode::SERVICE_UNAVAILABLE,
            "the admin page needs an api_token: set one (SPAWNER_API_TOKEN) and restart spawner",
        )),
        Some(token) if api && !signed_in(req.headers(), token) => Some((
            StatusCode::UNAUTHORIZED,
            "not signed in to the admin page (or the sign-in expired): sign in at /admin",
        )),
        Some(_) if changes => from_the_page(req.headers(), api).err().map(|why| {
            log::warn!(
                "admin: refused {} {} from {} ({}): {why}",
                req.method(),
                req.path(),
                peer(req.peer_addr()),
                judged(req.headers()),
            );
            (StatusCode::FORBIDDEN, why)
        }),
        Some(_) => None,
    };
    let mut response = match refusal {
        // The pages say it as a page, the API as JSON.
        Some((StatusCode::SERVICE_UNAVAILABLE, _)) if !api => req
            .into_response(pages::needs_token())
            .map_into_right_body(),
        Some((status, why)) => refuse(req, status, why).map_into_right_body(),
        None => next.call(req).await?.map_into_left_body(),
    };
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    Ok(response)
}
