//! spawner: a traefik ForwardAuth middleware that starts per-user Docker containers on demand.
//!
//! Map of the modules:
//! - [`configuration`]: settings and their layers (defaults, file, environment, flags).
//! - [`startup`]: builds the service from settings; every route is listed there.
//! - [`routes`]: the endpoints: ForwardAuth (`/auth`), the private `/deploy` API, traefik's
//!   dynamic configuration, liveness.
//! - [`instances`]: the event-fed index of managed containers, single-flight starts, readiness.
//! - [`docker`]: the only module that talks to Docker (bollard).
//! - [`domain`]: parsed input types (instance names, deploy bodies).

pub mod configuration;
pub mod docker;
pub mod domain;
pub mod instances;
pub mod routes;
pub mod startup;
