//! The instances' network as spawner makes it: created when missing, isolated (no
//! inter-container traffic), with a fixed address for every instance that traefik's route names
//! and that survives a stop. A subnet that cannot be had stops spawner at start, saying which
//! setting to change.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::{json, Value};
use spawner::configuration::Settings;
use spawner::startup::Application;

use crate::common::free_subnet;
use crate::helpers::*;

/// Removes the network when dropped: declared before the app, so it goes after the containers.
struct RemoveNetwork(String);

impl Drop for RemoveNetwork {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["network", "rm", &self.0])
            .output();
    }
}

fn network_field(network: &str, format: &str) -> String {
    docker(&["network", "inspect", "-f", format, network])
}

#[tokio::test]
async fn spawner_creates_an_isolated_network_and_gives_each_instance_a_fixed_address() {
    let own = format!("{}-own", unique_prefix());
    let subnet = free_subnet();
    let _network = RemoveNetwork(own.clone());
    let app = spawn_app_with(|s| {
        s.engine.network = own.clone();
        s.engine.allowed_networks = vec![own.clone()];
        s.engine.network_subnet = subnet.parse().unwrap();
    })
    .await;

    assert_eq!(
        network_field(&own, "{{range .IPAM.Config}}{{.Subnet}}{{end}}"),
        subnet
    );
    let options = network_field(&own, "{{json .Options}}");
    assert!(
        options.contains(r#""com.docker.network.bridge.enable_icc":"false""#),
        "{options}"
    );
    let labels = network_field(&own, "{{json .Labels}}");
    assert!(
        labels.contains(r#""spawner.fixed-addresses":"true""#),
        "{labels}"
    );

    // Created at once, stopped or running: each its own address in the subnet.
    let names: Vec<String> = (1..=4).map(|i| app.name(&format!("m{i}"))).collect();
    let deploys = names.iter().enumerate().map(|(i, name)| {
        let start = i % 2 == 0;
        app.deploy(
            name,
            IMAGE_NO_HEALTHCHECK,
            json!({"port": 9000, "start": start}),
        )
    });
    futures_util::future::join_all(deploys).await;
    let fixed_of = |name: &str| {
        docker(&[
            "inspect",
            "-f",
            &format!("{{{{(index .NetworkSettings.Networks \"{own}\").IPAMConfig.IPv4Address}}}}"),
            name,
        ])
    };
    let net: ipnet::Ipv4Net = subnet.parse().unwrap();
    let addresses: BTreeSet<String> = names.iter().map(|n| fixed_of(n)).collect();
    assert_eq!(addresses.len(), names.len(), "{addresses:?}");
    for address in &addresses {
        let ip: std::net::Ipv4Addr = address.parse().unwrap();
        assert!(net.contains(&ip) && ip != net.network() && ip != net.broadcast());
    }

    // traefik's route names the fixed address, for stopped instances too.
    let (_, config) = app.api_get("/traefik/config").await;
    for name in &names {
        let url = &config["http"]["services"][name]["loadBalancer"]["servers"][0]["url"];
        assert_eq!(
            url,
            &json!(format!("http://{}:9000", fixed_of(name))),
            "{config}"
        );
    }

    // A stopped instance comes back at that address when woken.
    let sleeper = &names[1];
    let response = app.auth_for(sleeper).await;
    assert_eq!(response.status(), 200);
    let running: Value = serde_json::from_str(&docker(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings.Networks}}",
        sleeper,
    ]))
    .unwrap();
    assert_eq!(running[&own]["IPAddress"], json!(fixed_of(sleeper)));
}

#[tokio::test]
async fn a_subnet_that_cannot_be_had_stops_spawner_naming_the_setting() {
    // The subnet of an existing network: Docker refuses an overlapping one.
    let taken = format!("{}-taken", unique_prefix());
    let subnet = free_subnet();
    docker(&["network", "create", "--subnet", &subnet, &taken]);
    let _taken = RemoveNetwork(taken);
    let mut settings = Settings::for_tests();
    settings.engine.network = format!("{}-new", unique_prefix());
    settings.engine.network_subnet = subnet.parse().unwrap();
    let _new = RemoveNetwork(settings.engine.network.clone());
    let error = match Application::build(settings).await {
        Ok(_) => panic!("spawner started on a subnet another network holds"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("network_subnet"), "{error}");
    assert!(error.contains(&subnet), "{error}");
}
