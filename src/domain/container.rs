//! What spawner knows of one container, whatever engine runs it: its state, its health and the
//! facts readiness and routing are derived from. Backends translate their own models into these.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::SystemTime;

/// Lifecycle state of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl RunState {
    pub const ALL: [RunState; 7] = [
        RunState::Created,
        RunState::Running,
        RunState::Paused,
        RunState::Restarting,
        RunState::Removing,
        RunState::Exited,
        RunState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Created => "created",
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Restarting => "restarting",
            RunState::Removing => "removing",
            RunState::Exited => "exited",
            RunState::Dead => "dead",
        }
    }
}

/// Result of the container's own health check (Docker `HEALTHCHECK`); `None` when it has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    None,
    Starting,
    Healthy,
    Unhealthy,
}

/// One managed container as the engine last described it.
#[derive(Debug, Clone)]
pub struct ContainerInfo {
    pub id: String,
    pub name: String,
    pub image: String,
    /// Read through [`InstanceLabels`](super::InstanceLabels).
    pub labels: BTreeMap<String, String>,
    pub state: RunState,
    pub health: Health,
    /// The image's (or container's) Docker `HEALTHCHECK`, as a command to exec: `CMD` as given,
    /// `CMD-SHELL` through `/bin/sh -c`. `None`: it has none.
    pub healthcheck: Option<Vec<String>>,
    /// The last run's exit code; `None` while it runs or when the engine did not say.
    pub exit_code: Option<i64>,
    /// When the current (or last) run started; `None` if it never ran. It identifies a run.
    pub started_at: Option<SystemTime>,
    pub finished_at: Option<SystemTime>,
    pub exposed_tcp_ports: Vec<u16>,
    /// Every network it is attached to, running or not.
    pub networks: Vec<String>,
    /// Address on each attached network (only while it runs).
    pub ips: BTreeMap<String, IpAddr>,
    /// The address it was given at creation on a network (kept while stopped, reused at start).
    pub fixed_ips: BTreeMap<String, IpAddr>,
    /// What it may use of the host (0: no limit); `None` when the engine did not say.
    pub limits: Option<super::limits::Limits>,
}

impl ContainerInfo {
    pub fn has_healthcheck(&self) -> bool {
        self.healthcheck.is_some()
    }

    /// The last time the container started or stopped: a later description never shows an
    /// earlier one, so it orders two views of the same container.
    pub fn last_transition(&self) -> Option<SystemTime> {
        self.started_at.max(self.finished_at)
    }
}
