//! A restarted spawner before it has read the instances from Docker: its index is empty then,
//! yet no user is sent home and traefik is given no empty configuration (which would drop every
//! instance's route). The list is held back by a proxy in front of the Docker socket, as a slow
//! daemon with many containers would.

use std::time::Duration;

use serde_json::json;

use crate::docker_proxy::DockerProxy;
use crate::helpers::*;
use crate::processes::*;

/// `/auth` at `auth_url` for `name`'s cookie, as traefik asks it: status, `Location`, `X-Spawner-Status`.
async fn auth(auth_url: &str, name: &str) -> (u16, Option<String>, Option<String>) {
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{auth_url}/auth"))
        .header("X-Forwarded-Uri", "/")
        .header("X-Spawner-Instance", name)
        .header("Cookie", format!("instance={name}"))
        .send()
        .await
        .unwrap();
    let header = |key: &str| {
        let value = response.headers().get(key);
        value.map(|v| v.to_str().unwrap().to_string())
    };
    let (location, status) = (header("location"), header("x-spawner-status"));
    (response.status().as_u16(), location, status)
}

async fn traefik_config(spawner: &SpawnerProcess) -> (u16, String) {
    let response = reqwest::get(format!("{}/traefik/config", spawner.api))
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

// Multi-threaded: starting and stopping the process blocks the test's thread, and the proxy's
// tasks must go on meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn before_its_first_list_a_restarted_spawner_holds_requests_and_keeps_traefiks_routes() {
    let (prefix, _cleanup) = process_scope();
    let name = format!("{prefix}-kept");

    // The first spawner creates the instance and lets a request through to it.
    let mut first = spawner_in(&prefix, "20s", &[]);
    let body = json!({"name": name, "image": IMAGE, "envs": {"IDLE": "0"}});
    deploy_to(&first, &body).await;
    assert_eq!(auth(&first.auth, &name).await.0, 200, "{}", first.log());
    first.terminate();
    assert!(first.wait_exit(Duration::from_secs(10)).is_some());

    // The next one reaches Docker through a proxy that holds its list back.
    let proxy = DockerProxy::start().await;
    proxy.hold_lists();
    // Its hold outlasts a loaded daemon's list and inspections once they are let through.
    let next = spawner_in(&prefix, "5s", &[("SPAWNER_DOCKER_HOST", &proxy.url)]);

    // traefik keeps the routes it has on an error; an empty configuration would drop them.
    let (status, config) = traefik_config(&next).await;
    assert_eq!(status, 503, "{config}");
    // A request that outlasts the hold: 503 to try again, not a redirect home.
    let (status, location, kind) = auth(&next.auth, &name).await;
    assert_eq!((status, location), (503, None), "{}", next.log());
    assert_eq!(kind.as_deref(), Some("unavailable"));

    // A request held when the list comes is answered from it.
    let held = {
        let (url, name) = (next.auth.clone(), name.clone());
        tokio::spawn(async move { auth(&url, &name).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!held.is_finished(), "the request waits for the list");
    proxy.release_lists();
    assert_eq!(held.await.unwrap().0, 200, "{}", next.log());
    let (status, config) = traefik_config(&next).await;
    assert_eq!(status, 200);
    assert!(config.contains(&format!("\"{name}\"")), "{config}");
}
