//! spawner decides when an instance sleeps: the idle stop, its per-instance overrides, pause,
//! a restart that forgets nothing, the API's stop, and no race between a request and the stop.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;

/// A spawner that looks for idle instances every 200 ms, with `timeout` as the default.
pub async fn idle_app(timeout: &str) -> TestApp {
    let timeout = humantime::parse_duration(timeout).unwrap();
    spawn_app_with(|s| {
        s.idle.idle_timeout = (!timeout.is_zero()).then_some(timeout);
        s.idle.idle_check_interval = Duration::from_millis(200);
    })
    .await
}

/// An app that never stops by itself, so only spawner puts it to sleep.
pub fn never_self_stops(extra: serde_json::Value) -> serde_json::Value {
    let mut body = json!({"port": 9000, "envs": {"IDLE": "0"}});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    body
}

/// Waits until Docker reports `state` for `name`; returns how long that took.
pub async fn until_state(app: &TestApp, name: &str, state: &str, within: Duration) -> Duration {
    let started = Instant::now();
    let reached = eventually(within, || async { app.state(name) == state }).await;
    assert!(
        reached,
        "{name} was not {state} within {within:?} (it is {})",
        app.state(name)
    );
    started.elapsed()
}

#[tokio::test]
async fn an_idle_instance_is_stopped_in_time_and_the_next_request_wakes_it() {
    let app = idle_app("2s").await;
    let name = app.name("idle");
    app.deploy(&name, IMAGE_NO_HEALTHCHECK, never_self_stops(json!({})))
        .await;
    assert_eq!(app.auth_for(&name).await.status(), 200);
    let (_, shown) = app.api_get(&format!("/deploy/{name}")).await;
    assert_eq!(shown["idle_timeout"], "2s", "{shown}");
    assert_eq!(shown["idle_action"], "stop", "{shown}");
    let last = humantime::parse_rfc3339(shown["last_activity"].as_str().unwrap()).unwrap();
    let sleeps = humantime::parse_rfc3339(shown["sleeps_at"].as_str().unwrap()).unwrap();
    assert_eq!(sleeps.duration_since(last).unwrap(), Duration::from_secs(2));

    // Stopped within idle_timeout + idle_check_interval (+ the stop itself), not before.
    let quiet = Instant::now();
    assert_eq!(app.state(&name), "running");
    until_state(&app, &name, "exited", Duration::from_secs(6)).await;
    assert!(
        quiet.elapsed() >= Duration::from_millis(1800),
        "stopped after {:?}, before its timeout",
        quiet.elapsed()
    );
    // spawner's own view follows (its index is updated when the stop has ended).
    let shown = eventually(Duration::from_secs(2), || async {
        let (_, shown) = app.api_get(&format!("/deploy/{name}")).await;
        shown["state"] == "exited" && shown["sleeps_at"].is_null()
    });
    assert!(
        shown.await,
        "the API did not show it stopped, without a sleeps_at"
    );

    // One round trip wakes it, as a stop by the app itself does.
    assert_eq!(app.auth_for(&name).await.status(), 200);
    assert_eq!(app.state(&name), "running");
    assert_eq!(app.app_get(&name, "/").await.unwrap().status(), 200);
}

#[tokio::test]
async fn the_deploy_body_overrides_the_timeout_and_zero_means_never() {
    let app = idle_app("0").await;
    let never = app.name("never");
    let short = app.name("short");
    app.deploy(&never, IMAGE_NO_HEALTHCHECK, never_self_stops(json!({})))
        .await;
    let body = never_self_stops(json!({"idle_timeout": "1s"}));
    let created = app.deploy(&short, IMAGE_NO_HEALTHCHECK, body).await;
    assert_eq!(created["labels"]["spawner.idle-timeout"], "1s");
    until_state(&app, &short, "exited", Duration::from_secs(5)).await;
    assert_eq!(app.state(&never), "running", "idle_timeout=0 (the setting)");
    let (_, shown) = app.api_get(&format!("/deploy/{never}")).await;
    assert_eq!(shown["idle_timeout"], "0");
    assert_eq!(shown["sleeps_at"], serde_json::Value::Null);

    let bad = json!({"name": app.name("bad"), "image": IMAGE, "idle_timeout": "later"});
    let response = app.post_deploy(&bad.to_string()).await;
    assert_eq!(response.status(), 400);
    let error = response.json::<serde_json::Value>().await.unwrap()["error"].to_string();
    assert!(error.contains("`idle_timeout`"), "{error}");
    assert!(!app.exists(&app.name("bad")));
}

#[tokio::test]
async fn a_paused_instance_answers_again_in_one_round_trip() {
    let app = idle_app("1s").await;
    let name = app.name("paused");
    let body = never_self_stops(json!({"idle_action": "pause"}));
    app.deploy(&name, IMAGE_NO_HEALTHCHECK, body).await;
    assert_eq!(app.auth_for(&name).await.status(), 200);
    until_state(&app, &name, "paused", Duration::from_secs(5)).await;
    let shown = app.api_shows(&name, "paused", Duration::from_secs(2)).await;
    assert!(shown, "the API did not show it paused");

    assert_eq!(app.auth_for(&name).await.status(), 200);
    assert_eq!(app.state(&name), "running");
    assert_eq!(app.app_get(&name, "/").await.unwrap().status(), 200);

    // Paused behind spawner's back: unpaused on request too, not a 502.
    let other = app.name("by-hand");
    app.deploy(
        &other,
        IMAGE_NO_HEALTHCHECK,
        never_self_stops(json!({"idle_timeout": "0"})),
    )
    .await;
    docker(&["pause", &other]);
    until_state(&app, &other, "paused", Duration::from_secs(2)).await;
    let seen = app
        .api_shows(&other, "paused", Duration::from_secs(5))
        .await;
    assert!(seen, "spawner did not see the pause");
    assert_eq!(app.auth_for(&other).await.status(), 200);
    assert_eq!(app.state(&other), "running");
}

#[tokio::test]
async fn a_restarted_spawner_counts_activity_from_its_own_start() {
    let first = idle_app("0").await;
    let name = first.name("survivor");
    first
        .deploy(&name, IMAGE_NO_HEALTHCHECK, never_self_stops(json!({})))
        .await;
    // Its run and its last request are now older than the next spawner's timeout.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (mut settings, cleanup) = (first.settings.clone(), first.cleanup.clone());
    drop(first);
    settings.idle.idle_timeout = Some(Duration::from_secs(2));
    settings.idle.idle_check_interval = Duration::from_millis(200);
    let restarted = Instant::now();
    let second = start_app(settings, cleanup).await;
    tokio::time::sleep(Duration::from_millis(1500).saturating_sub(restarted.elapsed())).await;
    assert_eq!(second.state(&name), "running", "stopped at boot");
    let listed = second.api_get("/deploy").await.1;
    assert!(listed.to_string().contains(&name), "{listed}");
    until_state(&second, &name, "exited", Duration::from_secs(5)).await;
    assert!(restarted.elapsed() >= Duration::from_millis(1900));
}

#[tokio::test]
async fn the_api_stops_an_instance_now_and_only_spawners() {
    let app = idle_app("0").await;
    let name = app.name("logout");
    app.deploy(&name, IMAGE_NO_HEALTHCHECK, never_self_stops(json!({})))
        .await;
    let (status, body) = app
        .api_call(reqwest::Method::POST, &format!("/deploy/{name}/stop"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "exited", "{body}");
    assert_eq!(app.state(&name), "exited");
    // Again: already stopped is fine.
    let (status, _) = app
        .api_call(reqwest::Method::POST, &format!("/deploy/{name}/stop"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(app.auth_for(&name).await.status(), 200, "woken again");

    let foreign = app.name("foreign");
    docker(&[
        "run",
        "-d",
        "--name",
        &foreign,
        "-e",
        "IDLE=0",
        IMAGE_NO_HEALTHCHECK,
    ]);
    let (status, body) = app
        .api_call(reqwest::Method::POST, &format!("/deploy/{foreign}/stop"))
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(app.state(&foreign), "running");
    let (status, _) = app
        .api_call(reqwest::Method::POST, "/deploy/no-such-one/stop")
        .await;
    assert_eq!(status, 404);
}

/// Requests arrive around the moment the culler decides. A request let through must find the
/// app running and left running (the same run) while traefik would forward it; a stop the culler
/// claimed first is waited for, then the instance is woken. Docker is read with `inspect` only,
/// so the test itself makes no traffic on the instance (traffic would count as activity).
#[tokio::test]
async fn a_request_at_the_moment_of_the_idle_decision_is_never_cut() {
    let app = spawn_app_with(|s| {
        s.idle.idle_timeout = Some(Duration::from_millis(300));
        s.idle.idle_check_interval = Duration::from_millis(100);
    })
    .await;
    let name = app.name("race");
    app.deploy(&name, IMAGE_NO_HEALTHCHECK, never_self_stops(json!({})))
        .await;
    let cookie = app.cookie(&name);
    let run = || {
        docker(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.StartedAt}}",
            &name,
        ])
    };
    let (mut stopped_before, mut rounds) = (0, 0);
    while rounds < 30 || (stopped_before == 0 && rounds < 60) {
        // Before, at and after the decision (each pass of the culler takes about a second: it
        // waits for Docker's counters), and during the stop that follows it.
        let pause = 200 + (uuid::Uuid::new_v4().as_bytes()[0] as u64 * 1000 / 255);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let before = run();
        if !before.starts_with("running") {
            stopped_before += 1;
        }
        let response = app.auth_request(Some(&cookie), "/").send().await.unwrap();
        assert_eq!(response.status(), 200, "round {rounds}");
        let after = run();
        assert!(
            after.starts_with("running"),
            "round {rounds}: let through, but the app was {after} (before: {before})"
        );
        // While the request would be forwarded and answered.
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(run(), after, "round {rounds}: stopped under a request");
        rounds += 1;
    }
    assert!(
        stopped_before > 0,
        "the culler never stopped it in {rounds} rounds: the test did not reach the decision"
    );
    eprintln!("{rounds} rounds, {stopped_before} found it stopped and woke it");
}
