//! Swarm mode when things go wrong (issue 19, items 2 and 3): a task that fails ends its wake at
//! once with a 502 that gives Swarm's reason, the service back at 0 replicas; a service removed
//! behind spawner's back is forgotten within seconds, and its cookie is sent home. And users who
//! name their instances `spawner` and `mock-home` (the stack's own service names) capture
//! nothing: not the home, not the API, not ForwardAuth (a security review took all three so).
//! These two names are not per run: swarm tests run one at a time (nextest group `swarm`), and
//! the stack's purge removes them.

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

    // Instances named like the stack's services, listening where those do (8010, 8000).
    let victim = stack.name("swarm-victim");
    stack.create(&victim, json!({"IDLE": "0"})).await;
    app_answer(&stack, &victim).await;
    for (name, port) in [("mock-home", "8010"), ("spawner", "8000")] {
        let envs = json!({"IDLE": "0", "PORT": port});
        stack
            .create_with(name, envs, json!({"port": port.parse::<u16>().unwrap()}))
            .await;
    }
    // traefik resolves its peers again on new connections: a rolling update of spawner makes
    // it connect anew while the impostors run.
    let spawner = format!("{}_spawner", stack.prefix);
    docker(&["service", "update", "--force", "--quiet", &spawner]);
    let unsigned = format!("instance={victim}");
    for _ in 0..30 {
        let home = stack.get("/home", None).await;
        assert_eq!(home.status(), 200, "the home");
        let page = home.text().await.unwrap();
        assert!(page.contains("You are at Home"), "not the home: {page}");
        let forged = stack
            .client
            .get(format!("{}/", stack.public))
            .header("Cookie", &unsigned)
            .send()
            .await
            .unwrap();
        assert!(
            forged.status().is_redirection(),
            "an unsigned cookie for {victim} got {}",
            forged.status()
        );
        assert_eq!(
            view(&stack, &victim).await.0,
            200,
            "the API through traefik"
        );
    }
}
