//! The private API: `/deploy` and `/traefik/config`, against the real daemon.

use std::process::Command;

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn deploy_with_the_old_clients_body_creates_and_starts_the_container() {
    let app = spawn_app().await;
    let name = app.name("minion-1");
    let body = json!({
        "name": name, "network": app.network(), "image": "mock-app:latest",
        "labels": {
            "health-check": format!("http://{name}:9000/status"),
            "traefik.enable": "true",
            format!("traefik.http.services.{name}.loadbalancer.server.port"): "9000"
        },
        "envs": {"CONNSTR": "db 1", "IDLE": "1m"}
    });
    let response = app.post_deploy(&body.to_string()).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["name"], name.as_str());
    assert!(
        created["id"].as_str().is_some_and(|id| id.len() == 64),
        "{created}"
    );
    assert_eq!(created["port"], 9000);

    assert_eq!(app.state(&name), "running");
    assert_eq!(
        docker(&["inspect", "-f", "{{.Config.Hostname}}", &name]),
        name
    );
    let networks = docker(&[
        "inspect",
        "-f",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
        &name,
    ]);
    assert_eq!(networks.trim(), app.network());
    let env = docker(&["inspect", "-f", "{{json .Config.Env}}", &name]);
    assert!(
        env.contains("CONNSTR=db 1") && env.contains("IDLE=1m"),
        "{env}"
    );
    let labels: Value = serde_json::from_str(&docker(&[
        "inspect",
        "-f",
        "{{json .Config.Labels}}",
        &name,
    ]))
    .unwrap();
    assert_eq!(labels["origin"], "spawner");
    assert_eq!(labels["traefik.enable"], "true");
    assert_eq!(labels["health-check"], format!("http://{name}:9000/status"));

    // The trailing-slash form the old clients also use.
    let other = app.name("minion-2");
    let response = app
        .client
        .post(format!("{}/deploy/", app.api))
        .body(json!({"name": other, "image": IMAGE}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(app.state(&other), "running");
}

#[tokio::test]
async fn labels_and_envs_may_be_missing_and_start_false_only_creates() {
    let app = spawn_app().await;
    let name = app.name("idle");
    let created = app.deploy(&name, IMAGE, json!({"start": false})).await;
    assert_eq!(created["state"], "created");
    assert_eq!(app.state(&name), "created");
    let (status, shown) = app.api_get(&format!("/deploy/{name}")).await;
    assert_eq!(status, 200);
    assert_eq!(shown["name"], name.as_str());
    // By id too.
    let id = created["id"].as_str().unwrap();
    let (status, shown) = app.api_get(&format!("/deploy/{id}")).await;
    assert_eq!((status, shown["name"].as_str()), (200, Some(name.as_str())));
}

#[tokio::test]
async fn bad_bodies_get_400_naming_the_problem_and_leave_nothing_behind() {
    let app = spawn_app().await;
    let n = app.name("bad");
    let long = "x".repeat(64);
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "empty"),
        ("{not json".into(), "not valid JSON"),
        (json!({"image": IMAGE}).to_string(), "`name`"),
        (json!({"name": n}).to_string(), "`image`"),
        (
            json!({"name": "../x", "image": IMAGE}).to_string(),
            "`name`",
        ),
        (json!({"name": "a b", "image": IMAGE}).to_string(), "`name`"),
        (json!({"name": long, "image": IMAGE}).to_string(), "`name`"),
        (
            json!({"name": "-lead", "image": IMAGE}).to_string(),
            "`name`",
        ),
        (
            json!({"name": n, "image": IMAGE, "network": "host"}).to_string(),
            "`network`",
        ),
        (
            json!({"name": n, "image": IMAGE, "network": "bridge"}).to_string(),
            "`network`",
        ),
        (
            json!({"name": n, "image": IMAGE, "binds": ["/:/host"]}).to_string(),
            "binds",
        ),
    ];
    for (body, expected) in cases {
        let response = app.post_deploy(&body).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: Value = response.json().await.unwrap();
        let message = error["error"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{body}: {error}");
    }
    let left = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("name=^/{}", app.cleanup.prefix),
    ]);
    assert!(left.is_empty(), "containers left behind: {left}");
}

#[tokio::test]
async fn an_image_missing_locally_gets_404_naming_it_and_a_taken_name_409() {
    let app = spawn_app().await;
    let name = app.name("m");
    let missing = format!("{}-nosuchimage:1", app.cleanup.prefix);
    // Never pulled (the default pulls it: tests/api/pull.rs).
    let body = json!({"name": name, "image": missing, "pull_policy": "never"});
    let response = app.post_deploy(&body.to_string()).await;
    assert_eq!(response.status(), 404);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"].as_str().unwrap().contains(&missing),
        "{error}"
    );
    assert!(!app.exists(&name));

    app.deploy(&name, IMAGE, json!({})).await;
    let response = app
        .post_deploy(&json!({"name": name, "image": IMAGE}).to_string())
        .await;
    assert_eq!(response.status(), 409);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("already taken"),
        "{error}"
    );
}

#[tokio::test]
async fn a_container_whose_start_fails_is_removed_again() {
    let app = spawn_app().await;
    let broken = app.build_image(IMAGE, "ENTRYPOINT [\"/no-such-binary\"]");
    let name = app.name("broken");
    let response = app
        .post_deploy(&json!({"name": name, "image": broken}).to_string())
        .await;
    let status = response.status();
    let error: Value = response.json().await.unwrap();
    assert_eq!(status, 502, "{error}");
    assert!(
        error["error"].as_str().unwrap().contains("removed"),
        "{error}"
    );
    assert!(!app.exists(&name), "the failed container was left behind");
}

#[tokio::test]
async fn unmanaged_containers_are_neither_listed_nor_touched() {
    let app = spawn_app().await;
    let managed = app.name("managed");
    let foreign = app.name("foreign");
    app.deploy(&managed, IMAGE, json!({})).await;
    docker(&[
        "run",
        "-d",
        "--name",
        &foreign,
        "--network",
        app.network(),
        IMAGE,
    ]);

    let (status, list) = app.api_get("/deploy").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert!(names.contains(&managed.as_str()), "{list}");
    assert!(!names.contains(&foreign.as_str()), "{list}");
    let entry = list["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == managed.as_str())
        .unwrap();
    for key in [
        "id",
        "image",
        "state",
        "health",
        "labels",
        "port",
        "last_activity",
    ] {
        assert!(entry.get(key).is_some(), "missing {key}: {entry}");
    }

    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let (status, body) = app
            .api_call(method.clone(), &format!("/deploy/{foreign}"))
            .await;
        assert_eq!(status, 404, "{method} {body}");
        assert!(body["error"].is_string());
    }
    assert_eq!(app.state(&foreign), "running");

    let (status, body) = app
        .api_call(Method::DELETE, &format!("/deploy/{managed}"))
        .await;
    assert_eq!((status, body), (200, json!({"result": "ok"})));
    assert!(!app.exists(&managed));
    let (status, _) = app.api_get(&format!("/deploy/{managed}")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn put_starts_a_stopped_instance_without_waiting() {
    let app = spawn_app().await;
    let name = app.name("put");
    // The app listens only 3 s after its start: a PUT that waited for it would be seen to.
    app.deploy(
        &name,
        IMAGE_NO_HEALTHCHECK,
        json!({"start": false, "port": 9000, "envs": {"STARTUP_DELAY": "3s"}}),
    )
    .await;
    let (status, body) = app.api_call(Method::PUT, &format!("/deploy/{name}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "running");
    assert_eq!(body["ready"], false, "{body}");
    let refused = tokio::net::TcpStream::connect(format!("{}:9000", app.ip(&name))).await;
    assert!(
        refused.is_err(),
        "the app already listened: the PUT waited for it"
    );
    assert_eq!(app.state(&name), "running");
    // And it does become ready, for the next request.
    assert_eq!(app.auth_for(&name).await.status(), 200);
    let (status, _) = app
        .api_call(Method::PUT, "/deploy/no-such-instance-here")
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn docker_unreachable_gets_503_from_the_api() {
    require_docker();
    // A socket that exists but refuses connections, as a stopped daemon's does.
    let socket = std::env::temp_dir().join(format!("{}-docker.sock", unique_prefix()));
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let host = format!("unix://{}", socket.display());
    let process = SpawnerProcess::start("spawner", &[("DOCKER_HOST", &host)]);
    let response = reqwest::Client::new()
        .post(format!("{}/deploy", process.api))
        .body(json!({"name": "m1", "image": IMAGE}).to_string())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    let _ = std::fs::remove_file(&socket);
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().unwrap().contains("Docker"), "{body}");
    assert!(body["cause"].is_string(), "the cause is kept: {body}");
}

#[test]
fn a_missing_docker_socket_stops_spawner_with_a_message_saying_what_to_do() {
    let out = Command::new(env!("CARGO_BIN_EXE_spawner"))
        .args(["--api-addr", "127.0.0.1:0", "--auth-addr", "127.0.0.1:0"])
        .args(["--docker-host", "unix:///nonexistent/docker.sock"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/docker.sock") && stderr.contains("docker-host"),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_private_api_refuses_calls_from_instances() {
    // Listening where containers can reach it: the host's address on the test network.
    let app = spawn_app_with(|s| s.listen.api_addr = "0.0.0.0:0".parse().unwrap()).await;
    let name = app.name("curious");
    app.deploy(&name, IMAGE, json!({})).await;
    let gateway = docker(&[
        "network",
        "inspect",
        "-f",
        "{{(index .IPAM.Config 0).Gateway}}",
        app.network(),
    ]);
    let port = app.api.rsplit(':').next().unwrap();
    let answer = docker(&[
        "exec",
        &name,
        "/mock-app",
        "fetch",
        &format!("{gateway}:{port}"),
        "/deploy",
    ]);
    assert_eq!(answer, "403", "an instance reached the private API");
    // The same call from elsewhere (here, the host) is served.
    let (status, _) = app.api_get("/deploy").await;
    assert_eq!(status, 200);
}
