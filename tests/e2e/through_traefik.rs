//! What a user of the site sees, through traefik's public port.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::stack::*;

const HOME: &str = r#"{"message":"You are at Home"}"#;

#[tokio::test]
async fn no_cookie_and_an_unknown_cookie_land_on_home() {
    let stack = Stack::up().await;
    let unknown = stack.name("minion-6");
    for cookie in [None, Some(unknown.as_str())] {
        let first = stack.get("/", cookie).await;
        assert_eq!(first.status(), 302, "{cookie:?}");
        assert_eq!(first.headers()["location"], "/home");
        let mut request = stack.browser_like.get(format!("{}/", stack.public));
        if let Some(name) = cookie {
            request = request.header("Cookie", stack.cookie(name));
        }
        let landed = request.send().await.unwrap();
        assert_eq!(landed.url().path(), "/home");
        assert_eq!(landed.text().await.unwrap(), HOME);
    }
}

#[tokio::test]
async fn each_cookie_reaches_its_own_container() {
    let stack = Stack::up().await;
    let one = stack.name("minion-1");
    let ten = stack.name("minion-10");
    stack.create_routed(&[&one, &ten], json!({})).await;
    for name in [&one, &ten] {
        let response = stack.get("/", Some(name)).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["hostname"], name.as_str(), "{body}");
        assert_eq!(body["connection string"], format!("db of {name}"));
    }
}

#[tokio::test]
async fn a_stopped_instance_answers_the_first_request_in_one_round_trip() {
    let stack = Stack::up().await;
    let name = stack.name("minion-1");
    stack.create_routed(&[&name], json!({})).await;
    assert_eq!(stack.get("/", Some(&name)).await.status(), 200);

    // Right after the stop returns, before spawner may even have heard of it: never traefik's
    // 502 for the dead container, always one round trip to the restarted app.
    for _ in 0..5 {
        docker(&["stop", &name]);
        let started = Instant::now();
        let response = stack.get("/", Some(&name)).await;
        let took = started.elapsed();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "not one round trip: {text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["hostname"], name.as_str());
        assert_eq!(stack.state(&name), "running");
        eprintln!("cold request through traefik: {took:?}");
    }

    // A POST with a body to a stopped instance: the body reaches the app intact.
    docker(&["stop", &name]);
    let body = "a body that must survive the cold start";
    let response = stack.post_text("/submit", &name, body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), body);
}

#[tokio::test]
async fn an_instance_requested_before_traefik_polled_its_route_is_sent_back_by_the_fallback() {
    // traefik polls spawner every 5 s here, so a request right after the create meets the
    // catch-all router, whose fallback must answer 307 once the route is loaded. Should traefik
    // happen to poll in the few ms between the two, the attempt proves nothing and is repeated.
    let stack = Stack::up_with_env(&[("TRAEFIK_POLL_INTERVAL", "5s")]).await;
    let mut redirected = false;
    for attempt in 0..3 {
        let name = stack.name(&format!("fresh{attempt}"));
        stack.create(&name, json!({})).await;
        let first = stack.get("/page?x=1", Some(&name)).await;
        match first.status().as_u16() {
            307 => {
                assert_eq!(first.headers()["location"], "/page?x=1");
                redirected = true;
            }
            200 => eprintln!("attempt {attempt}: traefik had already polled; again"),
            other => panic!("first request: {other}"),
        }
        let landed = stack
            .browser_like
            .get(format!("{}/page?x=1", stack.public))
            .header("Cookie", stack.cookie(&name))
            .send()
            .await
            .unwrap();
        assert_eq!(landed.status(), 200);
        let body: Value = landed.json().await.unwrap();
        assert_eq!(body["hostname"], name.as_str());
        assert_eq!(body["requested"], "/page?x=1");
        if redirected {
            break;
        }
    }
    assert!(redirected, "the fallback never answered 307 in 3 attempts");
}

#[tokio::test]
async fn a_minion_that_idles_stops_itself_and_the_next_request_wakes_it() {
    let stack = Stack::up().await;
    let name = stack.name("idler");
    stack.create_routed(&[&name], json!({"IDLE": "5s"})).await;
    assert_eq!(stack.get("/", Some(&name)).await.status(), 200);
    let stopped = eventually(Duration::from_secs(20), || async {
        stack.state(&name) == "exited"
    });
    assert!(stopped.await, "the idle minion did not stop itself");
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.ExitCode}}", &name]),
        "0"
    );
    let response = stack.get("/", Some(&name)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["hostname"], name.as_str());
}

#[tokio::test]
async fn the_private_api_and_auth_cannot_be_reached_through_the_public_port() {
    let stack = Stack::up().await;
    let name = stack.name("minion-1");
    stack.create_routed(&[&name], json!({})).await;
    for path in [
        "/deploy",
        "/deploy/",
        "/traefik/config",
        "/auth",
        "/auth?fallback=true",
    ] {
        for cookie in [None, Some(name.as_str())] {
            let response = stack.get(path, cookie).await;
            let status = response.status();
            let text = response.text().await.unwrap();
            assert!(
                !text.contains("\"instances\""),
                "{path} listed instances: {text}"
            );
            assert!(
                !text.contains("\"routers\""),
                "{path} served traefik config: {text}"
            );
            match cookie {
                // Without an instance the request goes home, never to spawner.
                None => assert_eq!(status, 302, "{path}"),
                // With one, it is the instance's own path.
                Some(_) => assert!(
                    text.contains(&format!("\"hostname\":\"{name}\"")),
                    "{path}: {text}"
                ),
            }
        }
    }
}

#[tokio::test]
async fn the_example_scripts_create_and_reach_the_minions() {
    let stack = Stack::up().await;
    let minions = format!("{} {}", stack.name("minion-1"), stack.name("minion-2"));
    let wrong = stack.name("minion-6");
    let env = [
        ("MINIONS", minions.as_str()),
        ("WRONG_MINION", wrong.as_str()),
    ];
    let created = stack.script("create-minions.sh", &[], &env);
    assert!(created.status.success());
    let out = String::from_utf8_lossy(&created.stdout).to_string();
    assert_eq!(out.matches("\"session\":").count(), 2, "{out}");

    let tested = stack.script("test-minions.sh", &[], &env);
    let out = String::from_utf8_lossy(&tested.stdout).to_string();
    assert!(
        tested.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&tested.stderr)
    );
    // The forged bare name, the wrong minion and no cookie: all home.
    assert_eq!(out.matches(HOME).count(), 3, "{out}");

    docker(&["stop", &stack.name("minion-1")]);
    let tested = stack.script("test-minions.sh", &[], &env);
    assert!(
        tested.status.success(),
        "{}",
        String::from_utf8_lossy(&tested.stdout)
    );

    let listed = stack.script("list-minions.sh", &[], &env);
    assert!(String::from_utf8_lossy(&listed.stdout).contains(&stack.name("minion-2")));
    let deleted = stack.script("delete-minions.sh", &[], &env);
    let out = String::from_utf8_lossy(&deleted.stdout).to_string();
    assert_eq!(out.matches("{\"result\":\"ok\"}").count(), 2, "{out}");
}

#[tokio::test]
async fn path_routing_serves_each_instance_under_its_prefix() {
    let stack = Stack::up_with(true).await;
    let one = stack.name("minion-1");
    let ten = stack.name("minion-10");
    stack.create_routed(&[&one, &ten], json!({})).await;
    docker(&["stop", &one]);
    for name in [&one, &ten] {
        let page = format!("/p/{name}/some/page");
        // The path says where the instance lives; only its session lets a request in.
        let response = stack.get(&page, None).await;
        assert_eq!(response.status(), 302, "{page} without a session");
        let other = if name == &one { &ten } else { &one };
        let response = stack.get(&page, Some(other)).await;
        assert_eq!(response.status(), 302, "{page} with {other}'s session");
        let response = stack.get(&page, Some(name)).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["hostname"], name.as_str());
        assert_eq!(body["requested"], "/some/page");
    }
    let response = stack.get("/elsewhere", None).await;
    assert_eq!(response.status(), 302);
}
