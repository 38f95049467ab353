//! HTTP endpoints, one file per group. Handlers stay thin: extract, call the function that
//! decides, map its outcome to a response.

pub mod deploy;
pub mod forward_auth;
pub mod health;
pub mod traefik_config;

use actix_web::HttpResponse;

/// Errors are JSON `{"error": "…"}` everywhere.
pub fn json_error(
    status: actix_web::http::StatusCode,
    message: impl std::fmt::Display,
) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "error": message.to_string() }))
}
