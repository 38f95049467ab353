//! Images with a Docker `HEALTHCHECK` are ready as soon as their own check passes (spawner runs
//! its command right after the start), not one health interval later; a check that fails, or
//! cannot even run, still ends in Docker's `unhealthy`, a 502 and a stop.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn a_healthcheck_image_is_ready_when_its_own_check_passes_not_at_dockers_first_interval() {
    let app = spawn_app().await;
    // Docker runs its first check 30 s after the start, past the test's 20 s hold timeout.
    let image = app.build_image(
        IMAGE_NO_HEALTHCHECK,
        r#"HEALTHCHECK --interval=30s --timeout=3s CMD ["/mock-app", "healthcheck"]"#,
    );
    let name = app.name("checked");
    app.deploy(&name, &image, json!({"start": false, "port": 9000}))
        .await;
    let response = app.auth_for(&name).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        docker(&["inspect", "-f", "{{.State.Health.Status}}", &name]),
        "starting",
        "Docker has not checked yet: spawner's own run of the check made it ready"
    );
    assert_eq!(app.app_get(&name, "/status").await.unwrap().status(), 200);
    // Ready stays ready: the next request is answered from memory.
    assert_eq!(app.auth_for(&name).await.status(), 200);
}

#[tokio::test]
async fn a_check_that_cannot_run_leaves_the_verdict_to_docker() {
    let app = spawn_app().await;
    // A shell check in a scratch image: there is no /bin/sh, for spawner's exec or for Docker.
    let image = app.build_image(
        IMAGE_NO_HEALTHCHECK,
        "HEALTHCHECK --interval=1s --timeout=1s --retries=1 CMD /mock-app healthcheck",
    );
    let name = app.name("shell");
    app.deploy(&name, &image, json!({"start": false, "port": 9000}))
        .await;
    let response = app.auth_for(&name).await;
    assert_eq!(response.status(), 502);
    assert!(
        eventually(Duration::from_secs(10), || async {
            app.state(&name) == "exited"
        })
        .await,
        "the unhealthy container was not stopped"
    );
}
