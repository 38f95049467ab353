//! `docker restart` of spawner while requests are held and an instance is waking: every held
//! request is answered (none cut), spawner shuts down cleanly, the instance ends running and
//! ready (not half-started), and requests are served again afterwards.

use std::time::Duration;

use crate::stack::*;

/// The app gets ready 8 s after its start: past actix's default 5 s shutdown timeout, so the
/// held requests are answered only if shutdown waits for them (and Docker's stop timeout, from
/// the compose file's `stop_grace_period`, lets it).
#[tokio::test]
async fn a_docker_restart_answers_the_held_requests_and_leaves_the_instance_ready() {
    let stack = Stack::up_with_env(&[("HOLD_TIMEOUT", "15s")]).await;
    let name = stack.name("waking");
    stack.create_slow(&name, "8s").await;
    let spawner = stack.containers_of("spawner");
    assert!(!spawner.is_empty(), "spawner's container");

    let hostname = format!("\"hostname\":\"{name}\"");
    let held: Vec<_> = (0..4)
        .map(|_| {
            let request = stack.client.get(format!("{}/", stack.public));
            let request = request.header("Cookie", stack.cookie(&name));
            tokio::spawn(async move {
                let response = request.send().await.expect("answered");
                (
                    response.status().as_u16(),
                    response.text().await.unwrap_or_default(),
                )
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let id = spawner.clone();
    let restart = tokio::task::spawn_blocking(move || docker(&["restart", &id]));
    let mut answers = Vec::new();
    for request in held {
        answers.push(request.await.unwrap());
    }
    // The restart ends before any assertion, so a failure cannot race the stack's removal.
    restart.await.unwrap();
    for (status, body) in answers {
        assert_eq!(status, 200, "a held request was not served: {body}");
        assert!(body.contains(&hostname), "{body}");
    }
    // Both runs' logs (spawner logs to stderr).
    let logs = std::process::Command::new("docker")
        .args(["logs", &spawner])
        .output()
        .unwrap();
    let logs =
        String::from_utf8_lossy(&logs.stdout).to_string() + &String::from_utf8_lossy(&logs.stderr);
    assert!(logs.contains("SIGTERM: shutting down"), "{logs}");
    assert!(logs.contains("shut down cleanly"), "{logs}");
    assert_eq!(stack.state(&name), "running");
    let served = eventually(Duration::from_secs(20), || async {
        let response = stack.get("/", Some(&name)).await;
        response.status() == 200
            && response
                .text()
                .await
                .unwrap_or_default()
                .contains(&hostname)
    });
    assert!(served.await, "the instance is not served after the restart");
}
