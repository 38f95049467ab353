//! What the seam speaks in, besides [`ContainerInfo`](crate::domain::ContainerInfo): events,
//! what to create, exec output and resource counters.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::SystemTime;

use crate::domain::limits::Limits;
pub use crate::domain::registry::RegistryAuth;
use crate::domain::Health;

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
    /// Named volumes (already created) and where each is mounted; never a host path.
    pub volumes: Vec<VolumeMount>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeMount {
    /// The engine's name of the volume.
    pub volume: String,
    /// An absolute path in the container.
    pub target: String,
}

/// How a command run inside a container ended. What it printed is not kept: nothing reads it,
/// and an image's `HEALTHCHECK` command could print without end.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    /// `None` when the daemon could not tell.
    pub exit_code: Option<i64>,
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
