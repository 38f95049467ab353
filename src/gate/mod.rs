//! The ForwardAuth decision: given what a request asks for ([`AuthRequest`]), what to answer.
//!
//! [`route`] decides from the request alone which case applies. [`Gate::decide`] then answers
//! from the index when the instance is ready (the hot path: memory only), or holds the request
//! while the instance is started and made ready, or, for the catch-all router's fallback, also
//! waits until traefik has loaded the instance's route. traefik gives up on an auth call after
//! 30 s, so every branch ends in a deliberate [`Outcome`] before `hold_timeout`.

mod cookies;
mod request;
mod route;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub use cookies::InstanceCookie;
pub use request::{same_site, AuthRequest};
pub use route::{route, Route};

use crate::configuration::Settings;
use crate::domain::{InstanceName, Routing};
use crate::instances::{Instances, Lookup, StartError};
use crate::metrics::Held;
use crate::sessions::Sessions;
use crate::traefik::api::TraefikApi;

/// What `/auth` answers; [`crate::routes::forward_auth`] turns it into a response.
#[derive(Debug)]
pub enum Outcome {
    /// 200: traefik forwards the original request.
    Allow,
    /// 302 to `cookie_fallback_url`: no usable instance.
    Home,
    /// 307 to the same URI: the route is loaded now, the client retries on it.
    Retry { location: String },
    /// 503: not ready within the wait; the start goes on.
    NotReady {
        name: InstanceName,
        waited: Duration,
        /// What it is doing, for the waiting page.
        phase: &'static str,
    },
    /// 502 (503 when the engine is away): the start failed.
    Failed {
        name: InstanceName,
        error: StartError,
    },
    /// 503: spawner has just started and has not read the instances from the engine yet.
    NotSynced,
}

pub struct Gate {
    settings: Arc<Settings>,
    instances: Arc<Instances>,
    sessions: Arc<Sessions>,
    traefik: TraefikApi,
}

impl Gate {
    pub fn new(
        settings: Arc<Settings>,
        instances: Arc<Instances>,
        sessions: Arc<Sessions>,
    ) -> Self {
        let traefik = TraefikApi::new(&settings.traefik.traefik_base_url);
        Self {
            settings,
            instances,
            sessions,
            traefik,
        }
    }

    pub fn metrics(&self) -> &crate::metrics::Metrics {
        self.instances.metrics()
    }

    /// The answer. Before the index's first list every instance is unknown: a request that
    /// would be sent home then waits for the list (within `hold_timeout`) and is decided again,
    /// so a restart of spawner sends no user home.
    pub async fn decide(&self, request: &AuthRequest, fallback: bool) -> Outcome {
        match self.decide_from_index(request, fallback).await {
            Outcome::Home if !self.instances.is_synced() => {
                let hold = self.settings.readiness.hold_timeout;
                if !self.instances.synced_within(hold).await {
                    log::warn!("the instances were not read from the engine within {hold:?}");
                    return Outcome::NotSynced;
                }
                self.decide_from_index(request, fallback).await
            }
            outcome => outcome,
        }
    }

    async fn decide_from_index(&self, request: &AuthRequest, fallback: bool) -> Outcome {
        let settings = &self.settings;
        let now = SystemTime::now();
        // The one read of the index: the session's epoch, the service-worker choice and the
        // instance's state come from the same snapshot, and nothing is cloned.
        let (name, lookup) = {
            let index = self.instances.snapshot();
            let epoch_of = |name: &InstanceName| index.session_epoch(name.as_str());
            let name = match route(
                request,
                fallback,
                &settings.traefik,
                &self.sessions,
                now,
                &epoch_of,
            ) {
                Route::Public => return Outcome::Allow,
                Route::Home => return Outcome::Home,
                Route::Instance(name) => name,
            };
            if request.service_worker
                && settings.traefik.routing != Routing::Host
                && !index.allows_service_worker(name.as_str())
            {
                // On the site's shared origin a worker registered at `/` would see every request
                // of the site, the home's included.
                log::info!(
                    "{name}: refused a service worker script on the shared origin (deploy with \
                     \"service_worker\": true to allow it, or use routing=host)"
                );
                return Outcome::Home;
            }
            let lookup = index.lookup(name.as_str(), now);
            (name, lookup)
        };
        let readiness = match lookup {
            Lookup::Unknown => {
                log::debug!("{name}: unknown instance; sending the client home");
                return Outcome::Home;
            }
            Lookup::Ready if !fallback => return Outcome::Allow,
            Lookup::Ready => None,
            Lookup::NotReady { readiness } => Some(readiness),
        };
        let started = Instant::now();
        let hold = settings.readiness.hold_for(request.wants_html);
        if let Some(readiness) = readiness {
            let metrics = self.metrics();
            let _held = Held::new(&metrics.held_now);
            let wait = self.instances.ensure_ready(name.as_str());
            let waited = tokio::time::timeout(hold, wait).await;
            let result = match &waited {
                Ok(Ok(())) => "ready",
                Ok(Err(_)) => "failed",
                Err(_) => "not_ready",
            };
            metrics.held(readiness, result, started.elapsed());
            match waited {
                Ok(Ok(())) => {}
                Ok(Err(StartError::Gone(_))) => return Outcome::Home,
                Ok(Err(error)) => return Outcome::Failed { name, error },
                Err(_) => {
                    if !request.wants_html {
                        log::warn!("{name}: not ready within the hold timeout ({hold:?})");
                    }
                    let waited = hold;
                    let phase = self.instances.phase(name.as_str());
                    return Outcome::NotReady {
                        name,
                        waited,
                        phase,
                    };
                }
            }
        }
        if !fallback {
            log::info!("{name}: request held {:?} until ready", started.elapsed());
            return Outcome::Allow;
        }
        if settings.traefik.traefik_check_enabled {
            // What the instance's activity is now: a request let through on its router while
            // this one waits for the route changes it, and then nothing stops the instance below.
            let seen = self.instances.activity_seen(name.as_str());
            let left = hold.saturating_sub(started.elapsed());
            let wait = settings.traefik.route_timeout.min(left);
            if !self.traefik.wait_for_route(name.as_str(), wait).await {
                log::warn!("{name}: traefik did not load its route within {wait:?}");
                if let Some(seen) = seen {
                    self.instances.stop_unrouted(name.as_str(), seen).await;
                }
                return Outcome::NotReady {
                    name,
                    waited: wait,
                    phase: "waiting for traefik to load its route",
                };
            }
        }
        let location = same_site(&request.uri).to_string();
        log::info!(
            "{name}: route ready after {:?}; 307 to {location}",
            started.elapsed()
        );
        Outcome::Retry { location }
    }
}
