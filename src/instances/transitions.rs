//! The transitions table: what is under way, per instance. Wakes (one [`Flights`] entry each,
//! shared by every request that waits on it), stops and pauses (idle, eviction, the API), and the
//! places under `max_running` that starts and creates hold. A stop is only claimed when nothing
//! else is under way for the instance and nothing touched it since the caller looked; a start
//! waits for a stop under way to end. So two decisions never cross.
//!
//! The guards ([`StopClaim`], [`Slot`]) hold this table, not the whole lifecycle, and give back
//! what they hold when dropped, however their task ends. Lock order: this table's lock, then the
//! wakes' map, then the index's. The hot path takes none of these: it touches the instance's
//! [`Activity`], which a stop claims atomically.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use super::activity::{Activity, Seen};
use super::flights::Flights;
use super::store::Store;
use super::{Instance, OpError, StartError};

/// How long `docker stop` waits for the app to end on SIGTERM before it kills it.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

#[derive(Default)]
pub(super) struct Transitions {
    table: Mutex<Table>,
    /// Wakes under way, by instance.
    pub starts: Arc<Flights<Result<(), StartError>>>,
}

/// What the table's lock guards.
#[derive(Default)]
pub(super) struct Table {
    /// Stops and pauses under way; the value turns `true` when it has ended.
    stops: HashMap<String, watch::Receiver<bool>>,
    /// Instances that hold a place under `max_running` while they start or are created.
    slots: HashSet<String>,
}

/// A stop or pause claimed for one instance. Dropping it ends the claim however the stop went:
/// the instance's activity is restored, the entry leaves the table and whoever waits is told.
pub(super) struct StopClaim {
    transitions: Arc<Transitions>,
    pub name: String,
    pub id: String,
    activity: Activity,
    seen: Seen,
    done: watch::Sender<bool>,
    entry: watch::Receiver<bool>,
}

impl Drop for StopClaim {
    fn drop(&mut self) {
        let mut table = self.transitions.lock();
        if table
            .stops
            .get(&self.name)
            .is_some_and(|rx| rx.same_channel(&self.entry))
        {
            table.stops.remove(&self.name);
        }
        drop(table);
        self.activity.release(self.seen);
        self.done.send_replace(true);
    }
}

/// A place under `max_running`, held while an instance starts or is created; released when
/// dropped (by then the index shows the instance running, so it still counts).
pub(super) struct Slot {
    held: Option<(Arc<Transitions>, String)>,
}

impl Slot {
    /// No place needed (no cap, or the instance counts already).
    pub fn none() -> Self {
        Slot { held: None }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some((transitions, name)) = self.held.take() {
            transitions.lock().slots.remove(&name);
        }
    }
}

impl Table {
    /// Whether a stop, a pause or a create holds it (a wake is in [`Transitions::busy`]).
    fn holds(&self, name: &str) -> bool {
        self.stops.contains_key(name) || self.slots.contains(name)
    }

    /// The instances holding a place under the cap while they start or are created.
    pub fn slots(&self) -> impl Iterator<Item = &str> {
        self.slots.iter().map(String::as_str)
    }
}

impl Transitions {
    pub fn lock(&self) -> MutexGuard<'_, Table> {
        // Every change to it is one map operation: a panic cannot leave it half-changed.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether anything is under way for it: then it is neither put to sleep nor evicted.
    pub fn busy(&self, table: &Table, name: &str) -> bool {
        table.holds(name) || self.starts.contains(name)
    }

    /// Claims `instance` for a stop, in `table` (held by the caller): not when anything is under
    /// way for it, and, with `seen`, not when a request touched it since that reading. Without
    /// `seen` (asked for through the API), whatever its activity.
    pub fn claim_stop(
        self: &Arc<Self>,
        table: &mut Table,
        instance: &Instance,
        seen: Option<Seen>,
    ) -> Option<StopClaim> {
        let name = instance.name();
        if self.busy(table, name) {
            return None;
        }
        let activity = instance.activity.clone();
        let seen = match seen {
            Some(seen) => activity.claim_if_unchanged(seen).then_some(seen)?,
            None => activity.claim()?,
        };
        let (done, entry) = watch::channel(false);
        table.stops.insert(name.to_string(), entry.clone());
        Some(StopClaim {
            transitions: Arc::clone(self),
            name: name.to_string(),
            id: instance.info.id.clone(),
            activity,
            seen,
            done,
            entry,
        })
    }

    /// Claims `name` in `store` for a stop if nothing touched it since `seen` and nothing is
    /// under way for it.
    pub fn claim_unchanged(
        self: &Arc<Self>,
        store: &Store,
        name: &str,
        seen: Seen,
    ) -> Option<StopClaim> {
        let mut table = self.lock();
        let index = store.read();
        self.claim_stop(&mut table, index.get(name)?, Some(seen))
    }

    /// Claims `name` for a change the API asked for, whatever its activity: a start or stop
    /// under way ends first. While the claim is held, requests for it wait.
    pub async fn claim_for_api(
        self: &Arc<Self>,
        store: &Store,
        name: &str,
    ) -> Result<StopClaim, OpError> {
        loop {
            let (mut start, mut stop) = (None, None);
            {
                let mut table = self.lock();
                if let Some(rx) = self.starts.get(name) {
                    start = Some(rx);
                } else if let Some(rx) = table.stops.get(name) {
                    stop = Some(rx.clone());
                } else {
                    let index = store.read();
                    let current = index
                        .get(name)
                        .ok_or_else(|| OpError::NotFound(name.to_string()))?;
                    if let Some(claim) = self.claim_stop(&mut table, current, None) {
                        return Ok(claim);
                    }
                }
            }
            if let Some(mut start) = start {
                let _ = start.wait_for(Option::is_some).await;
            } else if let Some(mut stop) = stop {
                let _ = stop.wait_for(|ended| *ended).await;
            } else {
                // Only a create holds it: it is about to appear in the index.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    /// Waits until no stop of `name` is under way.
    pub async fn stop_ended(&self, name: &str) {
        let pending = self.lock().stops.get(name).cloned();
        if let Some(mut done) = pending {
            let _ = done.wait_for(|ended| *ended).await;
        }
    }

    /// Takes a place under the cap for `name`, in `table` (held by the caller).
    pub fn take_place(self: &Arc<Self>, table: &mut Table, name: &str) -> Slot {
        table.slots.insert(name.to_string());
        Slot {
            held: Some((Arc::clone(self), name.to_string())),
        }
    }
}
