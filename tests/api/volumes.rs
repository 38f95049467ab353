//! Per-instance named volumes: made as the instance's own, never a host path, kept by a delete
//! unless purged, and kept by a recreate (new image and envs, same name, session and data).

use serde_json::{json, Value};

use crate::helpers::*;

fn volume_label(volume: &str, label: &str) -> String {
    docker(&[
        "volume",
        "inspect",
        "-f",
        &format!("{{{{index .Labels \"{label}\"}}}}"),
        volume,
    ])
}

fn volume_exists(volume: &str) -> bool {
    !docker_lines(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("name=^{volume}$"),
    ])
    .is_empty()
}

async fn put_file(app: &TestApp, name: &str, file: &str, body: &str) {
    let url = format!("http://{}:9000/files/{file}", app.ip(name));
    let response = reqwest::Client::new()
        .put(url)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

async fn get_file(app: &TestApp, name: &str, file: &str) -> (u16, String) {
    let response = app.app_get(name, &format!("/files/{file}")).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn delete(app: &TestApp, path: &str) -> (u16, Value) {
    app.api_call(reqwest::Method::DELETE, path).await
}

#[tokio::test]
async fn volumes_are_the_instances_own_survive_a_delete_and_go_with_purge() {
    let app = spawn_app().await;
    let name = app.name("v");
    let volumes = json!({"volumes": {"data": "/data"}});
    app.deploy(&name, IMAGE, volumes.clone()).await;
    let volume = format!("spawner-{name}-data");
    assert_eq!(volume_label(&volume, "origin"), "spawner");
    assert_eq!(volume_label(&volume, "spawner.instance"), name);
    assert_eq!(volume_label(&volume, "spawner.volume"), "data");
    assert_eq!(app.auth_for(&name).await.status(), 200);
    put_file(&app, &name, "note", "kept across containers").await;

    let (status, body) = delete(&app, &format!("/deploy/{name}")).await;
    assert_eq!(body, json!({"result": "ok"}), "the old clients' answer");
    assert_eq!(status, 200);
    assert!(!app.exists(&name));
    assert!(
        volume_exists(&volume),
        "a delete without purge keeps the data"
    );

    app.deploy(&name, IMAGE, volumes).await;
    assert_eq!(app.auth_for(&name).await.status(), 200);
    assert_eq!(
        get_file(&app, &name, "note").await,
        (200, "kept across containers".to_string())
    );

    let (status, _) = delete(&app, &format!("/deploy/{name}?purge=maybe")).await;
    assert_eq!(status, 400);
    assert!(app.exists(&name), "a refused delete changes nothing");
    let (status, body) = delete(&app, &format!("/deploy/{name}?purge=true")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["volumes_removed"], json!([volume]));
    assert!(!volume_exists(&volume));
}

#[tokio::test]
async fn host_paths_and_bad_mounts_are_refused_and_nothing_is_created() {
    let app = spawn_app().await;
    let name = app.name("h");
    for (volumes, expected) in [
        (json!({"/etc": "/host"}), "is a host path"),
        (json!({"../x": "/x"}), "is a host path"),
        (json!({"data": "data"}), "`volumes.data`"),
        (json!({"data": "/"}), "`volumes.data`"),
    ] {
        let body = json!({"name": name, "image": IMAGE, "volumes": volumes});
        let response = app.post_deploy(&body.to_string()).await;
        assert_eq!(response.status(), 400, "{volumes}");
        let error: Value = response.json().await.unwrap();
        let message = error["error"].as_str().unwrap();
        assert!(message.contains(expected), "{volumes}: {message}");
    }
    assert!(!app.exists(&name));
    let made = instance_volumes(&name);
    assert!(made.is_empty(), "{made:?}");
}

#[tokio::test]
async fn a_volume_whose_name_another_instance_reached_first_is_not_shared() {
    let app = spawn_app().await;
    // spawner-<p>-a + "b-data" and spawner-<p>-a-b + "data" are the same volume name.
    let first = app.name("a");
    let second = app.name("a-b");
    app.deploy(&first, IMAGE, json!({"volumes": {"b-data": "/data"}}))
        .await;
    let body = json!({"name": second, "image": IMAGE, "volumes": {"data": "/data"}});
    let response = app.post_deploy(&body.to_string()).await;
    assert_eq!(response.status(), 409);
    let error: Value = response.json().await.unwrap();
    assert!(error["error"]
        .as_str()
        .unwrap()
        .contains(&format!("spawner-{second}-data")));
    assert!(!app.exists(&second), "nothing was created");
}

#[tokio::test]
async fn recreate_replaces_the_container_and_keeps_name_session_and_data() {
    let app = spawn_app().await;
    let name = app.name("r");
    let first = app
        .deploy(
            &name,
            IMAGE,
            json!({"volumes": {"data": "/data"}, "envs": {"CONNSTR": "v1"}}),
        )
        .await;
    assert_eq!(app.auth_for(&name).await.status(), 200);
    put_file(&app, &name, "work", "my notebook").await;
    let v2 = format!("{}-img:v2", app.cleanup.prefix);
    docker(&["tag", IMAGE, &v2]);
    app.cleanup.images.lock().unwrap().push(v2.clone());

    let recreate = |body: Value| {
        let url = format!("{}/deploy/{name}/recreate", app.api);
        let request = app.client.post(url).json(&body);
        async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let (status, view) = recreate(json!({"image": v2, "envs": {"CONNSTR": "v2"}})).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["image"], v2.as_str());
    assert_eq!(view["name"], name.as_str());
    assert_ne!(view["id"], first["id"], "a new container");
    assert_eq!(
        app.state(&name),
        "running",
        "it ran before, so it runs again"
    );
    // The session issued for the old container still opens the new one.
    assert_eq!(app.auth_for(&name).await.status(), 200);
    assert_eq!(
        get_file(&app, &name, "work").await,
        (200, "my notebook".into())
    );
    let index: Value = app.app_get(&name, "/").await.unwrap().json().await.unwrap();
    assert_eq!(index["connection string"], "v2");

    // A missing image changes nothing.
    let (status, error) =
        recreate(json!({"image": "no-such-image:0", "pull_policy": "never"})).await;
    assert_eq!(status, 404, "{error}");
    assert_eq!(
        app.api_get(&format!("/deploy/{name}")).await.1["id"],
        view["id"]
    );
    let (status, error) = recreate(json!({"volumes": {"x": "/x"}})).await;
    assert_eq!(status, 400, "{error}");
    let url = format!("{}/deploy/{}/recreate", app.api, app.name("none"));
    let missing = app.client.post(url).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}
