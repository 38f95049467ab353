//! `GET /metrics`: the Prometheus exposition (private port, behind the API token when set).

use actix_web::{web, HttpResponse};

use crate::instances::Instances;

/// `GET /metrics`: Prometheus' text format.
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "metrics",
    responses((status = 200, description = "Prometheus text format 0.0.4",
        content_type = "text/plain; version=0.0.4; charset=utf-8", body = String)))]
pub async fn metrics(instances: web::Data<Instances>) -> HttpResponse {
    let text = instances.metrics().render(&instances.count_by_state());
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text)
}
