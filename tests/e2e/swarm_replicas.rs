//! Two spawner replicas on a Docker Swarm (`scripts/up.sh --swarm --replicas 2`), through real
//! traefik: one killed with SIGKILL under steady load, then a rolling update of the spawner
//! service, with requests held for a waking instance at each; the client sees no failed request.
//! And a replica that can read neither an instance's requests nor its counters (it runs as if on
//! another node) never stops the instance while it is used through the other (issue 19, item 6).
//!
//! Each test makes a single-node swarm when the daemon is in none, and leaves it after. They run
//! one at a time (nextest test group `swarm`, .config/nextest.toml).

use std::time::Duration;

use serde_json::json;

use crate::replicas::{hold, served, use_through_traefik, Bystander, Load, KILL, ROLLING};
use crate::stack::{docker, eventually, Stack};
use crate::swarm::{app_answer, tasks_of, view, SwarmGuard};

/// The running tasks' containers of the stack's spawner service, one id a line.
fn spawner_containers(stack: &Stack) -> Vec<String> {
    let service = format!(
        "label=com.docker.swarm.service.name={}_spawner",
        stack.prefix
    );
    let ids = docker(&["ps", "-q", "--filter", &service]);
    ids.lines().map(str::to_string).collect()
}

/// Until two replicas answer: two running containers, each listening.
async fn two_replicas(stack: &Stack) {
    let back = eventually(Duration::from_secs(60), || async {
        let ids = spawner_containers(stack);
        ids.len() == 2
            && ids.iter().all(|id| {
                let health = docker(&["inspect", "-f", "{{.State.Running}}", id]);
                health == "true"
            })
    });
    assert!(back.await, "two spawner replicas do not run again");
    // Each one's ForwardAuth listener is up once its API answers through traefik.
    tokio::time::sleep(Duration::from_secs(2)).await;
}

async fn until_state(stack: &Stack, name: &str, state: &str, within: Duration) -> bool {
    eventually(within, || async {
        view(stack, name).await.1["state"] == state
    })
    .await
}

#[tokio::test]
async fn swarm_replica_killed_under_load_then_a_rolling_update_fail_no_request() {
    let _swarm = SwarmGuard::ensure();
    let stack =
        Stack::up_with_env(&[("SWARM", "1"), ("REPLICAS", "2"), ("HOLD_TIMEOUT", "20s")]).await;
    assert_eq!(spawner_containers(&stack).len(), 2, "--replicas 2 runs two");
    let hot = stack.name("swarm-hot");
    stack.create(&hot, json!({"IDLE": "0"})).await;
    app_answer(&stack, &hot).await;
    let cold = stack.name("swarm-cold");
    let slow = json!({"start": false, "image": "mock-app:nohc"});
    stack
        .create_with(&cold, json!({"READY_AFTER": "3s"}), slow)
        .await;
    // Its route loaded (traefik polls spawner every second; its dashboard is not published).
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let mut load = Load::start(&stack, &hot);
    tokio::time::sleep(Duration::from_secs(1)).await;

    // 1. SIGKILL one replica while requests are held for the waking instance.
    let held = hold(&stack, &cold);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let ids = spawner_containers(&stack);
    docker(&["kill", "-s", "KILL", &ids[0]]);
    served(held, &cold, "kill").await;
    // Swarm replaces the killed task.
    two_replicas(&stack).await;

    // 2. A rolling update of the spawner service (one task at a time, SIGTERM then a new task),
    // with requests held for the instance woken again.
    load.phase(ROLLING);
    docker(&["service", "scale", "-d", &format!("{cold}=0")]);
    assert!(until_state(&stack, &cold, "exited", Duration::from_secs(20)).await);
    let held = hold(&stack, &cold);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let service = format!("{}_spawner", stack.prefix);
    let update = tokio::task::spawn_blocking(move || {
        docker(&["service", "update", "--force", "--quiet", &service])
    });
    served(held, &cold, "rolling update").await;
    update.await.unwrap();
    two_replicas(&stack).await;

    let (killed, killed_failed, first) = load.count(KILL, &hot).await;
    let (rolled, rolled_failed, first_rolled) = load.count(ROLLING, &hot).await;
    eprintln!(
        "swarm replica kill -9 under load: {killed} requests, {killed_failed} failed; \
         rolling update: {rolled} requests, {rolled_failed} failed \
         (12 held requests at each, all answered 200)"
    );
    assert!(killed > 50 && rolled > 50, "too little load to tell");
    assert_eq!(killed_failed, 0, "failed during the kill, first: {first:?}");
    assert_eq!(
        rolled_failed, 0,
        "failed during the rolling update, first: {first_rolled:?}"
    );
}

/// Requests through replica A only (the stack's), then a WebSocket that carries messages (A hears
/// of it once, at the upgrade, and then only from the counters it can read on its node). Replica
/// B runs as if on another node: it cannot read the instance's counters and sees none of its
/// requests, only what A records on the service. It never stops the instance; silent, it sleeps.
#[tokio::test]
async fn swarm_replica_b_on_another_node_never_stops_an_instance_in_use_through_a() {
    let _swarm = SwarmGuard::ensure();
    let stack = Stack::up_with_env(&[("SWARM", "1"), ("IDLE_CHECK_INTERVAL", "500ms")]).await;
    let elsewhere = format!("SPAWNER_SWARM_NODE_ID={}-elsewhere", stack.prefix);
    let b = Bystander::start(&stack, &["SPAWNER_ENGINE=swarm", &elsewhere]).await;
    let name = stack.name("swarm-used");
    let idle = json!({"idle_timeout": "3s"});
    stack.create_with(&name, json!({"IDLE": "0"}), idle).await;
    app_answer(&stack, &name).await;
    let run = tasks_of(&name);

    // Requests, then a talking WebSocket, through A for three times the timeout each; A
    // records the activity on the service.
    let socket = use_through_traefik(&stack, &name).await;
    let labels = docker(&["service", "inspect", "-f", "{{json .Spec.Labels}}", &name]);
    assert!(labels.contains("spawner.active-at"), "{labels}");
    assert_eq!(view(&stack, &name).await.1["state"], "running");
    assert_eq!(
        tasks_of(&name),
        run,
        "stopped while in use through A (requests, then a WebSocket)"
    );

    // Silent, the instance sleeps: the replicas do cull.
    drop(socket);
    let slept = until_state(&stack, &name, "exited", Duration::from_secs(20)).await;
    assert!(slept, "a silent instance was never put to sleep");
    drop(b);
}
