//! A network instances live on, as spawner needs to see it, and the choice of a fixed address for
//! a new instance.
//!
//! Instances get a fixed IPv4 address at creation when their network has a configured subnet: the
//! route traefik holds for an instance (`http://<address>:<port>`) then stays valid while the
//! instance is stopped and across its restarts, and traefik can reach it without sharing its
//! network (the isolated layout: one bridge with inter-container traffic off, traefik and spawner
//! on the host; see the README's "Security model").

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Docker's option that lets containers on one bridge reach each other.
pub const ICC_OPTION: &str = "com.docker.network.bridge.enable_icc";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInfo {
    pub name: String,
    /// The first IPv4 subnet.
    pub subnet: Option<Ipv4Net>,
    /// Where the engine picks addresses itself (for containers given none); spawner stays out.
    pub ip_range: Option<Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    /// Containers on it can reach each other (a bridge's default).
    pub icc: bool,
    /// No route out of it (Docker's `--internal`).
    pub internal: bool,
    /// Addresses of the containers attached now.
    pub in_use: Vec<Ipv4Addr>,
    /// Instances on it get fixed addresses (label `spawner.fixed-addresses=true`).
    pub fixed_addresses: bool,
}

impl NetworkInfo {
    /// The subnet fixed addresses come from, when the network gives them.
    pub fn fixed_subnet(&self) -> Option<Ipv4Net> {
        self.subnet.filter(|_| self.fixed_addresses)
    }

    /// The first free address at or after `from` (wrapping around), skipping the subnet's own
    /// network and broadcast addresses, the gateway and its usual `.1`, the engine's `ip_range`,
    /// the addresses in use and `taken`. `None` when the subnet is full (or there is none).
    pub fn free_address(&self, taken: &BTreeSet<Ipv4Addr>, from: Ipv4Addr) -> Option<Ipv4Addr> {
        let subnet = self.subnet?;
        let first = u32::from(subnet.network()).checked_add(2)?;
        let last = u32::from(subnet.broadcast()).checked_sub(1)?;
        if first > last {
            return None;
        }
        let start = match u32::from(from) {
            n if (first..=last).contains(&n) => n,
            _ => first,
        };
        let usable = |n: u32| {
            let ip = Ipv4Addr::from(n);
            Some(ip) != self.gateway
                && !self.ip_range.is_some_and(|range| range.contains(&ip))
                && !self.in_use.contains(&ip)
                && !taken.contains(&ip)
        };
        (start..=last)
            .chain(first..start)
            .find(|&n| usable(n))
            .map(Ipv4Addr::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(subnet: &str, range: Option<&str>) -> NetworkInfo {
        NetworkInfo {
            name: "n".into(),
            subnet: Some(subnet.parse().unwrap()),
            ip_range: range.map(|r| r.parse().unwrap()),
            gateway: None,
            icc: false,
            internal: false,
            in_use: vec![],
            fixed_addresses: true,
        }
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn skips_network_gateway_range_used_and_taken() {
        let mut n = net("10.9.0.0/29", Some("10.9.0.4/31"));
        n.gateway = Some(ip("10.9.0.3"));
        n.in_use = vec![ip("10.9.0.2")];
        let taken = BTreeSet::from([ip("10.9.0.6")]);
        // .0 network, .1 usual gateway, .2 in use, .3 gateway, .4-.5 engine's, .6 taken, .7 broadcast
        assert_eq!(n.free_address(&taken, ip("10.9.0.0")), None);
        assert_eq!(
            n.free_address(&BTreeSet::new(), ip("10.9.0.0")),
            Some(ip("10.9.0.6"))
        );
    }

    #[test]
    fn starts_at_the_cursor_and_wraps() {
        let n = net("10.9.0.0/24", None);
        let none = BTreeSet::new();
        assert_eq!(n.free_address(&none, ip("10.9.0.0")), Some(ip("10.9.0.2")));
        assert_eq!(
            n.free_address(&none, ip("10.9.0.200")),
            Some(ip("10.9.0.200"))
        );
        let taken: BTreeSet<_> = (200..=254).map(|i| Ipv4Addr::new(10, 9, 0, i)).collect();
        assert_eq!(
            n.free_address(&taken, ip("10.9.0.200")),
            Some(ip("10.9.0.2"))
        );
        // A cursor outside the subnet starts at its beginning.
        assert_eq!(
            n.free_address(&none, ip("192.168.0.1")),
            Some(ip("10.9.0.2"))
        );
    }

    #[test]
    fn tiny_or_missing_subnets_have_no_address() {
        assert_eq!(
            net("10.9.0.0/31", None).free_address(&BTreeSet::new(), ip("0.0.0.0")),
            None
        );
        let mut n = net("10.9.0.0/24", None);
        n.subnet = None;
        assert_eq!(n.free_address(&BTreeSet::new(), ip("0.0.0.0")), None);
    }
}
