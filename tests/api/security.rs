//! Sessions and the API token: only spawner issues a cookie that reaches an instance, and only a
//! caller with the token uses the private API.

use std::time::{Duration, SystemTime};

use reqwest::Method;
use serde_json::{json, Value};
use spawner::domain::session::{Keys, Secret};
use spawner::domain::{ApiToken, InstanceName};

use crate::helpers::*;

#[tokio::test]
async fn a_session_issued_by_the_api_reaches_its_instance_and_only_it() {
    let app = spawn_app().await;
    let name = app.name("one");
    let created = app
        .deploy(&name, IMAGE_NO_HEALTHCHECK, json!({"port": 9000}))
        .await;
    let issued_at_create = created["session"]["cookie"].as_str().unwrap().to_string();
    let (status, session) = app
        .api_call(Method::POST, &format!("/deploy/{name}/session"))
        .await;
    assert_eq!(status, 200, "{session}");
    let cookie = session["cookie"].as_str().unwrap();
    let set_cookie = session["set_cookie"].as_str().unwrap();
    assert!(
        set_cookie.starts_with(&format!("{cookie}; Path=/;")),
        "{set_cookie}"
    );
    for attribute in ["HttpOnly", "SameSite=Lax", "Max-Age=43200", "Expires="] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(humantime::parse_rfc3339(session["expires"].as_str().unwrap()).is_ok());
    for cookie in [cookie, issued_at_create.as_str()] {
        let response = app.auth_request(Some(cookie), "/").send().await.unwrap();
        assert_eq!(response.status(), 200, "{cookie}");
    }
    let (status, _) = app
        .api_call(Method::POST, "/deploy/no-such-instance-here/session")
        .await;
    assert_eq!(status, 404);
    let foreign = app.name("foreign");
    docker(&["create", "--name", &foreign, IMAGE_NO_HEALTHCHECK]);
    let (status, _) = app
        .api_call(Method::POST, &format!("/deploy/{foreign}/session"))
        .await;
    assert_eq!(
        status, 404,
        "a session for a container that is not spawner's"
    );
}

/// Every way to forge or break a cookie for a stopped instance: each is sent home, and none
/// starts the instance.
#[tokio::test]
async fn forged_and_malformed_cookies_are_sent_home_and_start_nothing() {
    let app = spawn_app().await;
    let name = app.name("victim");
    app.deploy(
        &name,
        IMAGE_NO_HEALTHCHECK,
        json!({"port": 9000, "start": false}),
    )
    .await;
    let valid = app.cookie(&name);
    let value = valid.strip_prefix("instance=").unwrap();
    let (payload, signature) = value.rsplit_once('.').unwrap();
    let (_, expires) = payload.rsplit_once('.').unwrap();
    let victim = InstanceName::parse(&name).unwrap();
    let other_keys = Keys::new(vec![Secret::parse(&"o".repeat(40)).unwrap()]).unwrap();
    let past = SystemTime::now() - Duration::from_secs(1);
    let ours = Keys::new(vec![Secret::parse(TEST_SECRET).unwrap()]).unwrap();
    let epoch = session_epoch(&name);
    let forged: Vec<String> = vec![
        format!("instance={name}"),
        format!("instance={}", value.replace(&name, &app.name("other"))),
        format!("instance={}", value.replacen(expires, "99999999999", 1)),
        format!(
            "instance={}",
            other_keys.sign(&victim, &epoch, SystemTime::now() + Duration::from_secs(60))
        ),
        format!("instance={}", ours.sign(&victim, &epoch, past)),
        format!("instance={}", &value[..value.len() - 2]),
        format!("instance={payload}"),
        format!("instance={payload}."),
        format!("instance={name}..{signature}"),
        format!("instance={signature}"),
        format!("instance={value}x"),
        format!("instance={value}.extra"),
        format!("instance={}", value.to_uppercase()),
        format!("{valid}; instance={name}"),
        format!("instance={name}; {valid}"),
        "instance=".into(),
        format!("instance={}", "a.".repeat(2000)),
    ];
    let mut passed = 0;
    for cookie in &forged {
        let response = app.auth_request(Some(cookie), "/").send().await.unwrap();
        let (status, location) = (
            response.status(),
            response.headers().get("location").cloned(),
        );
        if status != 302 || location.is_none_or(|l| l != "/home") {
            eprintln!("PASSED (should not): {cookie:?} → {status}");
            passed += 1;
        }
    }
    println!("forged cookies tried: {}, passed: {passed}", forged.len());
    assert_eq!(passed, 0);
    assert_eq!(
        app.state(&name),
        "created",
        "a forged cookie started the instance"
    );
    assert_eq!(
        app.auth_for(&name).await.status(),
        200,
        "the genuine one works"
    );
}

#[tokio::test]
async fn a_rotated_secret_still_verifies_the_sessions_it_signed() {
    let old = Secret::parse(TEST_SECRET).unwrap();
    let new = Secret::parse(&"n".repeat(40)).unwrap();
    let app = spawn_app_with(|s| s.sessions.cookie_secrets = vec![new.clone(), old]).await;
    let name = app.name("rotated");
    app.deploy(&name, IMAGE_NO_HEALTHCHECK, json!({"port": 9000}))
        .await;
    assert_eq!(app.auth_for(&name).await.status(), 200, "old secret");
    let (_, session) = app
        .api_call(Method::POST, &format!("/deploy/{name}/session"))
        .await;
    let value = session["cookie"]
        .as_str()
        .unwrap()
        .strip_prefix("instance=")
        .unwrap();
    let new_keys = Keys::new(vec![new]).unwrap();
    assert!(
        new_keys
            .verify(value, SystemTime::now(), |_| Some(session_epoch(&name)))
            .is_ok(),
        "signed by the first secret"
    );
}

#[tokio::test]
async fn with_signing_off_the_old_plain_cookie_works() {
    let app = spawn_app_with(|s| s.sessions.cookie_signing = false).await;
    let name = app.name("plain");
    app.deploy(&name, IMAGE_NO_HEALTHCHECK, json!({"port": 9000}))
        .await;
    let plain = format!("instance={name}");
    let response = app.auth_request(Some(&plain), "/").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let (_, session) = app
        .api_call(Method::POST, &format!("/deploy/{name}/session"))
        .await;
    assert_eq!(session["cookie"], plain.as_str());
}

async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
) -> (u16, Option<String>, Value) {
    // A client of its own: the app's client sends the token.
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", app.api));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    (
        status,
        challenge,
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn with_a_token_every_api_call_but_healthz_needs_it() {
    let app =
        spawn_app_with(|s| s.listen.api_token = Some(ApiToken::parse(TEST_TOKEN).unwrap())).await;
    for (method, path) in [
        (Method::GET, "/deploy"),
        (Method::POST, "/deploy"),
        (Method::GET, "/deploy/x"),
        (Method::DELETE, "/deploy/x"),
        (Method::POST, "/deploy/x/session"),
        (Method::GET, "/traefik/config"),
    ] {
        for token in [
            None,
            Some("wrong-token-wrong-token"),
            Some(&TEST_TOKEN[..TEST_TOKEN.len() - 1]),
        ] {
            let (status, challenge, body) = call(&app, method.clone(), path, token).await;
            assert_eq!(status, 401, "{method} {path} with {token:?}: {body}");
            assert!(challenge.is_some_and(|c| c.starts_with("Bearer")));
            assert!(body["error"].as_str().unwrap().contains("Bearer"));
        }
    }
    assert_eq!(
        call(&app, Method::GET, "/deploy", Some(TEST_TOKEN)).await.0,
        200
    );
    assert_eq!(
        call(&app, Method::GET, "/traefik/config", Some(TEST_TOKEN))
            .await
            .0,
        200
    );
    assert_eq!(call(&app, Method::GET, "/healthz", None).await.0, 200);
}

#[tokio::test]
async fn a_session_ends_with_its_instance_even_when_the_name_is_created_again() {
    let app = spawn_app().await;
    let name = app.name("reborn");
    let created = app
        .deploy(&name, IMAGE_NO_HEALTHCHECK, json!({"port": 9000}))
        .await;
    let old = created["session"]["cookie"].as_str().unwrap().to_string();
    let response = app.auth_request(Some(&old), "/").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let (status, _) = app
        .api_call(Method::DELETE, &format!("/deploy/{name}"))
        .await;
    assert_eq!(status, 200);
    let created = app
        .deploy(&name, IMAGE_NO_HEALTHCHECK, json!({"port": 9000}))
        .await;
    let response = app.auth_request(Some(&old), "/").send().await.unwrap();
    assert_eq!(
        status_and_location(response).await,
        (302, Some("/home".into())),
        "the former instance's session reached the new one"
    );
    let new = created["session"]["cookie"].as_str().unwrap();
    let response = app.auth_request(Some(new), "/").send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_service_worker_script_is_refused_on_the_shared_origin_unless_the_deploy_opted_in() {
    let app = spawn_app().await;
    let (plain, worker) = (app.name("plain"), app.name("worker"));
    app.deploy(&plain, IMAGE_NO_HEALTHCHECK, json!({"port": 9000}))
        .await;
    let body = json!({"port": 9000, "service_worker": true});
    app.deploy(&worker, IMAGE_NO_HEALTHCHECK, body).await;
    for (name, expected) in [(&plain, 302), (&worker, 200)] {
        let response = app
            .auth_request(Some(&app.cookie(name)), "/sw.js")
            .header("Service-Worker", "script")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{name}");
        // The same request without the header is an ordinary one.
        let response = app.auth_for(name).await;
        assert_eq!(response.status(), 200, "{name}");
    }
}
