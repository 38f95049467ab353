//! The backend seam against the real Docker daemon: each operation spawner will need, in domain
//! terms, with errors by kind.

use std::time::Duration;

use serde_json::json;
use spawner::backend::{gone_is_done, Backend, BackendError};
use spawner::domain::RunState;

use crate::helpers::*;

async fn backend() -> Backend {
    Backend::docker("", Default::default())
        .await
        .expect("the local daemon")
}

#[tokio::test]
async fn pause_and_unpause_freeze_and_thaw_an_instance_and_the_index_follows() {
    let app = spawn_app().await;
    let name = app.name("frozen");
    let created = app.deploy(&name, IMAGE_NO_HEALTHCHECK, json!({})).await;
    let id = created["id"].as_str().unwrap();
    let backend = backend().await;
    backend.pause(id).await.unwrap();
    assert_eq!(app.state(&name), "paused");
    assert_eq!(
        backend.inspect_managed(&name).await.unwrap().state,
        RunState::Paused
    );
    let seen = eventually(Duration::from_secs(10), || async {
        app.api_get(&format!("/deploy/{name}")).await.1["state"] == "paused"
    });
    assert!(seen.await, "the index did not follow the pause");
    backend.unpause(id).await.unwrap();
    assert_eq!(app.state(&name), "running");
    // Asking again for the state it is in is no error, either way.
    backend.unpause(id).await.unwrap();
    backend.pause(id).await.unwrap();
    backend.pause(id).await.unwrap();
    assert_eq!(app.state(&name), "paused");
    backend.unpause(id).await.unwrap();
}

#[tokio::test]
async fn exec_runs_a_command_in_the_container_and_reports_its_exit_code() {
    let app = spawn_app().await;
    let name = app.name("exec");
    app.deploy(&name, IMAGE, json!({})).await;
    // Ready first (a deploy answers once the container started, maybe before its app listens,
    // when the image's own check still fails).
    assert_eq!(app.auth_for(&name).await.status(), 200);
    let backend = backend().await;
    let run = |cmd: &[&str]| {
        let cmd: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
        let (backend, name) = (&backend, &name);
        async move { backend.exec(name, &cmd).await.unwrap().exit_code }
    };
    assert_eq!(run(&["/mock-app", "healthcheck"]).await, Some(0));
    // Nothing listens on port 1: the command runs and fails.
    assert_eq!(
        run(&["/mock-app", "fetch", "127.0.0.1:1", "/"]).await,
        Some(1)
    );
    // No shell in the image: the command cannot even start, and says so as a shell would.
    let cannot_run = run(&["/bin/sh", "-c", "true"]).await;
    assert!(matches!(cannot_run, Some(126 | 127)), "{cannot_run:?}");
}

#[tokio::test]
async fn stats_count_the_bytes_an_instance_received() {
    let app = spawn_app().await;
    let name = app.name("stats");
    app.deploy(&name, IMAGE_NO_HEALTHCHECK, json!({"port": 9000}))
        .await;
    assert_eq!(app.auth_for(&name).await.status(), 200);
    let backend = backend().await;
    let before = backend.stats(&name).await.unwrap().unwrap();
    let body = "x".repeat(100_000);
    let echoed = reqwest::Client::new()
        .post(format!("http://{}:9000/", app.ip(&name)))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.text().await.unwrap().len(), body.len());
    let after = backend.stats(&name).await.unwrap().unwrap();
    assert!(
        after.rx_bytes >= before.rx_bytes + 100_000,
        "{before:?} → {after:?}"
    );
    assert!(after.tx_bytes >= before.tx_bytes + 100_000);
    assert!(after.memory_bytes > 0 && after.cpu_total_ns > 0);
}

#[tokio::test]
async fn a_pull_from_a_registry_that_does_not_answer_fails_and_leaves_no_image() {
    require_docker();
    let backend = backend().await;
    // Port 9 (discard) on loopback: nothing listens there.
    let image = format!("127.0.0.1:9/{}:latest", unique_prefix());
    let error = backend.pull(&image, None).await.unwrap_err();
    assert!(
        matches!(error, BackendError::Failed { .. }),
        "the daemon answered; only the registry is away (not a missing image): {error:?}"
    );
    assert!(!backend.image_exists(&image).await.unwrap());
}

#[tokio::test]
async fn containers_that_are_not_spawners_or_are_gone_are_not_found() {
    let app = spawn_app().await;
    let foreign = app.name("foreign");
    docker(&["create", "--name", &foreign, IMAGE_NO_HEALTHCHECK]);
    let backend = backend().await;
    assert!(backend
        .inspect_managed(&foreign)
        .await
        .unwrap_err()
        .is_not_found());
    let gone = app.name("never-was");
    let error = backend
        .stop(&gone, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    // The cause is kept for the log.
    assert!(std::error::Error::source(&error).is_some());
    assert!(gone_is_done(backend.remove(&gone).await).is_ok());
}
