//! The seam in front of the container engine: every operation spawner needs of it, in domain
//! types, with one error type and one event type.
//!
//! [`Backend`] holds an [`Engine`], an enum with a variant per engine (Docker today; Docker Swarm
//! is planned; in unit tests, one in memory: `memory`), each in a module of its own; only those
//! modules import the engine's client library. The rest of the crate sees [`ContainerInfo`],
//! [`Event`] and [`BackendError`], whose variants say what kind of failure it was (so callers can
//! answer 404, 409 or 503) and keep the engine's own error as their `source` for the log. Every call is counted (by operation, and its
//! failures by kind) in the metrics.

pub mod docker;
mod error;
#[cfg(test)]
pub mod memory;
pub mod swarm;
mod types;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::stream::BoxStream;
use ipnet::Ipv4Net;

pub use error::{described, gone_is_done, BackendError, BoxError, Op};
pub use types::*;

use crate::domain::{ContainerInfo, NetworkInfo};
use crate::metrics::Metrics;

/// The engines spawner can run instances on.
#[derive(Clone)]
pub enum Engine {
    Docker(docker::DockerBackend),
    /// Docker Swarm: an instance is a service scaled 0↔1.
    Swarm(swarm::SwarmBackend),
    /// Containers in memory, for the unit tests of the decisions.
    #[cfg(test)]
    Memory(memory::MemoryEngine),
}

/// The container engine, its calls counted.
#[derive(Clone)]
pub struct Backend {
    engine: Engine,
    metrics: Arc<Metrics>,
}

/// Runs `$call` on the engine (bound to `$e`) and counts it as `$op`.
macro_rules! call {
    ($self:ident, $op:expr, $e:ident => $call:expr) => {{
        let result = match &$self.engine {
            Engine::Docker($e) => $call.await,
            Engine::Swarm($e) => $call.await,
            #[cfg(test)]
            Engine::Memory($e) => $call.await,
        };
        $self.count($op, &result);
        result
    }};
}

/// Like `call!`, for what is per node (images, volumes, networks): Swarm asks its own daemon.
macro_rules! call_node {
    ($self:ident, $op:expr, $e:ident => $call:expr) => {{
        let result = match &$self.engine {
            Engine::Docker($e) => $call.await,
            Engine::Swarm(s) => {
                let $e = s.local();
                $call.await
            }
            #[cfg(test)]
            Engine::Memory($e) => $call.await,
        };
        $self.count($op, &result);
        result
    }};
}

impl Backend {
    /// The Docker engine at `host` (empty: as the `docker` CLI finds it).
    pub async fn docker(host: &str, metrics: Arc<Metrics>) -> Result<Self, BackendError> {
        let engine = Engine::Docker(docker::DockerBackend::connect(host).await?);
        Ok(Self { engine, metrics })
    }

    /// The Docker Swarm whose manager's daemon is `engine.docker_host` (empty: as the `docker`
    /// CLI finds it); each instance's network takes a subnet of `engine.network_subnet`.
    pub async fn swarm(
        engine: &crate::configuration::EngineSettings,
        metrics: Arc<Metrics>,
    ) -> Result<Self, BackendError> {
        let (host, pool) = (&engine.docker_host, engine.network_subnet);
        let swarm = swarm::SwarmBackend::connect(host, pool, &engine.scope).await?;
        let engine = Engine::Swarm(swarm);
        Ok(Self { engine, metrics })
    }

    /// Swarm mode: the instances' networks (for the task that keeps this node's traefik and
    /// spawner joined to them); `None` on another engine.
    pub fn swarm_networks(&self) -> Option<Arc<swarm::networks::Networks>> {
        match &self.engine {
            Engine::Swarm(s) => Some(s.networks()),
            _ => None,
        }
    }

    /// Whether instances are Swarm services (they cannot be paused there).
    pub fn is_swarm(&self) -> bool {
        matches!(self.engine, Engine::Swarm(_))
    }

    /// An engine in memory, and a handle on it (a clone) for the test to control it with.
    #[cfg(test)]
    pub fn in_memory(metrics: Arc<Metrics>) -> (Self, memory::MemoryEngine) {
        let engine = memory::MemoryEngine::new();
        let backend = Self {
            engine: Engine::Memory(engine.clone()),
            metrics,
        };
        (backend, engine)
    }

    fn count<T>(&self, op: Op, result: &Result<T, BackendError>) {
        let kind = result.as_ref().err().map(BackendError::kind);
        self.metrics.docker_call(op.label(), kind);
    }

    /// Every managed container, described; those labelled with a scope other than `scope` may
    /// be left out (unread), the rest are for the caller to sort.
    pub async fn list_managed(&self, scope: &str) -> Result<Vec<ContainerInfo>, BackendError> {
        call!(self, Op::List, d => d.list_managed(scope))
    }

    /// One container, if it is spawner's; `NotFound` for one that exists but is not.
    pub async fn inspect_managed(&self, name_or_id: &str) -> Result<ContainerInfo, BackendError> {
        call!(self, Op::Inspect, d => d.inspect_managed(name_or_id))
    }

    pub async fn image_exists(&self, image: &str) -> Result<bool, BackendError> {
        call_node!(self, Op::InspectImage, d => d.image_exists(image))
    }

    /// The network, or `None` when it does not exist.
    pub async fn inspect_network(
        &self,
        network: &str,
    ) -> Result<Option<NetworkInfo>, BackendError> {
        call_node!(self, Op::InspectNetwork, d => d.inspect_network(network))
    }

    /// Creates a bridge network for instances: `subnet` of its own, inter-container traffic off.
    pub async fn create_isolated_network(
        &self,
        name: &str,
        subnet: Ipv4Net,
        labels: BTreeMap<String, String>,
    ) -> Result<(), BackendError> {
        call!(self, Op::CreateNetwork, d => d.create_isolated_network(name, subnet, labels))
    }

    /// Creates the container (not started) and returns its id.
    pub async fn create(&self, spec: &CreateSpec) -> Result<String, BackendError> {
        call!(self, Op::Create, d => d.create(spec))
    }

    /// What a container was created with (a recreate makes its successor from it).
    pub async fn spec_of(&self, id: &str) -> Result<CreateSpec, BackendError> {
        call!(self, Op::Inspect, d => d.spec_of(id))
    }

    /// Starts a container; one that already runs is not an error.
    pub async fn start(&self, id: &str) -> Result<(), BackendError> {
        call!(self, Op::Start, d => d.start(id))
    }

    /// Stops a container, killing it after `grace`; one already stopped is not an error.
    pub async fn stop(&self, id: &str, grace: Duration) -> Result<(), BackendError> {
        call!(self, Op::Stop, d => d.stop(id, grace))
    }

    pub async fn pause(&self, id: &str) -> Result<(), BackendError> {
        call!(self, Op::Pause, d => d.pause(id))
    }

    pub async fn unpause(&self, id: &str) -> Result<(), BackendError> {
        call!(self, Op::Unpause, d => d.unpause(id))
    }

    /// Removes a container, running or not (never its volumes).
    pub async fn remove(&self, id: &str) -> Result<(), BackendError> {
        call!(self, Op::Remove, d => d.remove(id))
    }

    /// Changes to managed containers from `since` (engine time) on.
    pub fn events(&self, since: SystemTime) -> BoxStream<'static, Result<Event, BackendError>> {
        self.metrics.docker_call(Op::Events.label(), None);
        match &self.engine {
            Engine::Docker(d) => d.events(since),
            Engine::Swarm(s) => s.events(since),
            #[cfg(test)]
            Engine::Memory(m) => m.events(since),
        }
    }

    /// Runs `cmd` in a running container and waits for it to end.
    pub async fn exec(&self, id: &str, cmd: &[String]) -> Result<ExecOutput, BackendError> {
        call!(self, Op::Exec, d => d.exec(id, cmd))
    }

    /// The container's network counters; `None` when they cannot be read here (Swarm: its task
    /// runs on another node).
    pub async fn stats(&self, id: &str) -> Result<Option<Stats>, BackendError> {
        let result = match &self.engine {
            Engine::Docker(d) => d.stats(id).await.map(Some),
            Engine::Swarm(s) => s.stats(id).await,
            #[cfg(test)]
            Engine::Memory(m) => m.stats(id).await.map(Some),
        };
        self.count(Op::Stats, &result);
        result
    }

    /// Swarm: records `at` as the instance's last activity where every replica, on every node,
    /// reads it (a service label). Elsewhere the replicas share one host's counters: nothing to do.
    pub async fn mark_active(&self, id: &str, at: SystemTime) -> Result<(), BackendError> {
        match &self.engine {
            Engine::Swarm(s) => {
                let result = s.mark_active(id, at).await;
                self.count(Op::Inspect, &result);
                result
            }
            _ => Ok(()),
        }
    }

    /// Pulls an image from its registry (with `auth` when given), logging progress. A registry
    /// that says it has no such image is `NotFound`; one that cannot be reached, `Unavailable`.
    pub async fn pull(&self, image: &str, auth: Option<RegistryAuth>) -> Result<(), BackendError> {
        call_node!(self, Op::Pull, d => d.pull(image, auth))
    }

    /// A volume's labels, or `None` when there is no volume of that name.
    pub async fn volume_labels(
        &self,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, BackendError> {
        call_node!(self, Op::InspectVolume, d => d.volume_labels(name))
    }

    pub async fn create_volume(
        &self,
        name: &str,
        labels: BTreeMap<String, String>,
    ) -> Result<(), BackendError> {
        call_node!(self, Op::CreateVolume, d => d.create_volume(name, labels))
    }

    /// Removes a volume; one already gone is not an error.
    pub async fn remove_volume(&self, name: &str) -> Result<(), BackendError> {
        call_node!(self, Op::RemoveVolume, d => d.remove_volume(name))
    }

    /// The names of the volumes that carry every one of `labels`.
    pub async fn volumes_labelled(
        &self,
        labels: &BTreeMap<String, String>,
    ) -> Result<Vec<String>, BackendError> {
        call_node!(self, Op::ListVolumes, d => d.volumes_labelled(labels))
    }

    /// The engine's clock now: compare engine times with it, never with this host's clock.
    pub async fn now(&self) -> Result<SystemTime, BackendError> {
        call_node!(self, Op::Inspect, d => d.now())
    }
}
