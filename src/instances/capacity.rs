//! `max_running`: at most that many instances run or are paused at once. A start or a create
//! beyond it first stops the least recently active instance that can go ([`policy`]); when none
//! can, it is refused and nothing changes.
//!
//! The count and the choice are made under the transitions table's lock, from the index plus the
//! places that starts and creates under way hold ([`Slot`]), so concurrent wakes never exceed the
//! cap: each takes its place (or evicts one) before it asks the engine to start anything, and an
//! evicted instance counts until its stop has ended.
//!
//! Replicas (`reuse_port`) share the engine but not their places: a replica counts the engine's
//! own list, read afresh, and makes room for one start at a time, holding its turn until the
//! engine has started it. A start another replica decided before this one read the list is the
//! only thing it cannot see, and each has at most one: so N replicas run at most
//! `max_running + N − 1` at once (README: Replicas).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::containers::Containers;
use super::policy::{self, occupies, IdleRules};
use super::transitions::{Slot, Transitions};
use super::CapacityFull;
use crate::configuration::CapacitySettings;
use crate::domain::IdleAction;
use crate::error::chain;
use crate::metrics::Reason;

pub(super) struct Capacity {
    /// `None`: no cap.
    max: Option<usize>,
    /// How long an instance must have been quiet to be evicted.
    evict_grace: Duration,
    rules: IdleRules,
    transitions: Arc<Transitions>,
    containers: Arc<Containers>,
    /// With replicas: this replica's turn to make room, held until its start has run.
    turn: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// A place under the cap for a start or a create; dropped once the engine has started it.
pub(super) struct Room {
    _slot: Slot,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Room {
    fn unneeded() -> Self {
        Self {
            _slot: Slot::none(),
            _turn: None,
        }
    }
}

impl Capacity {
    /// `shared`: other replicas start instances on the same engine.
    pub fn new(
        capacity: &CapacitySettings,
        shared: bool,
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
            turn: shared.then(Arc::default),
        }
    }

    /// What the engine itself runs now (other replicas' starts included); empty if it cannot
    /// say (then the index alone counts).
    async fn running_in_engine(&self) -> HashSet<String> {
        match self.containers.occupying().await {
            Ok(names) => names,
            Err(e) => {
                let e = chain(&e);
                log::warn!("max_running: the engine's list failed, counting from the index: {e}");
                HashSet::new()
            }
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
    pub async fn make_room(&self, name: &str, needed_by: Reason) -> Result<Room, CapacityFull> {
        let Some(max) = self.max else {
            return Ok(Room::unneeded());
        };
        let turn = match &self.turn {
            Some(turn) => Some(Arc::clone(turn).lock_owned().await),
            None => None,
        };
        let in_engine = match turn {
            Some(_) => self.running_in_engine().await,
            None => HashSet::new(),
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
                .chain(in_engine.iter().map(String::as_str))
                .collect();
            if occupied.contains(name) {
                return Ok(Room::unneeded());
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
        Ok(Room {
            _slot: slot,
            _turn: turn,
        })
    }
}
