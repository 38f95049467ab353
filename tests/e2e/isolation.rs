//! From inside a real instance (mock-app's `fetch`, run with `docker exec`): no connection to
//! another instance, to spawner (both ports), to traefik's API or to mock-home, while traefik
//! reaches every instance, also across a restart (the route names the instance's fixed address).

use std::process::Command;

use serde_json::{json, Value};

use crate::stack::*;

/// `mock-app fetch <target> /…` inside `from`: the status it printed, or the error it gave.
fn fetch_from(from: &str, target: &str, path: &str) -> Result<u16, String> {
    let out = Command::new("docker")
        .args(["exec", from, "/mock-app", "fetch", target, path])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() {
        stdout
            .parse()
            .map_err(|_| format!("not a status: {stdout}"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// A field of the container's endpoint on `net` (`IPAddress`, `Gateway`, `IPAMConfig.IPv4Address`).
fn endpoint(name: &str, net: &str, field: &str) -> String {
    let format = format!("{{{{(index .NetworkSettings.Networks \"{net}\").{field}}}}}");
    docker(&["inspect", "-f", &format, name])
}

#[tokio::test]
async fn an_instance_reaches_no_other_instance_nor_the_control_plane() {
    let stack = Stack::up().await;
    let one = stack.name("minion-1");
    let two = stack.name("minion-2");
    stack.create_routed(&[&one, &two], json!({})).await;
    let net = stack.network();

    // The network spawner created: its own subnet, inter-container traffic off.
    let options = docker(&["network", "inspect", "-f", "{{json .Options}}", &net]);
    assert!(
        options.contains(r#""com.docker.network.bridge.enable_icc":"false""#),
        "{options}"
    );
    let two_ip = endpoint(&two, &net, "IPAddress");
    let gateway = endpoint(&one, &net, "Gateway");

    // The probe works: the app itself, and traefik's public port (as anyone on the internet).
    assert_eq!(fetch_from(&one, "127.0.0.1:9000", "/status"), Ok(200));
    let public = format!("{gateway}:{}", stack.var("HTTP_PORT"));
    assert_eq!(fetch_from(&one, &public, "/home"), Ok(200));

    let mut reached = Vec::new();
    let targets = [
        ("the other instance, by address", format!("{two_ip}:9000")),
        ("the other instance, by name", format!("{two}:9000")),
        (
            "spawner's API",
            format!("{gateway}:{}", stack.var("API_PORT")),
        ),
        (
            "spawner's ForwardAuth",
            format!("{gateway}:{}", stack.var("AUTH_PORT")),
        ),
        (
            "traefik's API",
            format!("{gateway}:{}", stack.var("DASHBOARD_PORT")),
        ),
        (
            "mock-home, past traefik",
            format!("{gateway}:{}", stack.var("HOME_PORT")),
        ),
    ];
    for (what, target) in &targets {
        match fetch_from(&one, target, "/") {
            Ok(status) => reached.push(format!("{what} ({target}) answered {status}")),
            Err(e) => eprintln!("{what} ({target}): {e}"),
        }
    }
    assert!(reached.is_empty(), "reached from inside {one}: {reached:?}");

    // traefik still reaches both, by their fixed addresses.
    for name in [&one, &two] {
        let response = stack.get("/", Some(name)).await;
        assert_eq!(response.status(), 200, "{name} through traefik");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["hostname"], name.as_str(), "{body}");
    }
    let fixed = endpoint(&two, &net, "IPAMConfig.IPv4Address");
    assert_eq!(fixed, two_ip, "{two} runs at its fixed address");
    let config: Value = stack
        .client
        .get(format!("{}/traefik/config", stack.api))
        .bearer_auth(&stack.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = &config["http"]["services"][&two]["loadBalancer"]["servers"][0]["url"];
    assert_eq!(url, &json!(format!("http://{fixed}:9000")));

    // Stopped, its route stays valid: the next request wakes it at the same address.
    docker(&["stop", "-t", "1", &two]);
    let response = stack.get("/", Some(&two)).await;
    assert_eq!(response.status(), 200, "{two} woken through traefik");
    let running_at = endpoint(&two, &net, "IPAddress");
    assert_eq!(running_at, fixed);
}
