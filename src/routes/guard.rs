//! Who may call the private API. Instances never may: they share a network with spawner (it must
//! reach them), and by address they are told apart from everyone else (403). With an `api_token`
//! configured, every call but `/healthz` needs `Authorization: Bearer <token>` (401 otherwise);
//! the admin page (`/admin`, `admin/access.rs`) has its own sign-in with that token.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::web;

use super::json_error;
use crate::configuration::Settings;
use crate::instances::Instances;

pub async fn private_api(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let (Some(instances), Some(settings)) = (
        req.app_data::<web::Data<Instances>>(),
        req.app_data::<web::Data<Settings>>(),
    ) else {
        // Built without what it checks against: refuse rather than let everything through.
        log::error!("the private API's guard has no instances or settings; refusing the call");
        let refusal = json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "spawner is misconfigured: its private API cannot check callers",
        );
        return Ok(req.into_response(refusal).map_into_right_body());
    };
    // An instance's own address, or any address of the instances' network (Swarm tasks'
    // addresses are not in the index; the control plane calls from its own network).
    let subnet = settings.engine.network_subnet;
    let from_instance = req.peer_addr().is_some_and(|peer| {
        instances.is_instance_address(peer.ip())
            || matches!(peer.ip(), std::net::IpAddr::V4(ip) if subnet.contains(&ip))
    });
    if from_instance {
        log::warn!(
            "refused a private API call from instance address {:?}",
            req.peer_addr()
        );
        let refusal = json_error(
            StatusCode::FORBIDDEN,
            "the private API does not answer requests from instances",
        );
        return Ok(req.into_response(refusal).map_into_right_body());
    }
    let token = settings.listen.api_token.clone();
    // The admin page signs in with the token itself and carries a cookie for it (admin/access).
    let open = req.path() == "/healthz" || super::admin::is_admin_path(req.path());
    if let Some(token) = token.filter(|_| !open) {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !token.matches(presented.trim()) {
            let mut refusal = json_error(
                StatusCode::UNAUTHORIZED,
                "this API needs Authorization: Bearer <api_token>",
            );
            refusal.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"spawner\""),
            );
            return Ok(req.into_response(refusal).map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use actix_web::{middleware::from_fn, test, App, HttpResponse};

    #[actix_web::test]
    async fn a_guard_without_its_settings_refuses_instead_of_letting_calls_through() {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(super::private_api))
                .route("/deploy", actix_web::web::get().to(HttpResponse::Ok)),
        )
        .await;
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/deploy").to_request()).await;
        assert_eq!(response.status(), 500);
    }
}
