//! Everything spawner knows of traefik: the dynamic configuration it serves to traefik's HTTP
//! provider ([`config`]), and traefik's API, asked whether a route is loaded ([`api`]).

pub mod api;
pub mod config;
