//! mock-home: the site's home in spawner's stack (`/home`, public): a minimal but real one.
//!
//! - `GET /home`: `{"message":"You are at Home"}` for API clients; for browsers a page with a
//!   registration form, a login form and a logout button.
//! - `POST /home/register` (form or JSON `name`, `password`): makes the account, pending (argon2
//!   hash in SQLite), asks spawner's private API to create a mock-app instance of that name,
//!   then activates the account, sets the cookie spawner issued for it (exactly its
//!   `Set-Cookie`) and redirects to it. A taken or invalid name, or a short password, gets the
//!   form again with a message, and no cookie; past `REGISTER_PER_MINUTE` from one address, 429.
//! - `POST /home/login` (`name`, `password`): checks the password and asks spawner for a new
//!   session of the user's instance; a wrong password, an unknown name or an account still
//!   pending gets the form again (401, after the same argon2 work), no cookie.
//! - `POST /home/logout`: clears the instance cookie.
//!
//! Nothing public hands out a cookie for a name without its password, and an instance made
//! through the API (without an account) has none. A cross-site `POST` is refused (403, [`origin`]).
//!
//! Environment: `LISTEN_HOST` (0.0.0.0), `PORT` (8000), `SPAWNER_API` (http://spawner:8008), `SPAWNER_API_TOKEN` (sent as
//! `Authorization: Bearer`; empty: none), `DB_PATH` (/data/home.sqlite), `APP_IMAGE`
//! (mock-app:latest), `APP_PORT` (9000), `APP_IDLE` (1m), `COOKIE_KEY` (instance), `PATH_PREFIX`
//! (empty; in path-routing mode e.g. `/p`, and instances live at `<prefix>/<name>/`),
//! `INSTANCE_URL` (host routing: e.g. `https://{name}.apps.example.com/`), `COOKIE_DOMAIN` (host
//! routing: the domain spawner's cookies are set on), `REGISTER_PER_MINUTE` (10; 0: no cap).
//!
//! Modules: [`config`] the settings, [`routes`] the endpoints, [`users`] the accounts (argon2 off
//! the async workers), [`spawner`] the calls to spawner's API, [`origin`] the cross-site check,
//! [`limit`] the registration cap, [`proxy`] what forwarded headers are believed, [`pages`] the
//! HTML and error answers.

mod config;
mod limit;
mod origin;
mod pages;
mod proxy;
mod routes;
mod spawner;
mod users;

use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use config::{env_or, Config};
use limit::RegisterLimit;
use users::Users;

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
    let config = Config::from_env()?;
    let limit = web::Data::new(RegisterLimit::new(config.register_per_minute));
    let config = web::Data::new(config);
    log::info!(
        "mock-home on {host}:{port}, accounts in {db_path}, spawner API at {}, at most {} registrations per address per minute",
        config.spawner_api,
        config.register_per_minute
    );
    HttpServer::new(move || {
        App::new()
            .app_data(config.clone())
            .app_data(users.clone())
            .app_data(limit.clone())
            .wrap(from_fn(origin::refuse_cross_site))
            .wrap(actix_web::middleware::Logger::new("%a \"%r\" %s %Dms"))
            .route("/home", web::get().to(routes::home))
            .route("/home/", web::get().to(routes::home))
            .route("/home/register", web::post().to(routes::register))
            .route("/home/login", web::post().to(routes::login))
            .route("/home/logout", web::post().to(routes::logout))
            .default_service(web::to(routes::home))
    })
    .workers(1)
    .shutdown_timeout(1)
    .bind((host.as_str(), port))?
    .run()
    .await
}
