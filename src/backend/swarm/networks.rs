//! Swarm mode: each instance on an overlay network of its own, so that instances cannot reach
//! each other (an overlay network has no switch for traffic between its containers). Its subnet
//! is a /26 of `network_subnet`, so spawner's API still tells an instance by its address. The
//! containers of this node labelled `spawner.reaches=<scope>` (traefik's, spawner's) are joined
//! to it with `docker network connect`, which needs no restart of their task: traefik reaches the
//! instance by name there, spawner probes it. Each replica joins the containers of its own node,
//! when it creates or wakes an instance and whenever such a container starts (a new traefik task
//! is joined to every instance's network). README: Swarm mode, isolation.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use std::net::Ipv4Addr;

use bollard::models::{EndpointIpamConfig, EndpointSettings};
use bollard::models::{Ipam, IpamConfig, Network, NetworkConnectRequest};
use bollard::models::{NetworkCreateRequest, NetworkDisconnectRequest};
use bollard::query_parameters::{ListContainersOptionsBuilder, ListNetworksOptionsBuilder};
use ipnet::Ipv4Net;

use super::super::docker::convert::{error, parse_time};
use super::super::{BackendError, Op};
use super::anchor::Anchor;
pub use super::slots::BLOCK;
use super::slots::{free_block, subnets, swarm_range, Slots};
use crate::domain::instance_labels;

/// How old an instance's network must be before a sweep may remove it.
const YOUNG: std::time::Duration = std::time::Duration::from_secs(120);
/// How often, and how far apart, a removal is tried again while Swarm still holds the network.
const REMOVE_TRIES: u32 = 20;
const REMOVE_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);
/// Tries at a free subnet when other replicas take the same one at the same time.
const TRIES: usize = 8;

/// A new network's name for instance `instance` whose deploy named network `family`: each is
/// new (a recreate makes another), as a node may still know a removed one by its name for a
/// moment. spawner finds an instance's network by the id its service names.
fn fresh_name(family: &str, instance: &str) -> String {
    let mut bytes = [0u8; 3];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    let suffix: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Docker takes names of 63 characters at most: the middle gives way (the label names the
    // instance whole).
    let room = 63usize.saturating_sub(family.len() + suffix.len() + 2);
    let instance = &instance[..instance.len().min(room)];
    format!("{family}-{instance}-{suffix}")
}

pub struct Networks {
    client: bollard::Docker,
    /// Where the instances' subnets are taken from (`network_subnet`).
    pool: Ipv4Net,
    scope: String,
    /// (container, network) pairs joined by this process: a wake asks the engine nothing more
    /// for them.
    joined: Mutex<HashSet<(String, String)>>,
    /// The plain container joined first, so that this node has the network for the others.
    anchor: Anchor,
    /// The addresses the others get.
    slots: Slots,
}

impl Networks {
    pub fn new(client: bollard::Docker, pool: Ipv4Net, scope: &str) -> Self {
        Self {
            client: client.clone(),
            pool,
            scope: scope.to_string(),
            joined: Mutex::default(),
            anchor: Anchor::new(client.clone(), scope),
            slots: Slots::new(client.clone()),
        }
    }

    pub fn client(&self) -> &bollard::Docker {
        &self.client
    }

    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The engine's label filter for what spawner made in this scope.
    pub fn scope_filters(&self) -> HashMap<String, Vec<String>> {
        let labels = vec![
            instance_labels::managed_filter(),
            instance_labels::scope_filter(&self.scope),
        ];
        HashMap::from([("label".to_string(), labels)])
    }

    /// Makes a network for instance `instance` of network family `family`, joins this node's
    /// containers to it and returns its id.
    pub async fn create(&self, family: &str, instance: &str) -> Result<String, BackendError> {
        for _ in 0..TRIES {
            let name = fresh_name(family, instance);
            let networks = self.all().await?;
            let Some(subnet) = free_block(self.pool, &networks) else {
                return Err(BackendError::Rejected {
                    op: Op::CreateNetwork,
                    target: name,
                    source: format!(
                        "network_subnet {} has no free /{BLOCK} left for another instance: \
                         choose a larger one",
                        self.pool
                    )
                    .into(),
                });
            };
            let id = self.create_on(&name, instance, subnet).await?;
            // Swarm does not refuse a subnet another network has: when another replica took the
            // same one meanwhile, the network with the greater name gives it up and tries again.
            let networks = self.all().await?;
            let clash = networks.iter().any(|n| {
                n.name.as_deref().is_some_and(|other| *other < *name)
                    && subnets(n).any(|s| s == subnet)
            });
            if !clash {
                if let Err(e) = self.join(&id).await {
                    let _ = self.remove(&id).await;
                    return Err(e);
                }
                return Ok(id);
            }
            log::info!("{name}: subnet {subnet} was taken meanwhile; trying another");
            self.remove(&id).await?;
        }
        Err(BackendError::Failed {
            op: Op::CreateNetwork,
            target: family.to_string(),
            source: "no free subnet could be kept: other replicas took each one first".into(),
        })
    }

    async fn create_on(
        &self,
        name: &str,
        instance: &str,
        subnet: Ipv4Net,
    ) -> Result<String, BackendError> {
        let labels = instance_labels::instance_network_labels(&self.scope, instance);
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("overlay".into()),
            attachable: Some(true),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(subnet.to_string()),
                    ip_range: Some(swarm_range(subnet).to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            labels: Some(labels.into_iter().collect()),
            ..Default::default()
        };
        let created = self.client.create_network(request).await;
        let created = created.map_err(error(Op::CreateNetwork, name))?;
        Ok(created.id)
    }

    /// Every network of the daemon (their subnets are what a new one must not overlap).
    async fn all(&self) -> Result<Vec<Network>, BackendError> {
        let listed = self.client.list_networks(None).await;
        listed.map_err(error(Op::InspectNetwork, "networks"))
    }

    /// The instances' networks of this scope.
    async fn listed(&self) -> Result<Vec<Network>, BackendError> {
        let filters = self.scope_filters();
        let options = ListNetworksOptionsBuilder::default()
            .filters(&filters)
            .build();
        let listed = self.client.list_networks(Some(options)).await;
        listed.map_err(error(Op::InspectNetwork, "networks"))
    }

    /// The ids of the instances' networks of this scope.
    pub async fn instance_networks(&self) -> Result<Vec<String>, BackendError> {
        let listed = self.listed().await?;
        Ok(listed.into_iter().filter_map(|n| n.id).collect())
    }

    /// The running containers of this node that are to reach the instances.
    pub async fn joiners(&self) -> Result<Vec<String>, BackendError> {
        let filters = HashMap::from([
            (
                "label".to_string(),
                vec![instance_labels::reaches_filter(&self.scope)],
            ),
            ("status".to_string(), vec!["running".to_string()]),
        ]);
        let options = ListContainersOptionsBuilder::default()
            .filters(&filters)
            .build();
        let listed = self.client.list_containers(Some(options)).await;
        let listed = listed.map_err(error(Op::List, "containers"))?;
        Ok(listed.into_iter().filter_map(|c| c.id).collect())
    }

    /// Joins this node's containers to network `network` (an id), the anchor first (those
    /// joined before are not asked again). Only the anchor's failure is an error: a container
    /// that cannot join now (one going away) is logged, and tried again by the next check.
    pub async fn join(&self, network: &str) -> Result<(), BackendError> {
        self.anchor_on(network).await?;
        for container in self.joiners().await? {
            if let Err(e) = self.join_task(network, &container).await {
                let short = &container[..container.len().min(12)];
                log::warn!("cannot join container {short}: {}", crate::error::chain(&e));
            }
        }
        Ok(())
    }

    /// Joins `container` to every instance's network of this scope, each after the anchor.
    pub async fn join_all(&self, container: &str) -> Result<usize, BackendError> {
        // One at a time: the daemon connects a container to one network at a time anyway (8 at
        // once took as long: BENCHMARKS.md, "Swarm: a network per instance").
        // One network that cannot be joined (a removal half done) holds up none of the others.
        let networks = self.instance_networks().await?;
        let mut joined = 0;
        for network in &networks {
            let result = match self.anchor_on(network).await {
                Ok(()) => self.join_task(network, container).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => joined += 1,
                Err(e) => log::warn!("cannot join network {network}: {}", crate::error::chain(&e)),
            }
        }
        Ok(joined)
    }

    /// Connects a Swarm task's container to `network` at an address of this node's slice (one
    /// another node took meanwhile is skipped).
    async fn join_task(&self, network: &str, container: &str) -> Result<(), BackendError> {
        if self.is_joined(network, container) {
            return Ok(());
        }
        let free = self.slots.free(network).await?;
        let mut last = None;
        for address in free {
            match self.connect(network, container, Some(address)).await {
                Err(e) if crate::error::chain(&e).contains("in use") => last = Some(e),
                other => return other,
            }
        }
        Err(last.unwrap_or_else(|| BackendError::Failed {
            op: Op::JoinNetwork,
            target: network.to_string(),
            source: "this node's addresses on it are all taken".into(),
        }))
    }

    fn is_joined(&self, network: &str, container: &str) -> bool {
        let key = (container.to_string(), network.to_string());
        self.lock().contains(&key)
    }

    /// Connects the anchor to `network` (made or started again if it is gone).
    async fn anchor_on(&self, network: &str) -> Result<(), BackendError> {
        let anchor = self.anchor.id().await?;
        match self.connect(network, &anchor, None).await {
            // Removed by hand: made again.
            Err(e) if e.is_not_found() => {
                self.anchor.forget();
                let anchor = self.anchor.id().await?;
                self.connect(network, &anchor, None).await
            }
            other => other,
        }
    }

    /// Connects `container` (at `address`, or one Swarm gives it); once per pair.
    async fn connect(
        &self,
        network: &str,
        container: &str,
        address: Option<Ipv4Addr>,
    ) -> Result<(), BackendError> {
        if self.is_joined(network, container) {
            return Ok(());
        }
        let key = (container.to_string(), network.to_string());
        let request = NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: address.map(|a| EndpointSettings {
                ipam_config: Some(EndpointIpamConfig {
                    ipv4_address: Some(a.to_string()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        };
        match self.client.connect_network(network, request).await {
            Ok(()) => {}
            // Joined before (by another replica of this node): "is already attached to
            // network", or "endpoint with name … already exists".
            Err(bollard::errors::Error::DockerResponseServerError { message, .. })
                if message.contains("already attached") || message.contains("already exists") => {}
            Err(e) => return Err(error(Op::JoinNetwork, network)(e)),
        }
        self.lock().insert(key);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String)>> {
        self.joined.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes this node's containers off `network` and removes it; one already gone is fine. On
    /// several nodes, a network still joined on another node stays until that node's replica
    /// takes its containers off ([`Networks::sweep`]).
    pub async fn remove(&self, network: &str) -> Result<(), BackendError> {
        let mut joined = self.joiners().await?;
        joined.extend(self.anchor.id().await.ok());
        for container in joined {
            let request = NetworkDisconnectRequest {
                container: container.clone(),
                force: Some(true),
            };
            let _ = self.client.disconnect_network(network, request).await;
            self.lock().remove(&(container, network.to_string()));
        }
        // Swarm lets go of the endpoints of a removed service's tasks a moment after their
        // containers are gone ("in use by task").
        let mut tries = REMOVE_TRIES;
        loop {
            match self.client.remove_network(network).await {
                Ok(()) => return Ok(()),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => return Ok(()),
                Err(bollard::errors::Error::DockerResponseServerError { message, .. })
                    if message.contains("in use") && tries > 0 =>
                {
                    tries -= 1;
                    tokio::time::sleep(REMOVE_PAUSE).await;
                }
                Err(e) => return Err(error(Op::RemoveNetwork, network)(e)),
            }
        }
    }

    /// Removes the networks of instances that are gone (a service removed behind spawner's
    /// back, or a removal another node's containers held up); `live` names the instances.
    /// One made in the last [`YOUNG`] is left alone: its service may not exist yet.
    pub async fn sweep(&self, live: &HashSet<String>) -> Result<usize, BackendError> {
        let mut removed = 0;
        let now = std::time::SystemTime::now();
        for listed in self.listed().await? {
            let (Some(network), Some(instance)) = (listed.id.as_deref(), owner(&listed)) else {
                continue;
            };
            let created = listed.created.as_deref().and_then(|c| parse_time(Some(c)));
            let young = created.is_none_or(|c| now.duration_since(c).unwrap_or_default() < YOUNG);
            if live.contains(instance) || young {
                continue;
            }
            match self.remove(network).await {
                Ok(()) => removed += 1,
                Err(e) => log::warn!(
                    "cannot remove {network}, the network of a removed instance: {}",
                    crate::error::chain(&e)
                ),
            }
        }
        Ok(removed)
    }
}

fn owner(network: &Network) -> Option<&str> {
    instance_labels::owner_of(network.labels.iter().flatten())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_network_name_fits_dockers_63_characters_and_keeps_the_instance_when_it_can() {
        let short = super::fresh_name("traefiknet", "alice");
        assert!(short.starts_with("traefiknet-alice-"), "{short}");
        assert_eq!(short.len(), "traefiknet-alice-".len() + 6);
        let long = super::fresh_name("traefiknet", &"a".repeat(63));
        assert_eq!(long.len(), 63, "{long}");
        assert_ne!(super::fresh_name("n", "x"), super::fresh_name("n", "x"));
    }
}
