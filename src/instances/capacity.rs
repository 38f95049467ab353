//! `max_running`: at most that many instances run or are paused at once. A start or a create
//! beyond it first stops the least recently active instance that can go ([`policy`]); when none
//! can, it is refused and nothing changes.
//!
//! The count and the choice are made under the transitions lock, from the index plus the places
//! that starts and creates under way hold ([`Slot`]), so concurrent wakes never exceed the cap:
//! each takes its place (or evicts one) before it asks the engine to start anything, and an
//! evicted instance counts until its stop has ended.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::SystemTime;

use super::{policy, CapacityFull, Instances};
use crate::domain::{IdleAction, RunState};
use crate::metrics::Reason;

/// A place under `max_running`, held while an instance starts or is created; released when
/// dropped (by then the index shows the instance running, so it still counts).
pub(super) struct Slot {
    held: Option<(Arc<Instances>, String)>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some((instances, name)) = self.held.take() {
            instances.transitions().slots.remove(&name);
        }
    }
}

/// Whether a container in this state takes a place under the cap.
pub(super) fn occupies(state: RunState) -> bool {
    matches!(
        state,
        RunState::Running | RunState::Paused | RunState::Restarting
    )
}

impl Instances {
    /// Holds `name`'s place under the cap whatever the count, for an instance that already
    /// counts and is about to stop counting for a moment (a recreate between its old container's
    /// removal and its new one's start).
    pub(super) fn keep_place(self: &Arc<Self>, name: &str) -> Slot {
        if self.settings.max_running.is_none() {
            return Slot { held: None };
        }
        self.transitions().slots.insert(name.to_string());
        Slot {
            held: Some((Arc::clone(self), name.to_string())),
        }
    }

    /// Makes room for `name` to run: nothing to do (no cap, or it already counts), a place
    /// taken, or a place taken after stopping the least recently active instance (this waits
    /// for that stop to end).
    pub(super) async fn make_room(
        self: &Arc<Self>,
        name: &str,
        needed_by: Reason,
    ) -> Result<Slot, CapacityFull> {
        let Some(max) = self.settings.max_running else {
            return Ok(Slot { held: None });
        };
        let claim = {
            let mut transitions = self.transitions();
            let index = self.read();
            let occupied: HashSet<&str> = index
                .by_name
                .values()
                .filter(|i| occupies(i.info.state))
                .map(|i| i.name())
                .chain(transitions.slots.iter().map(String::as_str))
                .collect();
            if occupied.contains(name) {
                return Ok(Slot { held: None });
            }
            let claim = if occupied.len() < max {
                None
            } else {
                let now = SystemTime::now();
                let facts: Vec<_> = index
                    .by_name
                    .values()
                    .filter(|i| occupied.contains(i.name()))
                    .map(|i| self.facts(i, transitions.busy(i.name())))
                    .collect();
                let order = policy::eviction_order(&facts, now, self.settings.evict_grace);
                let claimed = order.into_iter().find_map(|victim| {
                    self.claim_stop(&mut transitions, index.get(victim.name)?, Some(victim.seen))
                });
                Some(claimed.ok_or(CapacityFull { max })?)
            };
            transitions.slots.insert(name.to_string());
            claim
        };
        let slot = Slot {
            held: Some((Arc::clone(self), name.to_string())),
        };
        if let Some(claim) = claim {
            let why = format!(
                "least recently active; evicted to make room for {name} (max_running {max})"
            );
            // A stop that failed leaves the victim running: then there is no room after all.
            let reason = Reason::Evicted;
            if self
                .put_to_sleep(claim, IdleAction::Stop, reason, &why)
                .await
                .is_err()
            {
                return Err(CapacityFull { max });
            }
            let evictions = &self.metrics.evictions;
            evictions.with_label_values(&[needed_by.as_str()]).inc();
        }
        Ok(slot)
    }
}
