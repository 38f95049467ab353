//! The managed containers as the engine has them, kept in the [`Store`]: reading one or all of
//! them back into the index, and the changes every part of the lifecycle makes (start or unpause,
//! stop or pause under a claim, remove), each followed by a read-back so the index shows the
//! result before whoever asked moves on. Only containers in this spawner's scope are let in.

use std::collections::HashSet;
use std::sync::Arc;

use super::feed::{Change, Feed};
use super::policy::{occupies, IdleRules};
use super::store::Store;
use super::transitions::{StopClaim, STOP_GRACE};
use super::{Instance, InstanceView, SWARM_DATA_KEPT};
use crate::backend::{gone_is_done, Backend, BackendError};
use crate::configuration::EngineSettings;
use crate::domain::{ContainerInfo, IdleAction, InstanceLabels, RunState};
use crate::error::chain;
use crate::metrics::{Metrics, Reason};

pub(super) struct Containers {
    pub backend: Backend,
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    /// Every change made here, for `GET /deploy/events`.
    pub feed: Feed,
    /// The idle rules the views show the schedule by.
    pub rules: IdleRules,
    /// This spawner's scope, and the network that marks its containers made before scopes.
    scope: String,
    network: String,
}

impl Containers {
    pub fn new(
        backend: Backend,
        store: Arc<Store>,
        metrics: Arc<Metrics>,
        engine: &EngineSettings,
        rules: IdleRules,
    ) -> Self {
        Self {
            backend,
            store,
            metrics,
            feed: Feed::default(),
            rules,
            scope: engine.scope.clone(),
            network: engine.network.clone(),
        }
    }

    /// Whether a managed container is this spawner's: it carries this scope, or (made before
    /// scopes existed, or by the old spawner) no scope and this spawner's network.
    fn in_scope(&self, info: &ContainerInfo) -> bool {
        let labels = InstanceLabels::of(info);
        match labels.scope() {
            Some(scope) => scope == self.scope,
            None => {
                labels.network() == Some(self.network.as_str())
                    || info.networks.contains(&self.network)
            }
        }
    }

    /// How the API shows an instance, with its idle schedule.
    pub fn view(&self, instance: &Instance) -> InstanceView {
        let mut view = instance.view(&self.rules);
        if self.backend.is_swarm() {
            view.data_kept = Some(SWARM_DATA_KEPT);
        }
        view
    }

    /// Publishes a change of `name` with its view as the index has it now.
    pub fn announce(&self, change: Change, reason: Option<&'static str>, name: &str) {
        if let Some(instance) = self.store.get(name) {
            self.feed.publish(change, reason, self.view(&instance));
        }
    }

    /// Forgets a container that is gone (announced as removed).
    pub fn forget(&self, id: &str) {
        self.forget_as(id, true);
    }

    fn forget_as(&self, id: &str, announce: bool) {
        if let Some(instance) = self.store.remove_id(id) {
            log::info!("{}: removed", instance.name());
            if announce {
                self.feed
                    .publish(Change::Removed, None, self.view(&instance));
            }
        }
    }

    /// Records that a container died (an event): if it was running and no stop of spawner's
    /// holds it, it stopped by itself or behind spawner's back, announced as `exited`.
    pub fn died(&self, id: &str, at: std::time::SystemTime, exit_code: Option<i64>) {
        let name = self.store.read().name_of(id).map(str::to_string);
        let Some(name) = name else { return };
        let ours = self
            .store
            .get(&name)
            .is_some_and(|i| i.activity.seen().is_claimed());
        if self.store.mark_died(id, at, exit_code) && !ours {
            self.announce(Change::Stopped, Some("exited"), &name);
        }
    }

    /// Re-reads one container from the engine into the index; `None` when it is gone (or not
    /// this spawner's).
    pub async fn refresh(&self, id: &str) -> Result<Option<Instance>, BackendError> {
        match self.backend.inspect_managed(id).await {
            Ok(info) if !self.in_scope(&info) => {
                self.forget(&info.id);
                Ok(None)
            }
            Ok(info) => {
                let name = info.name.clone();
                self.store.upsert(info);
                Ok(self.store.get(&name))
            }
            Err(e) if e.is_not_found() => {
                self.forget(id);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The names of this scope's containers that take a place under `max_running`, as the
    /// engine lists them now.
    pub async fn occupying(&self) -> Result<HashSet<String>, BackendError> {
        let infos = self.listed().await?;
        Ok(infos
            .into_iter()
            .filter(|info| occupies(info.state))
            .map(|info| info.name)
            .collect())
    }

    /// This scope's containers, as the engine lists them now.
    async fn listed(&self) -> Result<Vec<ContainerInfo>, BackendError> {
        let mut infos = self.backend.list_managed(&self.scope).await?;
        infos.retain(|info| self.in_scope(info));
        Ok(infos)
    }

    /// Reads the whole list again; returns how many containers spawner manages.
    pub async fn resync(&self) -> Result<usize, BackendError> {
        let applied = self.store.applied();
        let infos = self.listed().await?;
        let count = infos.len();
        self.store.replace_all(infos, applied);
        Ok(count)
    }

    /// Gets a container running: a paused one is unpaused (the same run goes on and its
    /// readiness holds, so the index marks it running at once; the event confirms later), any
    /// other is started and read back (its address and start time, before the events stream has
    /// them). `None`: it is gone.
    pub async fn resume(
        &self,
        instance: &Instance,
        reason: Reason,
    ) -> Result<Option<Instance>, BackendError> {
        let (name, id) = (instance.name(), &instance.info.id);
        if instance.info.state == RunState::Paused {
            log::info!("{name}: unpausing");
            self.backend.unpause(id).await?;
            self.metrics.started(reason);
            self.store.mark_unpaused(name);
            self.announce(Change::Resumed, Some(reason.as_str()), name);
            return Ok(self.store.get(name));
        }
        log::info!("{name}: starting ({:?})", instance.info.state);
        self.backend.start(id).await?;
        self.metrics.started(reason);
        let fresh = self.refresh(id).await;
        // Once it runs, so the event shows the run (an API start awaits no readiness, and no
        // `ready` may follow: a listener would otherwise never see it running).
        self.announce(Change::Starting, Some(reason.as_str()), name);
        fresh
    }

    /// Stops or pauses a claimed instance and reads it back, so the index shows the result
    /// before the claim ends. A failure is logged and returned (the instance is left as it is).
    pub async fn put_to_sleep(
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
        if result.is_ok() {
            let change = match (action, reason) {
                (IdleAction::Pause, _) => Change::Paused,
                (IdleAction::Stop, Reason::Evicted) => Change::Evicted,
                (IdleAction::Stop, _) => Change::Stopped,
            };
            self.announce(change, Some(reason.as_str()), name);
        }
        drop(claim);
        result
    }

    /// Stops a container (within [`STOP_GRACE`]), logging (not returning) a failure: for
    /// decisions already answered.
    pub async fn stop_logged(&self, name: &str, id: &str, reason: Reason) {
        match self.backend.stop(id, STOP_GRACE).await {
            Ok(()) => {
                self.metrics.stopped(reason, "stop");
                let _ = self.refresh(id).await;
                self.announce(Change::Stopped, Some(reason.as_str()), name);
            }
            Err(e) => log::warn!("{name}: could not stop it: {}", chain(&e)),
        }
    }

    /// Stops (within [`STOP_GRACE`]) and removes a container, and forgets it; one already gone
    /// is not an error. `announce`: publish it as removed (not when a recreate replaces it).
    pub async fn remove(&self, id: &str, announce: bool) -> Result<(), BackendError> {
        gone_is_done(self.backend.stop(id, STOP_GRACE).await)?;
        gone_is_done(self.backend.remove(id).await)?;
        self.forget_as(id, announce);
        Ok(())
    }
}
