//! End-to-end tests: the whole stack (real traefik, spawner, mock-home, mock-app instances),
//! driven through traefik's public port and a real browser. Needs the images
//! (scripts/build_project.sh) and, for the browser test, chromium and chromium-driver.

mod admin_page;
mod admin_thousand;
mod browser;
#[path = "../common/mod.rs"]
mod common;
mod data;
mod differential;
mod home;
mod home_attacks;
mod host_routing;
mod idle;
mod isolation;
mod replica_capacity;
mod replicas;
mod restart;
mod security;
mod stack;
mod swarm;
mod swarm_failures;
mod swarm_isolation;
mod swarm_replicas;
mod through_traefik;
mod waiting;
