//! `GET /openapi.json` checked by tools nobody here wrote: openapi-spec-validator reads the
//! description spawner serves, and schemathesis calls a live spawner (real daemon) over every
//! operation with generated input, positive and negative, and stateful sequences (create →
//! show → session → stop → start → recreate → delete, from the description's links), checking
//! each answer against the description. Both come from PyPI (scripts/python-tools.sh).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use spawner::domain::ApiToken;

use crate::helpers::*;

/// The bin directory of the tools' virtual environment (made on first use).
fn python_tools() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(root.join("scripts/python-tools.sh"))
        .output()
        .expect("bash runs scripts/python-tools.sh");
    assert!(
        out.status.success(),
        "the Python tools could not be installed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

async fn token_app() -> TestApp {
    let token = Some(ApiToken::parse(TEST_TOKEN).unwrap());
    spawn_app_with(|s| {
        s.listen.api_token = token;
        // Generated deploys start real containers: a few at a time at most.
        s.capacity.max_running = Some(4);
    })
    .await
}

#[tokio::test]
async fn the_description_is_valid_openapi_3_1_behind_the_token_and_covers_every_route() {
    let app = token_app().await;
    let anonymous = reqwest::get(format!("{}/openapi.json", app.api))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let response = app
        .client
        .get(format!("{}/openapi.json", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for (method, path) in spawner::routes::PRIVATE_ROUTES {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} is registered but not described"
        );
    }

    let file = std::env::temp_dir().join(format!("{}-openapi.json", app.cleanup.prefix));
    std::fs::write(&file, &text).unwrap();
    let out = Command::new(python_tools().join("openapi-spec-validator"))
        .arg(&file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "openapi-spec-validator: {said}");
    eprintln!("openapi-spec-validator: {}", said.trim());
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_no_answer_unlike_the_description() {
    let app = token_app().await;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tools = python_tools();
    let api = app.api.clone();
    let (prefix, network) = (app.cleanup.prefix.clone(), app.network().to_string());
    let out = tokio::task::spawn_blocking(move || {
        Command::new(tools.join("schemathesis"))
            .current_dir(root.join("tests/schemathesis"))
            .env("SCHEMATHESIS_HOOKS", "hooks")
            .env("PYTHONPATH", root.join("tests/schemathesis"))
            .env("SPAWNER_ST_PREFIX", &prefix)
            .env("SPAWNER_ST_NETWORK", &network)
            .env("NO_COLOR", "1")
            .args(["--config-file", "schemathesis.toml", "--no-color"])
            .args(["run", &format!("{api}/openapi.json")])
            .args(["--header", &format!("Authorization: Bearer {TEST_TOKEN}")])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    // Its own summary: operations tested, links covered, test cases (calls) and failures.
    let summary = said
        .split("=== SUMMARY ===")
        .nth(1)
        .unwrap_or(&said)
        .trim_matches(|c: char| c == '=' || c.is_whitespace());
    eprintln!("schemathesis summary:\n{summary}");
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
