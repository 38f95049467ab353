//! mock-home: the site's home in spawner's stack (`/home`, public).
//!
//! - `GET /home`: `{"message":"You are at Home"}` for API clients; a registration form for browsers.
//! - `POST /home/register` (form or JSON `name`): asks spawner's private API to create a mock-app
//!   instance, sets the cookie spawner issued for it (exactly its `Set-Cookie`) and redirects to
//!   it; a taken or invalid name gets a page saying so, and no cookie.
//! - `POST /home/logout`: clears the instance cookie.
//!
//! No public call hands out a cookie for a name: only a registration does, for the instance it
//! has just created.
//!
//! Environment: `PORT` (8000), `SPAWNER_API` (http://spawner:8008), `SPAWNER_API_TOKEN` (sent as
//! `Authorization: Bearer`; empty: none), `APP_IMAGE`
//! (mock-app:latest), `APP_PORT` (9000), `APP_IDLE` (1m), `COOKIE_KEY` (instance), `PATH_PREFIX`
//! (empty; in path-routing mode e.g. `/p`, and instances live at `<prefix>/<name>/`).

use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde::Deserialize;

struct Config {
    spawner_api: String,
    spawner_token: String,
    app_image: String,
    app_port: u16,
    app_idle: String,
    cookie_key: String,
    path_prefix: String,
}

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

impl Config {
    fn from_env() -> Self {
        Self {
            spawner_api: env_or("SPAWNER_API", "http://spawner:8008")
                .trim_end_matches('/')
                .into(),
            spawner_token: env_or("SPAWNER_API_TOKEN", ""),
            app_image: env_or("APP_IMAGE", "mock-app:latest"),
            app_port: env_or("APP_PORT", "9000").parse().unwrap_or(9000),
            app_idle: env_or("APP_IDLE", "1m"),
            cookie_key: env_or("COOKIE_KEY", "instance"),
            path_prefix: env_or("PATH_PREFIX", "").trim_end_matches('/').into(),
        }
    }

    /// Where a client goes once its cookie is set.
    fn instance_url(&self, name: &str) -> String {
        if self.path_prefix.is_empty() {
            "/".into()
        } else {
            format!("{}/{name}/", self.path_prefix)
        }
    }
}

fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The same rule spawner applies; checked here too so a cookie never carries anything else.
fn valid_name(name: &str) -> Result<(), String> {
    let ok = (1..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid name: use 1 to 63 letters, digits, '-' or '_', starting with a letter or digit"
        ))
    }
}

fn page(status: StatusCode, message: Option<&str>) -> HttpResponse {
    let notice = message
        .map(|m| format!("<p class=\"notice\" role=\"alert\">{}</p>", escape(m)))
        .unwrap_or_default();
    let body = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Home</title>
<style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto}}.notice{{color:#a00}}</style>
</head><body>
<h1>You are at Home</h1>
{notice}
<form method="post" action="/home/register">
  <label for="name">Choose a name for your instance</label>
  <input id="name" name="name" required maxlength="63" pattern="[A-Za-z0-9][A-Za-z0-9_-]*">
  <button id="register" type="submit">Register</button>
</form>
<form method="post" action="/home/logout"><button id="logout" type="submit">Log out</button></form>
</body></html>"#
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// An error for a browser (the form again, with the message) or for an API client (JSON).
fn error(req: &HttpRequest, status: StatusCode, message: &str) -> HttpResponse {
    if wants_html(req) {
        page(status, Some(message))
    } else {
        HttpResponse::build(status).json(serde_json::json!({ "error": message }))
    }
}

async fn home(req: HttpRequest) -> HttpResponse {
    if wants_html(&req) {
        page(StatusCode::OK, None)
    } else {
        HttpResponse::Ok().json(serde_json::json!({"message": "You are at Home"}))
    }
}

/// Into the instance, with the cookie spawner issued for it.
fn enter(config: &Config, name: &str, set_cookie: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::SET_COOKIE, set_cookie))
        .insert_header((header::LOCATION, config.instance_url(name)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

async fn logout(config: web::Data<Config>) -> HttpResponse {
    let expired = format!(
        "{}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax",
        config.cookie_key
    );
    HttpResponse::SeeOther()
        .insert_header((header::SET_COOKIE, expired))
        .insert_header((header::LOCATION, "/home"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

#[derive(Deserialize)]
struct Register {
    name: String,
}

async fn register(
    req: HttpRequest,
    form: web::Either<web::Form<Register>, web::Json<Register>>,
    config: web::Data<Config>,
) -> HttpResponse {
    let name = match form {
        web::Either::Left(form) => form.into_inner().name,
        web::Either::Right(json) => json.into_inner().name,
    };
    let name = name.trim();
    if let Err(message) = valid_name(name) {
        return error(&req, StatusCode::BAD_REQUEST, &message);
    }
    let port = config.app_port;
    let body = serde_json::json!({
        "name": name,
        "image": config.app_image,
        "labels": {
            "health-check": format!("http://{name}:{port}/status"),
            "traefik.enable": "true",
            format!("traefik.http.services.{name}.loadbalancer.server.port"): port.to_string(),
        },
        "envs": { "CONNSTR": format!("connection string of {name}"), "IDLE": config.app_idle },
    });
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let mut request = client.post(format!("{}/deploy", config.spawner_api));
    if !config.spawner_token.is_empty() {
        request = request.bearer_auth(&config.spawner_token);
    }
    let mut response = match request.send_json(&body).await {
        Ok(response) => response,
        Err(e) => {
            log::error!("spawner unreachable: {e}");
            return error(
                &req,
                StatusCode::BAD_GATEWAY,
                "The instance service is unreachable; try again shortly.",
            );
        }
    };
    let status = response.status();
    let answer = response.json::<serde_json::Value>().await.ok();
    if status == StatusCode::CREATED {
        let set_cookie = answer
            .as_ref()
            .and_then(|a| a["session"]["set_cookie"].as_str());
        if let Some(set_cookie) = set_cookie {
            log::info!("registered {name}");
            return enter(&config, name, set_cookie);
        }
        log::error!("spawner created {name} but issued no session");
    }
    let reason = answer
        .as_ref()
        .and_then(|v| v["error"].as_str().map(String::from))
        .unwrap_or_else(|| format!("spawner answered {status}"));
    match status {
        StatusCode::CONFLICT => error(
            &req,
            StatusCode::CONFLICT,
            &format!("The name {name} is already taken; choose another one."),
        ),
        StatusCode::BAD_REQUEST => error(&req, StatusCode::BAD_REQUEST, &reason),
        _ => error(
            &req,
            StatusCode::BAD_GATEWAY,
            &format!("Could not create your instance: {reason}"),
        ),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let port: u16 = env_or("PORT", "8000").parse().unwrap_or(8000);
    let config = web::Data::new(Config::from_env());
    log::info!(
        "mock-home on port {port}, spawner API at {}",
        config.spawner_api
    );
    HttpServer::new(move || {
        App::new()
            .app_data(config.clone())
            .wrap(actix_web::middleware::Logger::new("%a \"%r\" %s %Dms"))
            .route("/home", web::get().to(home))
            .route("/home/", web::get().to(home))
            .route("/home/register", web::post().to(register))
            .route("/home/logout", web::post().to(logout))
            .default_service(web::to(home))
    })
    .workers(1)
    .shutdown_timeout(1)
    .bind(("0.0.0.0", port))?
    .run()
    .await
}
