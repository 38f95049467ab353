//! spawner: a traefik ForwardAuth middleware that starts per-user containers on demand.
//!
//! Map of the modules:
//! - [`configuration`]: settings and their layers (defaults, file, environment, flags), grouped by
//!   the component each group builds.
//! - [`startup`]: builds the service from settings; every route is listed there.
//! - [`routes`]: the endpoints, thin: ForwardAuth (`/auth`), the private `/deploy` API, traefik's
//!   dynamic configuration, liveness, the operator's admin page (`/admin`, [`routes::admin`]);
//!   every error answer in one JSON shape ([`routes::ErrorBody`]).
//! - [`gate`]: the ForwardAuth decision (what `/auth` answers, and why): the instance the
//!   router routed to, the byte-exact cookie, the routing mode (cookie, path, host).
//! - [`instance_network`]: the instances' network at start (created isolated when missing).
//! - [`instances`]: the lifecycle of the managed containers, a thin façade over parts that own
//!   their state: the event-fed index store, the transitions table (wakes, stops, places under
//!   the cap), the prober, capacity, image pulls, volumes, the watcher and the culler.
//! - [`backend`]: the seam in front of the container engine; [`backend::docker`] is the only
//!   module that imports bollard. A Docker Swarm backend will stand beside it.
//! - [`traefik`]: the dynamic configuration spawner serves, and traefik's API.
//! - [`domain`]: parsed input types, container facts and the labels spawner writes and reads
//!   ([`domain::InstanceLabels`]), shared by all of the above.
//! - [`sessions`]: issuing and verifying the instance cookie.
//! - [`metrics`]: the Prometheus metrics (`GET /metrics`).
//! - [`tasks`]: owned background tasks and the shutdown signal; [`backoff`]: the one retry rule;
//!   [`error`]: logging an error with its whole chain of causes.

pub mod backend;
pub mod backoff;
pub mod configuration;
pub mod domain;
pub mod error;
pub mod gate;
pub mod instance_network;
pub mod instances;
pub mod metrics;
pub mod routes;
pub mod sessions;
pub mod startup;
pub mod tasks;
#[cfg(test)]
mod tests;
pub mod traefik;
