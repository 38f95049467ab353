//! Two spawners on one daemon (two stacks): each sees, routes, wakes, stops and deletes only its
//! own instances.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

fn names(list: &Value) -> Vec<String> {
    list["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn two_spawners_on_one_daemon_never_touch_each_others_instances() {
    let a = spawn_app().await;
    let b = spawn_app().await;
    let mine = a.name("mine");
    let theirs = b.name("theirs");
    a.deploy(
        &mine,
        IMAGE_NO_HEALTHCHECK,
        json!({"port": 9000, "start": false}),
    )
    .await;
    b.deploy(
        &theirs,
        IMAGE_NO_HEALTHCHECK,
        json!({"port": 9000, "start": false}),
    )
    .await;
    assert_eq!(
        docker(&[
            "inspect",
            "-f",
            "{{index .Config.Labels \"spawner.scope\"}}",
            &mine
        ]),
        a.network()
    );

    for (app, own, other) in [(&a, &mine, &theirs), (&b, &theirs, &mine)] {
        let listed = names(&app.api_get("/deploy").await.1);
        assert!(
            listed.contains(own) && !listed.contains(other),
            "{listed:?}"
        );
        let (_, config) = app.api_get("/traefik/config").await;
        assert!(config["http"]["routers"].get(other).is_none(), "{config}");
        for (method, path) in [
            (Method::GET, format!("/deploy/{other}")),
            (Method::PUT, format!("/deploy/{other}")),
            (Method::POST, format!("/deploy/{other}/session")),
            (Method::DELETE, format!("/deploy/{other}")),
        ] {
            let (status, body) = app.api_call(method.clone(), &path).await;
            assert_eq!(status, 404, "{method} {path}: {body}");
        }
        // A valid session for the other stack's instance does not wake it here.
        let response = app.auth_for(other).await;
        assert_eq!(response.status(), 302);
    }
    assert_eq!(
        a.state(&theirs),
        "created",
        "spawner a started b's instance"
    );
    assert_eq!(b.state(&mine), "created", "spawner b started a's instance");
    assert_eq!(a.auth_for(&mine).await.status(), 200);
}
