//! What happens to an instance after it was paused: it is stopped once its pause timeout has
//! passed too (its memory freed), and an operator's start (`PUT /deploy/{name}`) counts as
//! activity, so the culler does not pause it again at once. An operator's pause (`POST
//! /deploy/{name}/pause`) and its refusals.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;
use crate::idle::{never_self_stops, until_state};

/// Idle after `idle`, then paused; stopped `pause` later (`None`: stays paused).
async fn pausing_app(idle: Duration, pause: Option<Duration>) -> TestApp {
    spawn_app_with(|s| {
        s.idle.idle_timeout = Some(idle);
        s.idle.idle_action = spawner::domain::IdleAction::Pause;
        s.idle.pause_timeout = pause;
        s.idle.idle_check_interval = Duration::from_millis(200);
    })
    .await
}

#[tokio::test]
async fn a_paused_instance_is_stopped_once_its_pause_timeout_has_passed_and_wakes_again() {
    let app = pausing_app(Duration::from_secs(1), Some(Duration::from_secs(1))).await;
    let name = app.name("paused-then-stopped");
    app.deploy(&name, IMAGE_NO_HEALTHCHECK, never_self_stops(json!({})))
        .await;
    assert_eq!(app.auth_for(&name).await.status(), 200);
    until_state(&app, &name, "paused", Duration::from_secs(5)).await;
    until_state(&app, &name, "exited", Duration::from_secs(5)).await;
    assert!(app.api_shows(&name, "exited", Duration::from_secs(3)).await);
    // Stopped, not removed: the next request wakes it.
    assert_eq!(app.auth_for(&name).await.status(), 200);
    assert_eq!(app.state(&name), "running");
}

#[tokio::test]
async fn a_deploy_with_a_pause_timeout_of_zero_stays_paused_whatever_the_setting() {
    let app = pausing_app(Duration::from_secs(1), Some(Duration::from_secs(1))).await;
    let name = app.name("stays-paused");
    let body = never_self_stops(json!({"pause_timeout": "0"}));
    let created = app.deploy(&name, IMAGE_NO_HEALTHCHECK, body).await;
    assert_eq!(created["labels"]["spawner.pause-timeout"], "0", "{created}");
    assert_eq!(app.auth_for(&name).await.status(), 200);
    until_state(&app, &name, "paused", Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(app.state(&name), "paused");
    let bad = json!({"name": app.name("bad"), "image": IMAGE, "pause_timeout": "soon"});
    let response = app.post_deploy(&bad.to_string()).await;
    assert_eq!(response.status(), 400);
    let error = response.text().await.unwrap();
    assert!(error.contains("`pause_timeout`"), "{error}");
}

#[tokio::test]
async fn an_instance_started_through_the_api_is_not_put_back_to_sleep_at_once() {
    let idle = Duration::from_secs(2);
    let app = pausing_app(idle, None).await;
    let name = app.name("api-start");
    app.deploy(&name, IMAGE_NO_HEALTHCHECK, never_self_stops(json!({})))
        .await;
    assert_eq!(app.auth_for(&name).await.status(), 200);
    until_state(&app, &name, "paused", Duration::from_secs(6)).await;

    let (status, body) = app
        .api_call(reqwest::Method::PUT, &format!("/deploy/{name}"))
        .await;
    assert_eq!(status, 200, "{body}");
    let started = Instant::now();
    // The culler looks every 200 ms: it would pause it again at its first look if the start
    // did not count as activity.
    while started.elapsed() < idle - Duration::from_millis(600) {
        assert_eq!(
            app.state(&name),
            "running",
            "put back to sleep {:?} after the API started it",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    until_state(&app, &name, "paused", Duration::from_secs(5)).await;
}

#[tokio::test]
async fn an_operator_pauses_a_running_instance_and_a_start_resumes_it() {
    let app = spawn_app().await;
    let name = app.name("paused-by-api");
    app.deploy(&name, IMAGE_NO_HEALTHCHECK, never_self_stops(json!({})))
        .await;
    let pause = format!("/deploy/{name}/pause");
    let (status, paused) = app.api_call(reqwest::Method::POST, &pause).await;
    assert_eq!(
        (status, &paused["state"]),
        (200, &json!("paused")),
        "{paused}"
    );
    assert_eq!(app.state(&name), "paused");
    // Again: it stays paused.
    assert_eq!(app.api_call(reqwest::Method::POST, &pause).await.0, 200);
    let start = format!("/deploy/{name}");
    let (status, started) = app.api_call(reqwest::Method::PUT, &start).await;
    assert_eq!(
        (status, &started["state"]),
        (200, &json!("running")),
        "{started}"
    );
    assert_eq!(app.state(&name), "running");
    let stop = format!("/deploy/{name}/stop");
    assert_eq!(app.api_call(reqwest::Method::POST, &stop).await.0, 200);
    let (status, refused) = app.api_call(reqwest::Method::POST, &pause).await;
    assert_eq!(status, 409, "{refused}");
    let error = refused["error"].as_str().unwrap();
    assert!(error.contains("not running"), "{refused}");
    let missing = format!("/deploy/{}/pause", app.name("missing"));
    assert_eq!(app.api_call(reqwest::Method::POST, &missing).await.0, 404);
}

/// Docker runs no health check of a paused container, or counts it failed: an image with a
/// `HEALTHCHECK` is `unhealthy` soon after its pause. That verdict is about the pause, not the
/// app: its user's next request unpauses it and is let through, and it is not stopped.
#[tokio::test]
async fn a_paused_instance_docker_found_unhealthy_meanwhile_is_let_through_on_unpause() {
    let app = spawn_app().await;
    let name = app.name("paused-unhealthy");
    app.deploy(&name, IMAGE, never_self_stops(json!({}))).await;
    assert_eq!(app.auth_for(&name).await.status(), 200);
    let pause = format!("/deploy/{name}/pause");
    assert_eq!(app.api_call(reqwest::Method::POST, &pause).await.0, 200);
    let health = || docker(&["inspect", "-f", "{{.State.Health.Status}}", &name]);
    let deadline = Instant::now() + Duration::from_secs(15);
    while health() != "unhealthy" {
        assert!(Instant::now() < deadline, "Docker kept it {}", health());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let response = app.auth_for(&name).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(app.state(&name), "running", "stopped after its unpause");
    assert_eq!(app.auth_for(&name).await.status(), 200);
}
