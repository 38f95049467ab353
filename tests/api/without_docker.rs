//! A spawner whose Docker socket refuses every connection: what the private API answers when
//! Docker cannot, or before it is asked. Each failure is the one JSON error shape (`error`,
//! `cause`, `retry_after`), with its cause apart from its sentence. No image is needed.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;

/// A spawner whose Docker socket refuses every connection, as a stopped daemon's does.
struct WithoutDocker {
    process: SpawnerProcess,
    socket: std::path::PathBuf,
}

impl WithoutDocker {
    fn start(env: &[(&str, &str)]) -> Self {
        let socket = std::env::temp_dir().join(format!("{}-docker.sock", unique_prefix()));
        drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
        let host = format!("unix://{}", socket.display());
        let env: Vec<_> = [("DOCKER_HOST", host.as_str())]
            .into_iter()
            .chain(env.iter().copied())
            .collect();
        let process = SpawnerProcess::start("spawner", &env);
        WithoutDocker { process, socket }
    }

    /// A call to the private API: its status and JSON body.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let response = reqwest::Client::new()
            .request(method, format!("{}{path}", self.process.api))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        (status, body)
    }

    /// A deploy that must pull its image first.
    async fn deploy_pulling(&self, image: &str) -> (u16, Value) {
        let body = json!({"name": "m1", "image": image, "pull_policy": "always"});
        self.call(Method::POST, "/deploy", body.to_string()).await
    }
}

impl Drop for WithoutDocker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.socket);
    }
}

#[tokio::test]
async fn a_pull_docker_cannot_answer_is_a_503_with_dockers_error_as_the_cause() {
    let spawner = WithoutDocker::start(&[]);
    let (status, body) = spawner.deploy_pulling("127.0.0.1:1/app:1").await;
    assert_eq!(status, 503, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("127.0.0.1:1/app:1"), "{body}");
    let cause = body["cause"].as_str().unwrap();
    assert!(cause.contains("cannot be reached"), "{body}");
}

#[tokio::test]
async fn a_registry_auth_file_gone_since_the_start_fails_the_pull_with_the_file_as_the_cause() {
    let file = std::env::temp_dir().join(format!("{}-config.json", unique_prefix()));
    std::fs::write(&file, r#"{"auths":{}}"#).unwrap();
    let path = file.to_str().unwrap();
    // Valid at the start, where it is checked; read again at each pull.
    let spawner = WithoutDocker::start(&[("SPAWNER_REGISTRY_AUTH_FILE", path)]);
    std::fs::remove_file(&file).unwrap();
    let (status, body) = spawner.deploy_pulling("127.0.0.1:1/app:1").await;
    assert_eq!(status, 502, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("credentials"), "{body}");
    let cause = body["cause"].as_str().unwrap();
    assert!(
        cause.contains(path) && cause.contains("No such file"),
        "{body}"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_413_in_the_json_error_shape() {
    let spawner = WithoutDocker::start(&[]);
    for path in ["/deploy", "/deploy/m1/recreate"] {
        let (status, body) = spawner
            .call(Method::POST, path, vec![b' '; 300 * 1024])
            .await;
        assert_eq!(status, 413, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("256 KiB"),
            "{body}"
        );
        assert!(body["cause"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn a_query_string_that_does_not_parse_is_a_400_in_the_json_error_shape() {
    let spawner = WithoutDocker::start(&[]);
    let (status, body) = spawner
        .call(Method::DELETE, "/deploy/m1?purge=true&purge=false", "")
        .await;
    assert_eq!(status, 400, "{body}");
    let cause = body["cause"].as_str().unwrap();
    assert_eq!(cause, "duplicate field `purge`", "said once: {body}");
}
