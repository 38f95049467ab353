//! Fixed addresses for new instances. Creates run at once, and a new container reaches the index
//! only when its create returns, so an address handed out stays reserved here until then: two
//! creates never get the same one. The choice itself is [`NetworkInfo::free_address`]; a cursor
//! moves on after each, so a deleted instance's address is the last to be given again.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Mutex;

use crate::domain::NetworkInfo;

#[derive(Default)]
pub struct Addresses {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    reserved: BTreeSet<Ipv4Addr>,
    cursor: Option<Ipv4Addr>,
}

/// An address held for one create; released when dropped (by then the index has the container).
pub struct Reservation<'a> {
    addresses: &'a Addresses,
    pub address: Ipv4Addr,
}

impl Addresses {
    /// A free address on `network` that is neither in `taken` (the index's) nor reserved by
    /// another create under way; `None` when the subnet is full.
    pub fn reserve(
        &self,
        network: &NetworkInfo,
        mut taken: BTreeSet<Ipv4Addr>,
    ) -> Option<Reservation<'_>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        taken.extend(state.reserved.iter().copied());
        let from = state.cursor.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let address = network.free_address(&taken, from)?;
        state.reserved.insert(address);
        state.cursor = Some(Ipv4Addr::from(u32::from(address).wrapping_add(1)));
        Some(Reservation {
            addresses: self,
            address,
        })
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut state = self
            .addresses
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        state.reserved.remove(&self.address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_addresses_are_not_given_twice_and_come_back_when_dropped() {
        let network = NetworkInfo {
            name: "n".into(),
            subnet: Some("10.9.0.0/29".parse().unwrap()),
            ip_range: None,
            gateway: None,
            icc: false,
            internal: false,
            in_use: vec![],
            fixed_addresses: true,
        };
        let addresses = Addresses::default();
        let held: Vec<_> = (0..5)
            .map(|_| addresses.reserve(&network, BTreeSet::new()).unwrap())
            .collect();
        let given: BTreeSet<_> = held.iter().map(|r| r.address).collect();
        assert_eq!(given.len(), 5, "{given:?}");
        assert!(addresses.reserve(&network, BTreeSet::new()).is_none());
        drop(held);
        assert!(addresses.reserve(&network, BTreeSet::new()).is_some());
    }
}
