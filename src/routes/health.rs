//! `GET /healthz`: liveness, on both listeners.

use actix_web::HttpResponse;

/// `GET /healthz` (both ports): the process answers. No token needed.
#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "healthz",
    responses((status = 200, description = "`{\"status\":\"ok\"}`", body = Object)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}
