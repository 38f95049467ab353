//! The index follows Docker: changes behind spawner's back, restarts, a broken events stream.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

fn listed(list: &serde_json::Value, name: &str) -> bool {
    list["instances"]
        .as_array()
        .is_some_and(|all| all.iter().any(|i| i["name"] == name))
}

#[tokio::test]
async fn a_container_removed_behind_spawners_back_is_forgotten() {
    let app = spawn_app().await;
    let name = app.name("gone");
    app.deploy(&name, IMAGE_NO_HEALTHCHECK, json!({"port": 9000}))
        .await;
    // The session is taken while the instance exists: it stays genuine after the removal.
    let cookie = app.cookie(&name);
    let auth = || async {
        let response = app.auth_request(Some(&cookie), "/").send().await.unwrap();
        response.status().as_u16()
    };
    assert_eq!(auth().await, 200);
    docker(&["rm", "-f", &name]);
    let forgotten = eventually(Duration::from_secs(10), || async {
        !listed(&app.api_get("/deploy").await.1, &name)
    });
    assert!(
        forgotten.await,
        "a removed instance was still listed after 10s"
    );
    assert_eq!(auth().await, 302);
}

#[tokio::test]
async fn a_container_stopped_behind_spawners_back_is_started_by_the_next_request() {
    let app = spawn_app().await;
    let name = app.name("stopped");
    app.deploy(&name, IMAGE_NO_HEALTHCHECK, json!({"port": 9000}))
        .await;
    assert_eq!(app.auth_for(&name).await.status(), 200);
    docker(&["stop", "-t", "1", &name]);
    let seen = app
        .api_shows(&name, "exited", Duration::from_secs(10))
        .await;
    assert!(seen, "the stop was not seen within 10s");
    assert_eq!(app.auth_for(&name).await.status(), 200);
    assert_eq!(app.state(&name), "running");
}

#[tokio::test]
async fn a_restarted_spawner_finds_every_existing_instance() {
    let first = spawn_app().await;
    let running = first.name("running");
    let stopped = first.name("stopped");
    first
        .deploy(&running, IMAGE_NO_HEALTHCHECK, json!({"port": 9000}))
        .await;
    first.deploy(&stopped, IMAGE, json!({"start": false})).await;
    let (settings, cleanup) = (first.settings.clone(), first.cleanup.clone());
    drop(first);

    let second = start_app(settings, cleanup).await;
    let (status, list) = second.api_get("/deploy").await;
    assert_eq!(status, 200);
    assert!(listed(&list, &running) && listed(&list, &stopped), "{list}");
    assert_eq!(second.auth_for(&running).await.status(), 200);
    assert_eq!(second.auth_for(&stopped).await.status(), 200);
    assert_eq!(second.state(&stopped), "running");
}

#[tokio::test]
async fn a_broken_events_stream_is_reconnected_and_the_list_read_again() {
    let proxy = DockerProxy::start().await;
    let url = proxy.url.clone();
    let app = spawn_app_with(|s| s.engine.docker_host = url).await;
    let before = app.name("before");
    app.deploy(&before, IMAGE, json!({"start": false})).await;

    // While the stream is down, a managed container appears and another disappears: no event
    // reaches spawner, and the outage outlasts the history replayed on reconnecting, so only the
    // list it reads again can tell.
    proxy.cut();
    let during = app.name("during");
    // Made as the old spawner made them: no scope label, on this spawner's network.
    docker(&[
        "create",
        "--name",
        &during,
        "--label",
        "origin=spawner",
        "--network",
        app.network(),
        IMAGE,
    ]);
    docker(&["rm", "-f", &before]);
    tokio::time::sleep(spawner::instances::EVENTS_REPLAY + Duration::from_secs(2)).await;
    proxy.restore();

    let caught_up = eventually(Duration::from_secs(10), || async {
        let (_, list) = app.api_get("/deploy").await;
        listed(&list, &during) && !listed(&list, &before)
    });
    assert!(
        caught_up.await,
        "spawner did not re-list after the events stream broke"
    );

    // And the new stream works: a later change is seen.
    docker(&["rm", "-f", &during]);
    let seen = eventually(Duration::from_secs(10), || async {
        !listed(&app.api_get("/deploy").await.1, &during)
    });
    assert!(seen.await);
}
