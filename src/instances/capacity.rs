//! `max_running`: at most that many instances run or are paused at once. A start or a create
//! beyond it first stops the least recently active instance that can go ([`policy`]); when none
//! can, it is refused and nothing changes.
//!
//! The count and the choice are made under the transitions table's lock, from the index plus the
//! places that starts and creates under way hold ([`Slot`]), so concurrent wakes never exceed the
//! cap: each takes its place (or evicts one) before it asks the engine to start anything, and an
//! evicted instance counts until its stop has ended.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::containers::Containers;
use super::policy::{self, IdleRules};
use super::transitions::{Slot, Transitions};
use super::CapacityFull;
use crate::configuration::CapacitySettings;
use crate::domain::{IdleAction, RunState};
use crate::metrics::Reason;

pub(super) struct Capacity {
    /// `None`: no cap.
    max: Option<usize>,
    /// How long an instance must have been quiet to be evicted.
    evict_grace: Duration,
    rules: IdleRules,
    transitions: Arc<Transitions>,
    containers: Arc<Containers>,
}

/// Whether a container in this state takes a place under the cap.
pub(super) fn occupies(state: RunState) -> bool {
    matches!(
        state,
        RunState::Running | RunState::Paused | RunState::Restarting
    )
}

impl Capacity {
    pub fn new(
        capacity: &CapacitySettings,
        rules: IdleRules,
        transitions: Arc<Transitions>,
        containers: Arc<Containers>,
    ) -> Self {
        Self {
            max: capacity.max_running,
            evict_grace: capacity.evict_grace,
            rules,
            transitions,
            containers,
        }
    }

    /// Holds `name`'s place under the cap whatever the count, for an instance that already
    /// counts and is about to stop counting for a moment (a recreate between its old container's
    /// removal and its new one's start).
    pub fn keep_place(&self, name: &str) -> Slot {
        if self.max.is_none() {
            return Slot::none();
        }
        let mut table = self.transitions.lock();
        self.transitions.take_place(&mut table, name)
    }

    /// Makes room for `name` to run: nothing to do (no cap, or it already counts), a place
    /// taken, or a place taken after stopping the least recently active instance (this waits
    /// for that stop to end).
    pub async fn make_room(&self, name: &str, needed_by: Reason) -> Result<Slot, CapacityFull> {
        let Some(max) = self.max else {
            return Ok(Slot::none());
        };
        let (slot, claim) = {
            let transitions = &self.transitions;
            let mut table = transitions.lock();
            let index = self.containers.store.read();
            let occupied: HashSet<&str> = index
                .by_name
                .values()
                .filter(|i| occupies(i.info.state))
                .map(|i| i.name())
                .chain(table.slots())
                .collect();
            if occupied.contains(name) {
                return Ok(Slot::none());
            }
            let claim = if occupied.len() < max {
                None
            } else {
                let now = SystemTime::now();
                let facts: Vec<_> = index
                    .by_name
                    .values()
                    .filter(|i| occupied.contains(i.name()))
                    .map(|i| i.facts(&self.rules, transitions.busy(&table, i.name())))
                    .collect();
                let order = policy::eviction_order(&facts, now, self.evict_grace);
                let claimed = order.into_iter().find_map(|victim| {
                    let instance = index.get(victim.name)?;
                    transitions.claim_stop(&mut table, instance, Some(victim.seen))
                });
                Some(claimed.ok_or(CapacityFull { max })?)
            };
            (transitions.take_place(&mut table, name), claim)
        };
        if let Some(claim) = claim {
            let why = format!(
                "least recently active; evicted to make room for {name} (max_running {max})"
            );
            // A stop that failed leaves the victim running: then there is no room after all.
            let stopped = self
                .containers
                .put_to_sleep(claim, IdleAction::Stop, Reason::Evicted, &why)
                .await;
            if stopped.is_err() {
                return Err(CapacityFull { max });
            }
            let evictions = &self.containers.metrics.evictions;
            evictions.with_label_values(&[needed_by.as_str()]).inc();
        }
        Ok(slot)
    }
}
