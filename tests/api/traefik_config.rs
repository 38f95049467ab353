//! `GET /traefik/config`: a route for every managed instance, following creates and deletes.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

#[tokio::test]
async fn traefik_config_has_an_anchored_route_for_every_instance_running_or_stopped() {
    let app = spawn_app().await;
    let one = app.name("minion-1");
    let ten = app.name("minion-10");
    app.deploy(&one, IMAGE, json!({"port": 9000})).await;
    app.deploy(&ten, IMAGE_NO_HEALTHCHECK, json!({"start": false}))
        .await;

    let (status, config) = app.api_get("/traefik/config").await;
    assert_eq!(status, 200);
    for name in [&one, &ten] {
        let router = &config["http"]["routers"][name];
        assert_eq!(router["service"], name.as_str(), "{config}");
        assert_eq!(router["entryPoints"], json!(["web"]));
        assert_eq!(
            router["middlewares"],
            json!([
                "spawner-retry@file",
                format!("{name}-instance"),
                "spawner-auth@file"
            ])
        );
        assert!(router["priority"].as_u64().unwrap() > 1);
        assert_eq!(
            config["http"]["services"][name]["loadBalancer"]["servers"][0]["url"],
            format!("http://{name}:9000")
        );
    }
    let rule = config["http"]["routers"][&one]["rule"].as_str().unwrap();
    let pattern = rule
        .strip_prefix("HeaderRegexp(`Cookie`, `")
        .and_then(|r| r.strip_suffix("`)"))
        .unwrap_or_else(|| panic!("unexpected rule {rule}"));
    let regex = regex::Regex::new(pattern).unwrap();
    assert!(regex.is_match(&format!("instance={one}")));
    assert!(regex.is_match(&format!("a=b; instance={one}; c=d")));
    assert!(
        !regex.is_match(&format!("instance={ten}")),
        "{rule} matches {ten}"
    );
    assert!(!regex.is_match(&format!("myinstance={one}")));
    // A signed session routes by its name too; one's never matches ten's router, nor garbage.
    assert!(regex.is_match(&app.cookie(&one)));
    assert!(regex.is_match(&format!("a=b; {}; c=d", app.cookie(&one))));
    assert!(!regex.is_match(&app.cookie(&ten)));
    assert!(!regex.is_match(&format!("instance={one}.garbage")));

    // Stable output: traefik ignores an unchanged payload.
    let (_, again) = app.api_get("/traefik/config").await;
    assert_eq!(config, again);
}

#[tokio::test]
async fn traefik_config_follows_every_create_and_delete() {
    let app = spawn_app().await;
    let name = app.name("cached");
    let routers = |config: &Value| {
        config["http"]["routers"]
            .as_object()
            .cloned()
            .unwrap_or_default()
    };
    let (_, before) = app.api_get("/traefik/config").await;
    assert!(!routers(&before).contains_key(&name));
    app.deploy(&name, IMAGE, json!({"start": false})).await;
    let (_, created) = app.api_get("/traefik/config").await;
    assert!(
        routers(&created).contains_key(&name),
        "a new instance is missing from the config"
    );
    let (status, _) = app
        .api_call(Method::DELETE, &format!("/deploy/{name}"))
        .await;
    assert_eq!(status, 200);
    let (_, deleted) = app.api_get("/traefik/config").await;
    assert!(
        !routers(&deleted).contains_key(&name),
        "a deleted instance is still routed"
    );
}
