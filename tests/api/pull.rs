//! Image pull against a real registry on 127.0.0.1: pulled when missing (once for concurrent
//! deploys), with credentials from a Docker config.json; each failure named, nothing left behind.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::metrics::{scrape, series};
use crate::registry::Registry;

async fn deploy_status(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app.post_deploy(&body.to_string()).await;
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_missing_image_is_pulled_once_for_concurrent_deploys_with_the_credentials() {
    require_docker();
    let registry = Registry::start();
    let auth_file = registry.auth_file();
    let app = spawn_app_with(|s| s.registry.registry_auth_file = Some(auth_file)).await;
    let image = registry.push(IMAGE, &format!("{}/app:1", app.cleanup.prefix));
    app.cleanup.images.lock().unwrap().push(image.clone());
    assert!(!image_present(&image));

    let deploys = (0..3).map(|i| {
        let body = json!({"name": app.name(&format!("p{i}")), "image": image});
        deploy_status(&app, body)
    });
    for (status, body) in futures_util::future::join_all(deploys).await {
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["image"], image.as_str());
    }
    assert!(image_present(&image));
    let text = scrape(&app).await;
    assert_eq!(
        series(&text, "spawner_image_pulls_total{result=\"ok\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(app.state(&app.name("p0")), "running");
}

#[tokio::test]
async fn pull_failures_name_the_image_and_the_reason_and_leave_nothing_behind() {
    require_docker();
    let mut registry = Registry::start();
    let auth_file = registry.auth_file();
    let anonymous = spawn_app().await;
    let image = registry.push(IMAGE, &format!("{}/app:1", anonymous.cleanup.prefix));
    anonymous.cleanup.images.lock().unwrap().push(image.clone());
    let name = anonymous.name("f");
    let volumes = json!({"data": "/data"});

    // No credentials: the registry refuses.
    let (status, body) = deploy_status(
        &anonymous,
        json!({"name": name, "image": image, "volumes": volumes}),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains(&image), "{error}");
    let cause = body.to_string().to_lowercase();
    assert!(
        cause.contains("auth") || cause.contains("unauthorized"),
        "{body}"
    );

    let app = spawn_app_with(|s| s.registry.registry_auth_file = Some(auth_file)).await;
    // No such tag in the registry: 404 naming it.
    let missing = format!("{}/{}/app:nope", registry.address, app.cleanup.prefix);
    let (status, body) = deploy_status(&app, json!({"name": name, "image": missing})).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().unwrap().contains(&missing), "{body}");
    // Never pull: 404 without asking the registry.
    let (status, body) = deploy_status(
        &app,
        json!({"name": name, "image": image, "pull_policy": "never"}),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("not present"),
        "{body}"
    );
    // The registry is away: 502 naming the image and the reason.
    registry.stop();
    let (status, body) = deploy_status(
        &app,
        json!({"name": name, "image": image, "pull_policy": "always", "volumes": volumes}),
    )
    .await;
    assert_eq!(status, 502, "{body}");
    assert!(body["error"].as_str().unwrap().contains(&image), "{body}");
    let cause = body["cause"].as_str().unwrap();
    assert!(cause.contains("connection refused"), "{body}");

    assert!(!app.exists(&name), "no container is left behind");
    assert!(!image_present(&image));
    let made = instance_volumes(&name);
    assert!(made.is_empty(), "no volume is left behind: {made:?}");
}
