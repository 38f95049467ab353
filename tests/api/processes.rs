//! spawner as a process of its own (the real binary), in a test's own scope: for what only a
//! process shows (signals, a restart).

use std::sync::Arc;

use serde_json::Value;

use crate::helpers::*;

/// A scope (a unique prefix) for the test's processes and instances, and what removes the
/// instances when the test ends.
pub fn process_scope() -> (String, Arc<Cleanup>) {
    require_docker();
    let prefix = unique_prefix();
    let cleanup = Arc::new(Cleanup {
        prefix: prefix.clone(),
        network: String::new(),
        images: Default::default(),
    });
    (prefix, cleanup)
}

/// A spawner process in `scope` with `hold_timeout` and plain cookies, on the default bridge,
/// with `extra` settings.
pub fn spawner_in(scope: &str, hold: &str, extra: &[(&str, &str)]) -> SpawnerProcess {
    let mut env = vec![
        ("SPAWNER_SCOPE", scope),
        ("SPAWNER_HOLD_TIMEOUT", hold),
        ("SPAWNER_COOKIE_SIGNING", "false"),
    ];
    env.extend_from_slice(extra);
    SpawnerProcess::start("spawner", &env)
}

/// `POST /deploy` of `body` to the process; asserts it was created.
pub async fn deploy_to(spawner: &SpawnerProcess, body: &Value) {
    let created = reqwest::Client::new()
        .post(format!("{}/deploy", spawner.api))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
}
