//! `max_running` across two replicas through real traefik: twenty users wake their stopped
//! instances at once, the kernel spreads the `/auth` calls over both replicas, and a reader of
//! `docker ps` all along never sees more than `max_running + 1` (README: Replicas: N replicas run
//! at most `max_running + N − 1`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::json;

use crate::stack::Stack;

const CAP: usize = 5;
const USERS: usize = 20;

/// Instances of the stack's network that run or are paused, as `docker ps` shows them.
fn running(network: &str) -> usize {
    let out = std::process::Command::new("docker")
        .args(["ps", "-q", "--filter", &format!("network={network}")])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[tokio::test]
async fn replica_capacity_holds_for_twenty_wakes_over_two_replicas() {
    let stack = Stack::up_with_env(&[
        ("REPLICAS", "2"),
        ("MAX_RUNNING", &CAP.to_string()),
        ("HOLD_TIMEOUT", "10s"),
    ])
    .await;
    let names: Vec<String> = (0..USERS).map(|i| stack.name(&format!("u{i}"))).collect();
    for name in &names {
        stack
            .create_with(name, json!({}), json!({"start": false}))
            .await;
    }
    for name in &names {
        stack.wait_routed(name).await;
    }
    let network = stack.network();
    assert_eq!(running(&network), 0);

    let most = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let reader = std::thread::spawn({
        let (most, done, network) = (most.clone(), done.clone(), network.clone());
        move || {
            while !done.load(Ordering::Relaxed) {
                most.fetch_max(running(&network), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    });
    let wakes = names.iter().map(|name| stack.get("/", Some(name)));
    let statuses: Vec<u16> = join_all(wakes)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    done.store(true, Ordering::Relaxed);
    reader.join().unwrap();

    let most = most.load(Ordering::Relaxed);
    let served = statuses.iter().filter(|s| **s == 200).count();
    eprintln!(
        "{USERS} wakes over 2 replicas, max_running {CAP}: {served} served, answers {statuses:?}; \
         at most {most} running at once"
    );
    assert!(most <= CAP + 1, "{most} ran at once (bound {})", CAP + 1);
    assert!(served >= CAP - 1, "too few served: {statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    assert!(running(&network) <= CAP + 1);
}
