//! `GET /metrics`: the counters move as requests are made, the exposition passes
//! `promtool check metrics`, and it is behind the API token.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::json;
use spawner::domain::ApiToken;

use crate::helpers::*;

/// The value of one series (`name{labels}` exactly as exposed, labels sorted), 0 when absent.
pub fn series(text: &str, key: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

pub async fn scrape(app: &TestApp) -> String {
    let response = app
        .client
        .get(format!("{}/metrics", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

/// `promtool check metrics` on the exposition: its verdict and what it said.
fn promtool(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is missing: scripts/test.sh installs it (Debian package prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

#[tokio::test]
async fn the_counters_move_as_requests_are_made_and_promtool_accepts_them() {
    let app = spawn_app().await;
    let name = app.name("m");
    app.deploy(&name, IMAGE, json!({"start": false})).await;
    let before = scrape(&app).await;
    let delta = |after: &str, key: &str| series(after, key) - series(&before, key);

    // A cold start (held, then allowed), a hot request, a request without a session.
    assert_eq!(app.auth_for(&name).await.status(), 200);
    assert_eq!(app.auth_for(&name).await.status(), 200);
    let home = app.auth_request(None, "/").send().await.unwrap();
    assert_eq!(home.status(), 302);
    let (status, _) = app
        .api_call(reqwest::Method::POST, &format!("/deploy/{name}/stop"))
        .await;
    assert_eq!(status, 200);

    let after = scrape(&app).await;
    let d = |key: &str| delta(&after, key);
    assert_eq!(d("spawner_auth_decisions_total{outcome=\"allow\"}"), 2.0);
    assert_eq!(d("spawner_auth_decisions_total{outcome=\"home\"}"), 1.0);
    assert_eq!(d("spawner_starts_total{reason=\"wake\"}"), 1.0);
    assert_eq!(
        d("spawner_stops_total{action=\"stop\",reason=\"api\"}"),
        1.0
    );
    let held = "spawner_held_request_seconds_count{readiness=\"healthcheck\",result=\"ready\"}";
    assert_eq!(d(held), 1.0, "{after}");
    assert!(
        d("spawner_held_request_seconds_sum{readiness=\"healthcheck\",result=\"ready\"}") > 0.0
    );
    assert_eq!(series(&after, "spawner_held_requests"), 0.0);
    assert!(d("spawner_docker_calls_total{operation=\"start\"}") >= 1.0);
    assert!(d("spawner_docker_calls_total{operation=\"stop\"}") >= 1.0);
    assert_eq!(series(&after, "spawner_instances{state=\"exited\"}"), 1.0);
    assert_eq!(series(&after, "spawner_instances{state=\"running\"}"), 0.0);
    assert!(after.contains("spawner_build_info{version=\""));

    // A failed engine call is counted by operation and kind.
    let (status, _) = app
        .api_call(reqwest::Method::PUT, "/deploy/not-there")
        .await;
    assert_eq!(status, 404);
    let text = scrape(&app).await;
    assert!(
        series(
            &text,
            "spawner_docker_errors_total{kind=\"not_found\",operation=\"inspect\"}"
        ) >= 1.0,
        "{text}"
    );

    let (ok, said) = promtool(&text);
    assert!(ok, "promtool check metrics failed:\n{said}\n{text}");
}

#[tokio::test]
async fn metrics_need_the_api_token_when_one_is_set() {
    let app =
        spawn_app_with(|s| s.listen.api_token = Some(ApiToken::parse(TEST_TOKEN).unwrap())).await;
    let anonymous = reqwest::get(format!("{}/metrics", app.api)).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(scrape(&app).await.contains("spawner_auth_decisions_total"));
}
