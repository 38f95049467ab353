//! What an instance reaches in Swarm mode, from inside it (the Swarm e2e test checks it
//! against what the README says: each instance on an overlay network of its own).

use std::process::Command;

use crate::stack::{docker, Stack};

/// `mock-app fetch <target> <path>` inside the running task of service `from`: the status, or
/// the error it gave.
fn fetch_from_task(from: &str, target: &str, path: &str) -> Result<u16, String> {
    let filter = format!("label=com.docker.swarm.service.name={from}");
    let container = docker(&["ps", "-q", "--filter", &filter]);
    let container = container.lines().next().expect("a running task container");
    let out = Command::new("docker")
        .args(["exec", container, "/mock-app", "fetch", target, path])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match out.status.success() {
        true => stdout
            .parse()
            .map_err(|_| format!("not a status: {stdout}")),
        false => Err(String::from_utf8_lossy(&out.stderr).trim().to_string()),
    }
}

/// The name of instance `instance`'s own network.
pub fn own_network(instance: &str) -> String {
    let filter = format!("label=spawner.instance={instance}");
    docker(&[
        "network",
        "ls",
        "--filter",
        &filter,
        "--format",
        "{{.Name}}",
    ])
}

/// The address on `network` of the running container that `filter` (a `docker ps` filter)
/// finds first.
fn address_on(filter: &str, network: &str) -> String {
    let container = docker(&["ps", "-q", "--filter", filter]);
    let container = container.lines().next().expect("a running container");
    let format = format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}");
    let address = docker(&["inspect", "-f", &format, container]);
    assert!(!address.is_empty(), "{filter} is not on {network}");
    address
}

/// From inside instance `one`: what it reaches, checked against what the README says. Each
/// instance has an overlay network of its own, which traefik's and spawner's containers join:
/// the other instance is out of reach by name and by address; on its network spawner's API
/// refuses it (403), traefik's api entrypoint wants the token, ForwardAuth a signed cookie;
/// mock-home, on the control network only, is out of reach.
pub fn isolation_as_documented(stack: &Stack, one: &str, two: &str) {
    assert_eq!(fetch_from_task(one, "127.0.0.1:9000", "/status"), Ok(200));
    let own = own_network(one);
    let service = |s: &str| format!("label=com.docker.swarm.service.name={}_{s}", stack.prefix);
    let spawner = address_on(&service("spawner"), &own);
    let traefik = address_on(&service("traefik"), &own);
    let task = |name: &str| format!("label=com.docker.swarm.service.name={name}");
    let other = address_on(&task(two), &own_network(two));
    let checks: [(&str, String, &str, Option<u16>); 7] = [
        (
            "the other instance, by name",
            format!("{two}:9000"),
            "/status",
            None,
        ),
        (
            "the other instance, by address",
            format!("{other}:9000"),
            "/status",
            None,
        ),
        (
            "spawner's API (refused: the caller is an instance)",
            format!("{spawner}:8008"),
            "/deploy",
            Some(403),
        ),
        (
            "spawner's API through traefik's api entrypoint, no token",
            format!("{traefik}:8008"),
            "/deploy",
            Some(401),
        ),
        (
            "spawner's ForwardAuth, no cookie",
            format!("{spawner}:8000"),
            "/auth",
            Some(302),
        ),
        (
            "traefik's API",
            format!("{traefik}:8080"),
            "/api/version",
            Some(200),
        ),
        (
            "mock-home (control network only)",
            "mock-home:8010".into(),
            "/home",
            None,
        ),
    ];
    // The containers on every instance's network do not route between them.
    for filter in [
        service("spawner"),
        service("traefik"),
        format!("label=spawner.anchor={}", stack.network()),
    ] {
        let container = docker(&["ps", "-q", "--filter", &filter]);
        let container = container.lines().next().expect("a running container");
        let sysctls = docker(&["inspect", "-f", "{{json .HostConfig.Sysctls}}", container]);
        assert!(
            sysctls.contains("\"net.ipv4.ip_forward\":\"0\""),
            "{filter}: {sysctls}"
        );
    }
    let mut matrix = Vec::new();
    for (what, target, path, expected) in checks {
        let got = fetch_from_task(one, &target, path);
        matrix.push(format!("{what} ({target}{path}): {got:?}"));
        match expected {
            Some(status) => assert_eq!(got, Ok(status), "{what}"),
            // Out of reach: no answer, or one from beyond the node (a packet for an address
            // that is not on its network leaves by the default route), never the app's 200.
            None => assert_ne!(got, Ok(200), "{what} answered"),
        }
    }
    eprintln!(
        "swarm isolation, from inside {one}:\n  {}",
        matrix.join("\n  ")
    );
}
