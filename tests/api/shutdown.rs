//! Graceful shutdown: on SIGTERM the spawner binary stops accepting, answers every request it
//! holds (200 when the instance got ready in time, else the 503 page), exits 0 within
//! `hold_timeout`, and leaves the instance it was waking running (not half-started).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;
use crate::processes::*;

/// A spawner process with `hold_timeout`, on the default bridge in a scope of its own, and an
/// instance (not started) whose app gets ready `ready_after` after its start.
async fn held_scene(hold: &str, ready_after: &str) -> (SpawnerProcess, Arc<Cleanup>, String) {
    let (prefix, cleanup) = process_scope();
    let spawner = spawner_in(&prefix, hold, &[]);
    let name = format!("{prefix}-slow");
    let body = json!({"name": name, "image": IMAGE, "start": false,
                      "envs": {"READY_AFTER": ready_after, "IDLE": "0"}});
    deploy_to(&spawner, &body).await;
    (spawner, cleanup, name)
}

/// `count` requests for `name`, held by spawner: each one's status and `Retry-After`.
fn hold_requests(
    auth: &str,
    name: &str,
    count: usize,
) -> Vec<tokio::task::JoinHandle<(u16, Option<String>)>> {
    (0..count)
        .map(|_| {
            let request = reqwest::Client::new()
                .get(format!("{auth}/auth"))
                .header("X-Forwarded-Uri", "/")
                .header("X-Spawner-Instance", name)
                .header("Cookie", format!("instance={name}"));
            tokio::spawn(async move {
                let response = request.send().await.expect("a held request is answered");
                let retry = response.headers().get("retry-after");
                let retry = retry.map(|v| v.to_str().unwrap().to_string());
                (response.status().as_u16(), retry)
            })
        })
        .collect()
}

#[tokio::test]
async fn sigterm_answers_the_held_requests_once_ready_and_exits_zero() {
    let (mut spawner, _cleanup, name) = held_scene("10s", "3s").await;
    let held = hold_requests(&spawner.auth, &name, 5);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let signalled = Instant::now();
    spawner.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let address = spawner.auth.trim_start_matches("http://").to_string();
    assert!(
        std::net::TcpStream::connect(&address).is_err(),
        "a new connection is refused once shutdown has begun"
    );
    for request in held {
        assert_eq!(request.await.unwrap(), (200, None), "{}", spawner.log());
    }
    let status = spawner.wait_exit(Duration::from_secs(10));
    let exited = signalled.elapsed();
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        spawner.log()
    );
    assert!(
        exited < Duration::from_secs(10),
        "exited {exited:?} after SIGTERM"
    );
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &name]),
        "running"
    );
    assert!(
        spawner.log().contains("shut down cleanly"),
        "{}",
        spawner.log()
    );
}

#[tokio::test]
async fn sigterm_answers_503_for_an_instance_not_ready_in_time_and_leaves_it_running() {
    let (mut spawner, _cleanup, name) = held_scene("2s", "20s").await;
    let held = hold_requests(&spawner.auth, &name, 3);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let signalled = Instant::now();
    spawner.terminate();
    for request in held {
        let (status, retry) = request.await.unwrap();
        assert_eq!(status, 503, "{}", spawner.log());
        assert!(retry.is_some(), "the 503 page tells when to retry");
    }
    let status = spawner.wait_exit(Duration::from_secs(5));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}\n{}",
        spawner.log()
    );
    assert!(signalled.elapsed() < Duration::from_secs(5));
    // The start it asked of Docker completed: the instance runs on, for the next spawner.
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Status}}", &name]),
        "running"
    );
}
