//! The seam in front of the container engine: every operation spawner needs of it, in domain
//! types, with one error type and one event type.
//!
//! [`Backend`] is an enum with a variant per engine (Docker today; Docker Swarm is planned), each
//! in a module of its own; only those modules import the engine's client library. The rest of the
//! crate sees [`ContainerInfo`], [`Event`] and [`BackendError`], whose variants say what kind of
//! failure it was (so callers can answer 404, 409 or 503) and keep the engine's own error as their
//! `source` for the log.

pub mod docker;

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use std::time::{Duration, SystemTime};

use futures_util::stream::BoxStream;

use crate::domain::limits::Limits;
use crate::domain::{ContainerInfo, Health, NetworkInfo};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The operations, named for errors, logs and (later) metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Connect,
    List,
    Inspect,
    InspectImage,
    InspectNetwork,
    CreateNetwork,
    Create,
    Start,
    Stop,
    Pause,
    Unpause,
    Remove,
    Events,
    Exec,
    Stats,
    Pull,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Connect => "connect",
            Op::List => "list",
            Op::Inspect => "inspect",
            Op::InspectImage => "inspect image",
            Op::InspectNetwork => "inspect network",
            Op::CreateNetwork => "create network",
            Op::Create => "create",
            Op::Start => "start",
            Op::Stop => "stop",
            Op::Pause => "pause",
            Op::Unpause => "unpause",
            Op::Remove => "remove",
            Op::Events => "events",
            Op::Exec => "exec",
            Op::Stats => "stats",
            Op::Pull => "pull",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an operation failed. `target` is the container, image or network it was about.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("{op} {target}: not found")]
    NotFound {
        op: Op,
        target: String,
        #[source]
        source: BoxError,
    },
    #[error("{op} {target}: refused in its current state")]
    Conflict {
        op: Op,
        target: String,
        #[source]
        source: BoxError,
    },
    #[error("{op} {target}: refused as invalid")]
    Rejected {
        op: Op,
        target: String,
        #[source]
        source: BoxError,
    },
    #[error("{op}: the container engine cannot be reached")]
    Unavailable {
        op: Op,
        #[source]
        source: BoxError,
    },
    #[error("{op} {target}: the container engine failed")]
    Failed {
        op: Op,
        target: String,
        #[source]
        source: BoxError,
    },
}

impl BackendError {
    pub fn op(&self) -> Op {
        match self {
            BackendError::NotFound { op, .. }
            | BackendError::Conflict { op, .. }
            | BackendError::Rejected { op, .. }
            | BackendError::Unavailable { op, .. }
            | BackendError::Failed { op, .. } => *op,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, BackendError::NotFound { .. })
    }

    pub fn is_unavailable(&self) -> bool {
        matches!(self, BackendError::Unavailable { .. })
    }
}

/// For removals and stops: a container that is already gone is what was asked for.
pub fn gone_is_done(result: Result<(), BackendError>) -> Result<(), BackendError> {
    match result {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// A change to a managed container, from the engine's events stream.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub kind: EventKind,
    /// When the engine saw it, by the engine's clock; `None` when it did not say.
    pub time: Option<SystemTime>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Created,
    Started,
    /// The run ended, with its exit code when the engine gave one.
    Died {
        exit_code: Option<i64>,
    },
    Stopped,
    Paused,
    Unpaused,
    Renamed,
    Updated,
    Destroyed,
    Health(Health),
    /// Anything else (exec, attach, …): it changes nothing spawner keeps.
    Other(String),
}

impl EventKind {
    /// Whether the container should be described again after this event.
    pub fn changes_the_container(&self) -> bool {
        !matches!(self, EventKind::Other(_))
    }
}

/// What to create: already validated by the caller.
#[derive(Debug, Clone)]
pub struct CreateSpec {
    pub name: String,
    pub image: String,
    pub network: String,
    pub labels: BTreeMap<String, String>,
    pub envs: BTreeMap<String, String>,
    pub limits: Limits,
    /// Capabilities it runs without; it never gains privileges (`no-new-privileges`).
    pub cap_drop: Vec<String>,
    /// Its fixed address on `network` (`None`: the engine picks one at each start).
    pub address: Option<Ipv4Addr>,
}

/// A command run inside a container and what it printed (stdout and stderr, interleaved).
#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub exit_code: Option<i64>,
    pub output: String,
}

/// One sample of a container's resource counters (cumulative since it started).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub cpu_total_ns: u64,
    pub memory_bytes: u64,
    /// Summed over every network interface.
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub tx_packets: u64,
}

/// The container engine.
#[derive(Clone)]
pub enum Backend {
    Docker(docker::DockerBackend),
}

impl Backend {
    /// The Docker engine at `host` (empty: as the `docker` CLI finds it).
    pub async fn docker(host: &str) -> Result<Self, BackendError> {
        docker::DockerBackend::connect(host)
            .await
            .map(Backend::Docker)
    }

    /// Every managed container, described.
    pub async fn list_managed(&self) -> Result<Vec<ContainerInfo>, BackendError> {
        match self {
            Backend::Docker(d) => d.list_managed().await,
        }
    }

    /// One container, if it is spawner's; `NotFound` for one that exists but is not.
    pub async fn inspect_managed(&self, name_or_id: &str) -> Result<ContainerInfo, BackendError> {
        match self {
            Backend::Docker(d) => d.inspect_managed(name_or_id).await,
        }
    }

    pub async fn image_exists(&self, image: &str) -> Result<bool, BackendError> {
        match self {
            Backend::Docker(d) => d.image_exists(image).await,
        }
    }

    /// The network, or `None` when it does not exist.
    pub async fn inspect_network(
        &self,
        network: &str,
    ) -> Result<Option<NetworkInfo>, BackendError> {
        match self {
            Backend::Docker(d) => d.inspect_network(network).await,
        }
    }

    /// Creates a bridge network for instances: `subnet` of its own, inter-container traffic off.
    pub async fn create_isolated_network(
        &self,
        name: &str,
        subnet: Ipv4Net,
        labels: BTreeMap<String, String>,
    ) -> Result<(), BackendError> {
        match self {
            Backend::Docker(d) => d.create_isolated_network(name, subnet, labels).await,
        }
    }

    /// Creates the container (not started) and returns its id.
    pub async fn create(&self, spec: &CreateSpec) -> Result<String, BackendError> {
        match self {
            Backend::Docker(d) => d.create(spec).await,
        }
    }

    /// Starts a container; one that already runs is not an error.
    pub async fn start(&self, id: &str) -> Result<(), BackendError> {
        match self {
            Backend::Docker(d) => d.start(id).await,
        }
    }

    /// Stops a container, killing it after `grace`; one already stopped is not an error.
    pub async fn stop(&self, id: &str, grace: Duration) -> Result<(), BackendError> {
        match self {
            Backend::Docker(d) => d.stop(id, grace).await,
        }
    }

    pub async fn pause(&self, id: &str) -> Result<(), BackendError> {
        match self {
            Backend::Docker(d) => d.pause(id).await,
        }
    }

    pub async fn unpause(&self, id: &str) -> Result<(), BackendError> {
        match self {
            Backend::Docker(d) => d.unpause(id).await,
        }
    }

    /// Removes a container, running or not.
    pub async fn remove(&self, id: &str) -> Result<(), BackendError> {
        match self {
            Backend::Docker(d) => d.remove(id).await,
        }
    }

    /// Changes to managed containers from `since` (engine time) on.
    pub fn events(&self, since: SystemTime) -> BoxStream<'static, Result<Event, BackendError>> {
        match self {
            Backend::Docker(d) => d.events(since),
        }
    }

    /// Runs `cmd` in a running container and waits for it to end.
    pub async fn exec(&self, id: &str, cmd: &[String]) -> Result<ExecOutput, BackendError> {
        match self {
            Backend::Docker(d) => d.exec(id, cmd).await,
        }
    }

    pub async fn stats(&self, id: &str) -> Result<Stats, BackendError> {
        match self {
            Backend::Docker(d) => d.stats(id).await,
        }
    }

    /// Pulls an image from its registry, logging progress.
    pub async fn pull(&self, image: &str) -> Result<(), BackendError> {
        match self {
            Backend::Docker(d) => d.pull(image).await,
        }
    }

    /// The engine's clock now: compare engine times with it, never with this host's clock.
    pub async fn now(&self) -> Result<SystemTime, BackendError> {
        match self {
            Backend::Docker(d) => d.now().await,
        }
    }
}
