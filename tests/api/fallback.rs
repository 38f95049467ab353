//! `/auth?fallback=true`, the catch-all router's middleware: a valid session there means traefik
//! has not loaded the instance's route yet.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn the_fallback_makes_the_instance_ready_then_redirects_to_the_same_uri() {
    let app = spawn_app().await;
    let name = app.name("fresh");
    app.deploy(
        &name,
        IMAGE_NO_HEALTHCHECK,
        json!({"port": 9000, "start": false}),
    )
    .await;
    let response = app
        .fallback_request(Some(&app.cookie(&name)))
        .header("X-Forwarded-Uri", "/some/page?x=1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_location(response).await,
        (307, Some("/some/page?x=1".into()))
    );
    assert_eq!(app.state(&name), "running");

    // Without a usable cookie the catch-all sends the client home.
    let response = app.fallback_request(None).send().await.unwrap();
    assert_eq!(
        status_and_location(response).await,
        (302, Some("/home".into()))
    );
}

#[tokio::test]
async fn the_fallback_stops_the_instance_when_traefik_never_loads_its_route() {
    // Nothing listens on this traefik API: the route is never seen.
    let app = spawn_app_with(|s| {
        s.traefik.traefik_check_enabled = true;
        s.traefik.traefik_base_url = "http://127.0.0.1:9".into();
        s.traefik.route_timeout = Duration::from_millis(500);
    })
    .await;
    let name = app.name("noroute");
    app.deploy(
        &name,
        IMAGE_NO_HEALTHCHECK,
        json!({"port": 9000, "start": false}),
    )
    .await;
    let cookie = app.cookie(&name);
    let response = app.fallback_request(Some(&cookie)).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(app.state(&name), "exited");
}

#[tokio::test]
async fn the_fallback_stops_nothing_that_a_request_used_while_it_waited_for_the_route() {
    let app = spawn_app_with(|s| {
        s.traefik.traefik_check_enabled = true;
        s.traefik.traefik_base_url = "http://127.0.0.1:9".into();
        s.traefik.route_timeout = Duration::from_secs(3);
    })
    .await;
    let name = app.name("inuse");
    let body = json!({"port": 9000, "start": false});
    app.deploy(&name, IMAGE_NO_HEALTHCHECK, body).await;
    let fallback = app.fallback_request(Some(&app.cookie(&name))).send();
    let fallback = tokio::spawn(fallback);
    // Once it runs, a request reaches it on its router (traefik did load the route after all).
    let running = eventually(Duration::from_secs(10), || async {
        app.state(&name) == "running"
    });
    assert!(running.await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.auth_for(&name).await.status(), 200);
    assert_eq!(fallback.await.unwrap().unwrap().status(), 503);
    assert_eq!(app.state(&name), "running", "stopped under a request");
}

#[tokio::test]
async fn a_fallback_value_that_is_neither_true_nor_false_is_no_fallback() {
    let app = spawn_app().await;
    let name = app.name("flag");
    let body = json!({"port": 9000, "start": false});
    app.deploy(&name, IMAGE_NO_HEALTHCHECK, body).await;
    for value in ["no", "off", "False"] {
        let response = app
            .client
            .get(format!("{}/auth?fallback={value}", app.auth))
            .header("Cookie", app.cookie(&name))
            .header("X-Forwarded-Uri", "/home")
            .send()
            .await
            .unwrap();
        // Read as an instance router's call without its routed instance: refused, and neither
        // the public path's pass nor the fallback's start.
        assert_eq!(response.status(), 302, "fallback={value}");
    }
    assert_eq!(app.state(&name), "created");
}
