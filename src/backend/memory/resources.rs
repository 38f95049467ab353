//! What the in-memory engine holds besides containers: images (present, or in a registry a pull
//! fetches from), networks, volumes, its clock and the events stream.

use std::collections::{BTreeMap, VecDeque};
use std::time::SystemTime;

use futures_util::stream::{self, BoxStream};
use futures_util::StreamExt;
use ipnet::Ipv4Net;
use tokio::sync::broadcast::error::RecvError;

use super::{image_key, MemoryEngine};
use crate::backend::{BackendError, Event, Op, RegistryAuth};
use crate::domain::{instance_labels, NetworkInfo};

impl MemoryEngine {
    pub async fn image_exists(&self, image: &str) -> Result<bool, BackendError> {
        let _call = self.enter(Op::InspectImage, image).await?;
        Ok(self.state().images.contains_key(&image_key(image)))
    }

    /// Fetches from the registry the test filled ([`MemoryEngine::add_to_registry`]); whatever
    /// is not there is `NotFound`, as a registry's "manifest unknown". Credentials are not read.
    pub async fn pull(&self, image: &str, _auth: Option<RegistryAuth>) -> Result<(), BackendError> {
        let _call = self.enter(Op::Pull, image).await?;
        let mut state = self.state();
        let key = image_key(image);
        let Some(config) = state.registry.get(&key).cloned() else {
            return Err(BackendError::NotFound {
                op: Op::Pull,
                target: image.to_string(),
                source: format!("manifest for {image} not found: manifest unknown").into(),
            });
        };
        state.images.insert(key, config);
        Ok(())
    }

    pub async fn inspect_network(
        &self,
        network: &str,
    ) -> Result<Option<NetworkInfo>, BackendError> {
        let _call = self.enter(Op::InspectNetwork, network).await?;
        let state = self.state();
        let mut found = state.networks.get(network).cloned();
        if let Some(found) = &mut found {
            found.in_use = state.in_use(network);
        }
        Ok(found)
    }

    pub async fn create_isolated_network(
        &self,
        name: &str,
        subnet: Ipv4Net,
        network_labels: BTreeMap<String, String>,
    ) -> Result<(), BackendError> {
        let _call = self.enter(Op::CreateNetwork, name).await?;
        if self.state().networks.contains_key(name) {
            return Err(BackendError::Conflict {
                op: Op::CreateNetwork,
                target: name.to_string(),
                source: format!("network with name {name} already exists").into(),
            });
        }
        self.add_network(name, subnet);
        let fixed = instance_labels::has_fixed_addresses(&network_labels);
        if let Some(network) = self.state().networks.get_mut(name) {
            network.fixed_addresses = fixed;
        }
        Ok(())
    }

    pub async fn volume_labels(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, BackendError> {
        let _call = self.enter(Op::InspectVolume, name).await?;
        Ok(self.state().volumes.get(name).cloned())
    }

    /// One that exists already is left as it is (Docker answers so too).
    pub async fn create_volume(
        &self,
        name: &str,
        volume_labels: BTreeMap<String, String>,
    ) -> Result<(), BackendError> {
        let _call = self.enter(Op::CreateVolume, name).await?;
        let mut state = self.state();
        state
            .volumes
            .entry(name.to_string())
            .or_insert(volume_labels);
        Ok(())
    }

    /// A volume a container still mounts is a `Conflict`, as Docker's "volume is in use".
    pub async fn remove_volume(&self, name: &str) -> Result<(), BackendError> {
        let _call = self.enter(Op::RemoveVolume, name).await?;
        let mut state = self.state();
        let mounted = state.containers.values().any(|c| {
            let mut volumes = c.spec.volumes.iter();
            volumes.any(|m| m.volume == name)
        });
        if mounted {
            return Err(BackendError::Conflict {
                op: Op::RemoveVolume,
                target: name.to_string(),
                source: "volume is in use".into(),
            });
        }
        state.volumes.remove(name);
        Ok(())
    }

    pub async fn volumes_labelled(
        &self,
        wanted: &BTreeMap<String, String>,
    ) -> Result<Vec<String>, BackendError> {
        let _call = self.enter(Op::ListVolumes, "volumes").await?;
        let state = self.state();
        let carries = |labels: &BTreeMap<String, String>| {
            wanted.iter().all(|(k, v)| labels.get(k) == Some(v))
        };
        let names = state.volumes.iter().filter(|(_, labels)| carries(labels));
        Ok(names.map(|(name, _)| name.clone()).collect())
    }

    pub async fn now(&self) -> Result<SystemTime, BackendError> {
        let _call = self.enter(Op::Inspect, "daemon").await?;
        Ok(self.state().now())
    }

    /// The events from `since` on (as many as are kept), then every new one. A reader that falls
    /// more than the buffer behind gets an error and the stream ends: it lists again, as after a
    /// broken connection to Docker.
    pub fn events(&self, since: SystemTime) -> BoxStream<'static, Result<Event, BackendError>> {
        self.count_call(Op::Events);
        let (replay, live) = {
            let state = self.state();
            let after = |e: &&Event| e.time.is_some_and(|t| t >= since);
            let replay: VecDeque<Event> = state.history.iter().filter(after).cloned().collect();
            (replay, self.shared.events.subscribe())
        };
        stream::unfold((replay, Some(live)), |(mut replay, live)| async move {
            if let Some(event) = replay.pop_front() {
                return Some((Ok(event), (replay, live)));
            }
            let mut live = live?;
            match live.recv().await {
                Ok(event) => Some((Ok(event), (replay, Some(live)))),
                Err(RecvError::Lagged(missed)) => {
                    let error = BackendError::Failed {
                        op: Op::Events,
                        target: "stream".into(),
                        source: format!("the reader fell {missed} events behind").into(),
                    };
                    Some((Err(error), (replay, None)))
                }
                Err(RecvError::Closed) => None,
            }
        })
        .boxed()
    }
}
