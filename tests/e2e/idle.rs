//! The idle stop through real traefik: a WebSocket that carries messages keeps its instance up
//! although traefik asks `/auth` only once, at the upgrade; the same socket left silent lets it
//! sleep; the next request wakes it in one round trip, method and body intact.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::stack::{eventually, Stack};

#[tokio::test]
async fn a_talking_websocket_keeps_its_instance_up_and_a_silent_one_lets_it_sleep() {
    let stack = Stack::up_with_env(&[("IDLE_CHECK_INTERVAL", "500ms")]).await;
    let name = stack.name("kernel");
    let created = stack
        .create_with(&name, json!({"IDLE": "0"}), json!({"idle_timeout": "3s"}))
        .await;
    assert_eq!(created["idle_timeout"], "3s", "{created}");
    stack.wait_routed(&name).await;
    let started_at = || crate::stack::docker(&["inspect", "-f", "{{.State.StartedAt}}", &name]);
    let run = started_at();

    let url = format!("{}/ws", stack.public.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Cookie", stack.cookie(&name).parse().unwrap());
    let (mut socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the WebSocket upgrade goes through traefik");
    assert_eq!(response.status(), 101);

    // A cell's output every second for three times the timeout: no request reaches /auth.
    let talking = Instant::now();
    let mut echoed = 0;
    while talking.elapsed() < Duration::from_secs(9) {
        let text = format!("cell output {echoed}");
        socket.send(Message::text(text.clone())).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(5), socket.next()).await;
        match answer {
            Ok(Some(Ok(Message::Text(got)))) => assert_eq!(got.as_str(), text),
            other => panic!("after {:?}: no echo: {other:?}", talking.elapsed()),
        }
        echoed += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert_eq!(stack.state(&name), "running");
    assert_eq!(
        started_at(),
        run,
        "the instance was restarted under its socket"
    );

    // The same socket, silent: the instance sleeps within the timeout plus a check or two.
    let silent = Instant::now();
    let slept = eventually(Duration::from_secs(12), || async {
        stack.state(&name) == "exited"
    });
    assert!(slept.await, "a silent socket kept the instance up");
    // The last message went a second before the silence was timed (the loop's pause), and
    // traffic counts from when a check saw it: so no sooner than the timeout minus that second.
    assert!(
        silent.elapsed() >= Duration::from_millis(1500),
        "stopped {:?} into the silence, before its timeout",
        silent.elapsed()
    );
    eprintln!(
        "{echoed} messages kept it up; silent, it stopped after {:?}",
        silent.elapsed()
    );

    // The next request wakes it: one round trip, method and body intact.
    let response = stack
        .post_text("/notebook/save", &name, "the cell's source")
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "the cell's source");
    assert_eq!(stack.state(&name), "running");
}
