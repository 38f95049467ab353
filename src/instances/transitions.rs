//! What is under way, per instance, under one lock: starts (each shared by every request that
//! waits on it), stops and pauses (idle, eviction, the API), and the capacity slots that starts
//! and creates hold; and, per image, the pulls under way. A stop is only claimed when no start is under way, a start waits for a stop
//! under way to end, and the running count is read from one consistent picture, so two
//! decisions never cross.
//!
//! Lock order: this lock, then the index's. The hot path takes neither this lock nor a write
//! lock: it touches the instance's [`Activity`], which a stop claims atomically.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::activity::{Activity, Seen};
use super::flights::Flights;
use super::{Instance, Instances, PullError, StartError};
use crate::backend::{gone_is_done, BackendError};
use crate::domain::IdleAction;
use crate::error::chain;
use crate::metrics::Reason;

#[derive(Default)]
pub(super) struct Transitions {
    /// Wakes under way, by instance.
    pub starts: Flights<Result<(), StartError>>,
    /// Image pulls under way, by image.
    pub pulls: Flights<Result<(), PullError>>,
    /// Stops and pauses under way; the value turns `true` when it has ended.
    pub stops: HashMap<String, watch::Receiver<bool>>,
    /// Instances that hold a place under `max_running` while they start or are created.
    pub slots: HashSet<String>,
}

/// Takes `name`'s entry out of `map` if it is still `own` (a newer one may stand there already).
pub(super) fn remove_own<T>(
    map: &mut HashMap<String, watch::Receiver<T>>,
    name: &str,
    own: &watch::Receiver<T>,
) {
    if map.get(name).is_some_and(|rx| rx.same_channel(own)) {
        map.remove(name);
    }
}

impl Transitions {
    /// Whether anything is under way for it: then it is neither put to sleep nor evicted.
    pub fn busy(&self, name: &str) -> bool {
        self.starts.contains_key(name) || self.stops.contains_key(name) || self.slots.contains(name)
    }
}

/// A stop or pause claimed for one instance. Dropping it ends the claim however the stop went:
/// the instance's activity is restored, the entry leaves the map and whoever waits is told.
pub(super) struct StopClaim {
    instances: Arc<Instances>,
    pub name: String,
    pub id: String,
    activity: Activity,
    seen: Seen,
    done: watch::Sender<bool>,
    entry: watch::Receiver<bool>,
}

impl Drop for StopClaim {
    fn drop(&mut self) {
        remove_own(
            &mut self.instances.transitions().stops,
            &self.name,
            &self.entry,
        );
        self.activity.release(self.seen);
        self.done.send_replace(true);
    }
}

/// How long `docker stop` waits for the app to end on SIGTERM before it kills it.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

impl Instances {
    pub(super) fn transitions(&self) -> std::sync::MutexGuard<'_, Transitions> {
        // Every change to it is one map operation: a panic cannot leave it half-changed.
        self.transitions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Claims `instance` for a stop, in `transitions` (held by the caller): not when anything is
    /// under way for it, and, with `seen`, not when a request touched it since that reading.
    /// Without `seen` (asked for through the API), whatever its activity.
    pub(super) fn claim_stop(
        self: &Arc<Self>,
        transitions: &mut Transitions,
        instance: &Instance,
        seen: Option<Seen>,
    ) -> Option<StopClaim> {
        let name = instance.name();
        if transitions.busy(name) {
            return None;
        }
        let activity = instance.activity.clone();
        let seen = match seen {
            Some(seen) => activity.claim_if_unchanged(seen).then_some(seen)?,
            None => activity.claim()?,
        };
        let (done, entry) = watch::channel(false);
        transitions.stops.insert(name.to_string(), entry.clone());
        Some(StopClaim {
            instances: Arc::clone(self),
            name: name.to_string(),
            id: instance.info.id.clone(),
            activity,
            seen,
            done,
            entry,
        })
    }

    /// Stops or pauses a claimed instance and reads it back, so the index shows the result
    /// before the claim ends. A failure is logged and returned (the instance is left as it is).
    pub(super) async fn put_to_sleep(
        &self,
        claim: StopClaim,
        action: IdleAction,
        reason: Reason,
        why: &str,
    ) -> Result<(), BackendError> {
        let name = &claim.name;
        log::info!("{name}: {why}; {}", action.as_str());
        let result = match action {
            IdleAction::Stop => gone_is_done(self.backend.stop(&claim.id, STOP_GRACE).await),
            IdleAction::Pause => self.backend.pause(&claim.id).await,
        };
        match &result {
            Ok(()) => self.metrics.stopped(reason, action.as_str()),
            Err(e) => log::warn!("{name}: could not {}: {}", action.as_str(), chain(e)),
        }
        if let Err(e) = self.refresh(&claim.id).await {
            log::warn!("{name}: cannot read it back: {}", chain(&e));
        }
        drop(claim);
        result
    }

    /// Waits until no stop of `name` is under way.
    pub(super) async fn stop_ended(&self, name: &str) {
        let pending = self.transitions().stops.get(name).cloned();
        if let Some(mut done) = pending {
            let _ = done.wait_for(|ended| *ended).await;
        }
    }
}
