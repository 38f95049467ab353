//! What the private API does to instances: create, find, start, stop, recreate and delete. Each is a few
//! engine calls that leave nothing half-made, and each failure is an [`OpError`] that says what a
//! caller can do, with the engine's error kept as its source.

use std::sync::Arc;
use std::time::SystemTime;

use super::activity::Seen;
use super::addresses::Reservation;
use super::capacity::Room;
use super::errors::Restored;
use super::feed::Change;
use super::policy::occupies;
use super::{Instance, InstanceView, Instances, OpError};
use crate::backend::{BackendError, CreateSpec};
use crate::domain::{
    session, DeploySpec, IdleAction, InstanceLabels, InstanceName, RecreateSpec, RunState,
};
use crate::error::chain;
use crate::metrics::Reason;

impl Instances {
    /// Creates (and unless told otherwise starts) an instance; nothing half-made is left behind.
    pub async fn create(self: &Arc<Self>, spec: &DeploySpec) -> Result<InstanceView, OpError> {
        let backend = &self.containers.backend;
        if backend.is_swarm() && spec.idle_action == Some(IdleAction::Pause) {
            return Err(OpError::PauseOnSwarm);
        }
        let policy = spec.pull_policy.unwrap_or(self.pull_policy);
        self.images.ensure(&spec.image, policy).await?;
        // Swarm mode: the instance gets a network of its own, made with it.
        let reservation = match backend.is_swarm() {
            true => None,
            false => self.reserve_address(spec).await?,
        };
        let labels = InstanceLabels::for_deploy(spec, &self.scope, &session::new_epoch());
        let (volumes, made) = self
            .volumes
            .ensure(spec.name.as_str(), &spec.volumes)
            .await?;
        let create = CreateSpec {
            name: spec.name.to_string(),
            image: spec.image.clone(),
            network: spec.network.clone(),
            labels,
            envs: spec.envs.clone(),
            limits: spec.limits,
            cap_drop: self.cap_drop.clone(),
            address: reservation.as_ref().map(|r| r.address),
            volumes,
        };
        // A container that fails to appear or to start takes the volumes made for it along. Its
        // place under max_running is held until the index shows it running.
        let (id, _slot) = match self.create_container(spec, &create).await {
            Ok(created) => created,
            Err(e) => {
                self.volumes.remove(&made).await;
                return Err(e);
            }
        };
        log::info!(
            "{}: created from {} (started: {})",
            spec.name,
            spec.image,
            spec.start
        );
        // Removed again at once (by someone else): to the caller, it is not there.
        let instance = self
            .containers
            .refresh(&id)
            .await?
            .ok_or_else(|| OpError::NotFound(spec.name.to_string()))?;
        let view = self.view(&instance);
        let reason = Some(Reason::Api.as_str());
        self.containers
            .feed
            .publish(Change::Created, reason, view.clone());
        Ok(view)
    }

    /// A fixed address where the network gives them; held until the index has the instance.
    async fn reserve_address(&self, spec: &DeploySpec) -> Result<Option<Reservation<'_>>, OpError> {
        let backend = &self.containers.backend;
        let Some(network) = backend.inspect_network(&spec.network).await? else {
            return Err(OpError::NetworkNotFound(spec.network.clone()));
        };
        let Some(subnet) = network.fixed_subnet() else {
            return Ok(None);
        };
        let taken = self.store.read().fixed_addresses(&spec.network);
        let reserved = self.addresses.reserve(&network, taken);
        reserved.map(Some).ok_or_else(|| OpError::NetworkFull {
            network: spec.network.clone(),
            subnet: subnet.to_string(),
        })
    }

    /// Creates the container and, if asked, makes room for it under `max_running` and starts
    /// it; one that does not start is removed. Room is made only once the container exists, so
    /// a create Docker refuses (the name is taken, say) evicts nobody.
    async fn create_container(
        &self,
        spec: &DeploySpec,
        create: &CreateSpec,
    ) -> Result<(String, Option<Room>), OpError> {
        let backend = &self.containers.backend;
        let id = backend.create(create).await.map_err(|e| match e {
            BackendError::Conflict { .. } => OpError::NameTaken(spec.name.to_string()),
            BackendError::NotFound { .. } => OpError::ImageNotFound(spec.image.clone()),
            other => other.into(),
        })?;
        if !spec.start {
            return Ok((id, None));
        }
        let started = async {
            let slot = self
                .capacity
                .make_room(spec.name.as_str(), Reason::Api)
                .await?;
            let started = backend.start(&id).await;
            started.map_err(|source| OpError::StartFailed {
                name: spec.name.to_string(),
                source,
            })?;
            Ok(slot)
        };
        match started.await {
            Ok(slot) => {
                self.metrics().started(Reason::Api);
                Ok((id, Some(slot)))
            }
            Err(e) => {
                if let Err(cleanup) = backend.remove(&id).await {
                    log::error!(
                        "{}: could not remove it again after it did not start: {}",
                        spec.name,
                        chain(&cleanup)
                    );
                }
                Err(e)
            }
        }
    }

    /// Finds a managed instance by name or id (or an id prefix of 12 or more hex digits).
    pub async fn resolve(&self, name_or_id: &str) -> Result<Instance, OpError> {
        let not_found = || OpError::NotFound(name_or_id.to_string());
        let is_id = (12..=64).contains(&name_or_id.len())
            && name_or_id.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_id && InstanceName::parse(name_or_id).is_err() {
            return Err(not_found());
        }
        {
            let index = self.store.read();
            let found = index
                .get(name_or_id)
                .or_else(|| index.find_by_id_prefix(name_or_id));
            if let Some(instance) = found {
                return Ok(instance.clone());
            }
        }
        // Not (yet) in the index: the engine decides.
        self.containers
            .refresh(name_or_id)
            .await?
            .ok_or_else(not_found)
    }

    /// Starts (or unpauses) without waiting for readiness (`PUT /deploy/{name}`).
    pub async fn start(&self, instance: &Instance) -> Result<InstanceView, OpError> {
        let name = instance.name();
        // A stop or pause under way ends first; then the index says what there is to resume (a
        // container paused a moment ago is unpaused, not started).
        self.transitions.stop_ended(name).await;
        let not_found = || OpError::NotFound(name.to_string());
        let instance = self.store.get(name).ok_or_else(not_found)?;
        let _slot = self.capacity.make_room(name, Reason::Api).await?;
        let fresh = self.containers.resume(&instance, Reason::Api).await?;
        // An operator's start is activity: the culler must not put it back to sleep at once
        // (an unpaused instance keeps its run, and with it an old last activity).
        self.store.touch(name, SystemTime::now());
        log::info!("{name}: started through the API");
        Ok(self.view(&fresh.unwrap_or(instance)))
    }

    /// Stops an instance now (`POST /deploy/{name}/stop`, the home app's "log out"): a start
    /// under way ends first; the next request wakes it again.
    pub async fn stop_now(&self, instance: &Instance) -> Result<InstanceView, OpError> {
        let name = instance.name();
        let claim = self.transitions.claim_for_api(&self.store, name).await?;
        // It reads the instance back before the claim ends.
        let why = "stopped through the API";
        let stop = IdleAction::Stop;
        self.containers
            .put_to_sleep(claim, stop, Reason::Api, why)
            .await?;
        let stopped = self.store.get(name);
        Ok(self.view(&stopped.ok_or_else(|| OpError::NotFound(name.to_string()))?))
    }

    /// Pauses a running instance now (`POST /deploy/{name}/pause`): its processes are frozen and
    /// keep their memory; a start (`PUT /deploy/{name}`) or the next request unpauses it, and
    /// its `pause_timeout` stops it as for an idle pause. One already paused stays as it is.
    pub async fn pause_now(&self, instance: &Instance) -> Result<InstanceView, OpError> {
        let name = instance.name();
        if self.containers.backend.is_swarm() {
            return Err(OpError::PauseOnSwarmEngine(name.to_string()));
        }
        let claim = self.transitions.claim_for_api(&self.store, name).await?;
        let not_found = || OpError::NotFound(name.to_string());
        // Under the claim: no start or stop changes its state meanwhile.
        let current = self.store.get(name).ok_or_else(not_found)?;
        match current.info.state {
            RunState::Running => {}
            RunState::Paused => return Ok(self.view(&current)),
            state => {
                return Err(OpError::NotRunning {
                    name: name.to_string(),
                    state: state.as_str(),
                })
            }
        }
        let why = "paused through the API";
        self.containers
            .put_to_sleep(claim, IdleAction::Pause, Reason::Api, why)
            .await?;
        Ok(self.view(&self.store.get(name).ok_or_else(not_found)?))
    }

    /// Stops and removes (`DELETE /deploy/{name}`); its volumes stay unless `purge`. Returns
    /// the volumes removed.
    pub async fn delete(&self, instance: &Instance, purge: bool) -> Result<Vec<String>, OpError> {
        let name = instance.name();
        // Requests wait while it goes (then find it gone); a start under way ends first.
        let claim = self.transitions.claim_for_api(&self.store, name).await;
        let id = match &claim {
            Ok(claim) => claim.id.clone(),
            Err(_) => instance.info.id.clone(),
        };
        self.containers.remove(&id, true).await?;
        drop(claim);
        log::info!("{name}: deleted through the API");
        match purge {
            true => self.volumes.purge(name).await,
            false => Ok(Vec::new()),
        }
    }

    /// Stops an instance whose route traefik never loaded, under a stop claim: only if nothing
    /// touched it since `seen` (a request let through on its router meanwhile keeps it running)
    /// and no start, stop or held request is under way. Whether it was stopped.
    pub async fn stop_unrouted(&self, name: &str, seen: Seen) -> bool {
        let claim = self.transitions.claim_unchanged(&self.store, name, seen);
        let Some(claim) = claim else {
            log::info!("{name}: in use since; not stopped although traefik has no route");
            return false;
        };
        let why = "traefik did not load its route";
        let stop = IdleAction::Stop;
        let done = self
            .containers
            .put_to_sleep(claim, stop, Reason::NoRoute, why);
        done.await.is_ok()
    }

    /// Replaces the container with one made from a new image and/or environment, keeping
    /// everything else: its name, labels (so its sessions stay valid), limits, address and
    /// volumes (so its data); the home app's "upgrade my instance" (`POST /deploy/{name}/recreate`).
    ///
    /// The new image is made present first, so a failed pull changes nothing. While the
    /// container is replaced the instance is claimed: requests for it wait, then wake the new
    /// one. If the new container cannot be created, the old one is made again from what it was
    /// created with.
    pub async fn recreate(
        &self,
        instance: &Instance,
        change: &RecreateSpec,
    ) -> Result<InstanceView, OpError> {
        let name = instance.name().to_string();
        let not_found = |e: crate::backend::BackendError| match e.is_not_found() {
            true => OpError::NotFound(name.clone()),
            false => e.into(),
        };
        let backend = &self.containers.backend;
        let old = backend
            .spec_of(&instance.info.id)
            .await
            .map_err(not_found)?;
        let mut new = old.clone();
        if let Some(image) = &change.image {
            new.image = image.clone();
        }
        if let Some(envs) = &change.envs {
            new.envs = envs.clone();
            InstanceLabels::set_envs(&mut new.labels, envs);
        }
        let policy = change.pull_policy.unwrap_or(self.pull_policy);
        self.images.ensure(&new.image, policy).await?;

        let claim = self.transitions.claim_for_api(&self.store, &name).await?;
        let was_running = self
            .store
            .read()
            .get(&name)
            .is_some_and(|i| occupies(i.info.state));
        // Its place under max_running stays its own while no container of it runs.
        let _place = was_running.then(|| self.capacity.keep_place(&name));
        self.containers.remove(&claim.id, false).await?;
        let id = match backend.create(&new).await {
            Ok(id) => id,
            Err(e) => return Err(self.restore(&old, was_running, e).await),
        };
        log::info!("{name}: recreated from {} (was {})", new.image, old.image);
        if was_running {
            if let Err(e) = backend.start(&id).await {
                let _ = self.containers.refresh(&id).await;
                return Err(OpError::RecreatedNotStarted {
                    name: name.clone(),
                    source: e,
                });
            }
            self.metrics().started(Reason::Api);
        }
        let fresh = self.containers.refresh(&id).await?;
        drop(claim);
        let fresh = fresh.ok_or_else(|| OpError::NotFound(name.clone()))?;
        let view = self.view(&fresh);
        self.containers
            .feed
            .publish(Change::Recreated, Some(Reason::Api.as_str()), view.clone());
        Ok(view)
    }

    /// Makes the old container again after its successor could not be created.
    async fn restore(&self, old: &CreateSpec, was_running: bool, source: BackendError) -> OpError {
        let name = old.name.clone();
        log::warn!(
            "{name}: the new container could not be created ({}); restoring the old one",
            chain(&source)
        );
        let backend = &self.containers.backend;
        let restored = match backend.create(old).await {
            Ok(id) => {
                if was_running {
                    if let Err(e) = backend.start(&id).await {
                        log::warn!(
                            "{name}: the restored container did not start: {}",
                            chain(&e)
                        );
                    }
                }
                let _ = self.containers.refresh(&id).await;
                Restored::AsBefore {
                    image: old.image.clone(),
                }
            }
            Err(e) => {
                log::error!("{name}: could not restore it either: {}", chain(&e));
                Restored::Failed
            }
        };
        OpError::RecreateFailed {
            name,
            restored,
            source,
        }
    }
}
