//! `GET /traefik/config`: the dynamic configuration traefik's HTTP provider polls (built by
//! [`crate::traefik::config`]). The serialized payload is cached until the index changes: traefik
//! polls every second, and with a thousand instances the payload is some 300 kB.

use std::sync::Mutex;

use actix_web::{web, HttpResponse};

use crate::configuration::Settings;
use crate::instances::Instances;
use crate::routes::deploy::{DeployError, Reply};
use crate::traefik::config::build;

/// The last payload served and the index generation it was built from.
#[derive(Default)]
pub struct ConfigCache(Mutex<Option<(u64, web::Bytes)>>);

impl ConfigCache {
    fn get(&self, generation: u64) -> Option<web::Bytes> {
        let cached = self.0.lock().unwrap_or_else(|e| e.into_inner());
        cached
            .as_ref()
            .filter(|(built, _)| *built == generation)
            .map(|(_, body)| body.clone())
    }

    fn put(&self, generation: u64, body: web::Bytes) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((generation, body));
    }
}

#[utoipa::path(get, path = "/traefik/config", tag = "operations", operation_id = "traefik_config",
    responses(
        (status = 200, description = "traefik's dynamic configuration (its HTTP provider polls it)", body = Object),
        (status = 503, description = "Not synced with Docker yet since spawner started", body = crate::routes::ErrorBody),
    ))]
pub async fn traefik_config(
    instances: web::Data<Instances>,
    settings: web::Data<Settings>,
    cache: web::Data<ConfigCache>,
) -> Reply {
    // Until the first list the index is empty: traefik keeps the routes it has on an error
    // answer, whereas an empty configuration would drop them all.
    if !instances.is_synced() {
        return Err(DeployError::NotSynced);
    }
    // Read before the routes: a change during the build leaves a newer generation behind it.
    let generation = instances.generation();
    let body = cache.get(generation).unwrap_or_else(|| {
        let config = build(&settings, &instances.routes());
        let body = web::Bytes::from(serde_json::to_vec(&config).expect("plain data serializes"));
        cache.put(generation, body.clone());
        body
    });
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}
