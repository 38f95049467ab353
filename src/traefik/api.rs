//! traefik's API (`traefik_base_url`), asked by the fallback whether traefik has loaded an
//! instance's router yet. One client for the whole process, so its connections are reused.

use std::time::Duration;

/// How often the API is asked while waiting for a route.
const POLL: Duration = Duration::from_millis(50);

#[derive(Clone)]
pub struct TraefikApi {
    client: reqwest::Client,
    base_url: String,
}

impl TraefikApi {
    pub fn new(base_url: &str) -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(1))
                .build()
                .expect("a client without TLS always builds"),
            base_url: base_url.trim_end_matches('/').to_string(),
        }
    }

    /// Whether traefik lists router `<name>@http` now.
    pub async fn has_route(&self, name: &str) -> bool {
        let url = format!("{}/api/http/routers/{name}@http", self.base_url);
        match self.client.get(&url).send().await {
            Ok(response) => response.status().is_success(),
            Err(_) => false,
        }
    }

    /// Asks until traefik lists the router, or `wait` runs out.
    pub async fn wait_for_route(&self, name: &str, wait: Duration) -> bool {
        let check = async {
            while !self.has_route(name).await {
                tokio::time::sleep(POLL).await;
            }
        };
        tokio::time::timeout(wait, check).await.is_ok()
    }
}
