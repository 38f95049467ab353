//! HTTP endpoints, one file per group. Handlers stay thin: extract, call the function that
//! decides, map its outcome to a response. Settings and services come in as `web::Data`.

pub mod deploy;
pub mod forward_auth;
pub mod guard;
pub mod health;
pub mod metrics;
pub mod traefik_config;
pub mod waiting_page;

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

/// Errors are JSON `{"error": "…"}` everywhere.
pub fn json_error(status: StatusCode, message: impl std::fmt::Display) -> HttpResponse {
    json_error_with_cause(status, message, None)
}

/// `{"error": "<what to do>", "cause": "<what the engine said>"}`: the sentence for the caller,
/// and for the operator the underlying error.
pub fn json_error_with_cause(
    status: StatusCode,
    message: impl std::fmt::Display,
    cause: Option<String>,
) -> HttpResponse {
    let mut body = serde_json::json!({ "error": message.to_string() });
    if let Some(cause) = cause {
        body["cause"] = cause.into();
    }
    HttpResponse::build(status).json(body)
}
