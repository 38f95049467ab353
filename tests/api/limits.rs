//! Instances that cannot harm the host: memory, CPU and process limits, dropped capabilities,
//! no new privileges, checked on the container Docker runs and from inside it.

use std::process::Command;

use serde_json::json;

use crate::helpers::*;

fn host_config(name: &str, field: &str) -> String {
    docker(&[
        "inspect",
        "-f",
        &format!("{{{{json .HostConfig.{field}}}}}"),
        name,
    ])
}

/// `docker exec` that may fail: (exit code, stdout).
fn exec(name: &str, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new("docker")
        .arg("exec")
        .arg(name)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

#[tokio::test]
async fn an_instance_runs_with_the_asked_limits_no_new_privileges_and_fewer_capabilities() {
    let app = spawn_app().await;
    let name = app.name("limited");
    app.deploy(
        &name,
        IMAGE_NO_HEALTHCHECK,
        json!({"memory": "64m", "cpus": 0.5, "pids_limit": 32}),
    )
    .await;
    assert_eq!(host_config(&name, "Memory"), (64u64 << 20).to_string());
    assert_eq!(host_config(&name, "MemorySwap"), (64u64 << 20).to_string());
    assert_eq!(host_config(&name, "NanoCpus"), "500000000");
    assert_eq!(host_config(&name, "PidsLimit"), "32");
    assert!(host_config(&name, "SecurityOpt").contains("no-new-privileges:true"));
    let dropped = host_config(&name, "CapDrop");
    for cap in ["NET_RAW", "MKNOD"] {
        assert!(dropped.contains(cap), "{dropped}");
    }
    assert_eq!(host_config(&name, "Privileged"), "false");

    let defaults = app.name("defaults");
    app.deploy(&defaults, IMAGE_NO_HEALTHCHECK, json!({})).await;
    assert_eq!(host_config(&defaults, "Memory"), (512u64 << 20).to_string());
    assert_eq!(host_config(&defaults, "PidsLimit"), "256");
}

#[tokio::test]
async fn an_instance_cannot_allocate_past_its_memory_limit() {
    let app = spawn_app().await;
    let name = app.name("greedy");
    app.deploy(&name, IMAGE_NO_HEALTHCHECK, json!({"memory": "64m"}))
        .await;
    let (code, out) = exec(&name, &["/mock-app", "alloc", "256"]);
    assert_ne!(
        code,
        Some(0),
        "allocated 256 MiB in a 64 MiB instance:\n{out}"
    );
    assert!(!out.contains("allocated 256 MiB"), "{out}");
    // Well within the limit it works.
    let (code, out) = exec(&name, &["/mock-app", "alloc", "16"]);
    assert_eq!(code, Some(0), "{out}");
}

#[tokio::test]
async fn a_fork_loop_in_an_instance_stops_at_its_pids_limit() {
    let app = spawn_app().await;
    let name = app.name("forky");
    app.deploy(&name, IMAGE_NO_HEALTHCHECK, json!({"pids_limit": 24}))
        .await;
    let (code, out) = exec(&name, &["/mock-app", "spawn", "200"]);
    assert_eq!(code, Some(0), "{out}");
    let started: u32 = out
        .trim()
        .strip_prefix("started ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected output {out:?}"));
    assert!(
        started < 24,
        "started {started} processes under a limit of 24"
    );
    assert!(started > 0, "{out}");
}

#[tokio::test]
async fn a_body_above_a_maximum_gets_400_naming_the_field_and_creates_nothing() {
    let app = spawn_app().await;
    let name = app.name("huge");
    for (field, value) in [
        ("memory", json!("64g")),
        ("cpus", json!(64)),
        ("pids_limit", json!(100000)),
    ] {
        let body = json!({"name": name, "image": IMAGE, field: value});
        let response = app.post_deploy(&body.to_string()).await;
        assert_eq!(response.status(), 400, "{field}");
        let error: serde_json::Value = response.json().await.unwrap();
        let message = error["error"].as_str().unwrap();
        assert!(message.contains(&format!("`{field}`")), "{message}");
    }
    assert!(!app.exists(&name));
}
