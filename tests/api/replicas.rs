//! Two spawners on one daemon and one scope, as `scripts/up.sh --replicas 2` runs them (README:
//! Replicas), each on its own ports here so the test can choose whom it asks: a wake asked of
//! both at once starts the instance once; a session one issued verifies on the other; both serve
//! traefik the same bytes.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn replicas_start_once_verify_each_others_sessions_and_serve_the_same_config() {
    let a = spawn_app().await;
    let b = start_app(a.settings.clone(), Arc::clone(&a.cleanup)).await;
    let name = a.name("shared");
    let extra = json!({"port": 9000, "start": false});
    let created = a.deploy(&name, IMAGE_NO_HEALTHCHECK, extra).await;
    let issued_by_a = created["session"]["cookie"].as_str().unwrap().to_string();
    assert!(b.api_shows(&name, "created", Duration::from_secs(5)).await);

    // Ten wakes through each replica at once, with the cookie replica A issued.
    let since = a.daemon_now().await;
    let wakes = (0..20).map(|i| {
        let replica = if i % 2 == 0 { &a } else { &b };
        replica.auth_request(Some(&issued_by_a), "/").send()
    });
    for answer in join_all(wakes).await {
        let answer = answer.unwrap();
        assert_eq!(answer.status(), 200, "{:?}", answer.text().await);
    }
    assert_eq!(a.state(&name), "running");
    assert_eq!(
        a.start_events(&name, since).await,
        1,
        "one start in Docker for twenty wakes over two replicas"
    );

    // The same configuration, byte for byte, once both have heard of the start.
    let config = |replica: &TestApp| {
        let request = replica
            .client
            .get(format!("{}/traefik/config", replica.api));
        async move { request.send().await.unwrap().bytes().await.unwrap() }
    };
    let mut same = false;
    for _ in 0..50 {
        let (from_a, from_b) = (config(&a).await, config(&b).await);
        let routed = String::from_utf8_lossy(&from_a).contains(&format!("{name}-instance"));
        if routed && from_a == from_b {
            same = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(same, "the replicas serve different traefik configurations");
}
