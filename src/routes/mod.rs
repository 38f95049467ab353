//! HTTP endpoints, one file per group. Handlers stay thin: extract, call the function that
//! decides, map its outcome to a response. Settings and services come in as `web::Data`.

pub mod admin;
pub mod deploy;
mod deploy_error;
pub mod error_body;
pub mod events;
pub mod forward_auth;
pub mod guard;
pub mod health;
pub mod metrics;
pub mod openapi;
pub mod traefik_config;
pub mod waiting_page;

pub use error_body::{json_error, ErrorBody};

/// The private port's routes, listed once: registered by [`private_api`] and listed in
/// [`PRIVATE_ROUTES`] (the OpenAPI test checks the description covers every one).
macro_rules! private_routes {
    ($( $method:ident $path:literal => $handler:path; )*) => {
        /// Every (method, path) the private port serves, as registered.
        pub const PRIVATE_ROUTES: &[(&str, &str)] = &[$( (stringify!($method), $path) ),*];

        /// Registers the private port's routes on its app.
        pub fn private_api(cfg: &mut actix_web::web::ServiceConfig) {
            $( cfg.route($path, actix_web::web::$method().to($handler)); )*
        }
    };
}

/// The methods the private port serves at `path` (its routes' `{name}` matches one segment),
/// in the order they are listed.
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    let mut methods: Vec<&'static str> = Vec::new();
    for (method, route) in PRIVATE_ROUTES {
        let pattern: Vec<&str> = route.split('/').collect();
        let matches = pattern.len() == segments.len()
            && pattern.iter().zip(&segments).all(|(p, s)| {
                *p == *s || (p.starts_with('{') && p.ends_with('}') && !s.is_empty())
            });
        if matches && !methods.contains(method) {
            methods.push(method);
        }
    }
    methods
}

/// The private port's answer for a call it has no route for: 405 with `Allow` when the path is
/// served with other methods, else 404; JSON either way.
pub async fn no_route(request: actix_web::HttpRequest) -> actix_web::HttpResponse {
    use actix_web::http::{header, StatusCode};
    let methods = allowed_methods(request.path());
    if methods.is_empty() {
        return json_error(StatusCode::NOT_FOUND, "no such endpoint");
    }
    let allow = methods
        .iter()
        .map(|m| m.to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(", ");
    let mut answer = json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} is not served here; this path takes {allow}",
            request.method()
        ),
    );
    if let Ok(value) = header::HeaderValue::from_str(&allow) {
        answer.headers_mut().insert(header::ALLOW, value);
    }
    answer
}

private_routes! {
    post "/deploy" => deploy::create;
    post "/deploy/" => deploy::create;
    get "/deploy" => deploy::list;
    get "/deploy/" => deploy::list;
    // Before /deploy/{name}: no instance may be named `events`.
    get "/deploy/events" => events::events;
    get "/deploy/{name}" => deploy::show;
    put "/deploy/{name}" => deploy::start;
    delete "/deploy/{name}" => deploy::delete;
    post "/deploy/{name}/session" => deploy::session;
    post "/deploy/{name}/stop" => deploy::stop;
    post "/deploy/{name}/pause" => deploy::pause;
    post "/deploy/{name}/recreate" => deploy::recreate;
    get "/metrics" => metrics::metrics;
    get "/traefik/config" => traefik_config::traefik_config;
    get "/healthz" => health::healthz;
    get "/openapi.json" => openapi::openapi;
}
