//! Swarm mode end to end (issue 19): the stack deployed on a Docker Swarm by `scripts/up.sh
//! --swarm`, each instance a service scaled 0↔1, reached through real traefik by its service's
//! name (DNS round robin). The test makes a single-node swarm when the daemon is in none, and leaves it (and
//! removes `docker_gwbridge`) only if it made it.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::stack::{docker, eventually, Stack};
use crate::swarm_isolation::own_network;

/// The daemon's swarm for one test: left again on drop if this test initialised it.
pub struct SwarmGuard {
    created: bool,
}

impl SwarmGuard {
    pub fn ensure() -> Self {
        let state = docker(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
        if state == "active" {
            return Self { created: false };
        }
        let out = Command::new("docker")
            .args(["swarm", "init", "--advertise-addr", "127.0.0.1"])
            .output()
            .expect("the docker CLI is needed for these tests");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || said.contains("already part of a swarm"),
            "docker swarm init failed: {said}"
        );
        Self {
            created: out.status.success(),
        }
    }
}

impl Drop for SwarmGuard {
    fn drop(&mut self) {
        if self.created {
            let _ = Command::new("docker")
                .args(["swarm", "leave", "--force"])
                .output();
            let _ = Command::new("docker")
                .args(["network", "rm", "docker_gwbridge"])
                .output();
        }
    }
}

pub async fn view(stack: &Stack, name: &str) -> (u16, Value) {
    let response = stack
        .client
        .get(format!("{}/deploy/{name}", stack.api))
        .bearer_auth(&stack.token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The ids of the tasks Swarm lists for the instance's service (each run is one; a task scaled
/// away is deleted once its container is gone).
pub fn tasks_of(name: &str) -> std::collections::BTreeSet<String> {
    let ids = docker(&["service", "ps", "-q", "--no-trunc", name]);
    ids.lines().map(str::to_string).collect()
}

/// GET / through traefik with the instance's cookie until the app answers (its route loaded;
/// a connection traefik's replaced task breaks is tried again).
pub async fn app_answer(stack: &Stack, name: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let request = stack.client.get(format!("{}/", stack.public));
        let sent = request.header("Cookie", stack.cookie(name)).send().await;
        let (status, body) = match sent {
            Ok(response) => (
                response.status().as_u16(),
                response.text().await.unwrap_or_default(),
            ),
            Err(e) => (0, e.to_string()),
        };
        if status == 200 {
            if let Ok(json) = serde_json::from_str::<Value>(&body) {
                if json.get("connection string").is_some() {
                    return json;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "{name} not answered through traefik: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_instance_on_swarm_is_created_routed_put_to_sleep_woken_recreated_and_deleted() {
    let _swarm = SwarmGuard::ensure();
    let stack = Stack::up_with_env(&[
        ("SWARM", "1"),
        ("IDLE_TIMEOUT", "6s"),
        ("IDLE_CHECK_INTERVAL", "1s"),
    ])
    .await;
    let name = stack.name("swarm-a");

    // Created: a service running one task, reached through traefik at its virtual IP.
    stack.create(&name, json!({"IDLE": "0"})).await;
    let labels = docker(&["service", "inspect", "-f", "{{json .Spec.Labels}}", &name]);
    assert!(labels.contains("\"origin\":\"spawner\""), "{labels}");
    let answer = app_answer(&stack, &name).await;
    assert_eq!(answer["connection string"], format!("db of {name}"));
    let (_, seen) = view(&stack, &name).await;
    assert_eq!(seen["state"], "running", "{seen}");
    let kept = seen["data_kept"].as_str().unwrap_or_default();
    assert!(kept.starts_with("volumes only"), "{seen}");

    // What an instance reaches from its own overlay network (README: Swarm mode, isolation).
    let other = stack.name("swarm-b");
    let volumes = json!({"volumes": {"work": "/data"}});
    stack
        .create_with(&other, json!({"IDLE": "0"}), volumes)
        .await;
    app_answer(&stack, &other).await;
    crate::swarm_isolation::isolation_as_documented(&stack, &name, &other);
    // With a volume, it is kept on the node that now holds it; the change did not restart it.
    let run = tasks_of(&other);
    let node = docker(&["node", "inspect", "-f", "{{.ID}}", "self"]);
    let pinned = eventually(Duration::from_secs(10), || async {
        let placement = "{{json .Spec.TaskTemplate.Placement}}";
        docker(&["service", "inspect", "-f", placement, &other]).contains(&node)
    });
    assert!(pinned.await, "{other} is not kept on node {node}");
    let labels = docker(&["service", "inspect", "-f", "{{json .Spec.Labels}}", &other]);
    assert!(
        labels.contains(&format!("\"spawner.node\":\"{node}\"")),
        "{labels}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(tasks_of(&other), run, "the placement change restarted it");
    assert_eq!(view(&stack, &other).await.1["state"], "running");

    // Idle: scaled to 0 by spawner, the service (and its route, by name) kept.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let (_, seen) = view(&stack, &name).await;
        if seen["state"] == "exited" {
            break;
        }
        assert!(Instant::now() < deadline, "not put to sleep: {seen}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let replicas = docker(&[
        "service",
        "inspect",
        "-f",
        "{{.Spec.Mode.Replicated.Replicas}}",
        &name,
    ]);
    assert_eq!(replicas, "0");

    // Woken by a request through traefik: a new task, and the app answers.
    let runs_before = tasks_of(&name);
    let woke = Instant::now();
    let response = stack.get("/", Some(&name)).await;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "the wake through traefik: {body}");
    assert!(body.contains(&format!("db of {name}")), "{body}");
    eprintln!("swarm wake through traefik: {:?}", woke.elapsed());
    let runs_after = tasks_of(&name);
    assert!(
        runs_after.difference(&runs_before).count() == 1,
        "no new task for the wake: {runs_before:?} then {runs_after:?}"
    );

    // Recreated with a new environment: the app sees it, its session still opens it.
    let response = stack
        .client
        .post(format!("{}/deploy/{name}/recreate", stack.api))
        .bearer_auth(&stack.token)
        .json(&json!({"envs": {"CONNSTR": "recreated", "IDLE": "0"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let answer = app_answer(&stack, &name).await;
    assert_eq!(answer["connection string"], "recreated");

    // A new traefik task is a new container, on no instance's network: spawner joins it to
    // them as it starts, and the instances are reached through it again.
    let traefik = format!(
        "label=com.docker.swarm.service.name={}_traefik",
        stack.prefix
    );
    let running = || docker(&["ps", "-q", "--filter", &traefik]);
    let old = running();
    docker(&[
        "service",
        "update",
        "-d",
        "--force",
        &format!("{}_traefik", stack.prefix),
    ]);
    let replaced = eventually(Duration::from_secs(60), || async {
        let now = running();
        !now.is_empty() && now != old
    });
    assert!(replaced.await, "traefik's task was not replaced");
    let answer = app_answer(&stack, &name).await;
    assert_eq!(answer["connection string"], "recreated");
    app_answer(&stack, &other).await;

    // Scaled to 0 behind spawner's back: the index sees it within seconds, and a request wakes
    // it again.
    docker(&["service", "scale", "-d", &format!("{name}=0")]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, seen) = view(&stack, &name).await;
        if seen["state"] == "exited" {
            break;
        }
        assert!(Instant::now() < deadline, "a scale to 0 not seen: {seen}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let response = stack.get("/", Some(&name)).await;
    assert_eq!(
        response.status(),
        200,
        "the wake after an outside scale to 0"
    );

    // idle_action pause cannot be had on Swarm: refused before anything is made.
    let paused = stack.name("swarm-p");
    let response = stack
        .client
        .post(format!("{}/deploy", stack.api))
        .bearer_auth(&stack.token)
        .json(
            &json!({"name": paused, "image": "mock-app:latest", "network": stack.network(),
                      "idle_action": "pause"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body = response.text().await.unwrap();
    assert!(body.contains("idle_action"), "{body}");
    assert_eq!(view(&stack, &paused).await.0, 404);

    // Deleted: the service is gone, and its cookie is sent home.
    let response = stack
        .client
        .delete(format!("{}/deploy/{name}", stack.api))
        .bearer_auth(&stack.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let left = docker(&["service", "ls", "-q", "--filter", &format!("name={name}")]);
    assert_eq!(left, "", "the service is still there");
    // Its network: removed by the manager at once; this node lets go of its copy a moment later.
    let gone = eventually(Duration::from_secs(20), || async {
        own_network(&name).is_empty()
    });
    assert!(
        gone.await,
        "its network is still there: {}",
        own_network(&name)
    );
    assert_eq!(view(&stack, &name).await.0, 404);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = stack.get("/", Some(&name)).await;
        if response.status().is_redirection() {
            let to = response.headers()["location"].to_str().unwrap().to_string();
            assert!(to.contains("/home"), "{to}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a deleted instance still answers"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    drop(stack);
}
