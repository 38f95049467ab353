//! `GET /deploy/events` (Server-Sent Events) against the real daemon: a client sees a creation,
//! a wake's `starting` → `ready` and an idle stop's `stopped` (reason `idle`) in order, with ids
//! that only grow; a client that comes back with `Last-Event-ID` gets what it missed; a bad or
//! unknown id is answered as such.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use spawner::domain::ApiToken;

use crate::helpers::*;
use crate::idle::{idle_app, never_self_stops};

/// One event as the stream sent it: id (none for `reset`), kind and data.
#[derive(Debug)]
struct Sse {
    id: Option<u64>,
    event: String,
    data: Value,
}

/// Reads the stream in a task of its own and hands over each event.
async fn listen(app: &TestApp, last_event_id: Option<&str>) -> mpsc::UnboundedReceiver<Sse> {
    let mut request = app.client.get(format!("{}/deploy/events", app.api));
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id);
    }
    let mut response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"].to_str().unwrap();
    assert!(kind.starts_with("text/event-stream"), "{kind}");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buffer = String::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, String::new(), Value::Null);
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse().ok();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        event = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(v).unwrap();
                    }
                }
                if !event.is_empty() && tx.send(Sse { id, event, data }).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// The next event about `name` (others are skipped), within `within`.
async fn next_of(events: &mut mpsc::UnboundedReceiver<Sse>, name: &str, within: Duration) -> Sse {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv()).await;
        let event = event.unwrap_or_else(|_| panic!("no event about {name} within {within:?}"));
        let event = event.expect("the stream ended");
        if event.event == "reset" || event.data["instance"]["name"] == name {
            return event;
        }
    }
}

#[tokio::test]
async fn a_listener_sees_created_starting_ready_and_the_idle_stop_in_order_and_can_resume() {
    let app = idle_app("2s").await;
    let name = app.name("watched");
    let mut events = listen(&app, None).await;

    app.deploy(
        &name,
        IMAGE_NO_HEALTHCHECK,
        never_self_stops(json!({"start": false})),
    )
    .await;
    let created = next_of(&mut events, &name, Duration::from_secs(5)).await;
    assert_eq!(created.event, "created", "{:?}", created.data);
    assert_eq!(created.data["instance"]["state"], "created");

    // A wake: starting (reason wake), then ready, the instance running in the second.
    assert_eq!(app.auth_for(&name).await.status(), 200);
    let starting = next_of(&mut events, &name, Duration::from_secs(5)).await;
    assert_eq!(starting.event, "starting", "{:?}", starting.data);
    assert_eq!(starting.data["reason"], "wake");
    let ready = next_of(&mut events, &name, Duration::from_secs(5)).await;
    assert_eq!(ready.event, "ready", "{:?}", ready.data);
    assert_eq!(ready.data["instance"]["state"], "running");
    assert_eq!(ready.data["instance"]["ready"], true);

    // Idle for 2 s: stopped, reason idle.
    let stopped = next_of(&mut events, &name, Duration::from_secs(10)).await;
    assert_eq!(stopped.event, "stopped", "{:?}", stopped.data);
    assert_eq!(stopped.data["reason"], "idle");
    assert_eq!(stopped.data["instance"]["state"], "exited");
    let ids: Vec<u64> = [&created, &starting, &ready, &stopped]
        .iter()
        .map(|e| e.id.unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids: {ids:?}");
    assert_eq!(stopped.data["id"], json!(ids[3]));

    // Back after `starting`: what it missed first, in order.
    let since = starting.id.unwrap().to_string();
    let mut resumed = listen(&app, Some(&since)).await;
    let missed = next_of(&mut resumed, &name, Duration::from_secs(2)).await;
    assert_eq!((missed.event.as_str(), missed.id), ("ready", ready.id));
    let missed = next_of(&mut resumed, &name, Duration::from_secs(2)).await;
    assert_eq!((missed.event.as_str(), missed.id), ("stopped", stopped.id));

    // An id this process never sent (an earlier process's): `reset`, read the list again.
    let mut stale = listen(&app, Some("7")).await;
    let first = next_of(&mut stale, &name, Duration::from_secs(2)).await;
    assert_eq!(first.event, "reset", "{:?}", first.data);
    assert_eq!(first.data["read"], "GET /deploy");

    // Removed through the API: removed.
    let (status, _) = app
        .api_call(reqwest::Method::DELETE, &format!("/deploy/{name}"))
        .await;
    assert_eq!(status, 200);
    let removed = next_of(&mut events, &name, Duration::from_secs(5)).await;
    assert_eq!(removed.event, "removed", "{:?}", removed.data);
}

#[tokio::test]
async fn a_bad_last_event_id_is_a_400_and_the_name_events_is_reserved() {
    let token = Some(ApiToken::parse(TEST_TOKEN).unwrap());
    let app = spawn_app_with(|s| s.listen.api_token = token).await;
    let response = app
        .client
        .get(format!("{}/deploy/events", app.api))
        .header("Last-Event-ID", "12ab")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("Last-Event-ID"),
        "{body}"
    );

    let unauthenticated = reqwest::Client::new()
        .get(format!("{}/deploy/events", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);

    let body = json!({"name": "events", "image": IMAGE_NO_HEALTHCHECK}).to_string();
    let response = app.post_deploy(&body).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("reserved"),
        "{body}"
    );
}
