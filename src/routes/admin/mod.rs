//! `/admin`: the operator's page on the private port (issue 20). Signing in with the API token
//! sets a cookie for `/admin` only ([`access`]); the page (`pages.rs`, embedded assets) lists the
//! instances, follows the event stream and acts on them through its own routes under
//! `/admin/api/`, which are the bearer API's handlers (or thin wrappers of them, `actions.rs`)
//! behind the cookie instead of the `Authorization` header (an `EventSource` cannot send one).
//! It is a user interface, not an API: it is not in the OpenAPI description.

pub mod access;
mod actions;
mod gate;
mod pages;

use actix_web::middleware::from_fn;
use actix_web::web;

use super::{deploy, events};

pub use access::is_admin_path;

/// Registers `/admin` and everything under it (on the private port only).
pub fn configure(cfg: &mut web::ServiceConfig) {
    let instance = |action: &str| format!("/api/instances/{{name}}/{action}");
    cfg.service(
        web::scope("/admin")
            .wrap(from_fn(gate::gate))
            .route("", web::get().to(pages::page))
            .route("/", web::get().to(pages::page))
            .route("/admin.js", web::get().to(pages::script))
            .route("/admin.css", web::get().to(pages::style))
            .route("/login", web::post().to(pages::login))
            .route("/logout", web::post().to(pages::logout))
            .route("/api/instances", web::get().to(actions::list))
            .route("/api/events", web::get().to(events::events))
            .route(&instance("start"), web::post().to(deploy::start))
            .route(&instance("stop"), web::post().to(deploy::stop))
            .route(&instance("pause"), web::post().to(deploy::pause))
            .route(&instance("recreate"), web::post().to(deploy::recreate))
            .route(&instance("delete"), web::post().to(actions::delete))
            .route(&instance("session"), web::post().to(actions::session)),
    );
}
