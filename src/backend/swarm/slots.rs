//! Swarm mode: addresses on the instances' networks. A new network takes the first block of
//! `network_subnet` that no network overlaps ([`free_block`]).
//!
//! The address a Swarm task's container (traefik's, spawner's) gets on an
//! instance's network. Swarm's managers hand out the addresses of its tasks and of plain
//! containers (the anchor), but a task's container joined by `docker network connect` would get
//! one from its node alone, which a manager could hand out again ("Address already in use" when
//! the instance's next task starts). So an instance's network leaves Swarm the lower half of
//! its subnet (its `ip_range`), and the joined containers take addresses of the upper half, each
//! manager node a slice of [`PER_SLICE`] of its own (by its place among the managers, sorted by
//! id), the first one no container of this node has.

use std::net::Ipv4Addr;

use bollard::models::Network;
use bollard::query_parameters::InspectNetworkOptions;
use ipnet::Ipv4Net;
use tokio::sync::OnceCell;

use super::super::docker::convert::error;
use super::super::{BackendError, Op};

/// The prefix length of an instance's subnet: 128 addresses, the lower half for Swarm (its
/// tasks, the anchor and load balancer of each node), the upper half for the containers joined
/// to it (below); a /16 holds 512 instances.
pub const BLOCK: u8 = 25;

/// Addresses of each node's slice of the upper half.
pub const PER_SLICE: u32 = 8;

pub struct Slots {
    client: bollard::Docker,
    /// This node's slice: its place among the managers.
    slice: OnceCell<u32>,
}

/// The part of an instance's subnet Swarm hands out from (its lower half).
pub fn swarm_range(subnet: Ipv4Net) -> Ipv4Net {
    let half = (subnet.prefix_len() + 1).min(32);
    Ipv4Net::new(subnet.network(), half).unwrap_or(subnet)
}

/// The addresses of `slice` in the upper half of `subnet`.
pub fn slice_of(subnet: Ipv4Net, slice: u32) -> impl Iterator<Item = Ipv4Addr> {
    let size = 1u32 << (32 - u32::from(subnet.prefix_len()));
    let upper = u32::from(subnet.network()) + size / 2;
    let slices = (size / 2 / PER_SLICE).max(1);
    let start = upper + (slice % slices) * PER_SLICE;
    let end = (start + PER_SLICE).min(u32::from(subnet.broadcast()));
    (start..end).map(Ipv4Addr::from)
}

impl Slots {
    pub fn new(client: bollard::Docker) -> Self {
        Self {
            client,
            slice: OnceCell::new(),
        }
    }

    /// This node's place among the managers, sorted by id.
    async fn slice(&self) -> Result<u32, BackendError> {
        let slice = self.slice.get_or_try_init(|| async {
            let info = self.client.info().await;
            let info = info.map_err(error(Op::Inspect, "the daemon's swarm node"))?;
            let own = info.swarm.and_then(|s| s.node_id).unwrap_or_default();
            let nodes = self.client.list_nodes(None).await;
            let nodes = nodes.map_err(error(Op::List, "nodes"))?;
            let mut managers: Vec<String> = nodes
                .into_iter()
                .filter(|n| n.manager_status.is_some())
                .filter_map(|n| n.id)
                .collect();
            managers.sort();
            let place = managers.iter().position(|id| *id == own).unwrap_or(0);
            Ok::<_, BackendError>(u32::try_from(place).unwrap_or(0))
        });
        slice.await.copied()
    }

    /// Addresses of this node's slice of `network` that no container of this node has, in
    /// order.
    pub async fn free(&self, network: &str) -> Result<Vec<Ipv4Addr>, BackendError> {
        let options = InspectNetworkOptions {
            verbose: false,
            ..Default::default()
        };
        let inspected = self.client.inspect_network(network, Some(options)).await;
        let inspected = inspected.map_err(error(Op::InspectNetwork, network))?;
        let subnet: Option<Ipv4Net> = inspected
            .ipam
            .and_then(|i| i.config)
            .into_iter()
            .flatten()
            .find_map(|c| c.subnet?.parse().ok());
        let Some(subnet) = subnet else {
            return Err(BackendError::Failed {
                op: Op::JoinNetwork,
                target: network.to_string(),
                source: "the network has no IPv4 subnet".into(),
            });
        };
        let used: Vec<Ipv4Addr> = inspected
            .containers
            .unwrap_or_default()
            .values()
            .filter_map(|c| c.ipv4_address.as_deref()?.split('/').next()?.parse().ok())
            .collect();
        let slice = self.slice().await?;
        Ok(slice_of(subnet, slice)
            .filter(|a| !used.contains(a))
            .collect())
    }
}

/// The IPv4 subnets a network has.
pub fn subnets(network: &Network) -> impl Iterator<Item = Ipv4Net> + '_ {
    let configs = network.ipam.as_ref().and_then(|i| i.config.as_ref());
    configs
        .into_iter()
        .flatten()
        .filter_map(|c| c.subnet.as_deref()?.parse().ok())
}

/// The first /[`BLOCK`] of `pool` that no network's subnet overlaps.
pub fn free_block(pool: Ipv4Net, networks: &[Network]) -> Option<Ipv4Net> {
    let taken: Vec<Ipv4Net> = networks.iter().flat_map(subnets).collect();
    let overlaps = |a: &Ipv4Net, b: &Ipv4Net| a.contains(&b.network()) || b.contains(&a.network());
    pool.subnets(BLOCK.max(pool.prefix_len()))
        .ok()?
        .find(|block| !taken.iter().any(|t| overlaps(block, t)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{Ipam, IpamConfig};

    #[test]
    fn swarm_has_the_lower_half_and_each_manager_a_slice_of_the_upper() {
        let subnet: Ipv4Net = "10.213.0.128/25".parse().unwrap();
        assert_eq!(swarm_range(subnet).to_string(), "10.213.0.128/26");
        let first: Vec<String> = slice_of(subnet, 0).map(|a| a.to_string()).collect();
        assert_eq!(first.first().map(String::as_str), Some("10.213.0.192"));
        assert_eq!(first.len(), 8);
        let last: Vec<Ipv4Addr> = slice_of(subnet, 7).collect();
        assert_eq!(last.last().copied(), Some("10.213.0.254".parse().unwrap()));
        assert_eq!(last.len(), 7, "the broadcast address is not handed out");
        // More managers than slices share them again.
        assert_eq!(slice_of(subnet, 8).next(), slice_of(subnet, 0).next());
    }

    fn on(subnet: &str) -> Network {
        Network {
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(subnet.into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_new_instance_takes_the_first_block_no_network_overlaps() {
        let pool: Ipv4Net = "10.213.0.0/16".parse().unwrap();
        let block = |networks: &[Network]| free_block(pool, networks).map(|b| b.to_string());
        assert_eq!(block(&[]).as_deref(), Some("10.213.0.0/25"));
        let taken = [
            on("10.213.0.0/26"),
            on("10.213.1.0/24"),
            on("172.17.0.0/16"),
        ];
        assert_eq!(block(&taken).as_deref(), Some("10.213.0.128/25"));
        // A network over a part of the pool (made by hand) takes every block it touches.
        assert_eq!(
            block(&[on("10.213.0.0/17")]).as_deref(),
            Some("10.213.128.0/25")
        );
        assert_eq!(block(&[on("10.0.0.0/8")]), None);
    }

    #[test]
    fn a_pool_smaller_than_a_block_is_one_block() {
        let pool: Ipv4Net = "10.1.2.0/28".parse().unwrap();
        assert_eq!(free_block(pool, &[]), Some(pool));
    }
}
