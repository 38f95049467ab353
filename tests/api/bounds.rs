//! Every deploy field at its bounds, through create → get → list (and what Docker made): each
//! value just inside is accepted and read back as given, each just outside is a 400 that names
//! the field and creates nothing.

use std::time::Duration;

use bollard::models::ContainerInspectResponse;
use serde_json::{json, Value};

use crate::helpers::*;

/// Deploys `name` with `extra` (not started unless it says so), then reads it back: the answer
/// of the create, of `GET /deploy/{name}` and the list's entry agree; returns the view and
/// Docker's inspection.
async fn round_trip(app: &TestApp, name: &str, extra: Value) -> (Value, ContainerInspectResponse) {
    let mut body = json!({"name": name, "image": IMAGE_NO_HEALTHCHECK, "start": false});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap());
    let response = app.post_deploy(&body.to_string()).await;
    let status = response.status();
    let created: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}: {created}");
    let (status, shown) = app.api_get(&format!("/deploy/{name}")).await;
    assert_eq!(status, 200, "{shown}");
    let (status, list) = app.api_get("/deploy").await;
    assert_eq!(status, 200, "{list}");
    let listed = list["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} is not listed: {list}"));
    for key in [
        "id",
        "name",
        "image",
        "labels",
        "port",
        "idle_timeout",
        "idle_action",
    ] {
        assert_eq!(created[key], shown[key], "{key}: create vs get");
        assert_eq!(listed[key], shown[key], "{key}: list vs get");
    }
    let inspected = app.docker.inspect_container(name, None).await.unwrap();
    (shown, inspected)
}

/// A refused body: 400, the error names `field`, and no container of that name exists.
async fn refused(app: &TestApp, name: &str, extra: Value, field: &str) {
    let mut body = json!({"name": name, "image": IMAGE_NO_HEALTHCHECK, "start": false});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap());
    let response = app.post_deploy(&body.to_string()).await;
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(status, 400, "{body}: {answer}");
    let error = answer["error"].as_str().unwrap();
    assert!(
        error.contains(field),
        "{body}: {error} does not name {field}"
    );
    assert!(!app.exists(name), "{body} was refused but {name} exists");
}

/// The shortest name Docker accepts (two characters) that no container on the daemon has (other
/// tests run on it too).
fn free_shortest_name() -> String {
    let taken = docker_lines(&["ps", "-a", "--format", "{{.Names}}"]);
    let alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    alphabet
        .chars()
        .flat_map(|a| alphabet.chars().map(move |b| format!("{a}{b}")))
        .find(|name| !taken.contains(name))
        .expect("a free two-character name")
}

#[tokio::test]
async fn every_deploy_field_round_trips_at_its_bounds_and_is_refused_just_beyond() {
    let app = spawn_app().await;
    let max = app.settings.limits.max;
    let n = |suffix: &str| app.name(suffix);

    let longest = format!(
        "{}-{}",
        app.cleanup.prefix,
        "x".repeat(62 - app.cleanup.prefix.len())
    );
    assert_eq!(longest.len(), 63);
    round_trip(&app, &longest, json!({})).await;
    refused(&app, &format!("{longest}y"), json!({}), "`name`").await;

    // Docker refuses one character. The shortest is not under the test's prefix: removed
    // through the API at once.
    refused(&app, "q", json!({}), "`name`").await;
    let shortest = free_shortest_name();
    let (view, _) = round_trip(&app, &shortest, json!({})).await;
    assert_eq!(view["name"], shortest.as_str());
    let path = format!("/deploy/{shortest}?purge=true");
    let (status, _) = app.api_call(reqwest::Method::DELETE, &path).await;
    assert_eq!(status, 200);

    for (suffix, raw, shown) in [
        ("idle0", "0", 0),
        ("idle1", "1s", 1),
        ("idle365", "365d", 365 * 86400),
    ] {
        let (view, _) = round_trip(&app, &n(suffix), json!({"idle_timeout": raw})).await;
        assert_eq!(view["labels"]["spawner.idle-timeout"], raw);
        let read = humantime::parse_duration(view["idle_timeout"].as_str().unwrap()).unwrap();
        assert_eq!(read, Duration::from_secs(shown), "{view}");
    }
    for too_long in ["365d 1s", "99999999999h"] {
        refused(
            &app,
            &n("idle-over"),
            json!({"idle_timeout": too_long}),
            "`idle_timeout`",
        )
        .await;
    }
    let (view, _) = round_trip(&app, &n("pause"), json!({"idle_action": "PAUSE"})).await;
    assert_eq!(view["idle_action"], "pause");

    let memory = |i: &ContainerInspectResponse| i.host_config.as_ref().unwrap().memory;
    let (_, least) = round_trip(&app, &n("mem-min"), json!({"memory": "6m"})).await;
    assert_eq!(memory(&least), Some(6 << 20));
    let (_, most) = round_trip(&app, &n("mem-max"), json!({"memory": max.memory_bytes})).await;
    assert_eq!(memory(&most), Some(max.memory_bytes as i64));
    for beyond in [(6 << 20) - 1, max.memory_bytes + 1] {
        refused(&app, &n("mem-over"), json!({"memory": beyond}), "`memory`").await;
    }

    // The least CPU Docker accepts, started: Docker takes it when the container starts.
    let nano = |i: &ContainerInspectResponse| i.host_config.as_ref().unwrap().nano_cpus;
    let (view, least) = round_trip(&app, &n("cpu-min"), json!({"cpus": 0.01, "start": true})).await;
    assert_eq!(nano(&least), Some(10_000_000));
    assert_eq!(view["state"], "running", "{view}");
    let (_, most) = round_trip(&app, &n("cpu-max"), json!({"cpus": max.cpus})).await;
    assert_eq!(nano(&most), Some((max.cpus * 1e9) as i64));
    for beyond in [0.0099, max.cpus + 0.01] {
        refused(&app, &n("cpu-over"), json!({"cpus": beyond}), "`cpus`").await;
    }

    let pids = |i: &ContainerInspectResponse| i.host_config.as_ref().unwrap().pids_limit;
    let (_, least) = round_trip(&app, &n("pids-min"), json!({"pids_limit": 1})).await;
    assert_eq!(pids(&least), Some(1));
    let (_, most) = round_trip(&app, &n("pids-max"), json!({"pids_limit": max.pids})).await;
    assert_eq!(pids(&most), Some(i64::from(max.pids)));
    for beyond in [0, max.pids + 1] {
        refused(
            &app,
            &n("pids-over"),
            json!({"pids_limit": beyond}),
            "`pids_limit`",
        )
        .await;
    }

    for port in [1, 65535] {
        let (view, _) = round_trip(&app, &n(&format!("port{port}")), json!({"port": port})).await;
        assert_eq!(view["port"], port);
    }
    for beyond in [0, 65536] {
        refused(&app, &n("port-over"), json!({"port": beyond}), "`port`").await;
    }

    let volumes = |count: usize| -> Value {
        (0..count)
            .map(|i| (format!("v{i}"), json!(format!("/data/{i}"))))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let (view, inspected) = round_trip(&app, &n("vol16"), json!({"volumes": volumes(16)})).await;
    let listed: Vec<Value> =
        serde_json::from_str(view["labels"]["spawner.volumes"].as_str().unwrap()).unwrap();
    assert_eq!(listed.len(), 16);
    assert_eq!(inspected.mounts.unwrap().len(), 16);
    refused(
        &app,
        &n("vol17"),
        json!({"volumes": volumes(17)}),
        "`volumes`",
    )
    .await;
    assert!(instance_volumes(&n("vol17")).is_empty());

    let unicode = "héllo ✓ 日本 🚀 \u{202e}";
    let envs = json!({"GREETING": unicode, "EMPTY": "", "LONG": "z".repeat(10_000)});
    let labels = json!({"note": unicode, "empty": ""});
    let (view, inspected) =
        round_trip(&app, &n("unicode"), json!({"envs": envs, "labels": labels})).await;
    assert_eq!(view["labels"]["note"], unicode);
    assert_eq!(view["labels"]["empty"], "");
    let env = inspected.config.unwrap().env.unwrap();
    assert!(env.contains(&format!("GREETING={unicode}")), "{env:?}");
    assert!(env.contains(&"EMPTY=".to_string()));
    assert!(env.contains(&format!("LONG={}", "z".repeat(10_000))));

    // Every later answer can still show them all.
    for path in ["/deploy", "/traefik/config"] {
        assert_eq!(app.api_get(path).await.0, 200, "{path}");
    }
    let metrics = app
        .client
        .get(format!("{}/metrics", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
}

#[tokio::test]
async fn a_container_with_an_idle_timeout_label_beyond_the_maximum_does_not_break_the_list() {
    let app = spawn_app().await;
    let name = app.name("old-label");
    // As an older spawner made it: running, with the label it let through.
    docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        app.network(),
        "--label",
        "origin=spawner",
        "--label",
        &format!("spawner.scope={}", app.settings.engine.scope),
        "--label",
        "spawner.idle-timeout=99999999999h",
        IMAGE_NO_HEALTHCHECK,
    ]);
    let listed = eventually(Duration::from_secs(10), || async {
        app.api_get(&format!("/deploy/{name}")).await.0 == 200
    });
    assert!(listed.await, "spawner did not pick up {name}");
    let (status, list) = app.api_get("/deploy").await;
    assert_eq!(status, 200);
    let (status, view) = app.api_get(&format!("/deploy/{name}")).await;
    assert_eq!(status, 200);
    assert_eq!(list["instances"][0]["name"], name.as_str());
    let default = app.settings.idle.idle_timeout.map_or_else(
        || "0".to_string(),
        |t| humantime::format_duration(t).to_string(),
    );
    assert_eq!(view["idle_timeout"], default, "{view}");
    assert_eq!(app.api_get("/traefik/config").await.0, 200);
}

#[tokio::test]
async fn a_recreate_body_docker_would_refuse_is_a_400_and_keeps_the_instance() {
    let app = spawn_app().await;
    let name = app.name("keep");
    let (before, _) = round_trip(&app, &name, json!({})).await;
    for (body, field) in [
        (json!({"image": "MOCK-APP:LATEST"}), "`image`"),
        (json!({"image": "mock-app:"}), "`image`"),
        (json!({"envs": {"A": "b\u{0}c"}}), "`envs.A`"),
        (json!({"envs": {"": "x"}}), "`envs`"),
    ] {
        let response = app
            .client
            .post(format!("{}/deploy/{name}/recreate", app.api))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(field),
            "{answer}"
        );
    }
    let (status, after) = app.api_get(&format!("/deploy/{name}")).await;
    assert_eq!(status, 200);
    assert_eq!(after["id"], before["id"], "the container was replaced");
}
