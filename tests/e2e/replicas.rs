//! Two spawner replicas behind real traefik (`scripts/up.sh --replicas 2`): one killed with
//! SIGKILL under steady load, then both restarted one at a time (SIGTERM), while requests are also
//! held for a waking instance. The client sees no failed request (the counts are printed).

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::stack::{docker, eventually, Stack};

/// Load clients, as in the report (4 clients, a valid session each).
const CLIENTS: usize = 4;
/// Requests held for the waking instance at each disruption.
const HELD: usize = 12;

/// The phases the load's requests are counted in (by when they were sent).
const KILL: u8 = 0;
const ROLLING: u8 = 1;

/// Ids of the stack's spawner containers, running or not.
fn replicas(stack: &Stack) -> Vec<String> {
    let project = format!("label=com.docker.compose.project={}", stack.prefix);
    let ids = docker(&[
        "ps",
        "-aq",
        "--filter",
        &project,
        "--filter",
        "label=com.docker.compose.service=spawner",
    ]);
    ids.lines().map(str::to_string).collect()
}

/// How many processes listen on the stack's ForwardAuth port.
fn listening(stack: &Stack) -> usize {
    let filter = format!("sport = :{}", stack.var("AUTH_PORT"));
    let out = std::process::Command::new("ss")
        .args(["-Hltn", &filter])
        .output()
        .expect("ss (iproute2) counts the listening replicas");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

async fn all_listening(stack: &Stack, replicas: usize) {
    let back = eventually(Duration::from_secs(30), || async {
        listening(stack) == replicas
    });
    assert!(back.await, "{replicas} replicas do not listen again");
}

/// Sends `HELD` requests for `name` (not ready yet), to be awaited after a disruption.
fn hold(stack: &Stack, name: &str) -> Vec<tokio::task::JoinHandle<(u16, String)>> {
    (0..HELD)
        .map(|_| {
            let request = stack.client.get(format!("{}/", stack.public));
            let request = request.header("Cookie", stack.cookie(name));
            tokio::spawn(async move {
                match request.send().await {
                    Ok(response) => (
                        response.status().as_u16(),
                        response.text().await.unwrap_or_default(),
                    ),
                    Err(e) => (0, e.to_string()),
                }
            })
        })
        .collect()
}

async fn served(held: Vec<tokio::task::JoinHandle<(u16, String)>>, name: &str, when: &str) {
    let hostname = format!("\"hostname\":\"{name}\"");
    for request in held {
        let (status, body) = request.await.unwrap();
        assert_eq!(status, 200, "a request held at the {when} failed: {body}");
        assert!(body.contains(&hostname), "{body}");
    }
}

#[tokio::test]
async fn replica_killed_under_load_then_a_rolling_restart_fail_no_request() {
    let stack = Stack::up_with_env(&[("REPLICAS", "2"), ("HOLD_TIMEOUT", "15s")]).await;
    assert_eq!(
        listening(&stack),
        2,
        "up.sh --replicas 2 runs two listeners"
    );
    let hot = stack.name("hot");
    stack.create(&hot, json!({})).await;
    stack.wait_routed(&hot).await;
    let cold = stack.name("cold");
    stack.create_slow(&cold, "3s").await;

    // Steady load on the running instance, each request counted in the phase it was sent in.
    let phase = Arc::new(AtomicU8::new(KILL));
    let done = Arc::new(AtomicBool::new(false));
    let answers: Arc<Mutex<Vec<(u8, u16, String)>>> = Arc::default();
    let load: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (phase, done, answers) = (phase.clone(), done.clone(), answers.clone());
            let (url, cookie) = (format!("{}/", stack.public), stack.cookie(&hot));
            let client = stack.client.clone();
            tokio::spawn(async move {
                while !done.load(Ordering::Relaxed) {
                    let sent_in = phase.load(Ordering::Relaxed);
                    let answer = client.get(&url).header("Cookie", &cookie).send().await;
                    let (status, detail) = match answer {
                        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
                        Err(e) => (0, e.to_string()),
                    };
                    answers.lock().unwrap().push((sent_in, status, detail));
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // 1. SIGKILL one replica while requests are held for the waking instance.
    let held = hold(&stack, &cold);
    tokio::time::sleep(Duration::from_millis(800)).await;
    let ids = replicas(&stack);
    assert_eq!(ids.len(), 2, "{ids:?}");
    docker(&["kill", "-s", "KILL", &ids[0]]);
    served(held, &cold, "kill").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    docker(&["start", &ids[0]]);
    all_listening(&stack, 2).await;

    // 2. A rolling restart (SIGTERM, one replica at a time), again with requests held.
    phase.store(ROLLING, Ordering::Relaxed);
    docker(&["stop", &cold]);
    let stopped = eventually(Duration::from_secs(10), || async {
        stack.state(&cold) == "exited"
    });
    assert!(stopped.await);
    for (i, id) in ids.iter().enumerate() {
        let held = (i == 0).then(|| hold(&stack, &cold));
        tokio::time::sleep(Duration::from_millis(800)).await;
        let id = id.clone();
        tokio::task::spawn_blocking(move || docker(&["restart", &id]))
            .await
            .unwrap();
        if let Some(held) = held {
            served(held, &cold, "rolling restart").await;
        }
        all_listening(&stack, 2).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    done.store(true, Ordering::Relaxed);
    for client in load {
        client.await.unwrap();
    }

    let answers = answers.lock().unwrap();
    let hostname = format!("\"hostname\":\"{hot}\"");
    let count = |in_phase: u8| {
        let sent: Vec<_> = answers.iter().filter(|a| a.0 == in_phase).collect();
        let failed: Vec<_> = sent
            .iter()
            .filter(|(_, status, body)| *status != 200 || !body.contains(&hostname))
            .collect();
        (
            sent.len(),
            failed.len(),
            failed.first().map(|f| (f.1, f.2.clone())),
        )
    };
    let (killed, killed_failed, first) = count(KILL);
    let (rolled, rolled_failed, first_rolled) = count(ROLLING);
    eprintln!(
        "replica kill -9 under load: {killed} requests, {killed_failed} failed; \
         rolling restart: {rolled} requests, {rolled_failed} failed \
         ({HELD} held requests at each, all answered 200)"
    );
    assert!(killed > 100 && rolled > 100, "too little load to tell");
    assert_eq!(killed_failed, 0, "failed during the kill, first: {first:?}");
    assert_eq!(
        rolled_failed, 0,
        "failed during the restart, first: {first_rolled:?}"
    );
}
