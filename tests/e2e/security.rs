//! Through traefik's public port: only the session spawner issued for an instance reaches it.
//! Every forged, altered or malformed cookie (and a client's own X-Forwarded-* headers) lands on
//! home, and starts nothing.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use spawner::domain::session::{Keys, Secret};
use spawner::domain::InstanceName;

use crate::stack::*;

/// What it is, the Cookie header, extra headers.
type Case = (&'static str, String, Vec<(&'static str, &'static str)>);

/// A session for `name` signed with `secret`, as spawner would sign it for the instance now.
fn sign(secret: &str, name: &str, expires: SystemTime) -> String {
    let keys = Keys::new(vec![Secret::parse(secret).unwrap()]).unwrap();
    let name = InstanceName::parse(name).unwrap();
    let epoch = crate::common::session_epoch(name.as_str());
    format!("instance={}", keys.sign(&name, &epoch, expires))
}

#[tokio::test]
async fn forged_and_malformed_cookies_never_reach_an_instance() {
    let stack = Stack::up().await;
    let one = stack.name("minion-1");
    let ten = stack.name("minion-10");
    let onex = stack.name("minion-1x");
    stack.create_routed(&[&one, &ten, &onex], json!({})).await;
    docker(&["stop", &ten]);

    let valid = stack.cookie(&one);
    let value = valid.strip_prefix("instance=").unwrap().to_string();
    let (payload, signature) = value.rsplit_once('.').unwrap();
    let (_, expires) = payload.rsplit_once('.').unwrap();
    let soon = SystemTime::now() + Duration::from_secs(600);
    let past = SystemTime::now() - Duration::from_secs(1);
    let secret = &stack.cookie_secret;
    let mut cases: Vec<Case> = vec![
        ("the old bare name", format!("instance={ten}"), vec![]),
        (
            "name changed",
            format!("instance={}", value.replace(&one, &ten)),
            vec![],
        ),
        (
            "name extended",
            format!("instance={}", value.replace(&one, &onex)),
            vec![],
        ),
        (
            "expiry changed",
            format!("instance={}", value.replacen(expires, "99999999999", 1)),
            vec![],
        ),
        ("another secret", sign(&"x".repeat(40), &ten, soon), vec![]),
        ("expired", sign(secret, &ten, past), vec![]),
        (
            "truncated",
            format!("instance={}", &value[..value.len() - 3]),
            vec![],
        ),
        ("no signature", format!("instance={payload}"), vec![]),
        ("empty signature", format!("instance={payload}."), vec![]),
        (
            "one's signature on ten",
            format!("instance={ten}.{expires}.{signature}"),
            vec![],
        ),
        ("extra part", format!("instance={value}.x"), vec![]),
        (
            "two cookies, valid first",
            format!("{valid}; instance={ten}"),
            vec![],
        ),
        (
            "two cookies, valid last",
            format!("instance={ten}; {valid}"),
            vec![],
        ),
        ("empty", "instance=".into(), vec![]),
        ("long", format!("instance={}", "a.".repeat(1500)), vec![]),
    ];
    // A client's own forwarded headers, with a forged cookie: never a public path.
    for headers in [
        vec![("X-Forwarded-Uri", "/home")],
        vec![("X-Forwarded-Uri", "/home/"), ("X-Forwarded-Method", "GET")],
        vec![
            ("X-Forwarded-Host", "elsewhere"),
            ("X-Forwarded-Uri", "/home/x"),
        ],
    ] {
        cases.push(("forwarded headers", format!("instance={ten}"), headers));
    }

    let mut passed = 0;
    for (label, cookie, headers) in &cases {
        let mut request = stack
            .client
            .get(format!("{}/page", stack.public))
            .header("Cookie", cookie);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let location = response.headers().get("location").cloned();
        let text = response.text().await.unwrap_or_default();
        let home = status == 302 && location.is_some_and(|l| l == "/home");
        if !home || text.contains("hostname") {
            eprintln!(
                "PASSED (must not): {label}: {cookie:.80} {headers:?} → {status} {text:.200}"
            );
            passed += 1;
        }
    }
    println!(
        "forged cookies tried through traefik: {}, passed: {passed}",
        cases.len()
    );
    assert_eq!(passed, 0);
    assert_eq!(
        stack.state(&ten),
        "exited",
        "a forged cookie started minion-10"
    );

    // The genuine session reaches its own instance, and only it; so does a new one from the API.
    for cookie in [
        valid.clone(),
        stack.session(&one).await["cookie"].as_str().unwrap().into(),
    ] {
        let response = stack
            .client
            .get(format!("{}/page", stack.public))
            .header("Cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["hostname"], one.as_str());
    }
}

#[tokio::test]
async fn the_private_api_needs_the_token_and_traefik_still_gets_its_routes() {
    let stack = Stack::up().await;
    let name = stack.name("guarded");
    let anonymous = stack
        .client
        .get(format!("{}/deploy", stack.api))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert!(anonymous.headers().contains_key("www-authenticate"));
    // traefik's HTTP provider sends the token: the new instance gets routed.
    stack.create_routed(&[&name], json!({})).await;
    let response = stack.get("/", Some(&name)).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn traefik_s_api_token_is_on_no_command_line_and_traefik_still_routes_with_it() {
    let stack = Stack::up().await;
    let traefik = stack.containers_of("traefik");
    assert!(!traefik.is_empty(), "the stack's traefik container");
    let args = docker(&[
        "inspect",
        "-f",
        "{{json .Path}} {{json .Args}} {{json .Config.Cmd}}",
        &traefik,
    ]);
    assert!(!args.contains(&stack.token), "docker inspect: {args}");
    // What every local user sees: each process's command line.
    let ps = std::process::Command::new("ps")
        .args(["-eo", "args"])
        .output()
        .unwrap();
    let ps = String::from_utf8_lossy(&ps.stdout);
    assert!(ps.contains("traefik"), "traefik runs");
    assert!(!ps.contains(&stack.token), "ps shows the token");

    // traefik's HTTP provider still gets the routes from spawner's private API with the token.
    let name = stack.name("routed");
    stack.create_routed(&[&name], json!({})).await;
    let response = stack.get("/", Some(&name)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["hostname"], name.as_str());
}
