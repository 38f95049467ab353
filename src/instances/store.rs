//! The index store: the [`Index`] behind its lock, and the channel that tells every waiter it
//! changed (readiness waits, the wait for the first list, traefik's configuration cache). Every
//! change goes through one of its methods, which bumps the generation when something a waiter
//! or a route could depend on changed.
//!
//! Lock order: the transitions table's lock, then this one. The hot path takes only this read
//! lock, once per request ([`Store::read`]).

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::index::Index;
use super::{Instance, StartError};
use crate::domain::{ContainerInfo, Health, RunState};

/// A run of a container, identified by its start time.
pub(super) type Run = Option<SystemTime>;

pub(super) struct Store {
    index: RwLock<Index>,
    /// The index's generation, bumped on every change; waiters re-check their condition.
    changes: watch::Sender<u64>,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            index: RwLock::new(Index::default()),
            changes: watch::channel(0).0,
        }
    }
}

impl Store {
    pub fn read(&self) -> RwLockReadGuard<'_, Index> {
        // A panic while the lock was held cannot leave the index half-changed: every change is
        // one call on `Index`, so the data is still consistent.
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self, applied: bool) {
        if applied {
            self.changes.send_modify(|generation| *generation += 1);
        }
    }

    pub fn get(&self, name: &str) -> Option<Instance> {
        self.read().get(name).cloned()
    }

    /// Changes whenever the index changes.
    pub fn generation(&self) -> u64 {
        *self.changes.borrow()
    }

    pub fn upsert(&self, info: ContainerInfo) {
        let applied = self.write().upsert(info);
        self.changed(applied);
    }

    /// Whether it changed the index (the container was running).
    pub fn mark_died(&self, id: &str, at: SystemTime, exit_code: Option<i64>) -> bool {
        let marked = self.write().mark_died(id, at, exit_code);
        self.changed(marked);
        marked
    }

    pub fn mark_unpaused(&self, name: &str) {
        let changed = self.write().mark_unpaused(name);
        self.changed(changed);
    }

    /// Records a passed readiness probe. No generation: nobody waits for it (the waiter is the
    /// prober itself) and no route changes with it.
    pub fn mark_probed(&self, name: &str, run: Run) {
        self.write().mark_probed(name, run);
    }

    /// Forgets a container that is gone; the instance it was, if the index had it.
    pub fn remove_id(&self, id: &str) -> Option<Instance> {
        let removed = self.write().remove_id(id);
        self.changed(removed.is_some());
        removed
    }

    /// How many descriptions the index has applied, to give to [`Store::replace_all`].
    pub fn applied(&self) -> u64 {
        self.read().applied()
    }

    /// Replaces the content with a fresh list asked for when `applied` descriptions had been
    /// applied ([`Index::replace_all`]).
    pub fn replace_all(&self, infos: Vec<ContainerInfo>, applied: u64) {
        self.write().replace_all(infos, applied);
        self.changed(true);
    }

    /// Records activity on an instance at `at` (a request let through after a wait, traffic).
    pub fn touch(&self, name: &str, at: SystemTime) {
        if let Some(instance) = self.read().get(name) {
            instance.touch(at);
        }
    }

    /// Whether the index has been filled from the engine at least once.
    pub fn is_synced(&self) -> bool {
        self.read().synced
    }

    /// Resolves as soon as `done` holds of the index, checked now and after every change;
    /// `false` when the store is gone first.
    async fn until(&self, mut done: impl FnMut(&Index) -> bool) -> bool {
        let mut changes = self.changes.subscribe();
        loop {
            if done(&self.read()) {
                return true;
            }
            if changes.changed().await.is_err() {
                return false;
            }
        }
    }

    /// Waits up to `wait` for the index's first list; whether it came.
    pub async fn synced_within(&self, wait: Duration) -> bool {
        let synced = self.until(|index| index.synced);
        tokio::time::timeout(wait, synced).await.unwrap_or(false)
    }

    /// Resolves when the run of `name` that started at `run` is over (exited, removed or
    /// replaced).
    pub async fn run_ended(&self, name: &str, run: Run) {
        self.until(|index| match index.get(name) {
            None => true,
            Some(i) => i.info.started_at != run || i.info.state != RunState::Running,
        })
        .await;
    }

    /// Why the run of `name` that started at `run` is over.
    pub fn ended(&self, name: &str, run: Run) -> StartError {
        match self.read().get(name) {
            Some(i) if i.info.started_at == run && i.info.state != RunState::Running => {
                StartError::Exited {
                    name: name.into(),
                    code: i.info.exit_code,
                }
            }
            Some(_) => StartError::Superseded { name: name.into() },
            None => StartError::Gone(name.into()),
        }
    }

    /// Docker's verdict on the run of `name` that started at `run`: `healthy`, or `unhealthy`
    /// (an error). A run that ends meanwhile is reported by [`Store::run_ended`]; this waits.
    pub async fn docker_verdict(&self, name: &str, run: Run) -> Result<(), StartError> {
        let mut health = Health::None;
        let verdict = self.until(|index| {
            if let Some(i) = index.get(name).filter(|i| i.info.started_at == run) {
                // An `unhealthy` from while it was paused is no verdict.
                health = match i.info.health {
                    Health::Unhealthy if i.health_stale => Health::Starting,
                    health => health,
                };
            }
            matches!(health, Health::Healthy | Health::Unhealthy)
        });
        if !verdict.await {
            return Err(StartError::Gone(name.into()));
        }
        match health {
            Health::Healthy => Ok(()),
            _ => Err(StartError::Unhealthy(name.into())),
        }
    }

    /// What a starting instance is doing, in words (for the waiting page).
    pub fn phase(&self, name: &str) -> &'static str {
        match self.read().get(name) {
            None => "gone",
            Some(i) if i.is_ready() => "ready",
            Some(i) if i.info.state != RunState::Running => "starting its container",
            Some(i) => i.readiness.waiting_for(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::super::instance::tests::info;
    use super::*;

    #[test]
    fn a_passed_probe_changes_no_generation_but_a_new_run_does() {
        let store = Store::default();
        let mut running = info(&[], &[9000], false);
        running.state = RunState::Running;
        running.started_at = Some(UNIX_EPOCH + Duration::from_secs(100));
        store.upsert(running.clone());
        let before = store.generation();
        // Traefik's configuration is rebuilt on a new generation: a probe changes no route.
        store.mark_probed("minion-1", running.started_at);
        assert_eq!(store.generation(), before);
        assert!(store.get("minion-1").unwrap().is_ready());
        running.started_at = Some(UNIX_EPOCH + Duration::from_secs(200));
        store.upsert(running);
        assert_eq!(store.generation(), before + 1);
    }
}
