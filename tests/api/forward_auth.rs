//! `/auth` called the way traefik calls it, with real containers behind it.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn requests_without_a_usable_instance_are_sent_home() {
    let app = spawn_app().await;
    let foreign = app.name("foreign");
    docker(&["create", "--name", &foreign, IMAGE]);
    let long = format!("instance={}", "a".repeat(3000));
    let cookies = [
        None,
        Some(""),
        Some("instance="),
        Some("instance"),
        Some("instance=../etc"),
        Some("instance=\"quoted\""),
        Some("other=1; instanceX=2"),
        Some(long.as_str()),
        Some("instance=no-such-instance-anywhere"),
    ];
    for cookie in cookies {
        let response = app.auth_request(cookie, "/").send().await.unwrap();
        assert_eq!(
            status_and_location(response).await,
            (302, Some("/home".into())),
            "{cookie:?}"
        );
    }
    let response = app.auth_for(&foreign).await;
    assert_eq!(
        status_and_location(response).await,
        (302, Some("/home".into()))
    );
    assert_eq!(
        app.state(&foreign),
        "created",
        "an unmanaged container was touched"
    );

    // No X-Forwarded headers at all, and other methods: still a deliberate answer.
    let bare = app
        .client
        .get(format!("{}/auth", app.auth))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 302);
    let post = app
        .client
        .post(format!("{}/auth", app.auth))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 302);
}

#[tokio::test]
async fn public_paths_pass_on_the_catch_all_but_never_on_an_instance_router() {
    let app = spawn_app().await;
    let name = app.name("public");
    app.deploy(&name, IMAGE_NO_HEALTHCHECK, json!({"port": 9000}))
        .await;
    for uri in ["/home", "/home/", "/home/register"] {
        let response = app.auth_request(None, uri).send().await.unwrap();
        assert_eq!(response.status(), 200, "{uri}");
        // On the instance's router a public-looking path (traefik cleaned `/home/../x` to `/x`
        // for its match) is no pass: only a session for the instance is.
        let forged = format!("instance={name}");
        let response = app.auth_request(Some(&forged), uri).send().await.unwrap();
        assert_eq!(response.status(), 302, "{uri}");
    }
}

#[tokio::test]
async fn an_instance_router_passes_only_a_session_for_the_instance_it_routed_to() {
    let app = spawn_app().await;
    let (mine, theirs) = (app.name("mine"), app.name("theirs"));
    for name in [&mine, &theirs] {
        app.deploy(name, IMAGE_NO_HEALTHCHECK, json!({"port": 9000}))
            .await;
    }
    let call = |routed: Option<&str>, cookie: String| {
        let mut request = app
            .client
            .get(format!("{}/auth", app.auth))
            .header("X-Forwarded-Uri", "/")
            .header("Cookie", cookie);
        if let Some(routed) = routed {
            request = request.header("X-Spawner-Instance", routed);
        }
        request.send()
    };
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(call(Some(&mine), app.cookie(&mine)).await.unwrap()),
        200
    );
    // My valid session, on the router of their instance.
    assert_eq!(
        status(call(Some(&theirs), app.cookie(&mine)).await.unwrap()),
        302
    );
    // A call no instance router made (no header): refused, whatever the session.
    assert_eq!(status(call(None, app.cookie(&mine)).await.unwrap()), 302);
}

#[tokio::test]
async fn a_ready_instance_gets_200_from_memory_even_with_docker_cut_off() {
    let proxy = DockerProxy::start().await;
    let url = proxy.url.clone();
    let app = spawn_app_with(|s| s.engine.docker_host = url).await;
    let name = app.name("hot");
    app.deploy(
        &name,
        IMAGE_NO_HEALTHCHECK,
        json!({"labels": {"health-check": format!("http://{name}:9000/status")}}),
    )
    .await;
    assert_eq!(app.auth_for(&name).await.status(), 200);

    // Every later answer comes from the index: with Docker unreachable they still succeed.
    proxy.cut();
    for _ in 0..200 {
        assert_eq!(app.auth_for(&name).await.status(), 200);
    }
    let (_, shown) = app.api_get(&format!("/deploy/{name}")).await;
    assert!(
        shown["last_activity"].is_string(),
        "activity not recorded: {shown}"
    );
}

/// Stops `name`, then checks one `/auth` starts it, holds until the app answers, and returns 200.
async fn cold_start_is_held_until_ready(app: &TestApp, name: &str, at_least: Duration) {
    docker(&["stop", "-t", "1", name]);
    let seen_stopped = eventually(Duration::from_secs(10), || async {
        app.api_get(&format!("/deploy/{name}")).await.1["state"] == "exited"
    });
    assert!(seen_stopped.await, "spawner did not see {name} stop");
    let since = app.daemon_now().await;
    let started = Instant::now();
    let response = app.auth_for(name).await;
    let held = started.elapsed();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    assert!(
        held >= at_least,
        "answered after {held:?}, before the app could be ready"
    );
    assert_eq!(app.state(name), "running");
    let direct = app
        .app_get(name, "/")
        .await
        .expect("the app answers right after the 200");
    assert_eq!(direct.status(), 200);
    assert_eq!(app.start_events(name, since).await, 1);
}

#[tokio::test]
async fn a_stopped_instance_with_a_docker_healthcheck_is_held_until_its_check_passes() {
    let app = spawn_app().await;
    let name = app.name("hc");
    // The app listens 800 ms after its start: the image's check cannot pass before that.
    app.deploy(&name, IMAGE, json!({"envs": {"STARTUP_DELAY": "800ms"}}))
        .await;
    cold_start_is_held_until_ready(&app, &name, Duration::from_millis(800)).await;
    // Docker's own verdict may or may not have come yet (its first check is 1 s after the
    // start); tests/api/healthcheck.rs shows that spawner does not wait for it.
    let status = docker(&["inspect", "-f", "{{.State.Health.Status}}", &name]);
    assert!(
        ["starting", "healthy"].contains(&status.as_str()),
        "{status}"
    );
}

#[tokio::test]
async fn a_stopped_instance_with_a_health_check_label_is_probed_until_it_answers() {
    let app = spawn_app().await;
    for label in ["health-check", "healthcheck"] {
        let name = app.name(label);
        app.deploy(
            &name,
            IMAGE_NO_HEALTHCHECK,
            json!({"labels": {label: format!("http://{name}:9000/status")}, "envs": {"STATUS_DELAY": "800ms"}}),
        )
        .await;
        cold_start_is_held_until_ready(&app, &name, Duration::from_millis(800)).await;
    }
}

#[tokio::test]
async fn a_stopped_instance_with_only_a_port_waits_for_a_tcp_connect() {
    let app = spawn_app().await;
    let name = app.name("tcp");
    app.deploy(
        &name,
        IMAGE_NO_HEALTHCHECK,
        json!({"port": 9000, "envs": {"STARTUP_DELAY": "800ms"}}),
    )
    .await;
    cold_start_is_held_until_ready(&app, &name, Duration::from_millis(800)).await;
}

#[tokio::test]
async fn a_stopped_instance_with_nothing_known_waits_the_redirect_timeout() {
    let app = spawn_app_with(|s| s.readiness.redirect_timeout = Duration::from_millis(1500)).await;
    // Two exposed ports and no label: no port is known.
    let image = app.build_image(IMAGE_NO_HEALTHCHECK, "EXPOSE 9001");
    let name = app.name("delay");
    app.deploy(&name, &image, json!({})).await;
    cold_start_is_held_until_ready(&app, &name, Duration::from_millis(1500)).await;
}

#[tokio::test]
async fn a_hundred_simultaneous_requests_cause_exactly_one_start() {
    let app = spawn_app().await;
    let name = app.name("herd");
    app.deploy(
        &name,
        IMAGE_NO_HEALTHCHECK,
        json!({"port": 9000, "start": false}),
    )
    .await;
    let since = app.daemon_now().await;
    let requests = (0..100).map(|_| app.auth_for(&name));
    let statuses: Vec<u16> = futures_util::future::join_all(requests)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(app.start_events(&name, since).await, 1);
}

#[tokio::test]
async fn a_container_that_exits_while_starting_gets_502_at_once() {
    let app = spawn_app().await;
    let name = app.name("exits");
    app.deploy(
        &name,
        IMAGE_NO_HEALTHCHECK,
        json!({"start": false, "envs": {"EXIT_AFTER_START": "3"},
               "labels": {"health-check": format!("http://{name}:9000/status")}}),
    )
    .await;
    // A hold timeout would answer 503; 502 means the exit was seen and answered as such.
    let response = app.auth_for(&name).await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("exit code 3"),
        "{body}"
    );
}

#[tokio::test]
async fn an_unhealthy_container_gets_502_and_is_stopped() {
    let app = spawn_app().await;
    let name = app.name("sick");
    app.deploy(
        &name,
        IMAGE,
        json!({"start": false, "envs": {"FAIL_STATUS": "1"}}),
    )
    .await;
    // An API client is held until the verdict (a browser would get the waiting page first,
    // after html_hold, and see the failure through its poll).
    let response = app.auth_for(&name).await;
    assert_eq!(response.status(), 502);
    assert!(response.text().await.unwrap().contains("unhealthy"));
    assert!(
        eventually(Duration::from_secs(10), || async {
            app.state(&name) == "exited"
        })
        .await,
        "the unhealthy container was not stopped"
    );
}

#[tokio::test]
async fn an_instance_not_ready_within_the_hold_timeout_gets_503_with_retry_after() {
    let app = spawn_app_with(|s| s.readiness.hold_timeout = Duration::from_millis(700)).await;
    let name = app.name("slow");
    app.deploy(
        &name,
        IMAGE_NO_HEALTHCHECK,
        json!({"port": 9000, "start": false, "envs": {"STARTUP_DELAY": "3s"}}),
    )
    .await;
    let html = app
        .auth_request(Some(&app.cookie(&name)), "/")
        .header("Accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), 503);
    assert!(html.headers().get("retry-after").is_some());
    assert!(html.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = html.text().await.unwrap();
    assert!(page.contains("http-equiv=\"refresh\""), "{page}");

    let json = app.auth_for(&name).await;
    assert_eq!(json.status(), 503);
    assert!(json.headers().get("retry-after").is_some());
    let body: Value = json.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("starting"),
        "{body}"
    );

    // The start went on in the background: the instance becomes ready and is let through.
    assert!(
        eventually(Duration::from_secs(10), || async {
            app.auth_for(&name).await.status() == 200
        })
        .await
    );
}

#[tokio::test]
async fn path_mode_takes_the_instance_from_the_first_segment_after_the_prefix() {
    let app = spawn_app_with(|s| {
        s.traefik.routing = Routing::Path;
        s.traefik.container_prefix = "/p".into();
    })
    .await;
    let name = app.name("path");
    app.deploy(
        &name,
        IMAGE_NO_HEALTHCHECK,
        json!({"port": 9000, "start": false}),
    )
    .await;
    // The path names the instance; the session must be for that same instance.
    let path = format!("/p/{name}/deep/page");
    let response = app.auth_request(None, &path).send().await.unwrap();
    assert_eq!(
        status_and_location(response).await,
        (302, Some("/home".into()))
    );
    let other = app.cookie(&app.name("other"));
    let response = app.auth_request(Some(&other), &path).send().await.unwrap();
    assert_eq!(response.status(), 302);
    let response = app
        .auth_request(Some(&app.cookie(&name)), &path)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(app.state(&name), "running");
    let response = app
        .auth_request(Some(&app.cookie(&name)), "/elsewhere")
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_location(response).await,
        (302, Some("/home".into()))
    );

    let (_, config) = app.api_get("/traefik/config").await;
    assert_eq!(
        config["http"]["routers"][&name]["rule"],
        format!("Path(`/p/{name}`) || PathPrefix(`/p/{name}/`)")
    );
}
