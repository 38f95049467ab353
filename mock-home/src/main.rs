//! mock-home: the site's home in spawner's stack (`/home`, public): a minimal but real one.
//!
//! - `GET /home`: `{"message":"You are at Home"}` for API clients; for browsers a page with a
//!   registration form, a login form and a logout button.
//! - `POST /home/register` (form or JSON `name`, `password`): makes the account (argon2 hash in
//!   SQLite), asks spawner's private API to create a mock-app instance of that name, sets the
//!   cookie spawner issued for it (exactly its `Set-Cookie`) and redirects to it. A taken or
//!   invalid name, or a short password, gets the form again with a message, and no cookie.
//! - `POST /home/login` (`name`, `password`): checks the password and asks spawner for a new
//!   session of the user's instance; a wrong password gets the form again (401), no cookie.
//! - `POST /home/logout`: clears the instance cookie.
//!
//! Nothing public hands out a cookie for a name without its password.
//!
//! Environment: `LISTEN_HOST` (0.0.0.0), `PORT` (8000), `SPAWNER_API` (http://spawner:8008), `SPAWNER_API_TOKEN` (sent as
//! `Authorization: Bearer`; empty: none), `DB_PATH` (/data/home.sqlite), `APP_IMAGE`
//! (mock-app:latest), `APP_PORT` (9000), `APP_IDLE` (1m), `COOKIE_KEY` (instance), `PATH_PREFIX`
//! (empty; in path-routing mode e.g. `/p`, and instances live at `<prefix>/<name>/`).

mod pages;
mod spawner;
mod users;

use actix_web::http::{header, StatusCode};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde::Deserialize;

use pages::{error, page, wants_html};
use spawner::Answer;
use users::{Added, Users, MIN_PASSWORD};

pub struct Config {
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

/// The same rule spawner applies to names.
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

async fn home(req: HttpRequest) -> HttpResponse {
    if wants_html(&req) {
        page(StatusCode::OK, None)
    } else {
        HttpResponse::Ok().json(serde_json::json!({"message": "You are at Home"}))
    }
}

fn redirect(location: &str, set_cookie: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::SET_COOKIE, set_cookie))
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

async fn logout(config: web::Data<Config>) -> HttpResponse {
    let expired = format!(
        "{}=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax",
        config.cookie_key
    );
    redirect("/home", &expired)
}

#[derive(Deserialize)]
struct Credentials {
    name: String,
    #[serde(default)]
    password: String,
}

fn credentials(form: web::Either<web::Form<Credentials>, web::Json<Credentials>>) -> Credentials {
    match form {
        web::Either::Left(form) => form.into_inner(),
        web::Either::Right(json) => json.into_inner(),
    }
}

/// The answer to a call that should have issued a session for `name`.
fn enter(req: &HttpRequest, config: &Config, name: &str, answer: Answer) -> HttpResponse {
    match answer {
        Answer::Session(set_cookie) => redirect(&config.instance_url(name), &set_cookie),
        Answer::NameTaken => error(
            req,
            StatusCode::CONFLICT,
            &format!("The name {name} is already taken; choose another one."),
        ),
        Answer::Refused(StatusCode::BAD_REQUEST, reason) => {
            error(req, StatusCode::BAD_REQUEST, &reason)
        }
        Answer::Refused(_, reason) => error(
            req,
            StatusCode::BAD_GATEWAY,
            &format!("Could not reach your instance: {reason}"),
        ),
        Answer::Unreachable => error(
            req,
            StatusCode::BAD_GATEWAY,
            "The instance service is unreachable; try again shortly.",
        ),
    }
}

fn database_error(req: &HttpRequest, e: rusqlite::Error) -> HttpResponse {
    log::error!("accounts database: {e}");
    error(
        req,
        StatusCode::SERVICE_UNAVAILABLE,
        "Accounts are unavailable right now; try again shortly.",
    )
}

async fn register(
    req: HttpRequest,
    form: web::Either<web::Form<Credentials>, web::Json<Credentials>>,
    config: web::Data<Config>,
    users: web::Data<Users>,
) -> HttpResponse {
    let Credentials { name, password } = credentials(form);
    let name = name.trim();
    if let Err(message) = valid_name(name) {
        return error(&req, StatusCode::BAD_REQUEST, &message);
    }
    if password.chars().count() < MIN_PASSWORD {
        let message = format!("Choose a password of at least {MIN_PASSWORD} characters.");
        return error(&req, StatusCode::BAD_REQUEST, &message);
    }
    match users.add(name, &password) {
        Ok(Added::Yes) => {}
        Ok(Added::Taken) => return enter(&req, &config, name, Answer::NameTaken),
        Err(e) => return database_error(&req, e),
    }
    let answer = spawner::create(&config, name).await;
    if !matches!(answer, Answer::Session(_)) {
        // No instance, no account: the name is free again.
        if let Err(e) = users.remove(name) {
            log::error!("could not remove the account {name} again: {e}");
        }
    } else {
        log::info!("registered {name}");
    }
    enter(&req, &config, name, answer)
}

async fn login(
    req: HttpRequest,
    form: web::Either<web::Form<Credentials>, web::Json<Credentials>>,
    config: web::Data<Config>,
    users: web::Data<Users>,
) -> HttpResponse {
    let Credentials { name, password } = credentials(form);
    let name = name.trim();
    match users.check(name, &password) {
        Ok(true) => {}
        Ok(false) => {
            log::info!("failed login for {name:?}");
            return error(
                &req,
                StatusCode::UNAUTHORIZED,
                "That name and password do not match.",
            );
        }
        Err(e) => return database_error(&req, e),
    }
    let answer = spawner::session(&config, name).await;
    enter(&req, &config, name, answer)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let port: u16 = env_or("PORT", "8000").parse().unwrap_or(8000);
    let host = env_or("LISTEN_HOST", "0.0.0.0");
    let db_path = env_or("DB_PATH", "/data/home.sqlite");
    let users = Users::open(&db_path).map_err(|e| {
        std::io::Error::other(format!(
            "cannot open the accounts database {db_path}: {e} (set DB_PATH to a writable file)"
        ))
    })?;
    let users = web::Data::new(users);
    let config = web::Data::new(Config::from_env());
    log::info!(
        "mock-home on {host}:{port}, accounts in {db_path}, spawner API at {}",
        config.spawner_api
    );
    HttpServer::new(move || {
        App::new()
            .app_data(config.clone())
            .app_data(users.clone())
            .wrap(actix_web::middleware::Logger::new("%a \"%r\" %s %Dms"))
            .route("/home", web::get().to(home))
            .route("/home/", web::get().to(home))
            .route("/home/register", web::post().to(register))
            .route("/home/login", web::post().to(login))
            .route("/home/logout", web::post().to(logout))
            .default_service(web::to(home))
    })
    .workers(1)
    .shutdown_timeout(1)
    .bind((host.as_str(), port))?
    .run()
    .await
}
