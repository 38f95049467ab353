//! Swarm mode when things go wrong (issue 19, items 2 and 3): a task that fails ends its wake at
//! once with a 502 that gives Swarm's reason, the service back at 0 replicas; a service removed
//! behind spawner's back is forgotten within seconds, and its cookie is sent home.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::stack::{docker, eventually, Stack};
use crate::swarm::{app_answer, view, SwarmGuard};

#[tokio::test]
async fn swarm_task_that_fails_gets_502_and_a_service_removed_behind_the_back_is_forgotten() {
    let _swarm = SwarmGuard::ensure();
    let stack = Stack::up_with_env(&[("SWARM", "1"), ("HOLD_TIMEOUT", "20s")]).await;

    // Its app exits at once with code 3; with a HEALTHCHECK, Swarm never reports it running.
    let failing = stack.name("swarm-exits");
    let envs = json!({"EXIT_AFTER_START": "3"});
    stack
        .create_with(&failing, envs, json!({"start": false}))
        .await;
    let asked = Instant::now();
    let response = stack
        .client
        .put(format!("{}/deploy/{failing}", stack.api))
        .bearer_auth(&stack.token)
        .send()
        .await
        .unwrap();
    let took = asked.elapsed();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("non-zero exit (3)"), "Swarm's reason: {body}");
    assert!(took < Duration::from_secs(15), "not at once: {took:?}");
    eprintln!("swarm: a failing task answered 502 after {took:?}: {body}");
    let replicas = "{{.Spec.Mode.Replicated.Replicas}}";
    let back_to_zero = eventually(Duration::from_secs(10), || async {
        docker(&["service", "inspect", "-f", replicas, &failing]) == "0"
    });
    assert!(
        back_to_zero.await,
        "the failed service was left at 1 replica"
    );

    // Removed behind spawner's back: forgotten within seconds, its cookie sent home.
    let name = stack.name("swarm-gone");
    stack.create(&name, json!({"IDLE": "0"})).await;
    app_answer(&stack, &name).await;
    docker(&["service", "rm", &name]);
    let forgotten = eventually(Duration::from_secs(10), || async {
        view(&stack, &name).await.0 == 404
    });
    assert!(forgotten.await, "a removed service is still listed");
    let response = stack.get("/", Some(&name)).await;
    assert!(response.status().is_redirection(), "{}", response.status());
    let to = response.headers()["location"].to_str().unwrap().to_string();
    assert!(to.contains("/home"), "{to}");
}
