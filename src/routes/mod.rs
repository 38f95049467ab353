//! HTTP endpoints, one file per group. Handlers stay thin: extract, call the function that
//! decides, map its outcome to a response. Settings and services come in as `web::Data`.

pub mod deploy;
mod deploy_error;
pub mod error_body;
pub mod events;
pub mod forward_auth;
pub mod guard;
pub mod health;
pub mod metrics;
pub mod traefik_config;
pub mod waiting_page;

pub use error_body::{json_error, ErrorBody};
