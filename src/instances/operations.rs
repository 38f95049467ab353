//! What the private API does to instances: create, find, start, stop and delete. Each is a few
//! engine calls that leave nothing half-made, and each failure is an [`OpError`] that says what a
//! caller can do, with the engine's error kept as its source.

use std::sync::Arc;
use std::time::Duration;

use super::activity::Seen;
use super::capacity::Slot;
use super::transitions::{StopClaim, STOP_GRACE};
use super::{Instance, InstanceView, Instances, OpError};
use crate::backend::{gone_is_done, BackendError, CreateSpec};
use crate::domain::{labels, session, DeploySpec, IdleAction, InstanceName};
use crate::error::chain;
use crate::metrics::Reason;

impl Instances {
    /// Creates (and unless told otherwise starts) an instance; nothing half-made is left behind.
    pub async fn create(self: &Arc<Self>, spec: &DeploySpec) -> Result<InstanceView, OpError> {
        let policy = spec.pull_policy.unwrap_or(self.settings.pull_policy);
        self.ensure_image(&spec.image, policy).await?;
        let Some(network) = self.backend.inspect_network(&spec.network).await? else {
            return Err(OpError::NetworkNotFound(spec.network.clone()));
        };
        // A fixed address where the network gives them; held until the index has the instance.
        let reservation = match network.fixed_subnet() {
            Some(subnet) => {
                let taken = self.read().fixed_addresses(&spec.network);
                let reserved = self.addresses.reserve(&network, taken);
                Some(reserved.ok_or_else(|| OpError::NetworkFull {
                    network: spec.network.clone(),
                    subnet: subnet.to_string(),
                })?)
            }
            None => None,
        };
        let mut labels = spec.labels.clone();
        labels.insert(labels::SCOPE.into(), self.settings.scope.clone());
        labels.insert(labels::SESSION_EPOCH.into(), session::new_epoch());
        if let Some(port) = spec.port {
            labels.insert(labels::PORT.into(), port.to_string());
        }
        let (volumes, made) = self
            .ensure_volumes(spec.name.as_str(), &spec.volumes)
            .await?;
        let create = CreateSpec {
            name: spec.name.to_string(),
            image: spec.image.clone(),
            network: spec.network.clone(),
            labels,
            envs: spec.envs.clone(),
            limits: spec.limits,
            cap_drop: self.settings.cap_drop.clone(),
            address: reservation.as_ref().map(|r| r.address),
            volumes,
        };
        // A container that fails to appear or to start takes the volumes made for it along. Its
        // place under max_running is held until the index shows it running.
        let (id, _slot) = match self.create_container(spec, &create).await {
            Ok(created) => created,
            Err(e) => {
                self.remove_volumes(&made).await;
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
            .refresh(&id)
            .await?
            .ok_or_else(|| OpError::NotFound(spec.name.to_string()))?;
        Ok(self.view(&instance))
    }

    /// Creates the container and, if asked, makes room for it under `max_running` and starts
    /// it; one that does not start is removed. Room is made only once the container exists, so
    /// a create Docker refuses (the name is taken, say) evicts nobody.
    async fn create_container(
        self: &Arc<Self>,
        spec: &DeploySpec,
        create: &CreateSpec,
    ) -> Result<(String, Option<Slot>), OpError> {
        let id = self.backend.create(create).await.map_err(|e| match e {
            BackendError::Conflict { .. } => OpError::NameTaken(spec.name.to_string()),
            BackendError::NotFound { .. } => OpError::ImageNotFound(spec.image.clone()),
            other => other.into(),
        })?;
        if !spec.start {
            return Ok((id, None));
        }
        let started = async {
            let slot = self.make_room(spec.name.as_str(), Reason::Api).await?;
            let started = self.backend.start(&id).await;
            started.map_err(|source| OpError::StartFailed {
                name: spec.name.to_string(),
                source,
            })?;
            Ok(slot)
        };
        match started.await {
            Ok(slot) => {
                self.metrics.started(Reason::Api);
                Ok((id, Some(slot)))
            }
            Err(e) => {
                if let Err(cleanup) = self.backend.remove(&id).await {
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
            let index = self.read();
            let found = index
                .get(name_or_id)
                .or_else(|| index.find_by_id_prefix(name_or_id));
            if let Some(instance) = found {
                return Ok(instance.clone());
            }
        }
        // Not (yet) in the index: the engine decides.
        self.refresh(name_or_id).await?.ok_or_else(not_found)
    }

    /// Starts (or unpauses) without waiting for readiness (`PUT /deploy/{name}`).
    pub async fn start(self: &Arc<Self>, instance: &Instance) -> Result<InstanceView, OpError> {
        let _slot = self.make_room(instance.name(), Reason::Api).await?;
        let fresh = self.resume(instance, Reason::Api).await?;
        log::info!("{}: started through the API", instance.name());
        Ok(self.view(&fresh.unwrap_or_else(|| instance.clone())))
    }

    /// Stops an instance now (`POST /deploy/{name}/stop`, the home app's "log out"): a start
    /// under way ends first; the next request wakes it again.
    pub async fn stop_now(self: &Arc<Self>, instance: &Instance) -> Result<InstanceView, OpError> {
        let name = instance.name();
        let claim = self.claim_for_api(name).await?;
        // It reads the instance back before the claim ends.
        let why = "stopped through the API";
        self.put_to_sleep(claim, IdleAction::Stop, Reason::Api, why)
            .await?;
        let stopped = self.get(name);
        Ok(self.view(&stopped.ok_or_else(|| OpError::NotFound(name.to_string()))?))
    }

    /// Claims `name` for a change the API asked for, whatever its activity: a start or stop
    /// under way ends first. While the claim is held, requests for it wait.
    pub(super) async fn claim_for_api(self: &Arc<Self>, name: &str) -> Result<StopClaim, OpError> {
        loop {
            let (mut start, mut stop) = (None, None);
            {
                let mut transitions = self.transitions();
                if let Some(rx) = transitions.starts.get(name) {
                    start = Some(rx.clone());
                } else if let Some(rx) = transitions.stops.get(name) {
                    stop = Some(rx.clone());
                } else {
                    let index = self.read();
                    let current = index
                        .get(name)
                        .ok_or_else(|| OpError::NotFound(name.to_string()))?;
                    if let Some(claim) = self.claim_stop(&mut transitions, current, None) {
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

    /// Stops and removes (`DELETE /deploy/{name}`); its volumes stay unless `purge`. Returns
    /// the volumes removed.
    pub async fn delete(
        self: &Arc<Self>,
        instance: &Instance,
        purge: bool,
    ) -> Result<Vec<String>, OpError> {
        let name = instance.name();
        // Requests wait while it goes (then find it gone); a start under way ends first.
        let claim = self.claim_for_api(name).await;
        let id = match &claim {
            Ok(claim) => claim.id.clone(),
            Err(_) => instance.info.id.clone(),
        };
        self.remove_container(&id).await?;
        drop(claim);
        log::info!("{name}: deleted through the API");
        match purge {
            true => self.purge_volumes(name).await,
            false => Ok(Vec::new()),
        }
    }

    /// Stops (within [`STOP_GRACE`]) and removes a container, and forgets it; one already gone
    /// is not an error.
    pub(super) async fn remove_container(&self, id: &str) -> Result<(), BackendError> {
        gone_is_done(self.backend.stop(id, STOP_GRACE).await)?;
        gone_is_done(self.backend.remove(id).await)?;
        self.remove_id(id);
        Ok(())
    }

    /// The activity of `name` as it is now, for [`Instances::stop_unrouted`].
    pub fn activity_seen(&self, name: &str) -> Option<Seen> {
        self.read().get(name).map(|i| i.activity.seen())
    }

    /// Stops an instance whose route traefik never loaded, under a stop claim: only if nothing
    /// touched it since `seen` (a request let through on its router meanwhile keeps it running)
    /// and no start, stop or held request is under way. Whether it was stopped.
    pub async fn stop_unrouted(self: &Arc<Self>, name: &str, seen: Seen) -> bool {
        let claim = {
            let mut transitions = self.transitions();
            let index = self.read();
            let Some(instance) = index.get(name) else {
                return false;
            };
            self.claim_stop(&mut transitions, instance, Some(seen))
        };
        let Some(claim) = claim else {
            log::info!("{name}: in use since; not stopped although traefik has no route");
            return false;
        };
        let why = "traefik did not load its route";
        let done = self.put_to_sleep(claim, IdleAction::Stop, Reason::NoRoute, why);
        done.await.is_ok()
    }
}
