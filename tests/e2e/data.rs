//! Per-user data through traefik: a file written to the instance's volume survives a recreate
//! with another image tag (the home app's "upgrade my instance"), read back through traefik.

use serde_json::{json, Value};

use crate::stack::*;

/// Removes a throw-away image tag when the test ends.
struct Tag(String);

impl Drop for Tag {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rmi", &self.0])
            .output();
    }
}

#[tokio::test]
async fn a_file_survives_a_recreate_with_another_image_tag_read_through_traefik() {
    let stack = Stack::up().await;
    let name = stack.name("data");
    stack
        .create_with(&name, json!({}), json!({"volumes": {"work": "/data"}}))
        .await;
    stack.wait_routed(&name).await;
    let write = stack
        .client
        .put(format!("{}/files/notebook.txt", stack.public))
        .header("Cookie", stack.cookie(&name))
        .body("cell 1: print('hello')")
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 201, "{}", write.text().await.unwrap());

    let v2 = Tag(format!("{}-app:v2", stack.prefix));
    docker(&["tag", "mock-app:latest", &v2.0]);
    let recreated = stack
        .client
        .post(format!("{}/deploy/{name}/recreate", stack.api))
        .bearer_auth(&stack.token)
        .json(&json!({"image": v2.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(recreated.status(), 200);
    let view: Value = recreated.json().await.unwrap();
    assert_eq!(view["image"], v2.0.as_str());

    // The same cookie, through traefik, on the new container: the file is there.
    let read = stack.get("/files/notebook.txt", Some(&name)).await;
    assert_eq!(read.status(), 200);
    assert_eq!(read.text().await.unwrap(), "cell 1: print('hello')");
    let image = docker(&["inspect", "-f", "{{.Config.Image}}", &name]);
    assert_eq!(image, v2.0);
}
