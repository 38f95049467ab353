//! The admin page's documents: the sign-in form, the page itself and its script and style (all
//! embedded in the binary: nothing is fetched from anywhere else), signing in and out.

use std::time::SystemTime;

use actix_web::http::header::{self, ContentType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::access::{self, COOKIE};
use crate::configuration::Settings;

const SIGN_IN: &str = include_str!("assets/sign-in.html");
const PAGE: &str = include_str!("assets/admin.html");
const SCRIPT: &str = include_str!("assets/admin.js");
const STYLE: &str = include_str!("assets/admin.css");

/// Where the sign-in form's message goes (static sentences only: nothing a caller sent).
const MESSAGE: &str = "{{message}}";

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(ContentType::html())
        .body(body)
}

fn sign_in(status: StatusCode, message: &'static str) -> HttpResponse {
    html(status, SIGN_IN.replace(MESSAGE, message))
}

/// What `/admin` answers while spawner has no `api_token`: nothing to sign in with, so no page.
pub fn needs_token() -> HttpResponse {
    let message = "The admin page is off: spawner has no api_token. Set one (SPAWNER_API_TOKEN, \
                   e.g. openssl rand -hex 32) and restart spawner.";
    sign_in(StatusCode::SERVICE_UNAVAILABLE, message)
}

fn is_signed_in(request: &HttpRequest, settings: &Settings) -> bool {
    let token = settings.listen.api_token.as_ref();
    token.is_some_and(|token| access::signed_in(request.headers(), token))
}

/// `GET /admin`: the page when signed in, else the sign-in form.
pub async fn page(request: HttpRequest, settings: web::Data<Settings>) -> HttpResponse {
    match is_signed_in(&request, &settings) {
        true => html(StatusCode::OK, PAGE.to_string()),
        false => sign_in(StatusCode::OK, ""),
    }
}

pub async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(SCRIPT)
}

pub async fn style() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(STYLE)
}

#[derive(serde::Deserialize)]
pub struct SignIn {
    #[serde(default)]
    token: String,
}

/// The cookie; `value` empty and `max_age` 0 clears it.
fn cookie(request: &HttpRequest, value: &str, max_age: u64) -> String {
    // Behind a TLS-terminating proxy the cookie is for HTTPS only.
    let secure = request
        .headers()
        .get("x-forwarded-proto")
        .is_some_and(|p| p.as_bytes() == b"https");
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={value}; Path=/admin; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// `POST /admin/login` (a form: `token=<api_token>`): the cookie and back to the page, or 401
/// and the form again.
pub async fn login(
    request: HttpRequest,
    form: Result<web::Form<SignIn>, actix_web::Error>,
    settings: web::Data<Settings>,
) -> HttpResponse {
    let addr = access::peer(request.peer_addr());
    let Some(token) = &settings.listen.api_token else {
        return needs_token();
    };
    let presented = form.map(|f| f.into_inner().token).unwrap_or_default();
    // In constant time (digests); a token is never empty, so neither is a right answer.
    if !token.matches(presented.trim()) {
        log::warn!("admin: refused a sign-in with a wrong token from {addr}");
        return sign_in(
            StatusCode::UNAUTHORIZED,
            "Wrong token: that is not this spawner's api_token.",
        );
    }
    log::info!("admin: {addr} signed in");
    let value = access::session_value(token, SystemTime::now());
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin"))
        .insert_header((
            header::SET_COOKIE,
            cookie(&request, &value, access::LIFETIME.as_secs()),
        ))
        .finish()
}

/// `POST /admin/logout`: the cookie cleared, back to the sign-in form.
pub async fn logout(request: HttpRequest) -> HttpResponse {
    log::info!("admin: {} signed out", access::peer(request.peer_addr()));
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/admin"))
        .insert_header((header::SET_COOKIE, cookie(&request, "", 0)))
        .finish()
}
