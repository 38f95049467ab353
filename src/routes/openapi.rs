//! `GET /openapi.json`: the private API described in OpenAPI 3.1, generated from the handlers'
//! own annotations and the types they read and write (utoipa), so it cannot drift from the code.
//! What every call shares is added here: the bearer token (and its 401 with `WWW-Authenticate`),
//! the 403 for a call from an instance's address, the 404 of an unknown path, and the old
//! clients' `/deploy/` spelling of `/deploy`.

use actix_web::{web, HttpResponse};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{deploy, events, health, metrics, traefik_config};
use crate::domain::limits::LimitRules;

/// The description of the private port.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "spawner private API",
        description = "Creates, lists, starts, stops, pauses, recreates and deletes the per-user \
            containers spawner manages, streams their changes, and serves traefik its routes. \
            Port 8008, on 127.0.0.1 only; every call but /healthz needs \
            `Authorization: Bearer <api_token>` when a token is configured. Every error has one \
            JSON shape (ErrorBody)."
    ),
    paths(
        deploy::create, deploy::list, deploy::show, deploy::start, deploy::delete,
        deploy::session, deploy::stop, deploy::pause, deploy::recreate, events::events, metrics::metrics,
        traefik_config::traefik_config, health::healthz, openapi
    ),
    components(schemas(deploy::Purge)),
    modifiers(&Shared),
    tags(
        (name = "instances", description = "The managed containers"),
        (name = "operations", description = "Events, metrics, traefik's routes, liveness"),
    )
)]
pub struct ApiDoc;

/// The paths the old clients may spell with a trailing slash (the same operations).
pub const SLASH_ALIASES: [&str; 1] = ["/deploy"];

/// The calls that need no token.
const OPEN: [&str; 1] = ["/healthz"];

struct Shared;

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

fn refused_without_token() -> Response {
    let mut response = error_response("No token, or a wrong one");
    let challenge = HeaderBuilder::new()
        .schema(
            utoipa::openapi::schema::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String),
        )
        .description(Some("`Bearer realm=\"spawner\"`"))
        .build();
    response
        .headers
        .insert("WWW-Authenticate".to_string(), challenge);
    response
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

impl Modify for Shared {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("The `api_token` setting"))
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        let token = SecurityRequirement::new("bearer", Vec::<String>::new());
        for (path, item) in doc.paths.paths.iter_mut() {
            let open = OPEN.contains(&path.as_str());
            for operation in operations(item) {
                let answers = &mut operation.responses.responses;
                answers.insert(
                    "403".into(),
                    error_response("The call came from an instance's address").into(),
                );
                if open {
                    operation.security = Some(vec![SecurityRequirement::default()]);
                } else {
                    answers.insert("401".into(), refused_without_token().into());
                    operation.security = Some(vec![token.clone()]);
                }
            }
        }
        for path in SLASH_ALIASES {
            let Some(item) = doc.paths.paths.get(path).cloned() else {
                continue;
            };
            let mut alias = item;
            for operation in operations(&mut alias) {
                if let Some(id) = &mut operation.operation_id {
                    id.push_str("_slash");
                }
                operation.deprecated = Some(utoipa::openapi::Deprecated::True);
            }
            doc.paths.paths.insert(format!("{path}/"), alias);
        }
    }
}

/// The document as this spawner serves it: its own maxima (`max_memory`, `max_cpus`,
/// `max_pids_limit`) in the deploy body's bounds. Made once, at start.
pub struct Document(String);

impl Document {
    pub fn new(limits: &LimitRules) -> Self {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the description serializes");
        let body = &mut doc["components"]["schemas"]["DeployRequest"]["properties"];
        body["cpus"]["maximum"] = limits.max.cpus.into();
        body["pids_limit"]["maximum"] = limits.max.pids.into();
        if let Some(bytes) = body["memory"]["oneOf"].get_mut(0) {
            bytes["maximum"] = limits.max.memory_bytes.into();
        }
        // `?purge=` is true too (flag::parse); utoipa cannot name an empty variant.
        if let Some(values) = doc["components"]["schemas"]["Purge"]["enum"].as_array_mut() {
            values.push("".into());
        }
        Self(serde_json::to_string_pretty(&doc).expect("JSON serializes"))
    }

    pub fn json(&self) -> &str {
        &self.0
    }
}

/// `GET /openapi.json`.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", operation_id = "openapi",
    responses((status = 200, description = "This description (OpenAPI 3.1)", content_type = "application/json")))]
pub async fn openapi(document: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document.json().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::PRIVATE_ROUTES;

    fn document() -> String {
        let limits = crate::configuration::Settings::for_tests().limits;
        Document::new(&limits).json().to_string()
    }

    fn described() -> Vec<(String, String)> {
        let doc: serde_json::Value = serde_json::from_str(&document()).unwrap();
        let mut pairs = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                pairs.push((method.clone(), path.clone()));
            }
        }
        pairs
    }

    #[test]
    fn every_registered_route_is_described_and_nothing_else() {
        let described = described();
        let mut registered: Vec<(String, String)> = PRIVATE_ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        for route in &registered {
            assert!(described.contains(route), "{route:?} is not described");
        }
        registered.sort();
        let mut described = described;
        described.sort();
        assert_eq!(described, registered, "described but not registered");
    }

    #[test]
    fn it_is_openapi_3_1_with_the_bearer_scheme_and_the_shared_answers() {
        let doc: serde_json::Value = serde_json::from_str(&document()).unwrap();
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            doc["openapi"]
        );
        let scheme = &doc["components"]["securitySchemes"]["bearer"];
        assert_eq!(scheme["scheme"], "bearer", "{scheme}");
        let list = &doc["paths"]["/deploy"]["get"];
        assert!(list["responses"]["401"]["headers"]["WWW-Authenticate"].is_object());
        assert_eq!(list["security"][0]["bearer"], serde_json::json!([]));
        let create = &doc["paths"]["/deploy"]["post"];
        assert!(create["responses"]["503"]["headers"]["Retry-After"].is_object());
        let health = &doc["paths"]["/healthz"]["get"];
        assert!(health["responses"].get("401").is_none());
        assert_eq!(
            doc["paths"]["/deploy/"]["post"]["operationId"],
            "create_slash"
        );
    }
}
