//! Integration tests: spawner against the real Docker daemon (no mocks). Build the images first
//! (scripts/build_project.sh); every test makes its own network and names and removes them.

mod admin;
mod backend;
mod bounds;
mod capacity;
mod cleanup;
#[path = "../common/mod.rs"]
mod common;
mod configuration;
mod deploy;
mod docker_proxy;
mod events;
mod fallback;
mod forward_auth;
mod fuzz;
mod healthcheck;
mod helpers;
mod idle;
mod isolation;
mod lifecycle;
mod limits;
mod metrics;
mod openapi;
mod paused;
mod processes;
mod pull;
mod registry;
mod replicas;
mod restart;
mod scope;
mod security;
mod shutdown;
mod traefik_config;
mod volumes;
mod without_docker;
